"""Run a plan of (target × probe × config) units, capturing failures and resuming.

Each finished unit is appended to the run's JSONL shard before the next one starts, so an
interrupted run keeps every finished result; ``resume`` skips units already in the shard.
A unit's identity is ``(target id, probe name, hash of its config)``, stored as ``params._unit``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmselect.errors import LLMSelectError, ProbeSkipped
from llmselect.probes.base import Probe, RunContext
from llmselect.records import Measurement, utcnow
from llmselect.store import RunWriter, completed_keys, stamp_unit

log = logging.getLogger(__name__)


@dataclass
class Unit:
    """One probe with one config on one target."""

    target: Any
    probe: Probe

    @property
    def key(self) -> str:
        cfg = self.probe.config.model_dump_json()
        return hashlib.sha1(f"{self.probe.name}|{cfg}".encode()).hexdigest()[:12]


@dataclass
class RunSummary:
    """Counts of what a run did, for exit codes and messages."""

    run_id: str
    ok: int = 0
    skipped: int = 0
    errors: int = 0
    resumed: int = 0
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


def run_unit(unit: Unit, ctx: RunContext) -> list[Measurement]:
    """Run one unit; a skip or failure becomes one status record instead of an exception."""
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


def execute(
    units: Sequence[Unit],
    ctx: RunContext,
    writer: RunWriter | None,
    *,
    resume: bool = False,
    on_unit_done: Callable[[Unit, list[Measurement]], None] | None = None,
    executor: str = "local",
) -> RunSummary:
    """Run every unit through ``executor``, appending each unit's records as soon as it finishes."""
    from llmselect.registry import EXECUTORS

    summary = RunSummary(run_id=ctx.run_id)
    done = completed_keys(writer.dir) if (writer and resume) else set()

    def pending() -> Iterator[Unit]:  # pulled by the executor, so resumed units keep plan order
        for unit in units:
            if (unit.target.id, unit.probe.name, unit.key) in done:
                summary.resumed += 1
                if on_unit_done:
                    on_unit_done(unit, [])
            else:
                yield unit

    try:
        for unit, records in EXECUTORS.load(executor)().run(pending(), ctx):
            if writer is not None:
                writer.append(stamp_unit(records, unit.key))
            summary.records.extend(records)
            statuses = {r.status for r in records}
            if "error" in statuses:
                summary.errors += 1
            elif statuses == {"skipped"}:
                summary.skipped += 1
            else:
                summary.ok += 1
            if on_unit_done:
                on_unit_done(unit, records)
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
        writer.finish("finished")
    return summary


def plan(targets: Iterable[Any], probes: Iterable[Probe]) -> list[Unit]:
    """The cross product, target-major (all probes of one model run together)."""
    probe_list = list(probes)
    return [Unit(target=t, probe=p) for t in targets for p in probe_list]
