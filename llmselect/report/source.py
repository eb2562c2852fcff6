"""Which run a report is built from, and the guard that keeps an empty report from replacing one.

A run that produced no ``ok`` record (a cluster that could not be reached, a run killed before
its first unit) is never the default input: ``report`` without ``--run`` takes the newest suite
run that ended with results, and says which. Whatever run is named, a report without a single
``ok`` record never overwrites a report already written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmselect.errors import LLMSelectError
from llmselect.records import RunInfo
from llmselect.store import (
    checked_run_id,
    iter_records,
    iter_run_dirs,
    read_run_info,
    run_state,
)

# A run stopped by its own time budget ended normally: what it finished is its result.
BUDGET_STOP = "time budget"


@dataclass(frozen=True)
class ReportRun:
    """The run to report on, its ``run.json``, how many ``ok`` records it holds, and a line
    saying why it was chosen (None when it was named with ``--run``)."""

    run_dir: Path
    info: RunInfo | None
    ok: int
    note: str | None


def true_state(run_dir: Path, info: RunInfo) -> RunInfo:
    """``info`` with the state readers see (``store.run_state``): a run killed while it was
    ``running`` is ``interrupted``, which its own ``run.json`` cannot say."""
    return info.model_copy(update={"state": run_state(run_dir, info)})


def ok_records(run_dir: Path) -> int:
    """How many records of the run are ``ok``."""
    return sum(1 for r in iter_records(run_dir) if r.status == "ok")


def ended_normally(info: RunInfo) -> bool:
    """Finished, or stopped by the suite's own time budget (not killed, failed or running);
    ``info`` as ``true_state`` gives it."""
    return info.state == "finished" or (
        info.state == "interrupted" and (info.stop_reason or "").startswith(BUDGET_STOP)
    )


def choose_run(run_id: str | None = None) -> ReportRun:
    """The named run, or the newest suite run that ended normally with at least one ``ok``
    record; one line naming what was passed over otherwise."""
    runs = iter_run_dirs()
    if not runs:
        raise LLMSelectError("no runs in the result store; run `llmselect run --suite smoke` first")
    if run_id is not None:
        run_id = checked_run_id(run_id, "--run")
        matches = [p for p in runs if p.name == run_id]
        if not matches:
            raise LLMSelectError(f"no run {run_id!r} in the result store")
        stored = read_run_info(matches[0])
        info = true_state(matches[0], stored) if stored is not None else None
        return ReportRun(matches[0], info, ok_records(matches[0]), None)
    # Suite runs only: a one-model `eval` or `tokenize-bench` run must not become the report.
    passed_over: list[str] = []
    for run_dir in reversed(runs):
        stored = read_run_info(run_dir)
        if stored is None or not stored.suite:
            continue
        info = true_state(run_dir, stored)  # its state probed once, here
        ok = ok_records(run_dir)
        if ended_normally(info) and ok:
            skipped = f"; newer runs passed over: {', '.join(passed_over)}" if passed_over else ""
            note = (
                f"report on run {run_dir.name} (suite {info.suite}), the newest that ended "
                f"with results: {ok} ok records{skipped}"
            )
            return ReportRun(run_dir, info, ok, note)
        passed_over.append(f"{run_dir.name} ({info.state}, {ok} ok records)")
    raise LLMSelectError(
        "no suite run in the result store ended with results"
        + (f" (passed over: {', '.join(passed_over)})" if passed_over else "")
        + "; run `llmselect run --suite smoke` or name a run with --run RUN_ID"
    )


def refuse_empty_overwrite(chosen: ReportRun, out_dir: Path, day: str) -> None:
    """An error when a run without any ``ok`` record would replace a report already written."""
    if chosen.ok:
        return
    existing = [p for p in (out_dir / "latest.json", out_dir / day / "report.json") if p.is_file()]
    if existing:
        raise LLMSelectError(
            f"run {chosen.run_dir.name} has no ok record; not overwriting {existing[0]} with an "
            "empty report (name a run with results: llmselect results list)"
        )
