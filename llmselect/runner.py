"""The one runner: a plan of (target × probe × config) units, an executor, a deadline.

Every command that measures (``tokenize-bench``, ``perf measure``, ``perf sweep``, ``eval``,
``run``) builds its units in memory and calls ``execute``. The executor (``llmselect.registry.
EXECUTORS``; ``local`` by default) runs the units; this module is the only writer of the store:
each finished unit is appended to the run's JSONL shard before the next result is taken, so an
interrupted run keeps every finished result. ``resume`` skips units already in the shard.

A unit's key is ``(target id, probe name, hash of the probe's name and config)``; the hash is
stored as ``params._unit``. Once the ``deadline`` (a ``clock()`` time) has passed, no further
unit starts: each unit left gets a ``skipped`` record saying so, without a unit key, so a
resumed run picks it up. The deadline is checked by the runner between units, never by
raising from a callback.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmselect.errors import LLMSelectError, ProbeSkipped
from llmselect.probes.base import Probe, RunContext
from llmselect.records import Measurement, utcnow
from llmselect.store import RunWriter, completed_keys, stamp_unit

if TYPE_CHECKING:
    from llmselect.executors.base import Executor

log = logging.getLogger(__name__)

OUT_OF_TIME = "time budget reached before this unit started"


@dataclass
class Unit:
    """One probe with one config on one target."""

    target: Any
    probe: Probe[Any, Any]

    @property
    def key(self) -> str:
        """Hash of the probe's name and config: the same unit has the same key in every run."""
        cfg = self.probe.config.model_dump_json()
        return hashlib.sha1(f"{self.probe.name}|{cfg}".encode()).hexdigest()[:12]

    @property
    def id(self) -> tuple[str, str, str]:
        """``(target id, probe name, key)``: what resuming matches on."""
        return (self.target.id, self.probe.name, self.key)


@dataclass
class RunSummary:
    """Counts of what a run did, for exit codes and messages."""

    run_id: str
    ok: int = 0
    skipped: int = 0
    errors: int = 0
    resumed: int = 0
    out_of_time: int = 0
    records: list[Measurement] = field(default_factory=list)


def _stamp(rec: Measurement, unit: Unit) -> Measurement:
    params = dict(rec.params)
    params["_unit"] = unit.key
    return rec.model_copy(update={"params": params})


def _status_record(
    unit: Unit, ctx: RunContext, status: str, message: str, started: float
) -> Measurement:
    return Measurement(
        run_id=ctx.run_id,
        model_id=unit.target.id,
        probe=unit.probe.name,
        probe_version=unit.probe.version,
        metric="probe_status",
        value=None,
        status=status,  # type: ignore[arg-type]
        error=message,
        params={"config": json.dumps(unit.probe.config.model_dump(), sort_keys=True)},
        started_at=utcnow(),
        duration_s=time.perf_counter() - started,
    )


def not_started_record(unit: Unit, run_id: str, message: str) -> Measurement:
    """A ``skipped`` record for a unit that never started, without a unit key (resume runs it)."""
    return Measurement(
        run_id=run_id,
        model_id=unit.target.id,
        probe=unit.probe.name,
        probe_version=unit.probe.version,
        metric="probe_status",
        status="skipped",
        error=message,
        started_at=utcnow(),
    )


def unit_error_record(unit: Unit, ctx: RunContext, message: str) -> Measurement:
    """The error record of a unit that could not run here (its node lacks its data), stamped
    with the host and device like every unit's records."""
    return _where(unit, ctx, [_status_record(unit, ctx, "error", message, time.perf_counter())])[0]


def lost_unit_record(unit: Unit, ctx: RunContext, message: str) -> Measurement:
    """The error record of a unit whose worker was lost (killed, node gone) on every try."""
    return _status_record(unit, ctx, "error", message, time.perf_counter())


def _device_of(unit: Unit, ctx: RunContext, records: list[Measurement]) -> str:
    """Where the unit computed: ``cpu``, or the probe's device with the GPU name it reported."""
    if not getattr(unit.probe, "uses_device", False):
        return "cpu"
    device = str(getattr(unit.probe.config, "device", None) or ctx.device or "cpu")
    for rec in records:  # a probe that resolved "auto" or read the GPU's name says so
        device = str(rec.params.get("device") or device)
        name = rec.params.get("device_name")
        if name and device.startswith("cuda"):
            return f"{device} ({name})"
    return device


def _where(unit: Unit, ctx: RunContext, records: list[Measurement]) -> list[Measurement]:
    """Stamp the host and device onto records (on a cluster, the worker's own)."""
    host, device = socket.gethostname(), _device_of(unit, ctx, records)
    return [
        r.model_copy(update={"host": r.host or host, "device": r.device or device}) for r in records
    ]


def run_unit(unit: Unit, ctx: RunContext) -> list[Measurement]:
    """Run one unit; a skip or failure becomes one status record instead of an exception.

    Every record names the host and device the unit ran on.
    """
    return _where(unit, ctx, _run_unit(unit, ctx))


def _run_unit(unit: Unit, ctx: RunContext) -> list[Measurement]:
    started = time.perf_counter()
    try:
        records = list(unit.probe.run(unit.target, ctx))
    except ProbeSkipped as exc:
        return [_status_record(unit, ctx, "skipped", str(exc), started)]
    except (KeyboardInterrupt, SystemExit):
        raise
    except LLMSelectError as exc:
        return [_status_record(unit, ctx, "error", str(exc), started)]
    except Exception as exc:  # noqa: BLE001 - one bad model must not stop the run
        tail = "".join(traceback.format_exception(exc)[-3:]).strip()
        log.warning("probe %s failed on %s: %s", unit.probe.name, unit.target.id, exc)
        return [_status_record(unit, ctx, "error", tail[-2000:], started)]
    return [_stamp(r, unit) for r in records]


def _count(summary: RunSummary, records: list[Measurement]) -> None:
    statuses = {r.status for r in records}
    if "error" in statuses:
        summary.errors += 1
    elif statuses == {"skipped"}:
        summary.skipped += 1
    else:
        summary.ok += 1


def execute(
    units: Sequence[Unit],
    ctx: RunContext,
    writer: RunWriter | None,
    *,
    executor: str | Executor = "local",
    deadline: float | None = None,
    deadline_note: str = OUT_OF_TIME,
    clock: Callable[[], float] = time.monotonic,
    resume: bool = False,
    on_unit_done: Callable[[Unit, list[Measurement]], None] | None = None,
    derive: Callable[[list[Measurement]], list[Measurement]] | None = None,
) -> RunSummary:
    """Run ``units`` through ``executor`` until done or past ``deadline`` (a ``clock()`` time).

    ``executor`` is a registered name or an executor built with its options (``build_executor``).

    Records go to ``writer`` (if any) one whole unit at a time, as units finish. The run ends
    ``finished``, or ``interrupted`` when the deadline left units unstarted (each gets a
    ``skipped`` record with ``deadline_note``) or on Ctrl-C, or ``failed`` on an executor fault.
    ``derive`` turns the run's records into records that span units (eval's zh/en scores over
    its task units); they are written last, before the run is marked finished.
    """
    from llmselect.registry import EXECUTORS

    summary = RunSummary(run_id=ctx.run_id)
    done = completed_keys(writer.dir) if (writer and resume) else set()
    unstarted: list[Unit] = []

    def pending() -> Iterator[Unit]:
        """Units in plan order, pulled by the executor; after the first, none starts past the
        deadline (so a run always makes progress, and a resumed one continues)."""
        started = 0
        for i, unit in enumerate(units):
            if unit.id in done:
                summary.resumed += 1
                if on_unit_done:
                    on_unit_done(unit, [])
            elif started and deadline is not None and clock() > deadline:
                unstarted.extend(u for u in units[i:] if u.id not in done)
                return
            else:
                started += 1
                yield unit

    try:
        runner = EXECUTORS.load(executor)() if isinstance(executor, str) else executor
        for unit, records in runner.run(pending(), ctx):
            if writer is not None:
                writer.append(stamp_unit(records, unit.key))
            summary.records.extend(records)
            _count(summary, records)
            if on_unit_done:
                on_unit_done(unit, records)
        if derive is not None:
            derived = derive(list(summary.records))
            if derived and writer is not None:
                writer.append(derived)
            summary.records.extend(derived)
        if unstarted:
            notes = [not_started_record(u, ctx.run_id, deadline_note) for u in unstarted]
            if writer is not None:
                writer.append(notes)
            summary.out_of_time = len(unstarted)
            log.warning("%d units not started: %s", len(unstarted), deadline_note)
    except KeyboardInterrupt:
        if writer is not None:  # the run is over: free its lock for a --resume
            writer.finish("interrupted", "interrupted (Ctrl-C or SIGTERM)")
            writer.close()
        raise
    except BaseException as exc:
        if writer is not None:
            writer.finish("failed", f"{type(exc).__name__}: {exc}"[:300])
        raise
    if writer is not None:
        if unstarted:
            writer.finish("interrupted", deadline_note)
        else:
            writer.finish("finished")
    return summary


def plan(targets: Iterable[Any], probes: Iterable[Probe[Any, Any]]) -> list[Unit]:
    """The cross product, target-major (all probes of one model run together)."""
    probe_list = list(probes)
    return [Unit(target=t, probe=p) for t in targets for p in probe_list]
