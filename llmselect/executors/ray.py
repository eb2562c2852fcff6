"""The ``ray`` executor: each unit is a Ray task, on a local or a remote Ray cluster.

``llmselect run --suite nightly --executor ray [--executor-option address=auto|ray://host:10001]``
(``--address`` is the same as ``--executor-option address=``; options: ``llmselect executors list``)

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
  path: workers get the driver's ``LLMSELECT_DATA_ROOT`` and check it before each unit
  (``executors.remote``); a node without it fails that unit with the reason recorded.
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

from pydantic import Field

from llmselect.config import DATA_ROOT_ENV, data_root
from llmselect.errors import LLMSelectError
from llmselect.executors.base import Executor, ExecutorOptions
from llmselect.executors.remote import (
    FORWARDED_ENV,
    driver_data,
    import_extra,
    run_remote,
    wants_gpu,
)
from llmselect.units import Unit, lost_unit_record

if TYPE_CHECKING:
    from llmselect.probes.base import RunContext
    from llmselect.records import Measurement

log = logging.getLogger(__name__)


def import_ray() -> Any:
    """The ``ray`` module, or one clear line when it is not installed."""
    return import_extra("ray", "Ray", "ray", "ray")


CONNECT_TIMEOUT_S = 10.0  # per TCP connect to the cluster's address


def check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Something accepts TCP connections at ``HOST:PORT`` (or ``ray://HOST:PORT``), else one
    line saying so, within ``timeout_s``."""
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise LLMSelectError(
            f"--address must be auto, HOST:PORT or ray://HOST:PORT, got {address!r}"
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        raise LLMSelectError(
            f"cannot reach the Ray cluster at {address}: {reason} "
            f"(nothing accepted a connection within {timeout_s:g} s)"
        ) from exc


def unit_resources(unit: Unit, ctx: RunContext) -> dict[str, float]:
    """What one unit asks the cluster for: a GPU for a cuda unit of a device probe, else a CPU."""
    return {"num_cpus": 1, "num_gpus": 1} if wants_gpu(unit, ctx) else {"num_cpus": 1}


class RayOptions(ExecutorOptions):
    """Where the Ray cluster is and how units are sent to it."""

    address: str | None = Field(
        default=None,
        description="cluster to join: auto (a `ray start` cluster on this machine), HOST:PORT "
        "or ray://HOST:10001; default: a new local cluster",
    )
    max_retries: int = Field(
        default=3, ge=0, description="tries again for a unit whose worker or node died"
    )
    in_flight: int | None = Field(
        default=None, ge=1, description="units submitted at once; default: twice the cluster CPUs"
    )


class RayExecutor(Executor):
    """Ray tasks on a local or remote cluster; records stream back to the driver."""

    name = "ray"
    description = "a Ray task per unit (GPU units get a GPU), fresh worker per measured unit"

    Options = RayOptions
    options: RayOptions

    @staticmethod
    def check_available() -> None:
        """Raise the one-line install hint when Ray is missing."""
        import_ray()

    @property
    def address(self) -> str | None:
        return self.options.address

    @property
    def max_retries(self) -> int:
        return self.options.max_retries

    _started_here = False  # this executor started or joined Ray (shut down after its run)

    def start(self) -> None:
        """Join the cluster (or start a local one) now, before the run is created."""
        self._started_here = self._connect(import_ray()) or self._started_here

    def _connect(self, ray: Any) -> bool:
        """Join the cluster (or start a local one); True when this call started Ray."""
        if ray.is_initialized():
            return False
        if self.address not in (None, "auto", "local"):
            check_reachable(self.address)  # Ray itself retries for minutes on a dead address
        if (self.address or "").startswith("ray://"):
            # Ray Client's own retries (5 s, then doubling to this cap, 3 tries) end within
            # 30 s instead of 35 s; read when its client module first loads, i.e. here.
            os.environ.setdefault("RAY_CLIENT_MAX_CONNECTION_TIMEOUT_S", "10")
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
        except (ConnectionError, RuntimeError, ValueError, ImportError) as exc:
            where = self.address or "a new local cluster"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LLMSelectError(f"cannot start or reach Ray ({where}): {first}") from exc
        return True

    def run(
        self, units: Iterable[Unit], ctx: RunContext
    ) -> Iterator[tuple[Unit, list[Measurement]]]:
        ray = import_ray()
        self._started_here = self._connect(ray) or self._started_here
        # Units that time or weigh work get a fresh worker each; the others reuse workers.
        fresh = ray.remote(max_calls=1, max_retries=self.max_retries)(run_remote)
        reused = ray.remote(max_retries=self.max_retries)(run_remote)
        window = self.options.in_flight or max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
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
            if self._started_here:
                ray.shutdown()
                self._started_here = False

    def _records(self, ray: Any, ref: Any, unit: Unit, ctx: RunContext) -> list[Measurement]:
        """The unit's records; a unit lost on every try becomes one error record."""
        try:
            return ray.get(ref)  # type: ignore[no-any-return]
        except ray.exceptions.RayError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            message = f"lost on the Ray cluster after {self.max_retries} retries: {first}"
            log.warning("%s %s: %s", unit.probe.name, unit.target.id, message)
            return [lost_unit_record(unit, ctx, message)]
