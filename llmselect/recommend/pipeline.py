"""The recommender as a pipeline: constraints, then terms, then a risk-adjusted score.

    candidates = catalog models
    → each registered constraint (license, architecture, deployment, size, context, memory,
      fine-tuning, throughput): a model that breaks one is excluded with every reason found
    → each registered score term the profile weighs; quality from the quality model, so every
      model has an estimate with an interval (measured > published > predicted)
    → terms normalised by value against the best candidate (``score.py``)
    → ranked by a lower quantile of the score (``--risk``): less evidence, wider interval,
      lower rank; never a higher one

Purpose profiles (``data/purposes/*.yaml``) hold the weights, what is deployed and the budgets;
the code holds no opinion about which model is good.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from llmselect.catalog import Catalog, ModelSpec
from llmselect.cost.finetune import FINETUNE_MODES
from llmselect.errors import LLMSelectError
from llmselect.recommend.constraints import Candidate, Constraint, constraints
from llmselect.recommend.evidence import REFERENCE_CORPUS, Evidence
from llmselect.recommend.profiles import (
    ENGINES,
    LOGITS,
    Profile,
    Request,
    get_profile,
    term_weights,
)
from llmselect.recommend.quality import QualityIndex
from llmselect.recommend.result import (
    Exclusion,
    RecommendResult,
    finish_ranking,
    to_recommendation,
)
from llmselect.recommend.score import coverage_of, normalize_terms, quantile_z, score_of
from llmselect.recommend.terms import ScoreTerm, Term


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
    quality: QualityIndex

    @property
    def uses_baseline(self) -> bool:
        """The shipped baseline is FLORES-200; another corpus is compared only with itself."""
        return self.corpus == REFERENCE_CORPUS

    @property
    def budget_gib(self) -> float:
        """Per device: the usable memory less the headroom."""
        return self.request.gpu.usable_gib_each * (1.0 - self.request.headroom)


def check_request(request: Request) -> None:
    """One-line errors for options that make no sense alone or together."""
    if request.finetune not in FINETUNE_MODES:
        raise LLMSelectError(
            f"unknown fine-tuning mode {request.finetune!r}; use {', '.join(FINETUNE_MODES)}"
        )
    if request.finetune != "none" and request.gpu.is_cpu:
        raise LLMSelectError("--finetune needs a GPU budget (--gpu 24GB, A100-80G, ...), not cpu")
    quantile_z(request.risk)
    if not 0.0 <= request.headroom < 1.0 or math.isnan(request.headroom):
        raise LLMSelectError(f"--headroom must be in [0, 1), got {request.headroom:g}")
    if request.logits not in LOGITS:
        raise LLMSelectError(f"--logits must be one of {', '.join(LOGITS)}")
    if request.engine not in ENGINES:
        raise LLMSelectError(f"unknown engine {request.engine!r}; use {', '.join(ENGINES)}")
    if request.engine == "vllm" and request.gpu.is_cpu:
        raise LLMSelectError("--engine vllm needs a GPU (vLLM serves from GPU memory), not cpu")
    if request.engine == "vllm":
        raise LLMSelectError(
            "--engine vllm: its memory model (the pre-allocated KV pool) is not implemented "
            "yet; use --engine transformers or llama.cpp"
        )
    if request.engine == "llama.cpp" and request.finetune != "none":
        raise LLMSelectError("--engine llama.cpp serves models; --finetune needs transformers")


def resolve(
    catalog: Catalog,
    request: Request,
    evidence: Evidence,
    profiles: Mapping[str, Profile] | None = None,
) -> Query:
    """Check the request (one-line errors) and fill in the profile's defaults."""
    profile = get_profile(request.purpose, profiles)
    check_request(request)
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
        quality=QualityIndex(catalog, evidence.scores),
    )


def apply_constraints(
    c: Candidate, q: Query, rules: tuple[Constraint, ...] | None = None
) -> Exclusion | None:
    """Run every constraint; the first broken one names the exclusion, the rest are listed."""
    rules = constraints() if rules is None else rules
    broken = [(con, why) for con in rules if (why := con.check(c, q))]
    if not broken:
        return None
    (first, reason), rest = broken[0], broken[1:]
    kind = c.kinds.get(first.name, first.kind)  # a timing where the constraint read one
    return Exclusion(c.model.id, c.model.name, first.name, reason, kind, [why for _, why in rest])


def weighed_terms(q: Query) -> list[ScoreTerm]:
    """The registered terms the profile weighs, in registry order."""
    from llmselect.registry import SCORE_TERMS

    return [SCORE_TERMS.load(name) for name in SCORE_TERMS.names() if name in q.weights]


def compute_terms(c: Candidate, q: Query, terms: list[ScoreTerm] | None = None) -> list[Term]:
    """Every registered term the profile weighs, computed for one candidate."""
    return [term(c, q) for term in (weighed_terms(q) if terms is None else terms)]


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
    rules, terms = constraints(), weighed_terms(q)  # loaded once: registry look-ups cost
    for model in sorted(cat, key=lambda m: m.id):
        c = Candidate.of(model)
        exclusion = apply_constraints(c, q, rules)
        if exclusion is not None:
            excluded.append(exclusion)
            continue
        ranked[model.id] = (c, compute_terms(c, q, terms))
    normalize_terms({mid: terms for mid, (_, terms) in ranked.items()}, q.weights)
    recs = []
    for c, terms in ranked.values():
        score, mean, sd = score_of(terms, request.risk)
        rec = to_recommendation(c, terms, score, coverage_of(terms), q)
        rec.score_mean, rec.score_sd = round(mean, 4), round(sd, 4)
        recs.append(rec)
    return finish_ranking(recs, excluded, q)
