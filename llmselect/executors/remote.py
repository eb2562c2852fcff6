"""A unit on another machine (a Ray worker, a Slurm job): check the data, then run it.

Every node needs llmselect installed and the driver's data root at the same path. Before each
unit the worker checks that the folder exists and that its manifests hash as the driver's
(``llmselect.datacheck``); a node without it fails that unit with the reason recorded, and the
run goes on.
"""

from __future__ import annotations

import importlib
import socket
from typing import TYPE_CHECKING, Any

from llmselect.config import DATA_ROOT_ENV, data_root
from llmselect.errors import LLMSelectError
from llmselect.units import Unit, run_unit, unit_error_record

if TYPE_CHECKING:
    from llmselect.probes.base import RunContext
    from llmselect.records import Measurement

# Settings the driver passes to every worker, so a worker behaves as the driver decided
# (HF_HUB_OFFLINE=1 also when a hub check in the driver found no hub) and reads the same data.
FORWARDED_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "LLMSELECT_PLUGINS", DATA_ROOT_ENV)


def run_remote(
    unit: Unit, ctx: RunContext, data: dict[str, str] | None = None
) -> list[Measurement]:
    """The body of a unit on a worker.

    ``data``: the driver's data-root manifests (None: the driver has no data root). A worker
    whose data root is missing or holds other data fails the unit with that reason.
    """
    if data is not None:
        from llmselect.datacheck import data_root_problem

        problem = data_root_problem(data_root(), data)
        if problem is not None:
            message = f"not run on {socket.gethostname()}: {problem} (the driver's data root)"
            return [unit_error_record(unit, ctx, message)]
    return run_unit(unit, ctx)


def wants_gpu(unit: Unit, ctx: RunContext) -> bool:
    """A unit of a probe that computes on its device (``Probe.uses_device``) with a cuda
    device; every other unit (counting, estimating, a device probe on the CPU) needs none."""
    if not getattr(unit.probe, "uses_device", False):
        return False
    device = str(getattr(unit.probe.config, "device", None) or ctx.device or "cpu")
    return device.startswith("cuda")


def driver_data(ctx: RunContext) -> dict[str, str] | None:
    """What workers check their data root against: the driver's manifests' sha256."""
    from llmselect.datacheck import manifest_hashes

    root = data_root() or ctx.data_root
    return manifest_hashes(root) if root is not None and root.is_dir() else None


def import_extra(module: str, label: str, executor: str, extra: str) -> Any:
    """The optional library an executor runs on (``label``: its name in the message), or one
    line saying which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise LLMSelectError(
            f"--executor {executor} needs {label}: pip install 'llmselect[{extra}]'"
        ) from exc
