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
resumed run picks it up. The runner enforces this whatever the executor does: the iterator it
hands out yields nothing past the deadline, every unit it yields carries the wall-clock time
by which it must start (``Unit.start_by``, checked by ``units.run_unit`` where the unit runs),
and a unit the executor never gives back is recorded as not started. An executor that pulls
every unit first (a batch of cluster jobs) therefore still starts none after the deadline.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmselect.errors import LLMSelectError
from llmselect.executors import build_executor
from llmselect.executors.base import Executor
from llmselect.probes.base import RunContext
from llmselect.records import Measurement, RunInfo, new_run_id
from llmselect.store import ResumeState, RunWriter, resume_state, stamp_unit
from llmselect.store_index import index_run
from llmselect.units import Unit, is_not_started, not_started_record

log = logging.getLogger(__name__)

OUT_OF_TIME = "time budget reached before this unit started"
NOT_GIVEN_BACK = "handed to the executor, which never gave it back (not run)"


@dataclass
class RunSummary:
    """Counts of what a run did, for exit codes and messages."""

    run_id: str
    ok: int = 0
    skipped: int = 0
    errors: int = 0
    resumed: int = 0
    retried: int = 0  # units whose stored outcome was an error, run again on resume
    out_of_time: int = 0
    not_given_back: int = 0
    records: list[Measurement] = field(default_factory=list)

    @property
    def not_started(self) -> int:
        """Units of the plan that did not run in this run (a resume runs them)."""
        return self.out_of_time + self.not_given_back


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
    keep_failed: bool = False,
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

    With ``resume``, whole units already stored are not run again, except those whose stored
    outcome is an error (a full disk, a lost node): they run again as a new attempt, which
    replaces the old one for every reader, unless ``keep_failed``.
    """
    summary = RunSummary(run_id=ctx.run_id)
    stored = resume_state(writer.dir) if (writer and resume) else ResumeState(set(), set(), {})
    done = stored.done if keep_failed else stored.done - stored.failed
    summary.retried = sum(1 for u in units if u.id in stored.done and u.id not in done)
    if summary.retried:
        log.info("%d units whose stored outcome is an error run again", summary.retried)
    unstarted: list[Unit] = []  # past the deadline: never handed out, or refused at start
    handed: dict[tuple[str, str, str], list[Unit]] = {}  # handed out, not yet given back

    def hand(unit: Unit, start_by: float | None) -> Unit:
        given = dataclasses.replace(unit, start_by=start_by) if start_by is not None else unit
        handed.setdefault(given.id, []).append(given)
        return given

    def pending() -> Iterator[Unit]:
        """Units in plan order, pulled by the executor; after the first, none is handed out
        past the deadline (so a run always makes progress, and a resumed one continues), and
        each carries the wall-clock time by which it must start."""
        started = 0
        for i, unit in enumerate(units):
            if unit.id in done:
                summary.resumed += 1
                if on_unit_done:
                    on_unit_done(unit, [])
                continue
            if not started or deadline is None:
                started += 1
                yield hand(unit, None)
                continue
            now = clock()
            if now > deadline:
                unstarted.extend(u for u in units[i:] if u.id not in done)
                return
            started += 1
            yield hand(unit, time.time() + (deadline - now))

    def given_back(unit: Unit) -> None:
        """Check off a unit the executor gave back; one it was never handed is a fault."""
        copies = handed.get(unit.id)
        if not copies:
            raise LLMSelectError(
                f"executor gave back a unit it was not handed ({unit.probe.name} on "
                f"{unit.target.id}): results are taken only for units the runner handed out"
            )
        copies.pop()

    try:
        runner = build_executor(executor) if isinstance(executor, str) else executor
        for unit, produced in runner.run(pending(), ctx):
            given_back(unit)
            if is_not_started(produced):  # refused by its start_by: the deadline had passed
                unstarted.append(unit)
                continue
            records = prepare(unit, produced) if prepare is not None else produced
            if writer is not None:
                attempt = stored.attempts.get(unit.id, 0) + 1 if unit.id in stored.failed else 1
                writer.append(stamp_unit(records, unit.key, attempt))
            summary.records.extend(records)
            _count(summary, records)
            if on_unit_done:
                on_unit_done(unit, records)
        lost = [u for copies in handed.values() for u in copies]
        if derive is not None:
            derived = derive(list(summary.records))
            if derived and writer is not None:
                writer.append(derived)
            summary.records.extend(derived)
        notes = [not_started_record(u, ctx.run_id, deadline_note) for u in unstarted]
        notes += [not_started_record(u, ctx.run_id, NOT_GIVEN_BACK) for u in lost]
        if notes and writer is not None:
            writer.append(notes)
        summary.out_of_time, summary.not_given_back = len(unstarted), len(lost)
        if unstarted:
            log.warning("%d units not started: %s", len(unstarted), deadline_note)
        if lost:
            log.warning("%d units handed to the executor never came back", len(lost))
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
        if summary.out_of_time:
            writer.finish("interrupted", deadline_note)
        elif summary.not_given_back:
            writer.finish("interrupted", NOT_GIVEN_BACK)
        else:
            writer.finish("finished")
        _index(writer)
    return summary


def _index(writer: RunWriter) -> None:
    """Fold the finished run into the store's latest-value index (derived data: a failure only
    leaves the work to the next reader). A run written to a folder of its own (a sweep's output
    folder) is not in the store, and is left out."""
    if writer.dir.parent != writer.root:
        return
    try:
        index_run(writer.dir)
    except (OSError, ValueError) as exc:
        log.warning("latest-value index not updated for %s: %s", writer.dir.name, exc)


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
