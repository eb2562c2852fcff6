"""CLI command ``report``: one run's results → reports/<date>/report.{md,html,json} + latest.*."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from llmselect.cli.common import err, out, parse_date, print_json
from llmselect.errors import LLMSelectError


def _parse_now(text: str | None) -> datetime:
    from llmselect.records import utcnow

    if text is None:
        return utcnow()
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise LLMSelectError(f"--now must be an ISO timestamp, got {text!r}") from exc


def _published_for(frame) -> list:  # type: ignore[no-untyped-def]
    """Catalog-published scores of the catalog models the run covered."""
    from llmselect.catalog import load_catalog
    from llmselect.scores import published_records

    targets = set(frame["model_id"]) if not frame.empty else set()
    return [r for m in load_catalog() if m.id in targets for r in published_records(m)]


def report(
    run_id: str | None = typer.Option(None, "--run", help="Run id to report on."),
    latest: bool = typer.Option(
        False,
        "--latest",
        help="The newest suite run that ended with results (`llmselect run`; the default).",
    ),
    out_dir: Path = typer.Option(Path("reports"), "--out", help="Reports folder."),
    previous: Path | None = typer.Option(
        None, "--previous", help="report.json to compare with (default: newest earlier date)."
    ),
    day: str | None = typer.Option(
        None, "--date", help="Report date YYYY-MM-DD (default: the run's start date, UTC)."
    ),
    threshold: float = typer.Option(
        0.05,
        "--threshold",
        min=0.0,
        help="Relative change that flags a measured value without repeats (0.05 = 5%); "
        "timings with repeats are flagged outside both runs' spread, counts on any change.",
    ),
    now: str | None = typer.Option(
        None, "--now", hidden=True, help="Timestamp written as generation time (reproducible)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the written paths as JSON."),
) -> None:
    """Build the report of a run: Markdown, a static HTML page with charts, and JSON."""
    from llmselect.report import (
        as_records,
        build_report,
        find_previous,
        read_report_json,
        standard_cost_tables,
        standard_recommendations,
        write_report,
    )
    from llmselect.report.source import choose_run, refuse_empty_overwrite
    from llmselect.store import latest as latest_records
    from llmselect.store import load

    if run_id and latest:
        raise LLMSelectError("give --run or --latest, not both")
    chosen = choose_run(run_id)
    if chosen.note:
        err.print(chosen.note, highlight=False, markup=False, soft_wrap=True)
    run_dir, info = chosen.run_dir, chosen.info
    frame = load(latest_only=False, run_ids=[run_dir.name])
    report_day = parse_date(day) or (info.started_at.date() if info else None)
    stamp = _parse_now(now)
    report_day = report_day or stamp.date()
    refuse_empty_overwrite(chosen, out_dir, report_day.isoformat())
    prev_path = previous or find_previous(out_dir, report_day.isoformat())
    prev = read_report_json(prev_path) if prev_path else None
    from llmselect.catalog import load_catalog
    from llmselect.report.history import earlier_runs

    recs = standard_recommendations(latest_records(as_records(frame)))
    published = _published_for(frame)
    rep = build_report(
        frame,
        info,
        prev,
        stamp,
        threshold=threshold,
        recommendations=recs,
        report_date=report_day,
        published=published,
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
        "files": [str(p) for p in paths],
    }
    if as_json:
        print_json(summary)
    else:
        for p in paths:
            out.print(str(p), highlight=False)
        if rep.deltas:
            out.print(
                f"{rep.deltas.flagged} values flagged since {rep.deltas.previous_date} "
                f"({rep.deltas.compared} compared; timings: {rep.deltas.timed_compared} "
                f"compared, {rep.deltas.timed_set_aside} set aside as measured another way)",
                highlight=False,
            )


def register(app: typer.Typer) -> None:
    """Attach ``report``."""
    app.command("report")(report)
