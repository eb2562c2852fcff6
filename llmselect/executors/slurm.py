"""The ``slurm`` executor: each unit is a Slurm job, submitted with submitit.

``llmselect run --suite nightly --executor slurm -X partition=gpu -X gpus=1 -X time_min=30``

- **Resources.** Every job asks for ``cpus`` CPUs, ``mem_gb`` and ``time_min``; a unit of a
  probe that computes on its device with a cuda device also asks for ``gpus`` GPUs.
- **Fresh processes.** Each unit is its own job, so its timings and memory readings never
  include what an earlier unit loaded.
- **Lost units.** A job that ends without records (killed, out of time, node lost) becomes an
  ``error`` record naming the job, and the run goes on; ``--resume`` after a driver that died
  runs the units it had not stored.
- **One writer.** Records come back to the driver as jobs finish; the runner, in the driver, is
  the only writer of the store. A job writes only submitit's own files under ``folder``.
- **Deadline.** Jobs wait in the queue; each unit carries the time by which it must start
  (``Unit.start_by``), so a job that starts after the run's deadline runs nothing and its unit
  is recorded as not started (``--resume`` runs it).
- **Same data and code.** Every node needs this llmselect and the data root at the same path
  (checked before each unit, as on Ray: ``executors.remote``); jobs inherit this environment
  (sbatch's default), ``folder`` must be on a filesystem the nodes share.

submitit hands a job its unit, and the driver its records, as pickles in ``folder``: keep the
folder private to the user running llmselect. ``cluster=local`` runs the same jobs as processes
on this machine (submitit's local executor), to try a setup without a cluster.

submitit is an optional extra: ``pip install 'llmselect[slurm]'``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from llmselect.config import home_dir
from llmselect.executors.base import Executor, ExecutorOptions
from llmselect.executors.remote import driver_data, import_extra, run_remote, wants_gpu
from llmselect.units import Unit, lost_unit_record

if TYPE_CHECKING:
    from llmselect.probes.base import RunContext
    from llmselect.records import Measurement

log = logging.getLogger(__name__)


def import_submitit() -> Any:
    """The ``submitit`` module, or one clear line when it is not installed."""
    return import_extra("submitit", "submitit", "slurm", "slurm")


class SlurmOptions(ExecutorOptions):
    """What each unit's job asks Slurm for, and where submitit keeps its files."""

    partition: str | None = Field(
        default=None, description="partition (sbatch --partition); default: the cluster's"
    )
    time_min: int = Field(
        default=60, ge=1, description="time limit of each unit's job, minutes (sbatch --time)"
    )
    cpus: int = Field(default=1, ge=1, description="CPUs per job (sbatch --cpus-per-task)")
    gpus: int = Field(
        default=1,
        ge=0,
        description="GPUs per job of a unit that computes on a cuda device (other units: none)",
    )
    mem_gb: float | None = Field(
        default=None, gt=0, description="memory per job, GB (sbatch --mem); default: the cluster's"
    )
    folder: str | None = Field(
        default=None,
        description="submitit's job files and logs, on a filesystem every node sees; "
        "default: <LLMSELECT_HOME>/slurm",
    )
    in_flight: int = Field(default=64, ge=1, description="jobs queued or running at once")
    cluster: Literal["slurm", "local"] = Field(
        default="slurm",
        description="slurm: sbatch; local: the same jobs as processes on this machine",
    )
    poll_s: float = Field(
        default=2.0, gt=0, le=3600, description="seconds between checks on the jobs (at most 3600)"
    )


class SlurmExecutor(Executor):
    """One Slurm job per unit (submitit); records come back to the driver."""

    name = "slurm"
    description = "a Slurm job per unit (submitit; GPU units get GPUs), cluster=local to try it"
    Options = SlurmOptions
    options: SlurmOptions

    @staticmethod
    def check_available() -> None:
        """Raise the one-line install hint when submitit is missing."""
        import_submitit()

    def _executor(self, submitit: Any, run_id: str) -> Any:
        opts = self.options
        folder = Path(opts.folder).expanduser() if opts.folder else home_dir() / "slurm"
        executor = submitit.AutoExecutor(folder=folder / "%j", cluster=opts.cluster)
        params: dict[str, Any] = {
            "name": f"llmselect-{run_id}",
            "timeout_min": opts.time_min,
            "cpus_per_task": opts.cpus,
            "mem_gb": opts.mem_gb,
        }
        if opts.partition and opts.cluster == "slurm":
            params["slurm_partition"] = opts.partition
        executor.update_parameters(**params)
        return executor

    def run(
        self, units: Iterable[Unit], ctx: RunContext
    ) -> Iterator[tuple[Unit, list[Measurement]]]:
        submitit = import_submitit()
        executor = self._executor(submitit, ctx.run_id)
        data = driver_data(ctx)
        pending: list[tuple[Any, Unit]] = []
        source = iter(units)
        try:
            while True:
                while len(pending) < self.options.in_flight:  # pull lazily
                    unit = next(source, None)
                    if unit is None:
                        break
                    gpus = self.options.gpus if wants_gpu(unit, ctx) else 0
                    executor.update_parameters(gpus_per_node=gpus)
                    pending.append((executor.submit(run_remote, unit, ctx, data), unit))
                if not pending:
                    return
                finished = [(job, unit) for job, unit in pending if job.done()]
                if not finished:
                    time.sleep(self.options.poll_s)
                    continue
                for job, unit in finished:
                    pending.remove((job, unit))
                    yield unit, self._records(job, unit, ctx)
        finally:
            for job, _unit in pending:  # stopped early (Ctrl-C, error): cancel the rest
                job.cancel(check=False)

    def _records(self, job: Any, unit: Unit, ctx: RunContext) -> list[Measurement]:
        """The unit's records; a job that ended without them becomes one error record."""
        try:
            return job.result()  # type: ignore[no-any-return]
        except Exception as exc:  # noqa: BLE001 - any end without records loses only this unit
            text = str(exc).strip()
            first = text.splitlines()[0] if text else type(exc).__name__
            message = f"Slurm job {job.job_id} ended without records: {first}"
            log.warning("%s %s: %s", unit.probe.name, unit.target.id, message)
            return [lost_unit_record(unit, ctx, message)]
