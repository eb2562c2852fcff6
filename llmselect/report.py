"""Run reports: records → ``Report`` (pure) → Markdown, static HTML with inline SVG, and JSON.

``build_report`` takes the records of one run, its ``RunInfo``, the previous report (for
deltas) and the clock, and returns the same ``Report`` for the same input. Every number in a
report keeps its unit and its kind (measured / estimated / published, with the source).
``write_report`` writes ``<out>/<date>/report.{md,html,json}`` and ``<out>/latest.*``; the JSON
is what the next report compares against.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date as Date
from datetime import datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from llmselect.charts import BarGroup, Point, bar_chart, fmt_value, scatter_chart
from llmselect.errors import LLMSelectError
from llmselect.metrics import ChartSpec, declared_metrics
from llmselect.records import Measurement, RunInfo

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 1
DEFAULT_THRESHOLD = 0.05  # relative change that flags a delta (5 %)
# Params a report keeps (charts and tables use them); the store keeps all of them.
REPORT_PARAMS = ("params_total", "allowed", "license_id", "mode", "threads", "dtype", "device")
MD_FULL_TABLE_MAX = 80  # longer per-section tables go to the HTML page and the JSON only

# Sections, summary tables and charts come from the probes' metric declarations
# (``llmselect.metrics``); values no probe declares go to "Other".


def all_sections() -> list[tuple[str, str]]:
    """Every section in page order: the declared ones, published scores (catalog), the rest."""
    return [
        *declared_metrics().sections(),
        ("published", "Published scores (catalog)"),
        ("other", "Other measurements"),
    ]


KIND_NOTE = {
    "measured": "measured on this machine",
    "estimated": "estimated by formula",
    "published": "published (source given)",
}


# --- the report model ---------------------------------------------------------------------


class ValueRow(BaseModel):
    """One number of the run (the newest ok row per key)."""

    model_id: str
    probe: str
    probe_version: int = 1
    metric: str
    subset: str = ""
    value: float
    unit: str = ""
    kind: str = "measured"
    higher_is_better: bool | None = None
    n: int | None = None
    stderr: float | None = None
    source: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.model_id, self.probe, self.metric, self.subset)


class CoverageCell(BaseModel):
    """What happened to one probe on one target."""

    target: str
    probe: str
    status: str  # ok | partial | skipped | error
    values: int = 0
    note: str = ""


class Problem(BaseModel):
    """A skipped or failed unit, for the appendix."""

    target: str
    probe: str
    status: str
    message: str


class Delta(BaseModel):
    """A value that changed since the previous report."""

    model_id: str
    probe: str
    metric: str
    subset: str
    unit: str
    previous: float
    current: float
    rel_change: float | None  # (current - previous) / |previous|; None when previous is 0
    flagged: bool


class DeltaSummary(BaseModel):
    """Comparison with the previous report."""

    previous_date: str | None = None
    previous_run_id: str | None = None
    threshold: float = DEFAULT_THRESHOLD
    compared: int = 0
    unchanged: int = 0
    flagged: int = 0
    new: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    incomparable: list[str] = Field(
        default_factory=list, description="same key, different sample size n: not compared"
    )
    changes: list[Delta] = Field(default_factory=list)


class RecommendationRow(BaseModel):
    """One ranked model for one request."""

    rank: int
    model_id: str
    score: float | None = None
    coverage: float | None = None
    why: str = ""


class PurposeRecommendations(BaseModel):
    """The recommender's answer to one standard request."""

    label: str
    request: dict[str, Any] = Field(default_factory=dict)
    rows: list[RecommendationRow] = Field(default_factory=list)
    excluded: int = 0
    note: str = ""


class CostTable(BaseModel):
    """A table of ``llmselect.cost``: published training runs or fine-tuning memory vs ours."""

    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""


class Report(BaseModel):
    """Everything a report shows; serialised as report.json."""

    schema_version: int = SCHEMA_VERSION
    title: str
    date: str
    generated_at: str
    run: dict[str, Any]
    targets: list[str]
    probes: list[str]
    coverage: list[CoverageCell]
    values: list[ValueRow]
    problems: list[Problem]
    deltas: DeltaSummary | None = None
    recommendations: list[PurposeRecommendations] = Field(default_factory=list)
    published: list[ValueRow] = Field(
        default_factory=list, description="catalog scores shown beside measured ones"
    )
    cost: list[CostTable] | None = Field(
        default=None, description="published training costs beside our estimates (cost module)"
    )


# --- building -----------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """pandas NaN/NaT → None."""
    if value is None:
        return None
    try:
        if isinstance(value, float) and math.isnan(value):
            return None
    except TypeError:
        return value
    return value


def as_records(data: pd.DataFrame | Iterable[Measurement]) -> list[Measurement]:
    """Records from a store DataFrame or an iterable of Measurement."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        rows = data.to_dict(orient="records")  # type: ignore[union-attr]
        out = []
        for row in rows:
            clean = {k: _clean(v) for k, v in row.items()}
            if not isinstance(clean.get("params"), dict):
                clean["params"] = {}
            out.append(Measurement.model_validate(clean))
        return out
    return list(data)  # type: ignore[arg-type]


def _value_row(r: Measurement, *, detail: bool) -> ValueRow:
    """A record as a report row; ``detail`` adds stderr and the reported params."""
    extra: dict[str, Any] = {}
    if detail:
        extra["stderr"] = r.stderr
        extra["params"] = {k: v for k, v in sorted(r.params.items()) if k in REPORT_PARAMS}
    return ValueRow(
        model_id=r.model_id,
        probe=r.probe,
        probe_version=r.probe_version,
        metric=r.metric,
        subset=r.subset,
        value=r.value,  # type: ignore[arg-type]
        unit=r.unit,
        kind=r.kind,
        higher_is_better=r.higher_is_better,
        n=r.n,
        source=r.source,
        **extra,
    )


def _published(records: Iterable[Measurement]) -> list[ValueRow]:
    """Published numbers as given (several sources per key are all kept), sorted."""
    rows = [
        _value_row(r, detail=False)
        for r in records
        if r.value is not None and r.kind == "published"
    ]
    return sorted(rows, key=lambda v: (*v.key, v.source or ""))


def _values(records: Sequence[Measurement]) -> list[ValueRow]:
    """Newest ok row per key (``store.latest``), sorted."""
    from llmselect.store import latest

    rows = [_value_row(r, detail=True) for r in latest(records)]
    return sorted(rows, key=lambda v: v.key)


def _unit_id(rec: Measurement) -> str:
    unit = rec.params.get("_unit")
    return str(unit) if unit else f"{rec.probe}|{rec.params.get('config', '')}"


def _coverage(records: Sequence[Measurement]) -> tuple[list[CoverageCell], list[Problem]]:
    """Per (target, probe): the final status of each unit (a later record wins), combined."""
    # (target, probe) -> unit -> (status, message, values)
    cells: dict[tuple[str, str], dict[str, list[Any]]] = {}
    for rec in sorted(records, key=lambda r: (r.started_at, r.run_id)):
        units = cells.setdefault((rec.model_id, rec.probe), {})
        key = _unit_id(rec)
        state = units.get(key)
        if rec.status == "ok":
            if state is None or state[0] != "ok":
                state = ["ok", "", 0]
            state[2] += 1
            units[key] = state
        else:
            units[key] = [rec.status, rec.error or "", 0]
    coverage: list[CoverageCell] = []
    problems: list[Problem] = []
    for (target, probe), units in sorted(cells.items()):
        statuses = {s[0] for s in units.values()}
        if "error" in statuses:
            status = "error"
        elif statuses == {"ok"}:
            status = "ok"
        elif "ok" in statuses:
            status = "partial"
        else:
            status = "skipped"
        notes = sorted({s[1].strip().splitlines()[-1] for s in units.values() if s[1].strip()})
        coverage.append(
            CoverageCell(
                target=target,
                probe=probe,
                status=status,
                values=sum(s[2] for s in units.values()),
                note="; ".join(n[:200] for n in notes),
            )
        )
        for state in units.values():
            if state[0] != "ok":
                problems.append(
                    Problem(target=target, probe=probe, status=state[0], message=state[1][-2000:])
                )
    problems.sort(key=lambda p: (p.status, p.probe, p.target, p.message))
    return coverage, problems


def _previous_values(
    previous: Report | dict[str, Any] | None,
) -> tuple[dict, str | None, str | None]:
    if previous is None:
        return {}, None, None
    raw = previous.model_dump() if isinstance(previous, Report) else previous
    values = {}
    for item in raw.get("values", []):
        try:
            row = ValueRow.model_validate(item)
        except ValidationError:
            continue
        values[row.key] = row
    run = raw.get("run") or {}
    return values, raw.get("date"), run.get("run_id")


def compute_deltas(
    current: Sequence[ValueRow],
    previous: Report | dict[str, Any] | None,
    threshold: float = DEFAULT_THRESHOLD,
) -> DeltaSummary | None:
    """Changes of each value against the previous report; |relative change| > threshold is flagged.

    Values from a different probe version or unit count as new; values over a different
    sample size ``n`` (another corpus limit, more iterations) are listed as incomparable.
    """
    if previous is None:
        return None
    before, prev_date, prev_run = _previous_values(previous)
    summary = DeltaSummary(previous_date=prev_date, previous_run_id=prev_run, threshold=threshold)
    now_keys = set()
    for row in current:
        now_keys.add(row.key)
        old = before.get(row.key)
        label = "/".join(p for p in row.key if p)
        if old is None or old.probe_version != row.probe_version or old.unit != row.unit:
            summary.new.append(label)
            continue
        if old.n is not None and row.n is not None and old.n != row.n:
            summary.incomparable.append(label)
            continue
        summary.compared += 1
        if old.value == row.value:
            summary.unchanged += 1
            continue
        rel = (row.value - old.value) / abs(old.value) if old.value != 0 else None
        flagged = rel is None or abs(rel) > threshold
        summary.flagged += int(flagged)
        summary.changes.append(
            Delta(
                model_id=row.model_id,
                probe=row.probe,
                metric=row.metric,
                subset=row.subset,
                unit=row.unit,
                previous=old.value,
                current=row.value,
                rel_change=rel,
                flagged=flagged,
            )
        )
    summary.missing = sorted("/".join(p for p in k if p) for k in set(before) - now_keys)
    summary.new.sort()
    summary.incomparable.sort()
    summary.changes.sort(
        key=lambda d: (not d.flagged, -abs(d.rel_change or math.inf), d.probe, d.model_id, d.metric)
    )
    return summary


def build_report(
    data: pd.DataFrame | Iterable[Measurement],
    run_info: RunInfo | None,
    previous: Report | dict[str, Any] | None,
    now: datetime,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    recommendations: Sequence[PurposeRecommendations] = (),
    report_date: Date | None = None,
    title: str = "llmselect report",
    published: Iterable[Measurement] = (),
    cost: Sequence[CostTable] = (),
) -> Report:
    """A report of one run's records (all statuses; the newest ok value per key is shown).

    ``published`` holds catalog numbers (``kind="published"``) shown in their own section,
    never mixed with the run's measurements, coverage or deltas.
    """
    records = as_records(data)
    values = _values(records)
    coverage, problems = _coverage(records)
    run = run_info.model_dump(mode="json") if run_info else {}
    day = report_date or now.date()
    return Report(
        title=title,
        date=day.isoformat(),
        generated_at=now.isoformat(),
        run=run,
        targets=sorted({c.target for c in coverage}),
        probes=sorted({c.probe for c in coverage}),
        coverage=coverage,
        values=values,
        problems=problems,
        deltas=compute_deltas(values, previous, threshold),
        recommendations=list(recommendations),
        published=_published(published),
        cost=list(cost) or None,
    )


# --- recommendations (the recommender is optional; the report works without it) ----------

STANDARD_REQUESTS: tuple[tuple[str, str, str], ...] = (
    ("24 GB GPU, commercial use", "24GB", "commercial"),
    ("16 GB GPU, learning", "16GB", "learning"),
    ("8 GB GPU, edge", "8GB", "edge"),
)


def standard_recommendations(
    records: Iterable[Measurement], top: int = 3
) -> list[PurposeRecommendations]:
    """The recommender's answers to the standard requests, with this run's measurements."""
    from llmselect.catalog import load_catalog
    from llmselect.hardware import parse_gpu
    from llmselect.recommend import Request, evidence_from_records, recommend

    catalog = load_catalog()
    evidence = evidence_from_records(list(records))
    out = []
    for label, gpu, purpose in STANDARD_REQUESTS:
        request = {"gpu": gpu, "purpose": purpose}
        try:
            result = recommend(catalog, Request(gpu=parse_gpu(gpu), purpose=purpose), evidence)
        except LLMSelectError as exc:
            out.append(PurposeRecommendations(label=label, request=request, note=str(exc)))
            continue
        rows = [
            RecommendationRow(
                rank=r.rank,
                model_id=r.model_id,
                score=r.score,
                coverage=r.coverage,
                why=r.why,
            )
            for r in result.recommendations[:top]
        ]
        out.append(
            PurposeRecommendations(
                label=label,
                request=request,
                rows=rows,
                excluded=len(result.excluded),
                note="" if rows else "no model meets the constraints",
            )
        )
    return out


COST_TITLE = "Training and fine-tuning cost: published beside estimated"


def standard_cost_tables() -> list[CostTable]:
    """The published training runs and fine-tuning memory table beside ``llmselect.cost``."""
    from llmselect.cost.published import report_tables

    return [CostTable(title=t, header=h, rows=r, note=n) for t, h, r, n in report_tables()]


# --- rendering helpers --------------------------------------------------------------------


def _fmt(v: float | None) -> str:
    return "" if v is None else fmt_value(v)


def _kind(row: ValueRow) -> str:
    return f"published ({row.source})" if row.kind == "published" and row.source else row.kind


def _rows_for(report: Report, section: str) -> list[ValueRow]:
    if section == "published":
        return list(report.published)
    index = declared_metrics()
    return [v for v in report.values if index.section(v.probe, v.metric) == section]


def _group_rows_only(row: ValueRow) -> bool:
    spec = declared_metrics().spec(row.probe, row.metric)
    return bool(spec and spec.group_rows_only)


ZH_RE = re.compile(r"(zho|cmn|zh|chinese|yue)", re.I)
EN_RE = re.compile(r"(eng|\ben\b|english)", re.I)


def _lang(subset: str) -> str | None:
    if ZH_RE.search(subset):
        return "zh"
    if EN_RE.search(subset):
        return "en"
    return None


def _bar_figure(
    chart_id: str,
    title: str,
    rows: Sequence[ValueRow],
    series_of: Callable[[ValueRow], str | None],
    caption: str,
) -> tuple[str, str, str] | None:
    """Grouped bars: one group per target, one bar per series; None when nothing to draw."""
    picked = [(r, series_of(r)) for r in rows]
    picked = [(r, s) for r, s in picked if s is not None]
    if not picked:
        return None
    series = sorted({s for _, s in picked})
    units = sorted({r.unit for r, _ in picked})
    targets = sorted({r.model_id for r, _ in picked})
    lookup = {(r.model_id, s): r.value for r, s in picked}
    groups = [BarGroup(t, tuple(lookup.get((t, s)) for s in series)) for t in targets]
    metrics = sorted({r.metric for r, _ in picked})
    kinds = sorted({r.kind for r, _ in picked})
    axis = f"{', '.join(metrics)} ({', '.join(units)})"
    svg = bar_chart(chart_id, title, groups, series, axis)
    return chart_id, svg, f"{caption} Kind: {', '.join(kinds)}."


def _dtype_of(subset: str) -> str:
    match = re.search(r"dtype=([^,]+)", subset)
    return match.group(1) if match else subset


def _series(chart: ChartSpec) -> Callable[[ValueRow], str | None]:
    if chart.series == "lang_subset":
        return lambda r: r.subset if _lang(r.subset) else None
    if chart.series == "subset_or_metric":
        return lambda r: r.subset or r.metric
    return lambda r: r.subset


def _params_scatter(chart: ChartSpec, rows: Sequence[ValueRow]) -> tuple[str, str, str] | None:
    """Values against the model's parameter count, one point per model and dtype (log-log)."""
    rows = [r for r in rows if isinstance(r.params.get("params_total"), int | float)]
    seen: set[tuple[str, str]] = set()
    points = []
    for r in rows:  # the value does not depend on batch or sequence: one point per dtype
        key = (r.model_id, _dtype_of(r.subset))
        if key not in seen:
            seen.add(key)
            points.append(Point(float(r.params["params_total"]) / 1e9, r.value, key[1], key[0]))
    if not points:
        return None
    kinds = ", ".join(sorted({r.kind for r in rows}))
    svg = scatter_chart(
        chart.id,
        chart.title,
        points,
        "parameters (billions, log scale)",
        f"{chart.axis} ({rows[0].unit}, log scale)",
        log_x=True,
        log_y=True,
    )
    return chart.id, svg, f"{chart.caption} Kind: {kinds}."


def charts(report: Report) -> list[tuple[str, str, str, str]]:
    """(section, chart id, svg, caption) for every chart the data allows, in a fixed order."""
    out: list[tuple[str, str, str, str]] = []

    def add(section: str, fig: tuple[str, str, str] | None) -> None:
        if fig:
            out.append((section, *fig))

    for chart, declared in declared_metrics().charts():
        keys = {(d.probe, d.spec.name) for d in declared}
        rows = [r for r in report.values if (r.probe, r.metric) in keys]
        if chart.group_rows_only:
            rows = [r for r in rows if "/" not in r.subset]
        section = declared[0].spec.section
        if chart.series == "params_scatter":
            add(section, _params_scatter(chart, rows))
        else:
            add(section, _bar_figure(chart.id, chart.title, rows, _series(chart), chart.caption))
    # Published scores: only models with all three exams, so the bars compare like with like.
    exams = ("ceval", "cmmlu", "mmlu")
    first: dict[tuple[str, str], ValueRow] = {}
    for r in report.published:
        if r.metric == "acc" and r.subset in exams:
            first.setdefault((r.model_id, r.subset), r)
    complete = {m for m, _ in first if all((m, e) in first for e in exams)}
    add(
        "published",
        _bar_figure(
            "published-scores",
            "Published scores: C-Eval, CMMLU, MMLU",
            [r for (m, _e), r in sorted(first.items()) if m in complete],
            lambda r: r.subset,
            "Accuracy as published (first source listed per model), for the catalog models "
            "with all three; settings and sources are in the table.",
        ),
    )
    return out


# --- summary tables (one row per target, one column per metric and subset) -------------

# Summary tables: the metrics a section's declarations put in a ``table``, in declaration
# order; metrics in no table still appear in the full table.
LICENSE_METRIC = re.compile(r"license_(.+)_allowed")


def pivot(rows: Sequence[ValueRow], metrics: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """Target × (metric, subset) table; headers carry unit and kind, e.g.
    ``tokens_per_char default/zh (tok/char, measured)``."""
    chosen = [
        r for r in rows if r.metric in metrics and not (_group_rows_only(r) and "/" in r.subset)
    ]  # e.g. lm-eval: group rows only, subjects stay in the full table
    order = {m: i for i, m in enumerate(metrics)}
    cols = sorted({(r.metric, r.subset) for r in chosen}, key=lambda c: (order[c[0]], c[1]))
    if not cols:
        return [], []
    meta = {}
    for r in chosen:
        meta.setdefault((r.metric, r.subset), (r.unit, r.kind))
    header = ["target"] + [
        f"{m} {sub} ({meta[(m, sub)][0]}, {meta[(m, sub)][1]})".replace("  ", " ")
        for m, sub in cols
    ]
    cells: dict[tuple[str, str, str], float] = {}
    for r in chosen:  # several published sources for one key: the first listed is shown
        cells.setdefault((r.model_id, r.metric, r.subset), r.value)
    targets = sorted({r.model_id for r in chosen})
    body = [[t] + [_fmt(cells.get((t, m, sub))) for m, sub in cols] for t in targets]
    return header, body


def license_pivot(rows: Sequence[ValueRow]) -> tuple[list[str], list[list[str]]]:
    """Model × purpose verdicts (yes / conditional / no) with the license id."""
    lic = [(r, LICENSE_METRIC.fullmatch(r.metric)) for r in rows]
    lic = [(r, m.group(1)) for r, m in lic if m]
    if not lic:
        return [], []
    purposes = sorted({p for _, p in lic})
    verdicts: dict[tuple[str, str], str] = {}
    ids: dict[str, str] = {}
    for r, purpose in lic:
        verdicts[(r.model_id, purpose)] = str(r.params.get("allowed", _fmt(r.value)))
        ids.setdefault(r.model_id, str(r.params.get("license_id") or ""))
    header = ["model", "license", *(f"{p} (verdict, published)" for p in purposes)]
    body = [[m, ids[m], *(verdicts.get((m, p), "") for p in purposes)] for m in sorted(ids)]
    return header, body


def summary_tables(report: Report, section: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) summary tables of a section, empty ones left out."""
    rows = _rows_for(report, section)
    out = []
    if section == "licenses":
        header, body = license_pivot(rows)
        if body:
            out.append(("Verdict per purpose", header, body))
    if section == "published":
        metrics = tuple(sorted({r.metric for r in rows}))
        header, body = pivot(rows, metrics)
        if body:
            out.append(("Per task (first source listed when there are several)", header, body))
    for title, metrics in declared_metrics().tables(section):
        header, body = pivot(rows, metrics)
        if body:
            out.append((title, header, body))
    return out


# --- Markdown -----------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return lines


def _value_cells(r: ValueRow) -> list[str]:
    return [
        r.model_id,
        r.metric,
        r.subset,
        _fmt(r.value),
        r.unit,
        _kind(r),
        "" if r.n is None else str(r.n),
        _fmt(r.stderr),
    ]


VALUE_HEADER = ("target", "metric", "subset", "value", "unit", "kind", "n", "stderr")


def _duration(run: dict[str, Any]) -> str:
    """Wall time of the run in minutes, from run.json's timestamps."""
    try:
        start = datetime.fromisoformat(str(run["started_at"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(run["finished_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return ""
    return f"{(end - start).total_seconds() / 60:.1f} min"


def _env_rows(report: Report) -> list[tuple[str, str]]:
    run = report.run
    rows = [
        ("run id", str(run.get("run_id", ""))),
        ("suite", f"{run.get('suite') or ''} ({run.get('suite_hash') or ''})"),
        ("started", str(run.get("started_at") or "")),
        ("finished", str(run.get("finished_at") or "not finished")),
        ("duration", _duration(run)),
        ("git", str(run.get("git_sha") or "")),
        ("device", f"{run.get('device', '')} {run.get('device_name') or ''}".strip()),
        ("cpu count", str(run.get("cpu_count") or "")),
        ("python", str(run.get("python", ""))),
        ("platform", str(run.get("platform", ""))),
    ]
    for dist, ver in sorted((run.get("versions") or {}).items()):
        rows.append((dist, ver or "not installed"))
    return rows


def _runs_on_tokenizers(probe: str) -> bool:
    """Whether a probe's targets are tokenizer families (its ``target_kind``)."""
    from llmselect.registry import PROBES

    return probe in PROBES and PROBES.load(probe).target_kind == "tokenizer"


def coverage_matrices(report: Report) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows): tokenizer probes × families, then model probes × models."""
    cells = {(c.target, c.probe): c.status for c in report.coverage}
    groups = (
        ("Tokenizer families", [p for p in report.probes if _runs_on_tokenizers(p)]),
        ("Models", [p for p in report.probes if not _runs_on_tokenizers(p)]),
    )
    out = []
    for title, probes in groups:
        targets = [t for t in report.targets if any((t, p) in cells for p in probes)]
        if not targets:
            continue
        rows = [[t, *(cells.get((t, p), "") for p in probes)] for t in targets]
        out.append((title, ["target", *probes], rows))
    return out


def render_markdown(report: Report) -> str:
    """The report as Markdown (tables only; the HTML page has the charts)."""
    lines = [f"# {report.title}: {report.date}", ""]
    lines.append(f"Generated {report.generated_at}. Charts are in `report.html` beside this file.")
    lines.append(
        "Every number has its unit and kind: measured (on the run's machine), estimated "
        "(by formula) or published (source given)."
    )
    lines += ["", _summary_line(report)]
    for sid, title in all_sections():
        rows_ = _rows_for(report, sid)
        if not rows_:
            continue
        lines += ["", f"## {title}", ""]
        for sub_title, header, body in summary_tables(report, sid):
            lines += [f"### {sub_title}", ""]
            lines += _md_table(header, body)
            lines.append("")
        if len(rows_) <= MD_FULL_TABLE_MAX:
            lines += [f"### All {len(rows_)} numbers", ""]
            lines += _md_table(VALUE_HEADER, (_value_cells(r) for r in rows_))
        else:
            lines.append(
                f"All {len(rows_)} numbers of this section, each with unit, kind, n and source, "
                "are in `report.html` and `report.json`."
            )
    lines += ["", "## Recommendations per purpose", ""]
    lines += _md_recommendations(report)
    if report.cost:
        lines += ["", f"## {COST_TITLE}"]
        for table in report.cost:
            lines += ["", f"### {table.title}", ""]
            lines += _md_table(table.header, table.rows)
            lines += ["", table.note] if table.note else []
    lines += ["", "## Changes since the previous report", ""]
    lines += _md_deltas(report)
    lines += ["", "## Run and environment", ""]
    lines += _md_table(("item", "value"), _env_rows(report))
    counts = _status_counts(report)
    lines += ["", "## Coverage", ""]
    lines.append(
        f"{len(report.targets)} targets, {len(report.probes)} probes: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + "."
    )
    for title, header, rows in coverage_matrices(report):
        lines += ["", f"### {title}", ""]
        lines += _md_table(header, rows)
    lines += ["", "## Skipped and failed", ""]
    if report.problems:
        lines += _md_table(
            ("target", "probe", "status", "message"),
            ((p.target, p.probe, p.status, _last_line(p.message)) for p in report.problems),
        )
    else:
        lines.append("Nothing was skipped or failed.")
    return "\n".join(lines) + "\n"


def _summary_line(report: Report) -> str:
    """One sentence: what ran, how much of it worked, and what changed."""
    run = report.run
    counts = _status_counts(report)
    status = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    text = (
        f"Run {run.get('run_id', '?')} of suite {run.get('suite') or '?'}: "
        f"{len(report.values)} values over {len(report.targets)} targets and "
        f"{len(report.probes)} probes (target × probe: {status or 'nothing ran'})."
    )
    if report.deltas is not None:
        text += (
            f" {report.deltas.flagged} values changed by more than "
            f"{report.deltas.threshold * 100:g}% since {report.deltas.previous_date}."
        )
    return text


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return (lines[-1] if lines else "")[:300]


def _status_counts(report: Report) -> dict[str, int]:
    counts = {"ok": 0, "partial": 0, "skipped": 0, "error": 0}
    for c in report.coverage:
        counts[c.status] = counts.get(c.status, 0) + 1
    return counts


def _md_recommendations(report: Report) -> list[str]:
    if not report.recommendations:
        return ["No recommendations were computed."]
    lines: list[str] = []
    for block in report.recommendations:
        lines += [f"### {block.label}", ""]
        if block.note:
            lines += [block.note, ""]
        if block.rows:
            lines += _md_table(
                ("rank", "model", "score (0-1)", "coverage (0-1)", "why"),
                (
                    (str(r.rank), r.model_id, _fmt(r.score), _fmt(r.coverage), r.why)
                    for r in block.rows
                ),
            )
            lines.append("")
        if block.excluded:
            lines += [f"{block.excluded} models excluded by the constraints.", ""]
    return lines


def _rel(d: Delta) -> str:
    return "from 0" if d.rel_change is None else f"{d.rel_change * 100:+.1f}%"


def _change_cells(x: Delta) -> tuple[str, ...]:
    """One changed value as table cells (flag, key, previous, current, unit, change)."""
    flag = "FLAG" if x.flagged else ""
    return (flag, x.model_id, x.probe, x.metric, x.subset, _fmt(x.previous), _fmt(x.current),
            x.unit, _rel(x))  # fmt: skip


def _md_deltas(report: Report) -> list[str]:
    d = report.deltas
    if d is None:
        return ["No previous report to compare with."]
    lines = [
        f"Against {d.previous_date} (run {d.previous_run_id}): {d.compared} values compared, "
        f"{d.unchanged} unchanged, {len(d.changes)} changed, **{d.flagged} flagged** "
        f"(|change| > {d.threshold * 100:g}%), {len(d.new)} new, {len(d.missing)} missing, "
        f"{len(d.incomparable)} not comparable (different n).",
        "",
    ]
    if d.changes:
        lines += _md_table(
            (
                "flag",
                "target",
                "probe",
                "metric",
                "subset",
                "previous",
                "current",
                "unit",
                "change",
            ),
            (_change_cells(x) for x in d.changes),
        )
    if d.missing:
        lines += ["", "Missing now: " + ", ".join(d.missing[:50])]
    return lines


# --- HTML ---------------------------------------------------------------------------------

CSS = """
body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h3{font-size:15px}
h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{background:#e3f4e3}.partial{background:#fff4cc}.skipped{background:#eeeeee}
.error{background:#f8d7d7}.flag{color:#b00000;font-weight:bold}
figure{margin:12px 0}figcaption{font-size:12px;color:#555}
.note{font-size:12px;color:#555}
"""


def _h_table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    num_cols: frozenset[int] | set[int] = frozenset(),
) -> str:
    parts = ["<table><thead><tr>"]
    parts += [f"<th>{escape(h)}</th>" for h in header]
    parts.append("</tr></thead><tbody>")
    for row in rows:
        parts.append("<tr>")
        for i, cell in enumerate(row):
            cls = ' class="num"' if i in num_cols else ""
            parts.append(f"<td{cls}>{escape(cell)}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _h_section(sid: str, title: str, body: Sequence[str]) -> str:
    return (
        f'<section id="{sid}" data-section="{sid}">\n<h2>{escape(title)}</h2>\n'
        + "\n".join(body)
        + "\n</section>"
    )


def render_html(report: Report) -> str:
    """A self-contained static page: inline CSS and SVG, no scripts, no external links."""
    figs = charts(report)
    by_section: dict[str, list[str]] = {}
    for section, chart_id, svg, caption in figs:
        by_section.setdefault(section, []).append(
            f'<figure data-figure="{escape(chart_id)}">\n{svg}\n'
            f"<figcaption>{escape(caption)}</figcaption>\n</figure>"
        )
    sections: list[str] = []
    for sid, title in all_sections():
        rows_ = _rows_for(report, sid)
        if not rows_ and sid not in by_section:
            continue
        body = list(by_section.get(sid, []))
        for sub_title, header, table_rows in summary_tables(report, sid):
            nums = set(range(1, len(header))) if sid != "licenses" else set()
            body.append(f"<h3>{escape(sub_title)}</h3>")
            body.append(_h_table(header, table_rows, nums))
        body.append(
            f"<details><summary>All {len(rows_)} numbers (unit, kind, n)</summary>"
            + _h_table(VALUE_HEADER, (_value_cells(r) for r in rows_), {3, 6, 7})
            + "</details>"
        )
        sections.append(_h_section(sid, title, body))
    sections.append(
        _h_section("recommendations", "Recommendations per purpose", _h_recommendations(report))
    )
    if report.cost:
        cost_body: list[str] = []
        for table in report.cost:
            cost_body.append(f"<h3>{escape(table.title)}</h3>")
            cost_body.append(_h_table(table.header, table.rows, set(range(3, len(table.header)))))
            if table.note:
                cost_body.append(f'<p class="note">{escape(table.note)}</p>')
        sections.append(_h_section("cost", COST_TITLE, cost_body))
    sections.append(_h_section("deltas", "Changes since the previous report", _h_deltas(report)))
    sections.append(
        _h_section("run", "Run and environment", [_h_table(("item", "value"), _env_rows(report))])
    )
    counts = _status_counts(report)
    notes = {(c.target, c.probe): c.note for c in report.coverage}
    cov: list[str] = []
    for title, header, rows in coverage_matrices(report):
        cov.append(f"<h3>{escape(title)}</h3><table><thead><tr>")
        cov += [f"<th>{escape(h)}</th>" for h in header]
        cov.append("</tr></thead><tbody>")
        for row in rows:
            cov.append(f"<tr><td>{escape(row[0])}</td>")
            for probe, status in zip(header[1:], row[1:], strict=True):
                note = notes.get((row[0], probe), "")
                tip = f' title="{escape(note)}"' if note else ""
                cls = f' class="{status}"' if status else ""
                cov.append(f"<td{cls}{tip}>{status}</td>")
            cov.append("</tr>")
        cov.append("</tbody></table>")
    summary = ", ".join(f"{k} {v}" for k, v in counts.items())
    sections.append(
        _h_section(
            "coverage",
            "Coverage",
            [
                f'<p class="note">{len(report.targets)} targets, {len(report.probes)} probes: '
                f"{escape(summary)}. Hover a cell for the reason.</p>",
                "".join(cov),
            ],
        )
    )
    if report.problems:
        problems = _h_table(
            ("target", "probe", "status", "message"),
            ((p.target, p.probe, p.status, _last_line(p.message)) for p in report.problems),
        )
    else:
        problems = "<p>Nothing was skipped or failed.</p>"
    sections.append(_h_section("problems", "Skipped and failed", [problems]))
    kinds = " ".join(f"<b>{k}</b>: {escape(v)}." for k, v in KIND_NOTE.items())
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(report.title)}: {escape(report.date)}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>{escape(report.title)}: {escape(report.date)}</h1>\n"
        f'<p class="note">Generated {escape(report.generated_at)}. Every number has a unit and a '
        f"kind. {kinds}</p>\n<p>{escape(_summary_line(report))}</p>\n{_h_nav(sections)}\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


def _h_nav(sections: Sequence[str]) -> str:
    """Links to the sections (same-page anchors only)."""
    links = []
    for html in sections:
        match = re.match(r'<section id="([^"]+)"[^>]*>\n<h2>([^<]*)</h2>', html)
        if match:
            links.append(f'<a href="#{match.group(1)}">{match.group(2)}</a>')
    return '<nav class="note">' + " · ".join(links) + "</nav>"


def _h_recommendations(report: Report) -> list[str]:
    if not report.recommendations:
        return ["<p>No recommendations were computed.</p>"]
    body = []
    for block in report.recommendations:
        body.append(f"<h3>{escape(block.label)}</h3>")
        if block.note:
            body.append(f'<p class="note">{escape(block.note)}</p>')
        if block.rows:
            body.append(
                _h_table(
                    ("rank", "model", "score (0-1)", "coverage (0-1)", "why"),
                    (
                        (str(r.rank), r.model_id, _fmt(r.score), _fmt(r.coverage), r.why)
                        for r in block.rows
                    ),
                    {0, 2, 3},
                )
            )
        if block.excluded:
            body.append(f'<p class="note">{block.excluded} models excluded by the constraints.</p>')
    return body


def _h_deltas(report: Report) -> list[str]:
    d = report.deltas
    if d is None:
        return ["<p>No previous report to compare with.</p>"]
    body = [
        f"<p>Against {escape(str(d.previous_date))} (run {escape(str(d.previous_run_id))}): "
        f"{d.compared} values compared, {d.unchanged} unchanged, {len(d.changes)} changed, "
        f'<span class="flag">{d.flagged} flagged</span> (|change| &gt; {d.threshold * 100:g}%), '
        f"{len(d.new)} new, {len(d.missing)} missing, {len(d.incomparable)} not comparable "
        "(different n).</p>"
    ]
    if d.changes:
        parts = ["<table><thead><tr>"]
        heads = ("flag", "target", "probe", "metric", "subset", "previous", "current", "unit")
        parts += [f"<th>{h}</th>" for h in (*heads, "change")]
        parts.append("</tr></thead><tbody>")
        for x in d.changes:
            cls = ' class="flag"' if x.flagged else ""
            cells = _change_cells(x)
            parts.append(f"<tr{cls}>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
        parts.append("</tbody></table>")
        body.append("".join(parts))
    return body


# --- files --------------------------------------------------------------------------------


def render_json(report: Report) -> str:
    """The report as stable, sorted JSON."""
    data = report.model_dump(mode="json", exclude_none=True)  # absent = None on reading back
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False)


def write_report(report: Report, out_dir: Path) -> list[Path]:
    """Write ``<out>/<date>/report.{md,html,json}`` and ``<out>/latest.{md,html,json}``."""
    out_dir = Path(out_dir)
    day_dir = out_dir / report.date
    texts = {
        "md": render_markdown(report),
        "html": render_html(report),
        "json": render_json(report) + "\n",
    }
    written = []
    try:
        day_dir.mkdir(parents=True, exist_ok=True)
        for ext, text in texts.items():
            for path in (day_dir / f"report.{ext}", out_dir / f"latest.{ext}"):
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
