"""The estimator on mixture-of-experts, latent attention and alternating sliding-window layers.

Architectures are the real config.json numbers in ``_real_archs``; expected values are the
formulas written out from those numbers, not calls back into the estimator.
"""

from __future__ import annotations

from _real_archs import REAL

from llmselect.arch.count import count_params
from llmselect.catalog import load_catalog
from llmselect.hardware import parse_gpu
from llmselect.memory.estimate import (
    bytes_read_per_decode_token,
    estimate_memory,
    kv_cache_bytes,
    weight_bytes,
)
from llmselect.recommend.fit import exact_count, memory_fit

GIB = 1024**3


def test_mla_caches_the_latent_and_the_rope_key() -> None:
    # DeepSeek-V2-Lite: kv_lora_rank 512 + qk_rope_head_dim 64 per token and layer, 27 layers.
    arch = REAL["deepseek-v2-lite"]
    assert kv_cache_bytes(arch, batch=1, context=32768, kv_dtype="bf16") == 27 * 576 * 32768 * 2
    # the same heads without latent attention would cache 2 · 16 heads · 192 per token and layer
    est = estimate_memory(arch, dtype="bf16", seq=32768)
    assert est.kv_cache_bytes == 27 * 576 * 32768 * 2
    assert any("latent" in n for n in est.notes)


def test_gemma2_alternates_sliding_and_global_layers() -> None:
    # 42 layers, every 2nd global: 21 layers hold 8192 tokens, 21 hold the 4096-token window.
    arch = REAL["gemma-2-9b"]
    per_token_layer = 2 * 8 * 256 * 2  # k + v, 8 KV heads of 256, bf16
    expected = per_token_layer * (21 * 8192 + 21 * 4096)
    assert kv_cache_bytes(arch, batch=1, context=8192) == expected
    # below the window every layer holds the whole context
    assert kv_cache_bytes(arch, batch=1, context=2048) == per_token_layer * 42 * 2048


def test_gemma3_global_every_sixth_layer() -> None:
    # 26 layers, (i + 1) % 6 == 0 global: layers 5, 11, 17, 23; 1 KV head of 256, window 512.
    arch = REAL["gemma-3-1b"]
    per_token_layer = 2 * 1 * 256 * 2
    expected = per_token_layer * (4 * 32768 + 22 * 512)
    assert kv_cache_bytes(arch, batch=1, context=32768) == expected


def test_moe_quantization_applies_to_the_experts() -> None:
    """Mixtral-8x7B: the experts are ~96 % of the weights, so int4 is under 0.3 of fp16
    (int4 = 4 bits + an fp16 scale and zero per 128 weights)."""
    arch = REAL["mixtral-8x7b"]
    fp16 = weight_bytes(arch, "fp16")
    int4 = weight_bytes(arch, "int4")
    count = count_params(arch)
    assert fp16 == count.total * 2
    experts = 32 * 8 * 3 * 4096 * 14336
    assert count.routed_experts == experts
    attention = 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024)  # q, o and the 8-head k, v
    linears = experts + attention  # quantized; embeddings, head, routers, norms stay fp16
    assert int4 == linears * (0.5 + 4 / 128) + (count.total - linears) * 2
    assert int4 / fp16 < 0.3


def test_decode_reads_only_the_routed_experts() -> None:
    arch = REAL["qwen3-30b-a3b"]
    count = count_params(arch)
    read = bytes_read_per_decode_token(arch, dtype="bf16", context=1)
    kv_one_token = 48 * 2 * 4 * 128 * 2
    assert read == count.active * 2 + kv_one_token
    assert read < count.total * 2 / 8  # 3.3B active of 30.5B


def test_moe_total_memory_holds_every_expert() -> None:
    arch = REAL["qwen1.5-moe-a2.7b"]
    est = estimate_memory(arch, dtype="bf16", seq=4096)
    assert est.weights_bytes == count_params(arch).total * 2
    assert est.params_total == count_params(arch).total


def test_recommend_fit_caps_gemma3_27b_kv_by_its_windows() -> None:
    # Gemma-3-27B: 62 layers, every 6th global (10 layers) holds 32768 tokens, the other 52 the
    # 1024-token window; 16 KV heads of 128, bf16 k + v.
    model = load_catalog().get("gemma-3-27b-it")
    count, _ = exact_count(model)
    fit = memory_fit(model, count, "bf16", 32768, parse_gpu("80GB"))
    per_token_layer = 2 * 16 * 128 * 2
    expected = per_token_layer * (10 * 32768 + 52 * 1024)
    assert fit.parts_gib["kv_cache"] == round(expected / GIB, 3)
    # all 62 layers at full context would be 3.4x larger
    assert per_token_layer * 62 * 32768 > 3.4 * expected
