"""The parsed options of ``llmselect recommend`` → a checked ``Request``, the catalog to rank
(with any local candidates) and the ranking itself."""

from __future__ import annotations

from pathlib import Path

from llmselect.catalog import Catalog, load_catalog
from llmselect.errors import LLMSelectError
from llmselect.hardware import parse_gpu
from llmselect.names import split_csv
from llmselect.recommend.evidence import load_evidence
from llmselect.recommend.pipeline import recommend
from llmselect.recommend.profiles import Request, parse_lang_mix
from llmselect.recommend.result import RecommendResult


def corpus_name(corpus: str | None) -> str | None:
    """The store's name for a corpus (``flores`` → ``flores200``); a blank one is an error."""
    if corpus is None:
        return None
    name = corpus.strip()
    if not name:
        raise LLMSelectError("--corpus needs a corpus name, e.g. flores200 or ntrex128")
    # Lazy: only a named corpus pays for the corpus readers (recommend's start-up).
    from llmselect.corpora import reference_corpus_name

    return reference_corpus_name(name)


def build_request(
    gpu: str,
    purpose: str,
    lang: str,
    *,
    ram: str | None = None,
    context: int | None = None,
    min_tokens_per_s: float | None = None,
    finetune: str = "none",
    max_params: float | None = None,
    corpus: str | None = None,
    risk: float,
    headroom: float,
    logits: str = "last",
    engine: str = "transformers",
    results: Path | None = None,
) -> Request:
    """A ``Request`` from the option texts, each checked (a bad one is one ``LLMSelectError``);
    ``results``, the store folder ``rank`` will read, is checked here too, before the rest."""
    if min_tokens_per_s is not None and min_tokens_per_s <= 0:
        raise LLMSelectError("--min-tokens-per-s must be positive")
    if results is not None and not results.is_dir():
        raise LLMSelectError(f"--results {results}: no such folder")
    return Request(
        gpu=parse_gpu(gpu, ram=ram),
        purpose=purpose,
        lang=parse_lang_mix(lang),
        context=context,
        min_tokens_per_s=min_tokens_per_s,
        finetune=finetune.strip().lower(),
        max_params_b=max_params,
        corpus=corpus_name(corpus),
        risk=risk,
        headroom=headroom,
        logits=logits.strip().lower(),
        engine=engine.strip().lower(),
    )


def rank(
    request: Request, candidates: list[str], results: Path | None
) -> tuple[RecommendResult, Catalog]:
    """Rank the catalog plus the local ``candidates`` (paths, comma lists) for ``request``,
    with the evidence of the result store (``results``: another store folder)."""
    catalog = load_catalog()
    if candidates:
        names = split_csv(candidates)
        if not names:
            raise LLMSelectError("--candidates is empty: give a .gguf file or checkpoint folder")
        # Lazy: the checkpoint resolvers load only when local candidates are given.
        from llmselect.targets import resolve_candidates

        local = {spec.id: spec for spec in resolve_candidates(names)}  # a file named twice: once
        catalog = Catalog([*catalog, *local.values()])
    result = recommend(catalog, request, evidence=load_evidence(results, request.corpus))
    return result, catalog
