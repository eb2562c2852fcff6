"""llama.cpp's quantization recipe on mixture-of-experts models, checked against llama.cpp itself.

A small random-weight model of each modelled layout (Qwen3-MoE, Qwen2-MoE with its gated shared
expert, Mixtral's 8 experts in llama.cpp's ``llama`` layout; and dense BLOOM for the fused
``attn_qkv``) is built from its transformers config class, written as an F16 GGUF under
``tmp_path`` and quantized by the installed llama-cpp-python (``llama_model_quantize``) to every
k-quant file type and Q4_0/Q8_0. Every tensor of every result must carry the type
``ggml_quant`` plans for it, and the total bytes must match; llama.cpp must also load the
Q4_K_M file (its loader rejects a missing, misshapen or extra tensor), so the names and shapes
are llama.cpp's own. llama.cpp runs in a child process: a crash in it fails one test, not the
test run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmselect.catalog import load_catalog
from llmselect.memory.ggml_quant import FTYPE_CODES, gguf_weight_bytes, tensor_types
from llmselect.memory.gguf_layout import MLA_LAYOUTS, MOE_LAYOUTS

FTYPES = ["q2_k", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m", "q6_k",
          "q4_0", "q8_0"]  # fmt: skip
_COMMON = dict(hidden_size=256, num_hidden_layers=8, num_attention_heads=4, head_dim=64,
               vocab_size=512, max_position_embeddings=512, tie_word_embeddings=False)  # fmt: skip
# Expert widths: 256 (whole k-quant super-blocks) and 352 (not: llama.cpp's fallback types).
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "qwen3_moe": ("Qwen3MoeConfig", dict(_COMMON, num_key_value_heads=2, num_experts=16,
                  num_experts_per_tok=2, moe_intermediate_size=256, intermediate_size=512)),
    "qwen2_moe": ("Qwen2MoeConfig", dict(_COMMON, num_key_value_heads=4, num_experts=4,
                  num_experts_per_tok=2, moe_intermediate_size=352, intermediate_size=512,
                  shared_expert_intermediate_size=512)),
    "mixtral": ("MixtralConfig", dict(_COMMON, num_key_value_heads=1, num_local_experts=8,
                num_experts_per_tok=2, intermediate_size=256)),
    # latent attention (llama.cpp's deepseek2): V3 with a query latent and a router bias; V2
    # without a query latent, which llama.cpp reads only at V2-Lite's 27 layers
    "deepseek_v3": ("DeepseekV3Config", dict(_COMMON, num_key_value_heads=4, intermediate_size=512,
                    moe_intermediate_size=256, n_routed_experts=16, num_experts_per_tok=2,
                    n_shared_experts=1, first_k_dense_replace=1, kv_lora_rank=256,
                    q_lora_rank=256, qk_rope_head_dim=32, qk_nope_head_dim=64, v_head_dim=64)),
    "deepseek_v2": ("DeepseekV2Config", dict(_COMMON, num_hidden_layers=27, num_key_value_heads=4,
                    intermediate_size=512, moe_intermediate_size=352, n_routed_experts=4,
                    num_experts_per_tok=2, n_shared_experts=2, first_k_dense_replace=1,
                    kv_lora_rank=256, q_lora_rank=None, qk_rope_head_dim=32,
                    qk_nope_head_dim=64, v_head_dim=64)),
    # dense, with llama.cpp's fused attn_qkv: the recipe files it with attn_v
    "bloom": ("BloomConfig", dict(hidden_size=256, n_layer=8, n_head=4, vocab_size=512)),
    # 80 LLaMA layers: llama.cpp's 70B class with grouped-query attention, 65B without
    "llama-80-gqa": ("LlamaConfig", dict(_COMMON, num_hidden_layers=80, num_key_value_heads=1,
                     intermediate_size=256)),
    "llama-80-mha": ("LlamaConfig", dict(_COMMON, num_hidden_layers=80, num_key_value_heads=4,
                     intermediate_size=256)),
}  # fmt: skip
# config → llama.cpp architecture
GGUF_ARCH = {**MOE_LAYOUTS, **MLA_LAYOUTS, "bloom": "bloom", "llama-80-gqa": "llama",
             "llama-80-mha": "llama"}  # fmt: skip
FTYPES_OF = {"llama-80-gqa": ["q3_k_m", "q4_k_m"], "llama-80-mha": ["q3_k_m", "q4_k_m"],
             "deepseek_v2": ["q2_k", "q3_k_m", "q4_k_m", "q5_k_m"]}  # fmt: skip

# Quantize the F16 file to each type, then load the Q4_K_M result: all in this child process.
_CHILD = """
import ctypes, json, sys
import llama_cpp
src, out_dir, jobs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
for name, code in jobs.items():
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype, p.nthread = code, 1
    dst = f"{out_dir}/{name}.gguf"
    assert llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(p)) == 0, name
mp = llama_cpp.llama_model_default_params()
model = llama_cpp.llama_model_load_from_file(f"{out_dir}/q4_k_m.gguf".encode(), mp)
n = llama_cpp.llama_model_n_params(model) if model else None
print(json.dumps({"loaded_params": n}))
"""


def _arch_from_config(model_type: str) -> tuple[Any, int]:
    """(ArchSpec, parameters) of the small config: the architecture read as a config.json is
    (by its family's reader where one owns the model_type: BLOOM's fused-QKV layout; else from
    transformers' config class), the parameters of the model transformers builds from it on the
    meta device."""
    import torch
    import transformers

    from llmselect.arch.hf_sizing import sizing_from_config
    from llmselect.arch.readers import arch_from_hf_config

    cls_name, kwargs = CONFIGS[model_type]
    config = getattr(transformers, cls_name)(**kwargs)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    params = sum(p.numel() for p in model.parameters())  # tied weights once
    cfg, where = config.to_dict(), f"small {model_type}"
    if model_type == "bloom":
        return arch_from_hf_config(cfg, where), params
    return sizing_from_config(cfg, where)[0], params


def _write_f16_gguf(arch: Any, model_type: str, path: Path) -> None:
    """The F16 file llama.cpp's converter would write: llama.cpp's metadata keys for the
    layout's architecture, random weights, 1-D tensors and the router in F32."""
    import gguf
    import numpy as np

    w = gguf.GGUFWriter(str(path), GGUF_ARCH[model_type])
    moe = arch.moe
    w.add_context_length(512)
    w.add_embedding_length(arch.hidden)
    w.add_block_count(arch.layers)
    w.add_feed_forward_length(moe.expert_intermediate if moe else arch.intermediate)
    w.add_head_count(arch.heads)
    w.add_head_count_kv(arch.kv_heads)
    w.add_key_length(arch.head_size)
    w.add_value_length(arch.head_size)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_layer_norm_eps(1e-5)
    if moe is not None:
        w.add_expert_count(moe.experts)
        w.add_expert_used_count(moe.experts_per_token)
        w.add_expert_feed_forward_length(moe.expert_intermediate)
        if moe.shared_intermediate:  # Qwen2-MoE's shared expert width
            w.add_expert_shared_feed_forward_length(moe.shared_intermediate)
    if arch.mla is not None:  # the keys llama.cpp's converter writes for deepseek2
        mla = arch.mla
        w.add_feed_forward_length(arch.intermediate)
        w.add_head_count_kv(1)
        w.add_leading_dense_block_count(moe.dense_layers)
        if mla.q_lora_rank:
            w.add_q_lora_rank(mla.q_lora_rank)
        w.add_kv_lora_rank(mla.kv_lora_rank)
        w.add_key_length(mla.kv_lora_rank + mla.qk_rope_head_dim)
        w.add_value_length(mla.kv_lora_rank)
        w.add_key_length_mla(mla.qk_nope_head_dim + mla.qk_rope_head_dim)
        w.add_value_length_mla(mla.v_head_dim)
        w.add_expert_shared_count(moe.shared_experts)
        w.add_rope_dimension_count(mla.qk_rope_head_dim)
    w.add_file_type(1)  # MOSTLY_F16
    w.add_tokenizer_model("none")  # no vocabulary: llama.cpp loads dummy tokens
    w.add_vocab_size(arch.vocab)
    rng = np.random.default_rng(0)
    for t in tensor_types(arch, "f16"):
        data = rng.standard_normal(tuple(reversed(t.shape)), dtype=np.float32) * 0.02
        w.add_tensor(t.name, data.astype(np.float16 if t.ggml_type == "F16" else np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.mark.slow
@pytest.mark.parametrize("model_type", list(CONFIGS))
def test_llama_cpp_quantizes_as_planned(model_type: str, tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    from gguf import GGUFReader

    arch, params_total = _arch_from_config(model_type)
    assert (arch.moe is not None) == (model_type in MOE_LAYOUTS or model_type in MLA_LAYOUTS)
    ftypes = FTYPES_OF.get(model_type, FTYPES)
    planned_f16 = tensor_types(arch, "f16")
    # every parameter transformers builds for this config is in one planned tensor (DeepSeek-V3's
    # router bias is a buffer there)
    counted = [t for t in planned_f16 if not t.name.endswith("exp_probs_b.bias")]
    assert sum(t.n_elements for t in counted) == params_total
    src = tmp_path / "f16.gguf"
    _write_f16_gguf(arch, model_type, src)
    codes = {name: code for code, name in FTYPE_CODES.items()}
    jobs = json.dumps({ftype: codes[ftype] for ftype in ftypes})
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(src), str(tmp_path), jobs],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    # llama.cpp's loader took the Q4_K_M file: every tensor it expects, of its shape, no other
    loaded = json.loads(proc.stdout.splitlines()[-1])["loaded_params"]
    assert loaded == sum(t.n_elements for t in planned_f16)
    for ftype in ftypes:
        reader = GGUFReader(str(tmp_path / f"{ftype}.gguf"))
        actual = {t.name: (t.tensor_type.name, int(t.n_bytes)) for t in reader.tensors}
        planned = {t.name: (t.ggml_type, t.n_bytes) for t in tensor_types(arch, ftype)}
        assert planned == actual, ftype
        assert gguf_weight_bytes(arch, ftype) == sum(b for _, b in actual.values()), ftype


# Published sizes of bartowski's Qwen3-30B-A3B GGUF files (llama.cpp b5200), decimal GB as the
# model card (https://huggingface.co/bartowski/Qwen_Qwen3-30B-A3B-GGUF) lists them, read in its
# copy at https://model.aibase.com/zh/models/details/1924737621108723712 (Q8_0 32.48, Q6_K
# 25.10, Q5_K_M 21.74 GB; the copy ends before the Q4_K_M row). An imatrix changes a k-quant's
# values, not its tensor types.
QWEN3_30B_PUBLISHED_GB = {"q5_k_m": 21.74, "q6_k": 25.10, "q8_0": 32.48}


@pytest.mark.parametrize(("ftype", "published_gb"), QWEN3_30B_PUBLISHED_GB.items())
def test_qwen3_30b_a3b_within_0_2pct_of_published_files(ftype: str, published_gb: float) -> None:
    arch = load_catalog().get("qwen3-30b-a3b").arch
    est = gguf_weight_bytes(arch, ftype)
    published = published_gb * 1e9
    assert abs(est - published) / published < 0.002
    assert est < published + 0.005e9  # the file adds its vocabulary to the tensors


# Published DeepSeek-V2-Lite GGUF files, in GB as the hub lists them (3 significant digits):
# https://huggingface.co/mradermacher/DeepSeek-V2-Lite-GGUF (files and versions).
DEEPSEEK_V2_LITE_PUBLISHED_GB = {"q2_k": 6.43, "q3_k_s": 7.49, "q3_k_m": 8.13, "q3_k_l": 8.46,
                                 "q4_k_s": 9.53, "q4_k_m": 10.4, "q5_k_s": 11.1, "q5_k_m": 11.9,
                                 "q6_k": 14.1, "q8_0": 16.7}  # fmt: skip


@pytest.mark.parametrize(("ftype", "published_gb"), DEEPSEEK_V2_LITE_PUBLISHED_GB.items())
def test_deepseek_v2_lite_within_the_published_rounding(ftype: str, published_gb: float) -> None:
    est = gguf_weight_bytes(load_catalog().get("deepseek-v2-lite").arch, ftype) / 1e9
    assert abs(est - published_gb) / published_gb < 0.005  # three digits round by up to 0.5 %


@pytest.mark.parametrize("model", ["qwen3-30b-a3b", "mixtral-8x7b-v0.1", "deepseek-v2-lite"])
def test_moe_tensor_list_holds_every_parameter(model: str) -> None:
    entry = load_catalog().get(model)
    planned = tensor_types(entry.arch, "f16")
    assert sum(t.n_elements for t in planned) == entry.params_exact  # transformers, meta device
    experts = [t for t in planned if t.name.endswith("_exps.weight")]
    assert len(experts) == 3 * (entry.arch.layers - entry.arch.moe.dense_layers)
    assert all(t.shape[2] == entry.arch.moe.experts for t in experts)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("minicpm3-4b", "latent-attention models are modelled only in DeepSeek-V2/V3's"),
        ("glm-4.5-air", "model_type 'glm4_moe' are not modelled"),
    ],
)
def test_unmodelled_layouts_are_one_error(model: str, message: str) -> None:
    from llmselect.errors import LLMSelectError

    with pytest.raises(LLMSelectError, match=message):
        gguf_weight_bytes(load_catalog().get(model).arch, "q4_k_m")


def test_a_plan_that_misses_parameters_is_refused() -> None:
    """Kimi-K2's numbers without its leading dense block: the plan holds more parameters than
    transformers counts for the checkpoint, so no size is given."""
    from llmselect.errors import LLMSelectError

    entry = load_catalog().get("kimi-k2-instruct")
    moe = entry.arch.moe.model_copy(update={"dense_layers": 0})
    with pytest.raises(LLMSelectError, match="its layout is not modelled"):
        gguf_weight_bytes(entry.arch.model_copy(update={"moe": moe}), "q4_k_m",
                          entry.sizing.params_total)  # fmt: skip


@pytest.mark.parametrize(("model", "dense"), [("kimi-k2-instruct", 1), ("deepseek-v3.1-nvfp4", 3)])
def test_leading_dense_blocks_make_the_plan_hold_the_checkpoint(model: str, dense: int) -> None:
    """The config readers keep DeepSeek-V3's and Kimi-K2's leading dense blocks: llama.cpp's
    tensors then hold exactly transformers' count (router biases are buffers there)."""
    entry = load_catalog().get(model)
    assert entry.arch.moe.dense_layers == dense
    planned = tensor_types(entry.arch, "f16")
    held = sum(t.n_elements for t in planned if not t.name.endswith("exp_probs_b.bias"))
    assert held == entry.sizing.params_total
    experts = [t for t in planned if t.name.endswith("_exps.weight")]
    assert len(experts) == 3 * (entry.arch.layers - dense)
    assert gguf_weight_bytes(entry.arch, "q4_k_m", entry.sizing.params_total) > 0


def test_perf_estimate_sizes_qwen3_30b_a3b_q4_k_m() -> None:
    from _cli import invoke_json

    (row,) = invoke_json(["perf", "estimate", "-m", "qwen3-30b-a3b", "--dtype", "q4_k_m", "--json"])
    arch = load_catalog().get("qwen3-30b-a3b").arch
    assert row["kind"] == "estimated" and row["dtype"] == "q4_k_m"
    assert row["weights_bytes"] == gguf_weight_bytes(arch, "q4_k_m")
    assert any("llama.cpp's q4_k_m recipe" in n for n in row["notes"])
    # between the published Q6_K file and the Q4_K type's 4.5 bits on every parameter
    assert 4.5 / 8 * 30_532_122_624 < row["weights_bytes"] < 25.10e9
