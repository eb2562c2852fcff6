"""The one runner: a run's lifecycle, a plan of (target × probe × config) units, an executor,
a deadline.

Every command that measures (``tokenize-bench``, ``perf measure``, ``perf sweep``, ``eval``,
``run``) opens its run with ``open_run`` (run info, store writer, probe context), builds its
units in memory and calls ``Run.execute``. The executor (``llmselect.registry.
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

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmselect.executors.base import Executor
from llmselect.probes.base import RunContext
from llmselect.records import Measurement, RunInfo, new_run_id
from llmselect.registry import EXECUTORS
from llmselect.store import RunWriter, completed_keys, stamp_unit
from llmselect.units import Unit, not_started_record

log = logging.getLogger(__name__)

OUT_OF_TIME = "time budget reached before this unit started"


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
    prepare: Callable[[Unit, list[Measurement]], list[Measurement]] | None = None,
    derive: Callable[[list[Measurement]], list[Measurement]] | None = None,
) -> RunSummary:
    """Run ``units`` through ``executor`` until done or past ``deadline`` (a ``clock()`` time).

    ``executor`` is a registered name or an executor built with its options (``build_executor``).

    Records go to ``writer`` (if any) one whole unit at a time, as units finish. The run ends
    ``finished``, or ``interrupted`` when the deadline left units unstarted (each gets a
    ``skipped`` record with ``deadline_note``) or on Ctrl-C, or ``failed`` on an executor fault.
    ``prepare`` maps one finished unit's records before they are stored (a sweep moves each
    child's raw result out of them into its own file). ``derive`` turns the run's records into
    records that span units (eval's zh/en scores over
    its task units); they are written last, before the run is marked finished.
    """
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
        for unit, produced in runner.run(pending(), ctx):
            records = prepare(unit, produced) if prepare is not None else produced
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


@dataclass
class Run:
    """One run from start to finish: what it is (``info``), where its records go (``writer``;
    None when nothing is stored) and what its probes may know (``ctx``)."""

    info: RunInfo
    writer: RunWriter | None
    ctx: RunContext

    @property
    def run_id(self) -> str:
        return self.info.run_id

    def execute(self, units: Sequence[Unit], **options: Any) -> RunSummary:
        """``execute`` the units in this run (options as ``execute`` takes them)."""
        return execute(units, self.ctx, self.writer, **options)


def open_run(
    command: str,
    *,
    device: str | None = None,
    data_root: Path | None = None,
    cache_dir: Path | None = None,
    limit: int | None = None,
    store: bool = True,
    results_root: Path | None = None,
    folder: Path | None = None,
    resume: RunInfo | None = None,
    **info: Any,
) -> Run:
    """Start (or, with ``resume``, reopen) a run: its ``RunInfo``, its writer in the result
    store (``store=False``: records are only returned) and the probes' ``RunContext``.
    ``info`` holds further ``RunInfo`` fields (suite, suite_hash, settings)."""
    if resume is not None:
        run_info = resume.model_copy(update={"finished_at": None})
    else:
        fields = {"device": device, **info} if device is not None else info
        run_info = RunInfo.collect(new_run_id(), command=command, **fields)
    writer = RunWriter(run_info, root=results_root, folder=folder) if store else None
    ctx = RunContext(
        run_id=run_info.run_id,
        device=device or "cpu",
        data_root=data_root,
        cache_dir=cache_dir,
        limit=limit,
    )
    return Run(run_info, writer, ctx)
