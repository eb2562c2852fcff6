"""Numbers the report derives for its leading candidates: Chinese text per context window
(published context ÷ measured tokens per character) and memory against context length
(the analytic estimator, as the recommender uses it: a served model keeps the last position's
logits only)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from llmselect.report.model import ContextWindow, MemoryPoint, PurposeRecommendations, ValueRow

CURVE_CONTEXTS = (1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)  # tokens
CURVE_DTYPES = ("fp16", "int8", "int4")
MAX_CANDIDATES = 8
GIB = 1024**3


def leading_candidates(
    recommendations: Iterable[PurposeRecommendations], limit: int = MAX_CANDIDATES
) -> list[str]:
    """Model ids in the order the standard requests rank them (first appearance wins)."""
    seen: list[str] = []
    blocks = list(recommendations)
    for rank in range(1, 4):  # round-robin: every request's #1 before any #2
        for block in blocks:
            for row in block.rows:
                if row.rank == rank and row.model_id not in seen:
                    seen.append(row.model_id)
    return seen[:limit]


def _zh_tokens_per_char(values: Sequence[ValueRow]) -> dict[str, tuple[float, str]]:
    """Tokenizer family → (zh tokens/char, corpus), FLORES-200 preferred over other corpora."""
    out: dict[str, tuple[float, str]] = {}
    for v in values:
        if v.metric != "tokens_per_char" or not v.subset.endswith("/zh"):
            continue
        corpus = v.subset.rsplit("/", 1)[0]
        have = out.get(v.model_id)
        if have is None or (corpus.startswith("flores200") and not have[1].startswith("flores")):
            out[v.model_id] = (v.value, corpus)
    return out


def context_windows(
    values: Sequence[ValueRow], catalog: Any, model_ids: Iterable[str]
) -> list[ContextWindow]:
    """Chinese characters per context window for each model with both numbers."""
    tpc = _zh_tokens_per_char(values)
    out = []
    for model_id in model_ids:
        model = catalog.find(model_id) if hasattr(catalog, "find") else None
        if model is None or not model.context_length or model.tokenizer not in tpc:
            continue
        per_char, corpus = tpc[model.tokenizer]
        out.append(
            ContextWindow(
                model_id=model_id,
                tokenizer=model.tokenizer,
                context_tokens=model.context_length,
                zh_tokens_per_char=per_char,
                corpus=corpus,
                zh_chars=int(model.context_length / per_char),
            )
        )
    return out


def memory_curves(catalog: Any, model_ids: Iterable[str]) -> list[MemoryPoint]:
    """Estimated memory vs context (up to each model's native context) at fp16/int8/int4."""
    from llmselect.errors import LLMSelectError
    from llmselect.memory.estimate import estimate_memory

    out = []
    for model_id in model_ids:
        model = catalog.find(model_id) if hasattr(catalog, "find") else None
        if model is None or model.arch is None:
            continue
        top = model.context_length or CURVE_CONTEXTS[-1]
        for dtype in CURVE_DTYPES:
            for context in (c for c in CURVE_CONTEXTS if c <= top):
                try:
                    est = estimate_memory(
                        model.arch, dtype=dtype, seq=context, params_total=model.params_exact,
                        last_token_logits=True,
                    )  # fmt: skip
                except LLMSelectError:
                    break
                out.append(
                    MemoryPoint(
                        model_id=model_id,
                        dtype=dtype,
                        context=context,
                        gib=round(est.total_bytes / GIB, 3),
                    )
                )
    return out
