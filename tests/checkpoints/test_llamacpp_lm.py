"""``LlamaCppLM`` (lm-eval over llama.cpp) on the real SmolLM2 GGUF: its cached, logits-only-
where-scored path gives the log-likelihoods llama-cpp-python's own ``Llama`` computes with all
logits kept, and tokens carry the file's own BOS rule."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from _fresh import in_fresh_python

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python not installed"
)

REQUESTS = [  # (context, continuation): shared contexts, one-token and long continuations
    ("Question: How do I boil an egg?\nAnswer:", " Put it in boiling water for ten minutes."),
    ("Question: How do I boil an egg?\nAnswer:", " Put it in the freezer overnight."),
    ("The capital of France is", " Paris"),
    ("The capital of France is", " Berlin"),
    ("Question: Which gas do plants take in?\nAnswer:", " carbon dioxide"),
]


def _reference(path: Path, context: list[int], continuation: list[int]) -> float:
    """Summed log-prob from a fresh ``Llama`` that keeps every position's logits."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_ctx=512, n_threads=1, n_threads_batch=1,
                logits_all=True, verbose=False)  # fmt: skip
    tokens = context + continuation
    llm.eval(tokens)
    scores = np.asarray(llm.scores[: len(tokens)], dtype=np.float64)
    total = 0.0
    for i, tok in enumerate(continuation):
        row = scores[len(context) - 1 + i]
        total += row[tok] - (row.max() + np.log(np.exp(row - row.max()).sum()))
    return float(total)


def cached_and_reference(path: str) -> list[tuple[float, bool, float]]:
    """In a fresh interpreter: (cached log-likelihood, greedy, all-logits reference) per request."""
    from llmselect.eval.llamacpp_lm import LlamaCppLM

    lm = LlamaCppLM(Path(path), threads=1, max_length=512)
    encoded = [
        (lm.tok_encode(c), lm.tok_encode(c + x)[len(lm.tok_encode(c)) :]) for c, x in REQUESTS
    ]
    got = lm._loglikelihood_tokens([((c, x), a, b) for (c, x), (a, b) in
                                    zip(REQUESTS, encoded, strict=True)])  # fmt: skip
    return [
        (ll, greedy, _reference(Path(path), ctx, cont))
        for (ctx, cont), (ll, greedy) in zip(encoded, got, strict=True)
    ]


def bos_and_ids(path: str, text: str) -> tuple[bool, list[int]]:
    """In a fresh interpreter: whether the file adds BOS, and the ids of ``text``."""
    from llmselect.eval.llamacpp_lm import LlamaCppLM

    lm = LlamaCppLM(Path(path), threads=1, max_length=256)
    return lm.add_bos, lm.tok_encode(text)


def test_cached_scores_match_llama_cpp_python(smollm2_gguf: Path) -> None:
    got = in_fresh_python("test_llamacpp_lm", "cached_and_reference", smollm2_gguf)
    for ll, _greedy, reference in got:
        assert ll == pytest.approx(reference, abs=2e-3)
    assert got[2][0] > got[3][0]  # Paris over Berlin, as a 135M model still knows
    assert got[2][1] is True  # " Paris" is the greedy continuation


def test_bos_follows_the_file(smollm2_gguf: Path) -> None:
    """SmolLM2's GGUF says add_bos_token = false: no BOS, as its transformers tokenizer."""
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(smollm2_gguf.parent), gguf_file=smollm2_gguf.name)
    text = "Question: Which gas do plants take in?\nAnswer: carbon dioxide"
    add_bos, ids = in_fresh_python("test_llamacpp_lm", "bos_and_ids", smollm2_gguf, text)
    assert add_bos is False
    assert ids == hf.encode(text)
