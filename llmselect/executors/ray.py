"""The ``ray`` executor: each unit is a Ray task, on a local or a remote Ray cluster.

``llmselect run --suite nightly --executor ray [--address auto|ray://host:10001]``

- **Resources.** A unit of a probe that computes on its device (``Probe.uses_device``) with a
  cuda device asks for one GPU; every other unit asks for one CPU. On a cluster whose nodes
  have different GPUs, the GPU units spread over the nodes that have one, and each record
  names the host and device it ran on.
- **Clean processes.** A unit of a probe that times or weighs work (``Probe.fresh_process``:
  latency, throughput, lm-eval) runs in a fresh worker process (``max_calls=1``), so its
  numbers never include what an earlier unit loaded or warmed up; counting and estimating
  units reuse workers, which saves a process start per unit.
- **Lost units.** A unit whose worker or node dies is retried by Ray (``max_retries``); one
  that dies every time becomes an ``error`` record and the run goes on. A driver that dies
  leaves whole units in the store, and ``--resume`` runs the rest.
- **One writer.** Records come back to the driver as units finish; the runner, in the
  driver, is the only writer of the store. Nothing is written on the workers.

- **Same data.** Every node needs llmselect installed and the driver's data root at the same
  path: workers get the driver's ``LLMSELECT_DATA_ROOT``, and before each unit a worker checks
  that the folder exists and that its manifests hash as the driver's (``llmselect.datacheck``);
  a node without it fails that unit with the reason recorded, and the run goes on.
- **Hub.** As in the local executor, the Hugging Face hub is asked only when an input is not
  local, once per process that needs it (here: the worker's); the driver asks nothing before
  the cluster starts. ``HF_HUB_OFFLINE`` and an answer the driver already has reach every
  worker.

Ray is an optional extra: ``pip install 'llmselect[ray]'``.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from llmselect.config import DATA_ROOT_ENV, data_root
from llmselect.errors import LLMSelectError
from llmselect.executors.base import Executor
from llmselect.units import Unit, lost_unit_record, run_unit, unit_error_record

if TYPE_CHECKING:
    from llmselect.probes.base import RunContext
    from llmselect.records import Measurement

log = logging.getLogger(__name__)

INSTALL_HINT = "--executor ray needs Ray: pip install 'llmselect[ray]'"
# Settings the driver passes to every worker, so a worker behaves as the driver decided
# (HF_HUB_OFFLINE=1 also when a hub check in the driver found no hub) and reads the same data.
FORWARDED_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "LLMSELECT_PLUGINS", DATA_ROOT_ENV)


def import_ray() -> Any:
    """The ``ray`` module, or one clear line when it is not installed."""
    try:
        import ray
    except ImportError as exc:
        raise LLMSelectError(INSTALL_HINT) from exc
    return ray


def unit_resources(unit: Unit, ctx: RunContext) -> dict[str, float]:
    """What one unit asks the cluster for: a GPU for a cuda unit of a device probe, else a CPU."""
    if getattr(unit.probe, "uses_device", False):
        device = str(getattr(unit.probe.config, "device", None) or ctx.device or "cpu")
        if device.startswith("cuda"):
            return {"num_cpus": 1, "num_gpus": 1}
    return {"num_cpus": 1}


def _run_remote(
    unit: Unit, ctx: RunContext, data: dict[str, str] | None = None
) -> list[Measurement]:
    """The body of a unit's Ray task (in the worker process).

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


def driver_data(ctx: RunContext) -> dict[str, str] | None:
    """What workers check their data root against: the driver's manifests' sha256."""
    from llmselect.datacheck import manifest_hashes

    root = data_root() or ctx.data_root
    return manifest_hashes(root) if root is not None and root.is_dir() else None


class RayExecutor(Executor):
    """Ray tasks on a local or remote cluster; records stream back to the driver."""

    name = "ray"
    description = "a Ray task per unit (GPU units get a GPU), fresh worker per measured unit"

    @staticmethod
    def check_available() -> None:
        """Raise the one-line install hint when Ray is missing."""
        import_ray()

    def __init__(
        self, address: str | None = None, max_retries: int = 3, in_flight: int | None = None
    ) -> None:
        self.address = address
        self.max_retries = max_retries
        self.in_flight = in_flight  # units submitted at once; default: twice the cluster CPUs

    def _connect(self, ray: Any) -> bool:
        """Join the cluster (or start a local one); True when this call started Ray."""
        if ray.is_initialized():
            return False
        env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
        root = data_root()
        if root is not None:  # absolute: a worker's working folder is not this one
            env[DATA_ROOT_ENV] = str(root)
        try:
            ray.init(
                address=self.address,
                runtime_env={"env_vars": env} if env else None,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a new local cluster"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LLMSelectError(f"cannot start or reach Ray ({where}): {first}") from exc
        return True

    def run(
        self, units: Iterable[Unit], ctx: RunContext
    ) -> Iterator[tuple[Unit, list[Measurement]]]:
        ray = import_ray()
        started_here = self._connect(ray)
        # Units that time or weigh work get a fresh worker each; the others reuse workers.
        fresh = ray.remote(max_calls=1, max_retries=self.max_retries)(_run_remote)
        reused = ray.remote(max_retries=self.max_retries)(_run_remote)
        window = self.in_flight or max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
        ctx_ref = ray.put(ctx)
        data = driver_data(ctx)
        pending: dict[Any, Unit] = {}
        source = iter(units)
        try:
            while True:
                while len(pending) < window:  # pull lazily: the runner may stop feeding
                    unit = next(source, None)
                    if unit is None:
                        break
                    remote = fresh if getattr(unit.probe, "fresh_process", False) else reused
                    ref = remote.options(**unit_resources(unit, ctx)).remote(unit, ctx_ref, data)
                    pending[ref] = unit
                if not pending:
                    return
                (done,), _rest = ray.wait(list(pending), num_returns=1)
                unit = pending.pop(done)
                yield unit, self._records(ray, done, unit, ctx)
        finally:
            for ref in pending:  # stopped early (Ctrl-C, deadline, error): drop the rest
                ray.cancel(ref, force=True)
            if started_here:
                ray.shutdown()

    def _records(self, ray: Any, ref: Any, unit: Unit, ctx: RunContext) -> list[Measurement]:
        """The unit's records; a unit lost on every try becomes one error record."""
        try:
            return ray.get(ref)  # type: ignore[no-any-return]
        except ray.exceptions.RayError as exc:

            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            message = f"lost on the Ray cluster after {self.max_retries} retries: {first}"
            log.warning("%s %s: %s", unit.probe.name, unit.target.id, message)
            return [lost_unit_record(unit, ctx, message)]
