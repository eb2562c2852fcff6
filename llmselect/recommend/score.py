"""From terms to one ranked score: value normalisation and a lower quantile.

* **Normalisation by value, against the best candidate**: a higher-is-better term scores
  ``value / best``, a lower-is-better one ``best / value`` (1 = the best candidate). A gap of
  0.001 tokens/char stays a gap of 0.2 %, not a rank step.
* **Uncertainty**: the quality terms carry the quality model's standard deviation (normalised
  the same way); the terms are added as if fully correlated (they share the model's latent
  abilities), which bounds the score's standard deviation from above.
* **Missing evidence never raises a score**: a term without evidence counts at the worst
  candidate's value, with the candidates' spread (uniform, ``range / √12``) as its uncertainty.
* **Ranking**: by the ``(1 - risk) / 2`` quantile of the score, normal approximation (``--risk``
  0 ranks by the mean; the default 0.8 by the 10th percentile, the score the model reaches with
  90 % probability).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from llmselect.errors import LLMSelectError
from llmselect.recommend.terms import Term


def quantile_z(risk: float) -> float:
    """Standard deviations below the mean that ``risk`` ranks at: ``-Φ⁻¹((1 - risk) / 2)``,
    by bisection on ``math.erf`` (``statistics.NormalDist`` costs its imports at start-up)."""
    if not 0.0 <= risk < 1.0 or math.isnan(risk):
        raise LLMSelectError(f"--risk must be in [0, 1), got {risk:g}")
    p = (1.0 - risk) / 2.0
    lo, hi = 0.0, 40.0  # Φ(-z) = p for z in [0, 40]
    for _ in range(80):
        mid = (lo + hi) / 2.0
        if 0.5 * math.erfc(mid / math.sqrt(2.0)) > p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def normalize_terms(terms_by_model: Mapping[str, list[Term]], weights: Mapping[str, float]) -> None:
    """Fill ``norm``, ``norm_sd``, ``weight`` and ``contribution`` of every term in place."""
    names = {t.name for terms in terms_by_model.values() for t in terms}
    for name in names:
        terms = [t for ts in terms_by_model.values() for t in ts if t.name == name]
        present = [t for t in terms if t.raw is not None and t.raw > 0]
        for t in present:
            higher = t.higher_is_better
            best = max(p.raw for p in present) if higher else min(p.raw for p in present)
            t.norm = t.raw / best if higher else best / t.raw  # type: ignore[operator]
            t.norm_sd = t.sd / best if higher else best * t.sd / t.raw**2  # type: ignore[operator]
        norms = [t.norm for t in present if t.norm is not None]
        for t in terms:
            t.weight = weights.get(name, 0.0)
            if t.norm is None:  # no evidence: the worst candidate's value, widened
                t.norm = min(norms) if norms else 0.0
                t.norm_sd = (max(norms) - min(norms)) / math.sqrt(12) if norms else 0.0
                t.kind = "missing (counted at the worst candidate's value)"
            t.contribution = t.norm * t.weight


def score_of(terms: list[Term], risk: float) -> tuple[float, float, float]:
    """(ranked score = lower quantile, mean, standard deviation) of the weighted terms."""
    total = sum(t.weight for t in terms)
    if total <= 0:
        return 0.0, 0.0, 0.0
    mean = sum(t.contribution for t in terms) / total
    sd = sum(t.weight * t.norm_sd for t in terms) / total
    return mean - quantile_z(risk) * sd, mean, sd


def coverage_of(terms: list[Term]) -> float:
    """Share of the profile's weight backed by direct evidence (quality: benchmarks with a
    measured or published score of the checkpoint itself)."""
    total = sum(t.weight for t in terms)
    direct = sum(t.weight * t.coverage for t in terms if not t.kind.startswith("missing"))
    return direct / total if total else 0.0
