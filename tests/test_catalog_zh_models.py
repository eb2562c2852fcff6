"""MiniCPM3/4, GLM-4-0414/GLM-Z1 and Yi-1.5-6B in the catalog, and the filled Qwen2/Qwen3 holes.

Expected numbers are the ones the cited sources print (llama.cpp's reading of the official GLM
weights, the Qwen3 technical report's tables, the Qwen2 blog and model card), not values
computed again by llmselect.
"""

from __future__ import annotations

import pytest

from llmselect.arch.count import count_model
from llmselect.catalog import load_catalog
from llmselect.hardware import parse_gpu
from llmselect.memory.estimate import estimate_memory, kv_cache_bytes
from llmselect.recommend import Request, recommend

NEW = [
    "minicpm3-4b",
    "minicpm4-0.5b",
    "minicpm4-8b",
    "glm-4-9b-0414",
    "glm-z1-9b-0414",
    "glm-4-32b-base-0414",
    "glm-4-32b-0414",
    "glm-z1-32b-0414",
    "yi-1.5-6b",
    "yi-1.5-6b-chat",
]


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return load_catalog()


def test_estimator_count_is_the_meta_device_count(catalog) -> None:
    # params_exact is the transformers class's count (rebuilt in test_catalog_params); the
    # estimator that sizes memory must hold the same number for every new layout.
    for mid in NEW:
        spec = catalog.get(mid)
        assert count_model(spec).total == spec.params_exact, mid


def test_minicpm3_latent_attention_caches_latent_plus_rope_key(catalog) -> None:
    # config.json: 62 layers, kv_lora_rank 256, qk_rope_head_dim 32 (bf16: 2 bytes each)
    arch = catalog.get("minicpm3-4b").arch
    assert arch.family == "deepseek" and arch.moe is None and arch.mla is not None
    assert kv_cache_bytes(arch, batch=1, context=32768, kv_dtype="bf16") == 62 * 288 * 32768 * 2
    est = estimate_memory(arch, dtype="bf16", seq=32768)
    assert est.kv_cache_bytes == 62 * 288 * 32768 * 2
    assert any("latent" in n for n in est.notes)


def test_glm_0414_counts_match_llama_cpp_on_the_official_weights(catalog) -> None:
    # llama.cpp prints "model params = 32.57 B" for GLM-Z1-32B-0414 (ik_llama.cpp PR #344)
    assert round(catalog.get("glm-z1-32b-0414").params_exact / 1e9, 2) == 32.57
    # GLM-Z1-9B-0414 Q5_K_M: 6.56 GiB at 5.99 bits per weight (llama.cpp issue #12946)
    weights_in_file = 6.56 * 1024**3 * 8 / 5.99
    assert catalog.get("glm-4-9b-0414").params_exact == pytest.approx(weights_in_file, rel=0.005)
    arch = catalog.get("glm-4-32b-0414").arch
    assert arch.post_norms and arch.qkv_bias and arch.rope_fraction == 0.5
    assert (arch.layers, arch.hidden, arch.heads, arch.kv_heads) == (61, 6144, 48, 2)


def test_glm_0414_and_minicpm_map_to_tokenizers_we_have(catalog) -> None:
    assert {catalog.get(m).tokenizer for m in NEW if m.startswith("glm")} == {"glm4"}
    assert {catalog.get(m).tokenizer for m in NEW if m.startswith("minicpm")} == {"minicpm3"}
    assert catalog.get("yi-1.5-6b").tokenizer == "yi"


def test_qwen3_c_eval_from_the_report_and_no_cmmlu(catalog) -> None:
    got = {s.setting.split(" (")[0]: s.value for s in catalog.get("qwen3-8b").scores}
    assert got == {"thinking mode": 83.4, "non-thinking mode": 77.9}  # Tables 17 and 18
    for spec in catalog:
        if spec.family == "Qwen3":
            assert not [s for s in spec.scores if s.benchmark == "CMMLU"], spec.id
            if spec.variant and spec.variant.startswith("base"):
                assert not [s for s in spec.scores if s.benchmark == "C-Eval"], spec.id


def test_qwen2_context_lengths(catalog) -> None:
    # blog table: 32K for 1.5B, 128K for 7B and 72B; the 72B-Instruct card: YaRN beyond 32,768
    got = {m: catalog.get(m).context_length for m in ("qwen2-1.5b", "qwen2-7b", "qwen2-72b")}
    assert got == {"qwen2-1.5b": 32768, "qwen2-7b": 131072, "qwen2-72b": 131072}
    assert catalog.get("qwen2-72b-instruct").context_length == 32768


def test_recommend_ranks_the_new_models_with_evidence(catalog) -> None:
    result = recommend(catalog, Request(gpu=parse_gpu("2x80GB"), purpose="commercial"))
    ranked = {r.model_id: r for r in result.recommendations}
    assert {"minicpm3-4b", "minicpm4-8b", "glm-4-9b-0414"} <= set(ranked)
    # no C-Eval/CMMLU/MMLU/GSM8K/HumanEval published for these: ranked on predicted quality,
    # labelled so, with the quality model's wider interval
    for mid in ("glm-4-32b-0414", "glm-z1-32b-0414", "yi-1.5-6b-chat"):
        kinds = {t.kind for t in ranked[mid].terms if t.name.startswith("quality_")}
        assert kinds == {"predicted"}, (mid, kinds)
