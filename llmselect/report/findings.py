"""Headline findings: a few sentences generated from the report's numbers, never written by hand.

Each finding function returns a sentence or None when its numbers are missing; the sentences
name the kind of each number (measured, estimated, published).
"""

from __future__ import annotations

from collections.abc import Callable

from llmselect.report.deltas import LOAD_TOLERANCE
from llmselect.report.figures import (
    BASELINE_TOKENIZER,
    QUALITY_SETS,
    _corpus_name,
    _corpus_rows,
    _memory_at,
    _quality,
    pareto_front,
)
from llmselect.report.model import Report


def _top_pick(report: Report) -> str | None:
    picks = []
    for block in report.recommendations[:2]:
        if block.rows:
            r = block.rows[0]
            verdict = r.license.split(":", 1)[0]  # "yes (apache-2.0)"; conditions in the table
            picks.append(f"{block.label}: **{r.model_id}** ({r.fit}; license {verdict})")
    return ("Top picks — " + "; ".join(picks) + ".") if picks else None


def _cheapest_chinese(report: Report) -> str | None:
    corpus, rows = _corpus_rows(report.values, "tokens_per_char")
    zh = {v.model_id: v.value for v in rows if v.subset.endswith("/zh")}
    if len(zh) < 2:
        return None
    ranked = sorted(zh, key=lambda f: (zh[f], f))
    best, worst = ranked[0], ranked[-1]
    text = (
        f"On {_corpus_name(corpus)}, **{best}** spends the fewest tokens on Chinese "
        f"({zh[best]:.3f} tok/char, measured)"
    )
    base = zh.get(BASELINE_TOKENIZER)
    if base:
        text += f": {zh[best] / base:.0%} of Llama-2's {base:.3f} on the same text"
    return text + f"; **{worst}** spends the most ({zh[worst]:.3f}), of {len(zh)} families."


def _parity(report: Report) -> str | None:
    corpus, rows = _corpus_rows(report.values, "zh_en_parity_ratio")
    if len(rows) < 2:
        return None
    above = [v for v in rows if v.value > 1.0]
    low = min(rows, key=lambda v: (v.value, v.model_id))
    return (
        f"On parallel text ({_corpus_name(corpus)}), {len(above)} of {len(rows)} tokenizers "
        f"spend more tokens on the Chinese side than on the English side; {low.model_id} has "
        f"the lowest zh/en ratio, {low.value:.2f} (measured)."
    )


def _context(report: Report) -> str | None:
    windows = report.context_windows
    if not windows:
        return None
    most = max(windows, key=lambda w: (w.zh_chars, w.model_id))
    return (
        f"Among the leading candidates, **{most.model_id}** holds the most Chinese text in one "
        f"window: about {most.zh_chars:,} characters ({most.context_tokens:,} tokens, published, "
        f"at {most.zh_tokens_per_char:.3f} tok/char, measured)."
    )


def _pareto(report: Report) -> str | None:
    memory, _subset = _memory_at(report, "int4")
    lang, label, benches = QUALITY_SETS[0]
    quality = _quality(report.published, benches)
    pts = {m: (memory[m], q) for m, q in quality.items() if m in memory}
    if len(pts) < 3:
        return None
    front = pareto_front(pts)
    shown = ", ".join(f"{m} ({pts[m][0]:.1f} GiB, {pts[m][1]:.1f} %)" for m in front[-4:])
    return (
        f"Best Chinese score for the memory (published C-Eval/CMMLU mean vs estimated int4 "
        f"memory, {len(pts)} models): the Pareto front ends with {shown}."
    )


def _estimator(report: Report) -> str | None:
    errors = [
        v.value
        for v in report.values
        if v.metric == "est_error_pct" and v.probe == "reference_latency"
    ]
    if not errors:
        return None
    worst = max(errors, key=abs)
    return (
        f"The memory estimator is within {abs(worst):.0f} % of the measured peak on "
        f"{len(errors)} reference-model points on this machine (largest error {worst:+.0f} %)."
    )


def _deltas(report: Report) -> str | None:
    d = report.deltas
    if d is None:
        return None
    load = sum(m.values for m in d.method_changes if m.what == "machine load")
    method = sum(m.values for m in d.method_changes) - load
    text = (
        f"Since {d.previous_date}: {d.flagged} flagged changes among {d.compared} compared values"
        f" ({d.within_spread + (d.within_stderr or 0)} moved within the measured noise)"
    )
    if d.not_judged:
        text += (
            f"; {d.not_judged} changed values not judged because their noise is not known "
            "(no standard error)"
        )
    if load:
        text += (
            f"; {load} timings not compared because the machine was busy with other work "
            "(the CPU share of the timed process differed between the runs by more than "
            f"{LOAD_TOLERANCE - 1:.0%})"
        )
    if method:
        text += f"; {method} values not compared because how they are measured changed"
    return text + "."


FINDINGS: tuple[Callable[[Report], str | None], ...] = (
    _top_pick,
    _cheapest_chinese,
    _parity,
    _context,
    _pareto,
    _estimator,
    _deltas,
)


def headline_findings(report: Report) -> list[str]:
    """The sentences whose numbers this report has."""
    return [text for find in FINDINGS if (text := find(report))]
