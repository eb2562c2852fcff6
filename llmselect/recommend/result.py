"""What the recommender returns: ranked models, exclusions with their reasons; plus ``explain``
for one model (with the ``perf estimate`` command that reproduces its memory fit)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from llmselect.catalog import Catalog, ModelSpec
from llmselect.errors import LLMSelectError
from llmselect.recommend.evidence import load_baseline, tokens_per_char
from llmselect.recommend.fit import perf_estimate_command
from llmselect.recommend.profiles import PRECISIONS, Profile
from llmselect.recommend.settings import checkpoint_tuning
from llmselect.recommend.terms import Term

if TYPE_CHECKING:
    from llmselect.recommend.constraints import Candidate
    from llmselect.recommend.pipeline import Query


@dataclass
class Exclusion:
    """A model that failed a hard constraint, with every reason found."""

    model_id: str
    name: str
    constraint: str  # a registered constraint: license, architecture, deployment, memory, ...
    reason: str
    kind: str  # published | estimated | measured
    other_reasons: list[str] = field(default_factory=list)


@dataclass
class Recommendation:
    """A model that passed every constraint, with its precision, memory, terms and caveats.

    ``score`` is the ranked (risk-adjusted) score: the ``(1 - risk) / 2`` quantile of a normal
    with ``score_mean`` and ``score_sd``.
    """

    model_id: str
    name: str
    params_b: float  # exact count from the architecture, billions
    active_params_b: float  # parameters one token uses (MoE: < params_b)
    rank: int
    score: float | None
    coverage: float
    precision: str
    memory_gib: float
    memory_kind: str
    memory_detail: dict[str, float]
    context_length: int | None
    usable_zh_chars: int | None
    usable_zh_chars_note: str
    license: dict[str, Any]
    caveats: list[str]
    terms: list[Term]
    release_date: str | None = None
    why: str = ""
    pareto: bool = False
    finetune: dict[str, Any] | None = None
    score_mean: float | None = None
    score_sd: float | None = None
    tuning: str = "instruct"  # instruct | base ("for fine-tuning")
    perf_estimate: str = ""  # the command that reproduces the memory fit
    speed_floor: str = ""  # verified (a timing) | not verified (a bound) | not checked | "" (none)


@dataclass
class RecommendResult:
    """Everything the recommender found."""

    request: dict[str, Any]
    profile: Profile
    recommendations: list[Recommendation]
    excluded: list[Exclusion]
    notes: list[str]
    query: Any = None  # the resolved query, for explain()

    def to_dict(self, top: int | None = None, show_excluded: bool = True) -> dict[str, Any]:
        """JSON-ready dict (``top`` limits the ranked list)."""
        recs = self.recommendations[:top] if top else self.recommendations
        return {
            "request": self.request,
            "profile": asdict(self.profile),
            "recommendations": [asdict(r) for r in recs],
            "candidates": len(self.recommendations),
            "excluded_count": len(self.excluded),
            "excluded": [asdict(e) for e in self.excluded] if show_excluded else [],
            "notes": self.notes,
        }


def usable_zh_chars(c: Candidate, q: Query) -> tuple[int | None, str]:
    """Context window ÷ zh tokens/char on the reference corpus, with the basis of the number."""
    window = c.model.context_length
    if window is None:
        return None, "context length unknown"
    baseline = load_baseline() if q.uses_baseline else None
    tpc = tokens_per_char(c.model.tokenizer, c.model.id, q.evidence, "zh", baseline)
    if baseline is None and tpc is not None and "baseline" in tpc.source:
        tpc = None
    if tpc is None:
        what = "tokenizer unknown" if not c.model.tokenizer else f"not measured on {q.corpus}"
        return None, what
    return int(window / tpc.value), (
        f"{window} tokens ÷ {tpc.value:.3f} zh tok/char ({tpc.kind}, {tpc.source})"
    )


LANGUAGE_NAMES = {"zh": "Chinese", "en": "English"}


def language_caveats(model: ModelSpec, mix: dict[str, float]) -> list[str]:
    """A language of the ``--lang`` mix that the model's published language list leaves out
    (Llama 4, SmolLM3: no Chinese): said, with the list's source. No list, no caveat."""
    if not model.languages:
        return []
    listed = {lang.lower() for lang in model.languages}
    return [
        f"{LANGUAGE_NAMES.get(lang, lang)} is not among its listed languages "
        f"({', '.join(model.languages)}; {model.languages_source or 'source not given'})"
        for lang, share in mix.items()
        if share > 0 and lang not in listed
    ]


def to_recommendation(
    c: Candidate, terms: list[Term], score: float | None, coverage: float, q: Query
) -> Recommendation:
    fit, count, lic = c.fit, c.count, c.license
    assert fit is not None and count is not None and lic is not None
    chars, chars_note = usable_zh_chars(c, q)
    ft = c.finetune
    return Recommendation(
        model_id=c.model.id,
        name=c.model.name,
        params_b=round(count.total / 1e9, 3),
        active_params_b=round(count.active / 1e9, 3),
        rank=0,
        score=None if score is None else round(score, 4),
        coverage=round(coverage, 4),
        precision=fit.precision,
        memory_gib=round(fit.total_gib, 2),
        memory_kind=fit.kind,
        memory_detail={"per_device_gib": round(fit.per_device_gib, 2), **fit.parts_gib},
        context_length=c.model.context_length,
        usable_zh_chars=chars,
        usable_zh_chars_note=chars_note,
        license={
            "allowed": lic.allowed,
            "id": lic.license_id,
            "name": lic.license_name,
            "conditions": list(lic.conditions),
            "source": lic.source,
        },
        caveats=[*c.caveats, *language_caveats(c.model, q.mix)],
        terms=terms,
        release_date=c.model.release_date,
        tuning=checkpoint_tuning(c.model),
        perf_estimate=perf_estimate_command(c.model, fit, q.context, q.request.logits),
        speed_floor=c.speed_floor,
        finetune=(
            {
                "mode": ft.mode,
                "per_gpu_gib": round(ft.per_gpu_gib, 2),
                "total_gib": round(ft.total_gib, 2),
                "parts_gib": ft.parts_gib,
                "rule": ft.rule,
                "kind": ft.kind,
            }
            if ft
            else None
        ),
    )


def quality_norm(rec: Recommendation) -> float | None:
    vals = [t.norm for t in rec.terms if t.name.startswith("quality") and t.norm is not None]
    return sum(vals) / len(vals) if vals else None


def mark_pareto(recs: list[Recommendation]) -> None:
    """Pareto front on (quality ↑, memory ↓) among ranked models."""
    pts = [(r, quality_norm(r)) for r in recs]
    for r, q in pts:
        if q is None:
            continue
        r.pareto = not any(
            q2 is not None
            and q2 >= q
            and o.memory_gib <= r.memory_gib
            and (q2 > q or o.memory_gib < r.memory_gib)
            for o, q2 in pts
            if o is not r
        )


def fit_size(total_gib: float, per_device_gib: float) -> str:
    """``17.0 GiB``; over several devices ``135.1 GiB in all, 67.6 GiB per device`` (the
    table's GiB/dev is per device, the total alone read as if one device held it)."""
    if total_gib <= per_device_gib + 0.05:
        return f"{total_gib:.1f} GiB"
    return f"{total_gib:.1f} GiB in all, {per_device_gib:.1f} GiB per device"


def why(rec: Recommendation, profile: Profile) -> str:
    """One sentence: the two terms that decided, the fit, and what had no evidence."""
    top = sorted((t for t in rec.terms if t.contribution > 0), key=lambda t: -t.contribution)[:2]
    lead = ", ".join(f"{t.name} {t.contribution:.2f} ({t.detail})" for t in top)
    missing = [t.name for t in rec.terms if t.kind.startswith("missing") and t.weight > 0]
    text = f"#{rec.rank} for '{profile.name}': " + (lead or "no term had data")
    if rec.tuning == "base":
        text += "; base checkpoint, for fine-tuning"
    size = fit_size(rec.memory_gib, rec.memory_detail["per_device_gib"])
    text += f"; fits at {rec.precision} in {size} (estimated)"
    if missing:
        text += f"; no evidence for {', '.join(missing)} (counted at the worst candidate's value)"
    return text


def floor_note(recs: list[Recommendation], q: Query) -> str | None:
    """What the speed floor left unchecked: all of it where the bandwidth is unknown; else how
    many ranked models only their upper bound let through (None when a timing verified each)."""
    gpu = q.request.gpu
    floor = q.request.min_tokens_per_s or q.profile.min_tokens_per_s
    if not floor:
        return None
    if not gpu.bandwidth_gbs:
        how = "RAM bandwidth is not modelled for --gpu cpu" if gpu.is_cpu else "name the GPU"
        return f"speed floor {floor:g} tok/s not checked: memory bandwidth unknown ({how})"
    unverified = sum(r.speed_floor == "not verified" for r in recs)
    if not unverified:
        return None
    return (
        f"speed floor {floor:g} tok/s not verified for {unverified} of {len(recs)} ranked: no "
        f"decode timing on {gpu.name} in the precision, engine and context they are ranked at, "
        "and the bandwidth roofline they clear is an upper bound (a caveat on each; a bound "
        "below the floor excludes)"
    )


def finish_ranking(
    recs: list[Recommendation],
    excluded: list[Exclusion],
    q: Query,
) -> RecommendResult:
    """Sort by score, then coverage, then id; number, mark the Pareto front, explain."""
    recs.sort(key=lambda r: (-(r.score or 0.0), -r.coverage, r.model_id))
    from llmselect.recommend.score import quantile_z

    mark_pareto(recs)
    for i, rec in enumerate(recs, 1):
        rec.rank = i
        rec.why = why(rec, q.profile)
    notes = [f"purpose '{q.profile.name}': {q.profile.description}", *q.profile.practice]
    gpu, req = q.request.gpu, q.request
    if gpu.note:
        notes.append(gpu.note)
    if gpu.usable_note:
        notes.append(gpu.usable_note)
    if floor_text := floor_note(recs, q):
        notes.append(floor_text)
    p = (1.0 - req.risk) / 2.0
    notes.append(
        f"ranked by the {p:.0%} quantile of the score (--risk {req.risk:g}: mean − "
        f"{quantile_z(req.risk):.2f} sd); fits need ≤ {q.budget_gib:.2f} GiB per device "
        f"({gpu.usable_gib_each:.2f} GiB usable less {req.headroom:.0%} headroom; --headroom)"
    )
    return RecommendResult(
        request={
            "gpu": gpu.describe(),
            "gpu_count": gpu.count,
            "memory_gib_each": round(gpu.memory_gib_each, 3),
            "usable_gib_each": round(gpu.usable_gib_each, 3),
            "headroom": req.headroom,
            "budget_gib_each": round(q.budget_gib, 3),
            "risk": req.risk,
            "logits": req.logits,
            "engine": req.engine,
            "bandwidth_gbs": gpu.bandwidth_gbs,
            "purpose": q.profile.name,
            "lang": q.mix,
            "context": q.context,
            "min_tokens_per_s": q.request.min_tokens_per_s,
            "finetune": q.request.finetune,
            "max_params_b": q.request.max_params_b,
            "corpus": q.corpus,
            "precisions": list(q.precisions),
            "weights": {k: round(v, 4) for k, v in q.weights.items()},
        },
        profile=q.profile,
        recommendations=recs,
        excluded=sorted(excluded, key=lambda e: (e.constraint, e.model_id)),
        notes=notes,
        query=q,
    )


def explain(result: RecommendResult, model_id: str, catalog: Catalog) -> dict[str, Any]:
    """One model's full breakdown: its rank and terms, or why it was excluded, plus its memory
    at every precision on the requested budget."""
    from llmselect.recommend.fit import exact_count, fit_device, memory_fit, precisions_of

    model = catalog.get(model_id)
    out: dict[str, Any] = {"model_id": model.id, "name": model.name, "request": result.request}
    count, _ = exact_count(model)
    if result.query is not None and count is not None:
        gpu, context = result.query.request.gpu, result.request["context"]
        req, budget = result.query.request, result.query.budget_gib
        try:
            fits = [
                memory_fit(model, count, p, context, gpu, budget, req.logits, req.engine)
                for p in precisions_of(model, PRECISIONS, req.engine, fit_device(gpu))
            ]
        except LLMSelectError:  # the engine's memory model does not cover this layout
            fits = []
        out["memory_by_precision"] = [
            {
                "precision": f.precision,
                "per_device_gib": round(f.per_device_gib, 2),
                "total_gib": round(f.total_gib, 2),
                "fits": f.fits,
                "kind": f.kind,
                "method": f.method,
                "parts_gib": f.parts_gib,
                "perf_estimate": perf_estimate_command(model, f, context, req.logits),
            }
            for f in fits
        ]
    for rec in result.recommendations:
        if rec.model_id == model.id:
            out.update(status="ranked", of=len(result.recommendations), recommendation=asdict(rec))
            return out
    for exc in result.excluded:
        if exc.model_id == model.id:
            out.update(status="excluded", exclusion=asdict(exc))
            return out
    raise LLMSelectError(f"model {model_id!r} was not considered")
