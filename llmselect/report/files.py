"""Report files: ``<out>/<date>/report.{md,html,json}`` and ``<out>/latest.*``; the JSON is what
the next report compares against."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from llmselect.errors import LLMSelectError
from llmselect.report.compose import build_document
from llmselect.report.html import render_html_document
from llmselect.report.markdown import render_markdown_document
from llmselect.report.model import Report


def render_markdown(report: Report) -> str:
    """The report as Markdown (summaries; charts and long tables are linked in the HTML)."""
    return render_markdown_document(build_document(report))


def render_html(report: Report) -> str:
    """The report as a self-contained static page."""
    return render_html_document(build_document(report))


def render_json(report: Report) -> str:
    """The report as stable, sorted JSON."""
    data = report.model_dump(mode="json", exclude_none=True)  # absent = None on reading back
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False)


def write_report(report: Report, out_dir: Path) -> list[Path]:
    """Write ``<out>/<date>/report.{md,html,json}`` and ``<out>/latest.{md,html,json}``."""
    out_dir = Path(out_dir)
    day_dir = out_dir / report.date
    written = []
    try:
        day_dir.mkdir(parents=True, exist_ok=True)
        for name in ("report", "latest"):
            folder = day_dir if name == "report" else out_dir
            doc = build_document(report, html_name=f"{name}.html")
            texts = {
                "md": render_markdown_document(doc),
                "html": render_html_document(doc),
                "json": render_json(report) + "\n",
            }
            for ext, text in texts.items():
                path = folder / f"{name}.{ext}"
                path.write_text(text, encoding="utf-8")
                written.append(path)
    except OSError as exc:
        raise LLMSelectError(f"cannot write report to {out_dir}: {exc}") from exc
    return written


def find_previous(out_dir: Path, before: str) -> Path | None:
    """The newest ``<out>/<date>/report.json`` dated strictly before ``before`` (YYYY-MM-DD)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return None
    dated = sorted(
        p
        for p in out_dir.iterdir()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", p.name)
        and p.name < before
        and (p / "report.json").is_file()
    )
    return dated[-1] / "report.json" if dated else None


def read_report_json(path: Path) -> dict[str, Any]:
    """A previous report's JSON (as a dict, so older schema versions still give their values)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LLMSelectError(f"cannot read previous report {path}: {exc}") from exc
    if not isinstance(raw, dict) or "values" not in raw:
        raise LLMSelectError(f"{path} is not a report.json (no 'values')")
    return raw
