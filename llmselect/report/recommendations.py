"""The recommender's answers to the standard requests a report opens with.

Only the recommender's public surface is used (``recommend``, ``Request``,
``evidence_from_records`` and ``RecommendResult.to_dict``), so the report follows whatever the
recommender decides; this module only picks what a reader needs to see per model: the fit, the
license verdict and the two or three terms that contributed most to the score.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from llmselect.errors import LLMSelectError
from llmselect.records import Measurement
from llmselect.report.model import PurposeRecommendations, RecommendedModel

# (label, --gpu, --purpose): the budgets people ask about most.
STANDARD_REQUESTS: tuple[tuple[str, str, str], ...] = (
    ("24 GB GPU, commercial product", "24GB", "commercial"),
    ("2 × 80 GB GPUs, commercial product", "2x80GB", "commercial"),
    ("16 GB GPU, learning", "16GB", "learning"),
    ("8 GB GPU, edge device", "8GB", "edge"),
    ("CPU only, 16 GB RAM, edge device", "cpu:16GB", "edge"),
)
DECIDING_TERMS = 3


def _fmt(x: Any, spec: str = ".3g") -> str:
    return format(x, spec) if isinstance(x, int | float) else str(x)


def _deciding(terms: list[dict[str, Any]]) -> list[str]:
    """The terms that contributed most, as ``name: detail (kind)``."""
    scored = [t for t in terms if t.get("norm") is not None and t.get("contribution")]
    scored.sort(key=lambda t: -float(t.get("contribution") or 0.0))
    out = []
    for t in scored[:DECIDING_TERMS]:
        detail = str(t.get("detail") or _fmt(t.get("raw")))
        kind = str(t.get("kind") or "")
        out.append(f"{t.get('name')}: {detail}" + (f" ({kind})" if kind not in detail else ""))
    return out


def _license(lic: dict[str, Any]) -> str:
    allowed = lic.get("allowed")
    verdict = {True: "yes", False: "no", None: "unknown"}.get(allowed, str(allowed))
    name = lic.get("id") or lic.get("name") or "?"
    conditions = lic.get("conditions") or []
    text = f"{verdict} ({name})"
    if verdict == "conditional" and conditions:
        first = str(conditions[0])
        text += ": " + (first if len(first) <= 140 else first[:139] + "…")
    return text


def _row(rec: dict[str, Any]) -> RecommendedModel:
    memory = rec.get("memory_gib")
    fit = f"{rec.get('precision', '?')}, {_fmt(memory, '.1f')} GiB ({rec.get('memory_kind', '?')})"
    return RecommendedModel(
        rank=int(rec.get("rank", 0)),
        model_id=str(rec.get("model_id")),
        name=str(rec.get("name") or ""),
        score=rec.get("score"),
        coverage=rec.get("coverage"),
        params_b=rec.get("params_b"),
        fit=fit,
        memory_gib=memory,
        license=_license(rec.get("license") or {}),
        deciding=_deciding(list(rec.get("terms") or [])),
        caveats=[str(c) for c in (rec.get("caveats") or [])][:3],
        pareto=bool(rec.get("pareto")),
    )


def standard_recommendations(
    records: Iterable[Measurement], top: int = 3
) -> list[PurposeRecommendations]:
    """The recommender's answers to ``STANDARD_REQUESTS``, with this run's measurements."""
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
        data = result.to_dict(top=top, show_excluded=False)
        rows = [_row(r) for r in data.get("recommendations", [])]
        out.append(
            PurposeRecommendations(
                label=label,
                request={**request, "context": data.get("request", {}).get("context")},
                rows=rows,
                candidates=int(data.get("candidates") or 0),
                excluded=int(data.get("excluded_count") or 0),
                note="" if rows else "no model meets the constraints",
            )
        )
    return out
