"""Run reports: records → ``Report`` (data, ``report.json``) → ``Document`` → Markdown and HTML.

* ``build.build_report``: one run's records, its ``RunInfo``, the previous report (deltas) and
  the clock → ``Report``; the same input gives the same report.
* ``compose.build_document``: the page's order and content (the answer first: recommendations
  per purpose and budget, headline findings; then charts with short tables; the details folded
  away), built from the metrics the probes declare.
* ``markdown`` / ``html``: one renderer each, walking the same document. Charts are matplotlib
  SVG inlined into the page (``figures``); matplotlib is imported only when a page is drawn.
* ``deltas``: a change is flagged only outside the measured noise (timings: the runs'
  repeats; scores: their standard errors, and not judged where one is unknown), on any change
  (counts, estimates) or beyond a stated threshold; method changes are reported as such.
"""

from __future__ import annotations

from llmselect.report.build import COST_TITLE, as_records, build_report, standard_cost_tables
from llmselect.report.compose import build_document, fmt_value
from llmselect.report.deltas import compute_deltas
from llmselect.report.files import (
    find_previous,
    read_report_json,
    render_html,
    render_json,
    render_markdown,
    write_report,
)
from llmselect.report.model import (
    CostTable,
    Delta,
    DeltaSummary,
    PurposeRecommendations,
    RecommendedModel,
    Report,
    ValueRow,
)
from llmselect.report.recommendations import STANDARD_REQUESTS, standard_recommendations

__all__ = [
    "COST_TITLE",
    "STANDARD_REQUESTS",
    "CostTable",
    "Delta",
    "DeltaSummary",
    "PurposeRecommendations",
    "RecommendedModel",
    "Report",
    "ValueRow",
    "as_records",
    "build_document",
    "build_report",
    "compute_deltas",
    "find_previous",
    "fmt_value",
    "read_report_json",
    "render_html",
    "render_json",
    "render_markdown",
    "standard_cost_tables",
    "standard_recommendations",
    "write_report",
]
