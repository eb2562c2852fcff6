"""CLI command ``report``: one run's results → reports/<date>/report.{md,html,json} + latest.*."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from llmselect.cli.common import err, out, parse_date, print_json
from llmselect.errors import LLMSelectError

RunOpt = Annotated[str | None, typer.Option("--run", help="Run id to report on.")]
LatestOpt = Annotated[
    bool,
    typer.Option(
        "--latest",
        help="The newest suite run that ended with results (`llmselect run`; the default).",
    ),
]
OutOpt = Annotated[Path, typer.Option("--out", help="Reports folder.")]
PreviousOpt = Annotated[
    Path | None,
    typer.Option("--previous", help="report.json to compare with (default: newest earlier date)."),
]
DateOpt = Annotated[
    str | None,
    typer.Option(
        "--date",
        help="Report date YYYY-MM-DD (default: the run's start date, UTC); not before the "
        "run's start.",
    ),
]
ThresholdOpt = Annotated[
    float,
    typer.Option(
        "--threshold",
        min=0.0,
        help="Relative change that flags a measured value without repeats or a standard error "
        "(0.05 = 5%); timings with repeats are flagged outside the measured noise, scores "
        "beyond 1.96 standard errors of the change (not judged without one), counts on any "
        "change.",
    ),
]
NowOpt = Annotated[
    str | None,
    typer.Option("--now", hidden=True, help="Timestamp written as generation time (reproducible)."),
]
PathsJsonOpt = Annotated[bool, typer.Option("--json", help="Print the written paths as JSON.")]


def _parse_now(text: str | None) -> datetime:
    from llmselect.records import utcnow

    if text is None:
        return utcnow()
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise LLMSelectError(f"--now must be an ISO timestamp, got {text!r}") from exc


def _note(line: str) -> None:
    err.print(line, highlight=False, markup=False, soft_wrap=True)


def _render(written: Any) -> None:
    for p in written.paths:
        out.print(str(p), highlight=False)
    deltas = written.report.deltas
    if deltas:
        out.print(
            f"{deltas.flagged} values flagged since {deltas.previous_date} "
            f"({deltas.compared} compared; timings: {deltas.timed_compared} "
            f"compared, {deltas.timed_set_aside} set aside as measured another way"
            f"{_not_judged(deltas.not_judged)})",
            highlight=False,
        )


def _not_judged(count: int | None) -> str:
    return f"; {count} not judged, their noise not known" if count else ""


def report(
    run_id: RunOpt = None,
    latest: LatestOpt = False,
    out_dir: OutOpt = Path("reports"),
    previous: PreviousOpt = None,
    day: DateOpt = None,
    threshold: ThresholdOpt = 0.05,
    now: NowOpt = None,
    as_json: PathsJsonOpt = False,
) -> None:
    """Build the report of a run: Markdown, a static HTML page with charts, and JSON."""
    from llmselect.report.run_report import write_run_report

    if run_id and latest:
        raise LLMSelectError("give --run or --latest, not both")
    report_day, stamp = parse_date(day), _parse_now(now)
    written = write_run_report(
        run_id, out_dir, previous=previous, day=report_day, stamp=stamp, threshold=threshold,
        on_note=_note,
    )  # fmt: skip
    if as_json:
        print_json(written.summary)
    else:
        _render(written)


def register(app: typer.Typer) -> None:
    """Attach ``report``."""
    app.command("report")(report)
