"""Score terms, one small function each: ``term(candidate, query) -> Term``, and how they are
combined.

Each term holds its raw value with its label (measured / estimated / published) and source. A
term without evidence has ``raw = None``: it is left out of the score (the remaining weights
are renormalized) and lowers ``coverage`` instead; nothing missing is read as 0.

* ``quality_zh`` / ``quality_en``: C-Eval + CMMLU, MMLU + GSM8K in percent, measured (store)
  first, then published (the checkpoint's, else its base model's, labelled so). Normalized as
  the mean of per-benchmark rank-percentiles over the models that have that benchmark, so a
  model is neither rewarded nor punished for one more, harder benchmark; a missing benchmark
  lowers the term's coverage.
* ``scale``: the exact parameter count from the architecture.
* ``tokenizer``: tokens per character on FLORES-200 for the language mix (lower is better).
* ``speed``: decode tokens/s, measured, else the memory-bandwidth roofline over the active
  weights and the KV cache the step reads.
* ``cost``: estimated memory at the chosen precision (lower is better).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from llmselect.catalog import Catalog, ModelSpec
from llmselect.recommend.evidence import (
    Baseline,
    Evidence,
    Value,
    load_baseline,
    tokens_per_char,
)

if TYPE_CHECKING:
    from llmselect.recommend.constraints import Candidate
    from llmselect.recommend.pipeline import Query

QUALITY_BENCHMARKS = {"zh": ("C-Eval", "CMMLU"), "en": ("MMLU", "GSM8K")}


@dataclass
class Term:
    """One scoring term of one model: raw value, its label, and what it contributed."""

    name: str
    raw: float | None
    unit: str
    kind: str  # measured | estimated | published | measured+published | missing
    detail: str  # human-readable raw value(s) with labels
    source: str | None
    higher_is_better: bool
    weight: float = 0.0
    norm: float | None = None
    contribution: float = 0.0
    coverage: float = 1.0  # share of this term's evidence present (quality: benchmarks)
    components: dict[str, float] = field(default_factory=dict)  # benchmark → value


def _norm_bench(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


def published_scores(model: ModelSpec, catalog: Catalog | None) -> dict[str, Value]:
    """Benchmark → mean published percent; a benchmark the checkpoint lacks is taken from its
    base model and labelled so. Rows from different sources are averaged, and the label says so.
    """
    wanted = {_norm_bench(b): b for bs in QUALITY_BENCHMARKS.values() for b in bs}

    def collect(spec: ModelSpec) -> dict[str, list[tuple[float, str]]]:
        found: dict[str, list[tuple[float, str]]] = {}
        for s in spec.scores:
            bench = wanted.get(_norm_bench(s.benchmark))
            if bench is not None:
                found.setdefault(bench, []).append((s.value, s.source))
        return found

    rows = {bench: (vals, "") for bench, vals in collect(model).items()}
    base = catalog.find(model.base_model) if model.base_model and catalog is not None else None
    if base is not None and base.id != model.id:
        for bench, vals in collect(base).items():
            rows.setdefault(bench, (vals, f" (published for base model {base.id})"))
    out: dict[str, Value] = {}
    for bench, (vals, origin) in rows.items():
        mean = sum(v for v, _ in vals) / len(vals)
        src = vals[0][1] + (f" (+{len(vals) - 1} more rows averaged)" if len(vals) > 1 else "")
        out[bench] = Value(mean, "published", src + origin)
    return out


def quality_evidence(
    lang: str, model: ModelSpec, catalog: Catalog | None, ev: Evidence
) -> dict[str, Value]:
    """Benchmark → score for ``lang``: measured where the store has it, else published."""
    published = published_scores(model, catalog)
    found: dict[str, Value] = {}
    for bench in QUALITY_BENCHMARKS[lang]:
        value = ev.scores.get((model.id, bench)) or published.get(bench)
        if value is not None:
            found[bench] = value
    return found


def quality_term(lang: str) -> Callable[[Candidate, Query], Term]:
    """The quality term for one language."""

    def term(c: Candidate, q: Query) -> Term:
        found = quality_evidence(lang, c.model, q.catalog, q.evidence)
        wanted = QUALITY_BENCHMARKS[lang]
        labels = [
            f"{b} {v.value:.1f}% {v.kind}" + (" (base)" if "base model" in v.source else "")
            for b, v in found.items()
        ]
        kinds = sorted({v.kind for v in found.values()})
        return Term(
            name=f"quality_{lang}",
            raw=sum(v.value for v in found.values()) / len(found) if found else None,
            unit="%",
            kind="+".join(kinds) if kinds else "missing",
            detail="; ".join(labels) if labels else f"no {'/'.join(wanted)} score",
            source="; ".join(v.source for v in found.values()) or None,
            higher_is_better=True,
            coverage=len(found) / len(wanted),
            components={b: v.value for b, v in found.items()},
        )

    term.__name__ = f"quality_{lang}_term"
    return term


def scale_term(c: Candidate, q: Query) -> Term:
    """Parameters (exact count from the architecture); the profile says whether more is better."""
    assert c.count is not None
    arch_source = c.model.arch.source if c.model.arch else None
    b = c.count.total / 1e9
    detail = f"{b:.2f}B parameters (exact, from the published architecture)"
    if c.count.active != c.count.total:
        detail += f", {c.count.active / 1e9:.2f}B active per token"
    return Term(
        "scale", b, "B params", "published", detail, arch_source,
        q.profile.scale_direction == "higher",
    )  # fmt: skip


def tokenizer_term(c: Candidate, q: Query) -> Term:
    """Tokens per character of text in the ``--lang`` mix (lower = more text per context)."""
    baseline = load_baseline() if q.uses_baseline else _NO_BASELINE
    parts = {
        lang: tokens_per_char(c.model.tokenizer, c.model.id, q.evidence, lang, baseline)
        for lang in q.mix
    }
    if any(v is None for v in parts.values()):
        missing = ", ".join(lang for lang, v in parts.items() if v is None)
        why = "tokenizer unknown" if not c.model.tokenizer else "not measured"
        detail = f"tokens/char ({missing}) on {q.corpus}: {why}"
        return Term("tokenizer", None, "tok/char", "missing", detail, None, False, coverage=0.0)
    raw = sum(q.mix[lang] * parts[lang].value for lang in q.mix)  # type: ignore[union-attr]
    detail = ", ".join(f"{lang} {parts[lang].value:.3f}" for lang in q.mix)  # type: ignore[union-attr]
    source = "; ".join(sorted({p.source for p in parts.values() if p}))
    return Term(
        "tokenizer", raw, "tok/char", "measured",
        f"{raw:.3f} tok/char on {q.corpus} ({detail})", source, False,
    )  # fmt: skip


def speed_term(c: Candidate, q: Query) -> Term:
    """Decode speed: measured (store) or the memory-bandwidth roofline (an upper bound)."""
    if c.speed is not None:
        return c.speed
    fit = c.fit
    assert fit is not None
    gpu = q.request.gpu
    measured = q.evidence.decode_ms.get(c.model.id)
    if measured is not None:
        tps = 1000.0 / measured.value
        return Term(
            "speed", tps, "tok/s", "measured",
            f"{tps:.1f} tok/s measured (on the benchmark machine)", measured.source, True,
        )  # fmt: skip
    if gpu.bandwidth_gbs:
        # per device: its share of active weights + KV; devices decode in parallel (TP)
        tps = gpu.bandwidth_gbs / fit.read_per_token_gb
        return Term(
            "speed", tps, "tok/s", "estimated",
            f"≤{tps:.0f} tok/s estimated (bandwidth {gpu.bandwidth_gbs:g} GB/s ÷ "
            f"{fit.read_per_token_gb:.2f} GB read per token)",
            f"roofline over active weights + KV cache; bandwidth: {gpu.source}", True,
        )  # fmt: skip
    read = fit.read_per_token_gb * fit.tp
    return Term(
        "speed", read, "GB/token", "estimated",
        f"{read:.2f} GB read per decoded token (fewer = faster; bandwidth unknown)",
        "active weights + KV cache at the chosen precision", False,
    )  # fmt: skip


def cost_term(c: Candidate, q: Query) -> Term:
    """Memory the model takes at the chosen precision (all devices)."""
    fit = c.fit
    assert fit is not None
    return Term(
        "cost", fit.total_gib, "GiB", fit.kind,
        f"{fit.total_gib:.1f} GiB at {fit.precision} ({fit.method})", fit.method, False,
    )  # fmt: skip


_NO_BASELINE = Baseline({}, {}, "")

TERMS: dict[str, Callable[[Candidate, Query], Term]] = {
    "quality_zh": quality_term("zh"),
    "quality_en": quality_term("en"),
    "scale": scale_term,
    "tokenizer": tokenizer_term,
    "speed": speed_term,
    "cost": cost_term,
}


def percentile_ranks(values: Mapping[str, float], higher_is_better: bool) -> dict[str, float]:
    """Rank-percentile in [0, 1] (ties share the mean rank); a single value scores 1."""
    n = len(values)
    if n == 0:
        return {}
    if n == 1:
        return {k: 1.0 for k in values}
    ordered = sorted(values.values())
    out = {}
    for key, v in values.items():
        below = bisect_left(ordered, v)
        equal = bisect_right(ordered, v) - below
        pct = (below + (equal - 1) / 2) / (n - 1)
        out[key] = pct if higher_is_better else 1.0 - pct
    return out


def normalize_terms(terms_by_model: dict[str, list[Term]], weights: Mapping[str, float]) -> None:
    """Fill ``norm``, ``weight`` and ``contribution`` of every term in place."""
    names = {t.name for terms in terms_by_model.values() for t in terms}
    for name in names:
        terms = {mid: t for mid, ts in terms_by_model.items() for t in ts if t.name == name}
        higher = next(iter(terms.values())).higher_is_better
        if name.startswith("quality_"):  # mean of per-benchmark percentiles
            benches = {b for t in terms.values() for b in t.components}
            per_bench = {
                b: percentile_ranks(
                    {m: t.components[b] for m, t in terms.items() if b in t.components}, higher
                )
                for b in benches
            }
            for mid, t in terms.items():
                ranks = [per_bench[b][mid] for b in t.components]
                t.norm = sum(ranks) / len(ranks) if ranks else None
        else:
            ranks = percentile_ranks(
                {m: t.raw for m, t in terms.items() if t.raw is not None}, higher
            )
            for mid, t in terms.items():
                t.norm = ranks.get(mid)
        for t in terms.values():
            t.weight = weights.get(name, 0.0)
            t.contribution = (t.norm or 0.0) * t.weight


def score_and_coverage(terms: list[Term]) -> tuple[float, float]:
    """Weighted mean over the terms with evidence (weights renormalized), and the share of the
    profile's weight that had evidence (quality counted per benchmark)."""
    total = sum(t.weight for t in terms)
    present = [t for t in terms if t.norm is not None]
    present_weight = sum(t.weight for t in present)
    score = sum(t.contribution for t in present) / present_weight if present_weight else 0.0
    coverage = sum(t.weight * t.coverage for t in present) / total if total else 0.0
    return score, coverage
