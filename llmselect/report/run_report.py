"""``llmselect report`` in one call: the chosen run's records, the previous report, the
standard recommendations and cost tables → the written report files and a summary of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from llmselect.catalog import load_catalog
from llmselect.errors import LLMSelectError
from llmselect.records import RunInfo
from llmselect.report.build import as_records, build_report, standard_cost_tables
from llmselect.report.files import find_previous, read_report_json, write_report
from llmselect.report.history import earlier_runs
from llmselect.report.model import Report
from llmselect.report.recommendations import standard_recommendations
from llmselect.report.source import choose_run, refuse_empty_overwrite
from llmselect.scores import published_records
from llmselect.store import latest as latest_records
from llmselect.store import load


@dataclass(frozen=True)
class WrittenReport:
    """The report built, the files written, and the summary ``report --json`` prints."""

    report: Report
    paths: list[Path]
    summary: dict[str, Any]


def _published_for(frame: Any) -> list[Any]:
    """Catalog-published scores of the catalog models the run covered."""
    targets = set(frame["model_id"]) if not frame.empty else set()
    return [r for m in load_catalog() if m.id in targets for r in published_records(m)]


def _report_day(day: date | None, info: RunInfo | None, stamp: datetime) -> date:
    """``day``, else the run's start date (UTC), else ``stamp``'s. A day before the run started
    is an error: the report would be dated before its data existed, and replace a report of
    that day (and ``latest.*``) with numbers measured later."""
    if info is None:
        return day or stamp.date()
    started = info.started_at.date()
    if day is not None and day < started:
        raise LLMSelectError(
            f"--date {day.isoformat()} is before run {info.run_id} started "
            f"({started.isoformat()}, UTC): a report is dated on or after its run's start"
        )
    return day or started


def write_run_report(
    run_id: str | None,
    out_dir: Path,
    *,
    previous: Path | None,
    day: date | None,
    stamp: datetime,
    threshold: float,
    on_note: Callable[[str], None],
) -> WrittenReport:
    """Report on ``run_id`` (default: the newest suite run with results) into ``out_dir``.

    ``day`` defaults to the run's start date (else ``stamp``'s); ``previous`` to the newest
    earlier report in ``out_dir``. ``on_note`` gets the line saying which run was chosen.
    """
    chosen = choose_run(run_id)
    if chosen.note:
        on_note(chosen.note)
    run_dir, info = chosen.run_dir, chosen.info
    frame = load(latest_only=False, run_ids=[run_dir.name])
    report_day = _report_day(day, info, stamp)
    refuse_empty_overwrite(chosen, out_dir, report_day.isoformat())
    prev_path = previous or find_previous(out_dir, report_day.isoformat())
    prev = read_report_json(prev_path) if prev_path else None
    rep = build_report(
        frame,
        info,
        prev,
        stamp,
        threshold=threshold,
        recommendations=standard_recommendations(latest_records(as_records(frame))),
        report_date=report_day,
        published=_published_for(frame),
        cost=standard_cost_tables(),
        catalog=load_catalog(),
        history=earlier_runs(info) if prev is not None else [],
    )
    paths = write_report(rep, out_dir)
    summary = {
        "run_id": run_dir.name,
        "date": rep.date,
        "previous": str(prev_path) if prev_path else None,
        "flagged": rep.deltas.flagged if rep.deltas else 0,
        "timed_compared": rep.deltas.timed_compared if rep.deltas else 0,
        "timed_set_aside": rep.deltas.timed_set_aside if rep.deltas else 0,
        "not_judged": rep.deltas.not_judged if rep.deltas else 0,
        "files": [str(p) for p in paths],
    }
    return WrittenReport(rep, paths, summary)
