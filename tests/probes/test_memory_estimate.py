"""Memory estimator: KV cache, GQA/MQA, sliding window, int8/int4 scales, TP split, the probe.

Expected numbers are written out by hand from the published config.json values (cited on each
architecture), never taken from the estimator itself.
"""

from __future__ import annotations

import pytest

from llmselect.arch.spec import ArchSpec
from llmselect.errors import LLMSelectError, ProbeSkipped
from llmselect.memory.dtypes import parse_dtype
from llmselect.memory.estimate import (
    GIB,
    MIB,
    activation_bytes,
    bytes_read_per_decode_token,
    decode_roofline_ms,
    estimate_memory,
    kv_cache_bytes,
    plan_tensor_parallel,
    weight_bytes,
)
from llmselect.probes.base import RunContext
from llmselect.probes.memory_estimate import MemoryEstimateProbe

HF = "https://huggingface.co/{}/blob/main/config.json"

# meta-llama/Llama-2-7b-hf config.json
LLAMA2_7B = ArchSpec(
    family="llama",
    hidden=4096,
    layers=32,
    heads=32,
    kv_heads=32,
    intermediate=11008,
    vocab=32000,
    source=HF.format("meta-llama/Llama-2-7b-hf"),
)
# meta-llama/Llama-2-70b-hf config.json: num_key_value_heads 8
LLAMA2_70B = ArchSpec(
    family="llama",
    hidden=8192,
    layers=80,
    heads=64,
    kv_heads=8,
    intermediate=28672,
    vocab=32000,
    source=HF.format("meta-llama/Llama-2-70b-hf"),
)
# THUDM/chatglm2-6b config.json: multi_query_group_num 2, kv_channels 128
CHATGLM2_6B = ArchSpec(
    family="glm",
    hidden=4096,
    layers=28,
    heads=32,
    kv_heads=2,
    intermediate=13696,
    vocab=65024,
    rope_fraction=0.5,
    qkv_bias=True,
    source=HF.format("THUDM/chatglm2-6b"),
)
# tiiuae/falcon-7b config.json: multi_query, 71 heads of 64 (MQA: one KV head)
FALCON_7B = ArchSpec(
    family="other",
    hidden=4544,
    layers=32,
    heads=71,
    kv_heads=1,
    intermediate=18176,
    vocab=65024,
    source=HF.format("tiiuae/falcon-7b"),
)
# mistralai/Mistral-7B-v0.1 config.json: sliding_window 4096, 8 KV heads
MISTRAL_7B = ArchSpec(family="llama", hidden=4096, layers=32, heads=32, kv_heads=8,
                      intermediate=14336, vocab=32000, sliding_window=4096,
                      source=HF.format("mistralai/Mistral-7B-v0.1"))  # fmt: skip


def test_kv_cache_llama2_7b_bf16_4096_is_2_gib() -> None:
    # 2 (K and V) · 32 layers · 32 heads · 128 head dim · 4096 tokens · 2 bytes
    assert kv_cache_bytes(LLAMA2_7B, batch=1, context=4096, kv_dtype="bf16") == 2 * GIB
    assert kv_cache_bytes(LLAMA2_7B, batch=4, context=4096, kv_dtype="fp32") == 16 * GIB


def test_gqa_and_mqa_shrink_the_cache() -> None:
    # Llama-2-70B: 8 KV heads of 64 query heads → 2·80·8·128·4096·2 bytes = 1.25 GiB
    assert kv_cache_bytes(LLAMA2_70B, batch=1, context=4096) == 2 * 80 * 8 * 128 * 4096 * 2
    assert kv_cache_bytes(LLAMA2_70B, batch=1, context=4096) == int(1.25 * GIB)
    # ChatGLM2-6B: 2 groups → 2·28·2·128·32768·2 = 896 MiB at its 32k context
    assert kv_cache_bytes(CHATGLM2_6B, batch=1, context=32768) == 896 * MIB
    # Falcon-7B MQA: one KV head of 64 → 2·32·1·64·2048·2 = 16 MiB
    assert kv_cache_bytes(FALCON_7B, batch=1, context=2048) == 16 * MIB


def test_sliding_window_caps_the_cache() -> None:
    capped = kv_cache_bytes(MISTRAL_7B, batch=1, context=8192)
    assert capped == 2 * 32 * 8 * 128 * 4096 * 2  # 512 MiB: only the last 4096 tokens
    est = estimate_memory(MISTRAL_7B, seq=8000, new_tokens=192)
    assert est.kv_cache_bytes == capped
    assert any("sliding window" in n for n in est.notes)


def test_weights_by_dtype_and_int4_group_scales() -> None:
    total = 6_738_415_616  # Llama-2-7B parameters (HF model card: 6.74B)
    assert weight_bytes(LLAMA2_7B, "fp32") == total * 4
    assert weight_bytes(LLAMA2_7B, "bf16") == total * 2
    # Block linears per layer: q,k,v,o 4·4096² + gate,up,down 3·4096·11008.
    linears = 32 * (4 * 4096 * 4096 + 3 * 4096 * 11008)
    rest = total - linears  # embeddings, LM head, norms stay fp16
    assert rest == 2 * 32000 * 4096 + 65 * 4096
    # int4: 4 bits + (fp16 scale + fp16 zero) per 128 weights = 0.53125 bytes per weight
    assert parse_dtype("int4").bytes_per_weight() == pytest.approx(0.5 + 4 / 128)
    assert weight_bytes(LLAMA2_7B, "int4") == int(linears * 0.53125 + rest * 2)
    # group 32 → 0.5 + 4/32 bytes per weight
    g32 = parse_dtype("int4", group_size=32)
    assert weight_bytes(LLAMA2_7B, g32) == int(linears * (0.5 + 4 / 32) + rest * 2)
    # int8 per output row: 1 byte + 2 / in_features
    expected_int8 = (
        32
        * (
            4096 * 12288 * (1 + 2 / 4096)
            + 4096 * 4096 * (1 + 2 / 4096)
            + 2 * 4096 * 11008 * (1 + 2 / 4096)
            + 11008 * 4096 * (1 + 2 / 11008)
        )
        + rest * 2
    )
    assert weight_bytes(LLAMA2_7B, "int8") == pytest.approx(expected_int8, abs=1)


def test_tensor_parallel_split() -> None:
    one = estimate_memory(LLAMA2_70B, seq=4096, tp=1)
    four = estimate_memory(LLAMA2_70B, seq=4096, tp=4)
    assert four.weights_bytes == pytest.approx(one.weights_bytes / 4, abs=1)
    assert four.kv_cache_bytes == one.kv_cache_bytes / 4  # 8 KV heads → 2 per device
    # ChatGLM2: 2 KV heads cannot split over 4 devices; each keeps one (half the cache)
    glm4 = estimate_memory(CHATGLM2_6B, seq=4096, tp=4)
    glm1 = estimate_memory(CHATGLM2_6B, seq=4096, tp=1)
    assert glm4.kv_cache_bytes == glm1.kv_cache_bytes / 2
    assert any("replicated" in n for n in glm4.notes)
    # 70B bf16 ≈ 128 GiB of weights: two 80 GiB cards, eight 24 GiB cards.
    assert plan_tensor_parallel(LLAMA2_70B, 80, seq=2048).tp == 2
    plan24 = plan_tensor_parallel(LLAMA2_70B, 24, seq=2048)
    assert plan24.tp == 8 and plan24.fits
    assert not plan_tensor_parallel(LLAMA2_70B, 8, seq=2048).fits
    with pytest.raises(LLMSelectError, match="do not split"):
        estimate_memory(FALCON_7B, tp=2)  # 71 heads


def test_activations_count_logits_and_mlp() -> None:
    # bs=1, T=2048, bf16: logits (T, V)·2 = 125 MiB + final hidden 16 MiB.
    act = activation_bytes(LLAMA2_7B, batch=1, seq=2048, dtype="bf16")
    head = 2048 * 32000 * 2 + 2048 * 4096 * 2
    block = 2 * 2048 * 4096 * 2 + 3 * 2048 * 11008 * 2
    assert act == max(head, block)
    with_fp32 = activation_bytes(LLAMA2_7B, batch=1, seq=2048, logits_fp32=True)
    assert with_fp32 == 2048 * 4096 * 2 + 2048 * 32000 * 6


def test_decode_roofline() -> None:
    per_token = bytes_read_per_decode_token(LLAMA2_7B, dtype="bf16", context=4096)
    assert per_token == 6_738_415_616 * 2 + 2 * GIB
    # H100 SXM5 datasheet: 3.35 TB/s
    assert decode_roofline_ms(per_token, 3.35e12) == pytest.approx(per_token / 3.35e9)


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(LLMSelectError, match="unknown dtype 'fp8'"):
        parse_dtype("fp8")
    assert parse_dtype("bfloat16").name == "bf16"
    with pytest.raises(LLMSelectError):
        estimate_memory(LLAMA2_7B, batch=0)
    with pytest.raises(LLMSelectError):
        estimate_memory(LLAMA2_7B, device="tpu")


class _Target:
    def __init__(self, id: str, arch: ArchSpec | None) -> None:  # noqa: A002
        self.id, self.arch = id, arch


def test_probe_records() -> None:
    probe = MemoryEstimateProbe(
        MemoryEstimateProbe.Config(dtype=["bf16", "int4"], batch=[1], seq=[4096])
    )
    recs = list(probe.run(_Target("llama-2-7b", LLAMA2_7B), RunContext(run_id="r")))
    assert {r.kind for r in recs} == {"estimated"}
    by = {(r.metric, r.subset): r for r in recs}
    kv = by[("est_kv_cache_mib", "bs=1,seq=4096,dtype=bf16")]
    assert kv.value == 2048.0 and kv.unit == "MiB" and kv.higher_is_better is False
    assert by[("est_kv_cache_mib", "bs=1,seq=4096,dtype=int4")].value == 2048.0  # fp16 cache
    peak = by[("est_peak_memory_mib", "bs=1,seq=4096,dtype=bf16")]
    parts = sum(
        by[(m, peak.subset)].value
        for m in ("est_weights_mib", "est_kv_cache_mib", "est_activations_mib", "est_overhead_mib")
    )
    assert peak.value == pytest.approx(parts)
    assert peak.source and peak.probe == "memory_estimate"


def test_probe_skips_without_arch() -> None:
    with pytest.raises(ProbeSkipped):
        list(MemoryEstimateProbe().run(_Target("x", None), RunContext(run_id="r")))


def test_estimator_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, llmselect.memory.estimate, llmselect.probes.memory_estimate;"
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_last_token_logits_drops_the_full_prompt_logits() -> None:
    """Qwen2-0.5B-like vocab: the (T, V) logits dominate prefill activations at 4096 tokens."""
    from llmselect.arch.spec import ArchSpec
    from llmselect.memory.estimate import activation_bytes

    # Qwen2-0.5B config.json (Qwen/Qwen2-0.5B): 896 hidden, 24 layers, 14/2 heads, 4864 MLP.
    arch = ArchSpec(
        family="llama", hidden=896, layers=24, heads=14, kv_heads=2, intermediate=4864,
        vocab=151936, tied_embeddings=True, source="Qwen/Qwen2-0.5B config.json",
    )  # fmt: skip
    full = activation_bytes(arch, batch=1, seq=4096, dtype="bf16")
    last = activation_bytes(arch, batch=1, seq=4096, dtype="bf16", last_token_logits=True)
    assert full >= 4096 * 151936 * 2  # bf16 logits for every prompt position
    assert last < full / 5  # now bounded by the MLP intermediate, not the vocab


def test_other_family_is_counted_only_when_the_recorded_total_confirms_it() -> None:
    """GLM-4.5-Air under family 'other': the common decoder layout with its MoE numbers
    reproduces the recorded total (106,852,245,504, transformers on the meta device), so the
    estimate uses that exact count; GPT-J's parallel GELU blocks do not, so the probe skips it."""
    from llmselect.catalog import load_catalog
    from llmselect.errors import ProbeSkipped
    from llmselect.probes.base import RunContext
    from llmselect.probes.memory_estimate import MemoryEstimateProbe

    model = load_catalog().get("glm-4.5-air")
    assert model.arch is not None and model.arch.family == "other" and model.arch.moe
    assert model.params_exact == 106_852_245_504
    records = list(MemoryEstimateProbe().run(model, RunContext(run_id="t")))
    weights = [r for r in records if r.metric == "est_weights_mib"]
    assert weights and all(r.kind == "estimated" for r in records)
    bf16 = [r for r in weights if "dtype=bf16" in r.subset][0]
    assert bf16.value == pytest.approx(106_852_245_504 * 2 / 2**20, abs=1.0)
    gptj = load_catalog().get("gpt-j-6b")
    if gptj.arch is not None and gptj.arch.family == "other":
        with pytest.raises(ProbeSkipped, match="not the recorded"):
            list(MemoryEstimateProbe().run(gptj, RunContext(run_id="t")))


def test_probe_keeps_the_last_positions_logits_as_served() -> None:
    """Qwen2-0.5B (config.json: vocab 151,936): the full bf16 prefill logits of 4096 tokens are
    1187 MiB on their own; the probe's default (serving) activations hold one row of them, and
    its peak is the recommender's for the same point."""
    from llmselect.arch.count import count_model
    from llmselect.catalog import load_catalog
    from llmselect.hardware import GpuBudget
    from llmselect.recommend.fit import memory_fit

    model = load_catalog().get("qwen2-0.5b")
    assert model.arch is not None and model.arch.vocab == 151936
    full_logits_mib = 4096 * 151936 * 2 / 2**20
    runs = {}
    for logits in ("last position", "all positions"):
        probe = MemoryEstimateProbe(
            MemoryEstimateProbe.Config(dtype=["bf16"], seq=[4096], prefill_logits=logits)
        )
        recs = list(probe.run(model, RunContext(run_id="r")))
        runs[logits] = {r.metric: r for r in recs}
        assert {r.params["prefill_logits"] for r in recs} == {logits}
    assert runs["last position"]["est_activations_mib"].value < full_logits_mib / 5
    assert runs["all positions"]["est_activations_mib"].value >= full_logits_mib
    gpu = GpuBudget(count=1, memory_gib_each=24, name="24GB")
    fit = memory_fit(model, count_model(model), "bf16", 4096, gpu)
    peak = runs["last position"]["est_peak_memory_mib"].value
    assert peak / 1024 == pytest.approx(fit.per_device_gib, rel=1e-9)
