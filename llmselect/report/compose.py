"""``build_document``: the order and content of the page, from a ``Report``.

The answer comes first (recommendations per purpose and budget, then headline findings), then
pictures with short tables, then the details folded away: every number long-form (model, metric,
subset, value, unit, kind, n, spread, source), grouped by the section its metric declares.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from llmselect.report.document import Bullets, Document, Figure, Paragraph, Section, Table
from llmselect.report.figures import _corpus_rows, figures
from llmselect.report.findings import headline_findings
from llmselect.report.model import Z95, Delta, DeltaSummary, Report, ValueRow

KIND_NOTE = (
    "Every number has a unit and a kind: **measured** on the run's machine, **estimated** by a "
    "documented formula, or **published** by the source named next to it."
)


def fmt_value(value: float | None) -> str:
    """A number as shown in tables: 4 significant digits."""
    if value is None:
        return ""
    if value == 0:
        return "0"
    if abs(value) >= 1e9 or abs(value) < 1e-3:
        return f"{value:.3e}"
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.4g}"


def _spread(v: ValueRow) -> str:
    s = v.spread
    return f"{fmt_value(s[0])}–{fmt_value(s[1])} ({len(v.samples or [])})" if s else ""


def _kind(v: ValueRow) -> str:
    return f"published ({v.source})" if v.kind == "published" and v.source else v.kind


# --- metric declarations --------------------------------------------------------------------


def _index() -> Any:
    from llmselect.metrics import declared_metrics

    return declared_metrics()


def detail_group(v: ValueRow) -> str:
    """The section a value belongs to: its metric's declared section ("other" when undeclared)."""
    return str(_index().section(v.probe, v.metric))


def pivot(rows: Sequence[ValueRow], metrics: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """Target × (metric, subset) table; headers carry unit and kind, e.g.
    ``tokens_per_char default/zh (tok/char, measured)``."""
    index = _index()
    chosen = [
        r
        for r in rows
        if r.metric in metrics
        and not (
            getattr(index.spec(r.probe, r.metric), "group_rows_only", False) and "/" in r.subset
        )
    ]
    order = {m: i for i, m in enumerate(metrics)}
    cols = sorted({(r.metric, r.subset) for r in chosen}, key=lambda c: (order[c[0]], c[1]))
    if not cols:
        return [], []
    meta: dict[tuple[str, str], tuple[str, str]] = {}
    for r in chosen:
        meta.setdefault((r.metric, r.subset), (r.unit, r.kind))
    header = ["target"] + [
        f"{m} {sub} ({meta[(m, sub)][0]}, {meta[(m, sub)][1]})".replace("  ", " ")
        for m, sub in cols
    ]
    cells: dict[tuple[str, str, str], float] = {}
    for r in chosen:
        cells.setdefault((r.model_id, r.metric, r.subset), r.value)
    targets = sorted({r.model_id for r in chosen})
    body = [[t] + [fmt_value(cells.get((t, m, sub))) for m, sub in cols] for t in targets]
    return header, body


def declared_tables(
    report: Report, section: str, drawn: frozenset[str] = frozenset()
) -> list[Table]:
    """The summary tables a section's metrics declare (``MetricSpec.table``), less the titles
    already ``drawn`` in a built-in form."""
    rows = [v for v in report.values if detail_group(v) == section]
    out = []
    for title, metrics in _index().tables(section):
        if title in drawn:
            continue
        header, body = pivot(rows, metrics)
        if body:
            out.append(
                Table(
                    title=title, header=header, rows=body, numeric=set(range(1, len(header))),
                    collapsible=len(body) > 15, markdown="head",
                )
            )  # fmt: skip
    return out


LONG_HEADER = ["model", "metric", "subset", "value", "unit", "kind", "n", "spread (repeats)"]


def long_table(title: str, rows: Sequence[ValueRow]) -> Table:
    """Every number long-form, folded in HTML and linked from Markdown."""
    return Table(
        title=title,
        header=LONG_HEADER,
        rows=[
            [
                v.model_id,
                v.metric,
                v.subset,
                fmt_value(v.value),
                v.unit,
                _kind(v),
                "" if v.n is None else str(v.n),
                _spread(v),
            ]
            for v in rows
        ],  # fmt: skip
        numeric={3, 6},
        collapsible=True,
        markdown="link",
    )


# --- the answer first -------------------------------------------------------------------------


def recommendations_section(report: Report) -> Section:
    section = Section("recommendations", "Recommendations per purpose and budget")
    if not report.recommendations:
        section.blocks.append(Paragraph("No recommendations were computed."))
        return section
    section.blocks.append(
        Paragraph(
            "The recommender's top models for five standard requests, with this run's "
            "measurements. Fit: precision and peak memory (estimated). License: the verdict for "
            "the purpose (published terms). Decided by: the terms that contributed most to the "
            "score, each with its kind. Score: rank among the request's candidates (0–1).",
            note=True,
        )
    )
    for block in report.recommendations:
        sub = Section(_anchor(block.label), block.label)
        context = block.request.get("context")
        head = f"`--gpu {block.request.get('gpu')} --purpose {block.request.get('purpose')}`"
        if context:
            head += f", context {context} tokens"
        head += f": {block.candidates} candidates, {block.excluded} excluded by the constraints."
        sub.blocks.append(Paragraph(head, note=True))
        if block.note:
            sub.blocks.append(Paragraph(block.note))
        if block.rows:
            sub.blocks.append(
                Table(
                    title="",
                    header=["#", "model", "fit", "license", "decided by", "score"],
                    rows=[
                        [
                            str(r.rank),
                            r.model_id + (" (Pareto)" if r.pareto else ""),
                            r.fit,
                            r.license,
                            " · ".join(r.deciding),
                            fmt_value(r.score),
                        ]
                        for r in block.rows
                    ],  # fmt: skip
                    numeric={0, 5},
                )
            )
        section.subsections.append(sub)
    return section


def _anchor(text: str) -> str:
    return "rec-" + re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def findings_section(report: Report) -> Section:
    items = headline_findings(report)
    body: list[Any] = [Bullets(items)] if items else [Paragraph("No findings: no numbers yet.")]
    return Section("findings", "Headline findings", body)


# --- topic sections: figures and short tables -------------------------------------------------


def _tokenizer_table(report: Report) -> Table | None:
    corpus, rows = _corpus_rows(report.values, "tokens_per_char")
    if not rows:
        return None
    want = (
        ("tokens_per_char", "zh", "zh tok/char"),
        ("tokens_per_char", "en", "en tok/char"),
        ("zh_en_parity_ratio", "zh-en", "zh/en token ratio"),
        ("han_single_token_share", "zh", "Han chars as one token (share)"),
    )
    cells = {(v.model_id, v.metric, v.subset.rsplit("/", 1)[-1]): v.value
             for v in report.values if v.subset.startswith(corpus + "/")}  # fmt: skip
    vocab = {v.model_id: v.value for v in report.values if v.metric == "vocab_size_tokens"}
    families = sorted({v.model_id for v in rows},
                      key=lambda f: (cells.get((f, "tokens_per_char", "zh"), 9e9), f))  # fmt: skip
    return Table(
        title=f"Tokenizer efficiency on {corpus} (measured; sorted by Chinese tokens per char)",
        header=["tokenizer", *(label for _m, _l, label in want), "vocabulary (tokens)"],
        rows=[
            [
                f,
                *(fmt_value(cells.get((f, m, lang))) for m, lang, _label in want),
                fmt_value(vocab.get(f)),
            ]
            for f in families
        ],  # fmt: skip
        numeric={1, 2, 3, 4, 5},
        collapsible=len(families) > 12,
        markdown="full",
    )


def _context_table(report: Report) -> Table | None:
    if not report.context_windows:
        return None
    return Table(
        title="Chinese text per context window",
        header=[
            "model",
            "tokenizer",
            "context (tokens, published)",
            "zh tok/char (measured)",
            "zh characters (derived)",
        ],  # fmt: skip
        rows=[
            [
                w.model_id,
                w.tokenizer,
                str(w.context_tokens),
                fmt_value(w.zh_tokens_per_char),
                f"{w.zh_chars:,}",
            ]
            for w in sorted(report.context_windows, key=lambda w: -w.zh_chars)
        ],  # fmt: skip
        numeric={2, 3, 4},
    )


def _latency_table(report: Report) -> Table | None:
    lat = [v for v in report.values if v.probe == "reference_latency"]
    points = sorted({(v.model_id, v.subset) for v in lat})
    if not points:
        return None
    cells = {(v.model_id, v.subset, v.metric): v for v in lat}
    cols = (
        ("prefill_ms", "prefill (ms, p50)"),
        ("decode_ms_per_token", "decode (ms/token, p50)"),
        ("decode_tokens_per_s", "decode (tok/s)"),
        ("peak_process_memory_mib", "process peak (MiB)"),
        ("peak_memory_over_runtime_mib", "over runtime (MiB)"),
        ("est_peak_memory_mib", "estimated (MiB)"),
    )
    # A checkpoint's real weights (any engine) are named, never called random.
    real = {(v.model_id, v.subset): v.params["checkpoint_sha256"]
            for v in lat if v.params.get("checkpoint_sha256")}  # fmt: skip
    rows = []
    for model, subset in points:
        any_row = next(v for (m, s, _k), v in cells.items() if (m, s) == (model, subset))
        threads = any_row.params.get("cpu_threads", any_row.params.get("threads", ""))
        sha = real.get((model, subset))
        weights = [f"checkpoint (sha256 {sha[:12]})" if sha else "random"] if real else []
        rows.append(
            [model, subset, str(threads), *weights,
             *(fmt_value(getattr(cells.get((model, subset, m)), "value", None)) for m, _ in cols)]
        )  # fmt: skip
    if not real:
        return Table(
            title="Reference models on this machine (measured; random weights, own process each)",
            header=["model", "point", "threads", *(label for _m, label in cols)],
            rows=rows,
            numeric=set(range(2, 3 + len(cols))),
            note="Process peak: the whole process, as other benchmarks report it. Over runtime: "
            "the increase over the loaded Python + torch runtime, which the estimator predicts.",
        )
    return Table(
        title="Models on this machine (measured; own process each)",
        header=["model", "point", "threads", "weights", *(label for _m, label in cols)],
        rows=rows,
        numeric={2, *range(4, 4 + len(cols))},
        note="Weights: random (of the architecture) or the named checkpoint's own. Process peak: "
        "the whole process, as other benchmarks report it. Over runtime: the increase over the "
        "loaded runtime (Python + torch; llama.cpp: its library), which the estimator predicts "
        "for the reference engine.",
    )


def _throughput_table(report: Report) -> Table | None:
    rows = [v for v in report.values if v.probe == "tokenizer_throughput"]
    if not rows:
        return None
    cells = {(v.model_id, v.subset, v.metric): v for v in rows}
    keys = sorted({(v.model_id, v.subset) for v in rows})
    cols = (
        ("single_chars_per_s", "one text per call (chars/s)"),
        ("batch_chars_per_s", "batched (chars/s)"),
        ("single_chars_per_cpu_s", "one per call (chars/CPU-s)"),
    )

    def cell(k: tuple[str, str], metric: str) -> str:
        v = cells.get((*k, metric))
        if v is None:
            return ""
        return fmt_value(v.value) + (f" [{_spread(v).split(' (')[0]}]" if v.spread else "")

    return Table(
        title="Tokenizer throughput (measured; median [fastest–slowest pass])",
        header=["tokenizer", "text", *(label for _m, label in cols)],
        rows=[[k[0], k[1], *(cell(k, m) for m, _l in cols)] for k in keys],
        numeric={2, 3, 4},
        collapsible=len(keys) > 12,
        markdown="head",
    )


def _license_table(report: Report) -> Table | None:
    lic = [v for v in report.values if v.probe == "license"]
    pattern = re.compile(r"license_(.+)_allowed")
    verdicts: dict[tuple[str, str], str] = {}
    ids: dict[str, str] = {}
    for v in lic:
        m = pattern.fullmatch(v.metric)
        if m:
            verdicts[(v.model_id, m.group(1))] = str(v.params.get("allowed", fmt_value(v.value)))
            ids.setdefault(v.model_id, str(v.params.get("license_id") or ""))
    if not ids:
        return None
    purposes = sorted({p for _m, p in verdicts})
    return Table(
        title=f"Verdict per purpose, {len(ids)} models (published license terms)",
        header=["model", "license", *purposes],
        rows=[[m, ids[m], *(verdicts.get((m, p), "") for p in purposes)] for m in sorted(ids)],
        collapsible=True,
        markdown="link",
    )


# Sections with tables written for them; the others get their declared summary tables.
# Built-in renderings, per section: a declared summary table (by its title) drawn in a richer
# form, or (title None) a table no metric declares, placed before the declared ones. Every other
# declared table of the section (a plugin's too) is drawn from its declaration.
SPECIAL_TABLES: dict[str, tuple[tuple[str | None, Any], ...]] = {
    "tokenizers": (("Efficiency", _tokenizer_table), ("Throughput", _throughput_table)),
    "memory": ((None, _context_table),),
    "latency": (("Reference model on this machine", _latency_table),),
    "licenses": ((None, _license_table),),
}
TITLES = {  # a reader's title for the built-in sections
    "tokenizers": "Tokenizers: what Chinese and English cost",
    "latency": "Speed of the reference models on this machine",
}
QUALITY = ("quality", "Quality for the memory")


def section_tables(report: Report, section: str) -> list[Table]:
    """A section's tables: the built-in ones first, then every other declared table."""
    special = SPECIAL_TABLES.get(section, ())
    declared = {title for title, _metrics in _index().tables(section)}
    built = [
        table
        for title, make in special
        if title is None or title in declared
        if (table := make(report)) is not None
    ]
    drawn = frozenset(title for title, _make in special if title is not None)
    return built + declared_tables(report, section, drawn)


def topic_sections(report: Report) -> list[Section]:
    """One section per declared section (plus quality after tokenizers), each with its figures
    and summary tables; sections without numbers are left out."""
    by_section: dict[str, list[Any]] = {}
    for sid, fig in figures(report):
        by_section.setdefault(sid, []).append(fig)
    order = list(_index().sections())
    at = next((i + 1 for i, (sid, _t) in enumerate(order) if sid == "tokenizers"), 0)
    order.insert(at, QUALITY)
    out = []
    for sid, title in order:
        blocks = by_section.get(sid, []) + section_tables(report, sid)
        if blocks:
            out.append(Section(sid, TITLES.get(sid, title), blocks))
    return out


def cost_section(report: Report) -> Section | None:
    if not report.cost:
        return None
    from llmselect.report.build import COST_TITLE

    blocks: list[Any] = []
    for t in report.cost:
        blocks.append(
            Table(title=t.title, header=t.header, rows=t.rows,
                  numeric=set(range(3, len(t.header))), note=t.note)
        )  # fmt: skip
    return Section("cost", COST_TITLE, blocks)


# --- changes, run, coverage, details ------------------------------------------------------


def deltas_section(report: Report) -> Section:
    """What changed since the previous report: the counts, the rules, then the tables."""
    section = Section("deltas", "Changes since the previous report")
    d = report.deltas
    if d is None:
        section.blocks.append(Paragraph("No previous report to compare with."))
        return section
    section.blocks.append(_deltas_summary(d))
    if d.timed_compared is not None:
        section.blocks.append(_timings_paragraph(d))
    if d.method_changes:
        section.blocks.append(_method_changes_table(d))
    if judged := [x for x in d.changes if x.not_judged is None]:
        section.blocks.append(changed_values_table(judged, d.flagged))
    if unjudged := [x for x in d.changes if x.not_judged is not None]:
        section.blocks.append(not_judged_table(unjudged))
    return section


def _deltas_summary(d: DeltaSummary) -> Paragraph:
    """How many values were compared, changed and flagged, and by which rule each was flagged."""
    return Paragraph(
        f"Against {d.previous_date} (run {d.previous_run_id}): {d.compared} values compared, "
        f"{d.unchanged} unchanged, {len(d.changes)} changed, **{d.flagged} flagged**, "
        f"{d.within_spread + (d.within_stderr or 0)} within the measured noise"
        f"{_not_judged_count(d)}; {len(d.new)} new, "
        f"{len(d.missing)} missing, {len(d.incomparable)} over a different sample size. "
        f"Flagged: {_timing_rule(d)}; {_stderr_rule(d)}counts and estimates on any change; "
        f"other measured values{_threshold_scope(d)} beyond {d.threshold:.0%}."
    )


def _timings_paragraph(d: DeltaSummary) -> Paragraph:
    """How many timings were compared or set aside, and where their noise came from."""
    return Paragraph(
        f"Timings: {d.timed_compared} compared, {d.timed_set_aside} set aside because "
        "how they were measured changed (see below). " + (d.noise_note or "")
    )


def _method_changes_table(d: DeltaSummary) -> Table:
    """Values not compared because how they were measured changed."""
    return Table(
        title="Not compared: the method changed (not regressions)",
        header=["what changed", "detail", "values"],
        rows=[[m.what, m.detail, str(m.values)] for m in d.method_changes],
        numeric={2},
    )


CHANGED_HEADER = [
    "flag", "model", "probe", "metric", "subset", "previous", "current", "unit", "change",
    "rule", "spreads (previous; current)", "noise (runs)",
]  # fmt: skip


def changed_values_table(changes: list[Delta], flagged: int) -> Table:
    """Changed values that were judged, flagged first: the change, its rule and its noise."""
    return Table(
        title=f"Changed values ({flagged} flagged first)",
        header=CHANGED_HEADER,
        rows=[_changed_row(x) for x in changes],
        numeric={5, 6, 8},
        collapsible=len(changes) > 15,
        markdown="head",
        head=15,
        row_classes=["flag" if x.flagged else "" for x in changes],
    )


def _changed_row(x: Delta) -> list[str]:
    change = "from 0" if x.rel_change is None else f"{x.rel_change * 100:+.1f}%"
    return ["FLAG" if x.flagged else "", *_change_cells(x), change, x.rule, _spreads(x), _noise(x)]


def not_judged_table(changes: list[Delta]) -> Table:
    """Changed values whose noise is not known: listed with the reason, never flagged."""
    return Table(
        title="Not judged: the noise is not known (no standard error), so not flagged",
        header=["model", "probe", "metric", "subset", "previous", "current", "unit", "why"],
        rows=[[*_change_cells(x), x.not_judged or ""] for x in changes],
        numeric={4, 5},
        collapsible=len(changes) > 15,
        markdown="head",
        head=15,
    )


def _change_cells(x: Delta) -> list[str]:
    """What changed: model, probe, metric, subset, previous, current, unit."""
    return [x.model_id, x.probe, x.metric, x.subset, fmt_value(x.previous),
            fmt_value(x.current), x.unit]  # fmt: skip


def _not_judged_count(d: DeltaSummary) -> str:
    if not d.not_judged:
        return ""
    return f", {d.not_judged} not judged because their noise is not known (listed below)"


def _stderr_rule(d: DeltaSummary) -> str:
    if d.not_judged is None:  # judged before standard errors counted (schema 3)
        return ""
    return (
        f"values with a standard error (lm-eval scores) when |change| > {Z95} × "
        "√(previous stderr² + current stderr²), never where a run has none; "
    )


def _threshold_scope(d: DeltaSummary) -> str:
    return "" if d.not_judged is None else " without repeats or a sampling error (peak memory)"


def _timing_rule(d: DeltaSummary) -> str:
    if d.timed_compared is None:  # judged before earlier runs counted (schema 2)
        return "timings outside the spread of both runs' repeats"
    return (
        "timings outside the measured noise (every repeat of the previous run and of earlier "
        "comparable runs on this machine)"
    )


def _spreads(x: Delta) -> str:
    """The runs' spreads of their repeats, or (stderr rule) their standard errors."""
    if x.rule == "stderr":
        return f"±{fmt_value(x.previous_stderr)}; ±{fmt_value(x.current_stderr)} (stderr)"

    def one(r: list[float] | None) -> str:
        return f"{fmt_value(r[0])}–{fmt_value(r[1])}" if r else "—"

    prev, cur = x.previous_range, x.current_range
    return "" if prev is None and cur is None else f"{one(prev)}; {one(cur)}"


def _noise(x: Delta) -> str:
    """The noise a change had to leave: the runs' range (how many runs), or ± the bound."""
    if x.noise_bound is not None:
        return f"±{fmt_value(x.noise_bound)} ({Z95}·stderr of the change)"
    if not x.noise_range:
        return ""
    return f"{fmt_value(x.noise_range[0])}–{fmt_value(x.noise_range[1])} ({x.noise_runs})"


def _duration(run: dict[str, Any]) -> str:
    try:
        start = datetime.fromisoformat(str(run["started_at"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(run["finished_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return ""
    return f"{(end - start).total_seconds() / 60:.1f} min"


def machine(report: Report) -> str:
    """The CPU (or GPU) the measurements ran on, from the run and the records."""
    names = sorted({str(v.params["device_name"]) for v in report.values
                    if v.params.get("device_name")})  # fmt: skip
    run = report.run
    parts = [*names] or [str(run.get("device_name") or run.get("device") or "")]
    if run.get("cpu_count"):
        parts.append(f"{run['cpu_count']} logical CPUs visible")
    return "; ".join(p for p in parts if p)


def thread_counts(report: Report) -> str:
    """Threads per kind of timing, as recorded with the values."""
    out = []
    lat = {str(v.params.get("cpu_threads", v.params.get("threads"))) for v in report.values
           if v.probe == "reference_latency" and v.metric == "prefill_ms"}  # fmt: skip
    if lat:
        out.append(f"reference models {', '.join(sorted(lat))} (pinned)")
    batch = {str(v.params.get("threads")) for v in report.values
             if v.probe == "tokenizer_throughput" and v.metric.startswith("batch")}  # fmt: skip
    if batch:
        out.append(f"tokenizer batches {', '.join(sorted(batch))}, single calls 1")
    return "; ".join(out)


def unfinished_note(report: Report) -> str | None:
    """What a report of a run that did not finish must say first: its other units have no
    record in it (None for a finished run, or one stored before runs had states)."""
    run = report.run
    state = run.get("state")
    if state in (None, "finished"):
        return None
    why = f": {run['stop_reason']}" if run.get("stop_reason") else ""
    resume = (
        f"; continue it with `llmselect run --suite {run['suite']} --resume {run.get('run_id')}`"
        if run.get("suite")
        else ""
    )
    return (
        f"Run {run.get('run_id')} did not finish ({state}{why}): this report holds only the "
        f"units it completed, and the others have no record here{resume}."
    )


def run_section(report: Report) -> Section:
    run = report.run
    state = [("state", str(run["state"]))] if unfinished_note(report) else []
    rows = [
        ("run id", str(run.get("run_id", ""))),
        *state,
        ("suite", f"{run.get('suite') or ''} ({run.get('suite_hash') or ''})"),
        ("started", str(run.get("started_at") or "")),
        ("finished", str(run.get("finished_at") or "not finished")),
        ("duration", _duration(run)),
        ("git", str(run.get("git_sha") or "")),
        ("machine", machine(report)),
        ("threads", thread_counts(report)),
        ("python", str(run.get("python", ""))),
        ("platform", str(run.get("platform", ""))),
        *((d, v or "not installed") for d, v in sorted((run.get("versions") or {}).items())),
        *((f"{d} (report)", v) for d, v in sorted(report.renderer.items())),
    ]
    return Section(
        "run",
        "Run and machine",
        [
            Paragraph(
                "Timings are of this machine at the time of the run; it may be shared with "
                "other work. CPU timings name their thread count.",
                note=True,
            ),
            Table(title="", header=["item", "value"], rows=[list(r) for r in rows]),
            *_device_tables(report),
        ],
    )


def _device_tables(report: Report) -> list[Table]:
    """Where the units ran: one row per host and device the run's records name."""
    if not report.devices:
        return []
    rows = [
        [g.host, g.device, str(g.units), str(g.records), ", ".join(g.probes)]
        for g in report.devices
    ]
    header = ["host", "device", "units", "records", "probes"]
    return [Table(title="Where the units ran", header=header, rows=rows, numeric={2, 3})]


def coverage_section(report: Report) -> Section:
    counts: dict[str, int] = {"ok": 0, "partial": 0, "skipped": 0, "error": 0}
    for c in report.coverage:
        counts[c.status] = counts.get(c.status, 0) + 1
    probes = report.probes
    cells = {(c.target, c.probe): c.status for c in report.coverage}
    rows = [[t, *(cells.get((t, p), "") for p in probes)] for t in report.targets]
    return Section(
        "coverage",
        "Coverage",
        [
            Paragraph(
                f"{len(report.targets)} targets × {len(probes)} probes: "
                + ", ".join(f"{k} {v}" for k, v in counts.items())
                + "."
            ),
            Table(
                title="Target × probe",
                header=["target", *probes],
                rows=rows,
                collapsible=True,
                markdown="link",
            ),
        ],
    )


def problems_section(report: Report) -> Section:
    if not report.problems:
        text = "Nothing was skipped or failed."
        if unfinished_note(report):
            text = "Nothing the run recorded was skipped or failed; it did not finish (above)."
        return Section("problems", "Skipped and failed", [Paragraph(text)])
    return Section(
        "problems",
        "Skipped and failed",
        [
            Table(
                title=f"{len(report.problems)} units",
                header=["target", "probe", "status", "message"],
                rows=[
                    [p.target, p.probe, p.status, _last_line(p.message)] for p in report.problems
                ],
                collapsible=len(report.problems) > 10,
                markdown="head",
            )
        ],
    )


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return (lines[-1] if lines else "")[:300]


def details_section(report: Report) -> Section:
    groups: dict[str, list[ValueRow]] = {}
    for v in report.values:
        groups.setdefault(detail_group(v), []).append(v)
    section = Section(
        "details",
        "All numbers",
        [Paragraph(f"{len(report.values)} values of this run and {len(report.published)} "
                   "published scores, long-form, each with unit, kind, n and spread.", note=True)],
    )  # fmt: skip
    for group in sorted(groups):
        section.blocks.append(long_table(f"{group} ({len(groups[group])})", groups[group]))
    if report.published:
        section.blocks.append(
            long_table(f"published scores ({len(report.published)})", report.published)
        )
    return section


def build_document(report: Report, html_name: str = "report.html") -> Document:
    """The page: the answer, findings, pictures, changes, the run, then every number."""
    intro = [Paragraph(f"Generated {report.generated_at}. {KIND_NOTE}", note=True)]
    if unfinished := unfinished_note(report):
        intro.append(Paragraph(unfinished))
    where = machine(report)
    if where:
        threads = thread_counts(report)
        intro.append(
            Paragraph(
                f"Measured on {where}" + (f"; threads: {threads}" if threads else "") + ".",
                note=True,
            )
        )
    sections = [
        recommendations_section(report),
        findings_section(report),
        *topic_sections(report),
        *([cost] if (cost := cost_section(report)) else []),
        deltas_section(report),
        run_section(report),
        coverage_section(report),
        problems_section(report),
        details_section(report),
    ]
    return Document(
        title=f"{report.title}: {report.date}", intro=intro, sections=sections, html_name=html_name
    )


def figure_ids(doc: Document) -> list[str]:
    return [f.id for f in doc.figures()]


def iter_tables(sections: Iterable[Section]) -> Iterable[Table]:
    for s in sections:
        yield from (b for b in s.blocks if isinstance(b, Table))
        yield from iter_tables(s.subsections)


__all__ = ["Figure", "build_document", "fmt_value"]
