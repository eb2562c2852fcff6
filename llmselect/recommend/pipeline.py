"""The recommender as a pipeline: constraints, then terms, then a weighted score.

    candidates = catalog models
    → each constraint in CONSTRAINTS (license, architecture, size, context, memory,
      fine-tuning, throughput): a model that breaks one is excluded with every reason found
    → models without any quality evidence for the requested languages are listed apart
    → each term in TERMS the profile weighs, normalized to a rank-percentile among the rest
    → score = weighted mean over the terms with evidence; coverage = weight that had evidence

Purpose profiles (``data/purposes/*.yaml``) hold the weights and the selection practice; the
code holds no opinion about which model is good.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from llmselect.catalog import Catalog, ModelSpec
from llmselect.cost.finetune import FINETUNE_MODES
from llmselect.errors import LLMSelectError
from llmselect.recommend.constraints import CONSTRAINTS, Candidate
from llmselect.recommend.evidence import REFERENCE_CORPUS, Evidence
from llmselect.recommend.profiles import Profile, Request, get_profile, term_weights
from llmselect.recommend.result import (
    Exclusion,
    RecommendResult,
    finish_ranking,
    to_recommendation,
)
from llmselect.recommend.terms import TERMS, Term, normalize_terms, score_and_coverage


@dataclass(frozen=True)
class Query:
    """A request resolved against its profile: everything constraints and terms read."""

    request: Request
    profile: Profile
    catalog: Catalog
    evidence: Evidence
    context: int
    precisions: tuple[str, ...]
    mix: dict[str, float]
    weights: dict[str, float]
    corpus: str

    @property
    def uses_baseline(self) -> bool:
        """The shipped baseline is FLORES-200; another corpus is compared only with itself."""
        return self.corpus == REFERENCE_CORPUS


def resolve(
    catalog: Catalog,
    request: Request,
    evidence: Evidence,
    profiles: Mapping[str, Profile] | None = None,
) -> Query:
    """Check the request (one-line errors) and fill in the profile's defaults."""
    profile = get_profile(request.purpose, profiles)
    if request.finetune not in FINETUNE_MODES:
        raise LLMSelectError(
            f"unknown fine-tuning mode {request.finetune!r}; use {', '.join(FINETUNE_MODES)}"
        )
    if request.finetune != "none" and request.gpu.is_cpu:
        raise LLMSelectError("--finetune needs a GPU budget (--gpu 24GB, A100-80G, ...), not cpu")
    context = request.context if request.context is not None else profile.default_context
    if context < 1:
        raise LLMSelectError(f"--context must be a positive number of tokens, got {context}")
    if request.max_params_b is not None and request.max_params_b <= 0:
        raise LLMSelectError("--max-params must be a positive number of billions")
    if request.min_tokens_per_s is not None and not request.gpu.bandwidth_gbs:
        # A floor that cannot be checked would silently keep every model.
        raise LLMSelectError(
            f"--min-tokens-per-s needs a memory bandwidth to check decode speed against, and "
            f"--gpu {request.gpu.name} has none known: name a GPU (e.g. --gpu RTX-4090 or "
            "A100-80G)"
        )
    return Query(
        request=request,
        profile=profile,
        catalog=catalog,
        evidence=evidence,
        context=context,
        precisions=tuple(p for p in profile.precisions if not (request.gpu.is_cpu and p == "fp16")),
        mix=request.lang,
        weights=term_weights(profile, request.lang),
        corpus=request.corpus or REFERENCE_CORPUS,
    )


def apply_constraints(c: Candidate, q: Query) -> Exclusion | None:
    """Run every constraint; the first broken one names the exclusion, the rest are listed."""
    broken = [(con, why) for con in CONSTRAINTS if (why := con.check(c, q))]
    if not broken:
        return None
    (first, reason), rest = broken[0], broken[1:]
    return Exclusion(
        c.model.id, c.model.name, first.name, reason, first.kind, [why for _, why in rest]
    )


def has_quality_evidence(terms: list[Term]) -> bool:
    return any(t.name.startswith("quality_") and t.raw is not None for t in terms)


def recommend(
    catalog: Catalog | Iterable[ModelSpec],
    request: Request,
    evidence: Evidence | None = None,
    profiles: Mapping[str, Profile] | None = None,
) -> RecommendResult:
    """Rank the catalog for ``request``; every excluded model keeps its reasons."""
    cat = catalog if isinstance(catalog, Catalog) else Catalog(list(catalog))
    q = resolve(cat, request, evidence or Evidence(), profiles)
    excluded: list[Exclusion] = []
    ranked: dict[str, tuple[Candidate, list[Term]]] = {}
    apart: dict[str, tuple[Candidate, list[Term]]] = {}
    for model in sorted(cat, key=lambda m: m.id):
        c = Candidate.of(model)
        exclusion = apply_constraints(c, q)
        if exclusion is not None:
            excluded.append(exclusion)
            continue
        terms = [TERMS[name](c, q) for name in TERMS if name in q.weights]
        (ranked if has_quality_evidence(terms) else apart)[model.id] = (c, terms)
    normalize_terms({mid: terms for mid, (_, terms) in ranked.items()}, q.weights)
    for _, terms in apart.values():
        for t in terms:
            t.weight = q.weights.get(t.name, 0.0)
    recs = []
    for c, terms in ranked.values():
        score, coverage = score_and_coverage(terms)
        recs.append(to_recommendation(c, terms, score, coverage, q))
    unranked = [to_recommendation(c, terms, None, 0.0, q) for c, terms in apart.values()]
    return finish_ranking(recs, unranked, excluded, q)
