"""Real 2025-26 configs (verbatim copies, sources in ``tests/data/configs/SOURCES.md``) through
the generic path: totals and active counts against the publishers' figures, stored bytes
against transformers' own pre-quantized layout or the published format, the record path.

Counts build the text decoder on the meta device (no weights); the FP8 checks build 4 layers of
each model (every layer has the same modules as one of those) to keep the test short.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from _prequantized import prequantized_model, stored_bytes  # noqa: E402

from llmselect.arch.hf_sizing import sizing_from_config  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "data" / "configs"
ADDITIONS = Path(__file__).resolve().parents[2] / "scripts" / "additions" / "configs"


def _cfg(name: str) -> dict:
    return json.loads((CONFIGS / f"{name}.json").read_text(encoding="utf-8"))


def _close(value: int, published_b: float, digits: int) -> bool:
    """``value`` rounds to the published figure (billions, given to ``digits`` decimals)."""
    return abs(value / 1e9 - published_b) <= 0.5 * 10**-digits + 1e-9


# (config, published total B, digits, published active B, digits, convention, source)
PUBLISHED = [
    ("gpt-oss-20b", 20.9, 1, 3.6, 1, "no_input_embedding",
     "OpenAI, gpt-oss-120b & gpt-oss-20b Model Card (arXiv:2508.10925), section 2.1"),
    ("deepseek-v3", 671, 0, 37, 0, "no_input_embedding",
     "DeepSeek-V3 Technical Report (arXiv:2412.19437): 671B total, 37B activated"),
    ("kimi-k2-instruct", 1026.4, 0, 32, 0, "no_input_embedding",
     "moonshotai/Kimi-K2-Instruct model card: 1T total (1.04T), 32B activated"),
    ("qwen3.5-397b-a17b", 397, 0, 17, 0, "active",
     "Qwen/Qwen3.5-397B-A17B model card: 397B total, 17B activated (text + vision)"),
    ("glm-5-fp8", 744, 0, None, 0, "",
     "zai-org/GLM-5 model card: 744B parameters"),
    ("qwen3-next-80b-a3b-thinking", 80, 0, None, 0, "",
     "Qwen/Qwen3-Next-80B-A3B-Thinking model card: 80B total"),
]  # fmt: skip


@pytest.mark.parametrize("row", PUBLISHED, ids=[r[0] for r in PUBLISHED])
def test_counts_match_published_figures(row: tuple) -> None:
    name, total_b, t_digits, active_b, a_digits, convention, _source = row
    _, sizing = sizing_from_config(_cfg(name), name)
    towers = sum(p.params for p in sizing.other_parts if p.kind == "counted")
    # Qwen3.5's 397B is the whole checkpoint (text + vision); the others are text-only
    assert _close(sizing.params_total + towers, total_b, t_digits) or (
        abs(sizing.params_total - total_b * 1e9) <= 0.005 * total_b * 1e9
    )
    if active_b is not None:
        active = (sizing.params_active_no_input_embedding if convention == "no_input_embedding"
                  else sizing.params_active)  # fmt: skip
        assert _close(active, active_b, a_digits)


def test_qwen3_30b_non_embedding_count() -> None:
    # Qwen/Qwen3-30B-A3B model card: 30.5B total, 29.9B non-embedding
    _, s = sizing_from_config(_cfg("qwen3-30b-a3b-fp8"), "qwen3-30b")
    assert _close(s.params_total, 30.5, 1)
    assert _close(s.params_total - s.params_input_embedding - s.params_lm_head, 29.9, 1)


def test_mtp_layers_and_towers_are_reported_apart() -> None:
    _, v3 = sizing_from_config(_cfg("deepseek-v3"), "v3")
    assert [p.name for p in v3.other_parts] == ["mtp_layers"]  # num_nextn_predict_layers: 1
    _, kimi = sizing_from_config(_cfg("kimi-k2-instruct"), "kimi")
    assert kimi.other_parts == []  # the file says num_nextn_predict_layers: 0
    _, q35 = sizing_from_config(_cfg("qwen3.5-397b-a17b"), "q35")
    assert {p.name for p in q35.other_parts} == {"visual", "mtp_layers"}


def test_hybrid_linear_attention_cache_is_constant() -> None:
    _, s = sizing_from_config(_cfg("qwen3-next-80b-a3b-thinking"), "qn")
    kinds = {g.kind: g for g in s.cache}
    assert kinds["linear_attention"].layers == 36 and kinds["full_attention"].layers == 12
    # 4x less than a cache that grew in all 48 layers (gguf-parser-go issue 28's overcount)
    full_only = s.cache_values(32768) - s.cache_values(0)
    assert full_only == 12 * 32768 * 2 * 2 * 256


@pytest.mark.parametrize(
    "name",
    # GLM-5 lists ~700 modules to keep unquantized: transformers' quantizer takes ~20 s on them
    ["qwen3-30b-a3b-fp8", "deepseek-v3", pytest.param("glm-5-fp8", marks=pytest.mark.slow)],
)
def test_fp8_blocks_match_transformers_prequantized_layout(name: str) -> None:
    """transformers' own FP8 quantizer turns the meta model into what it loads from the
    checkpoint (fp8 weights, fp32 block scales); the bytes agree within 0.05 %: transformers
    keeps DeepSeek-style routers and their bias in fp32, the file states them as bf16."""
    torch = pytest.importorskip("torch")
    cfg = _cfg(name)
    cfg["num_hidden_layers"] = 4
    if "layer_types" in cfg:
        cfg["layer_types"] = cfg["layer_types"][:4]
    cfg.pop("num_nextn_predict_layers", None)
    model = prequantized_model(cfg)
    theirs = stored_bytes(model)
    _, sizing = sizing_from_config(cfg, name)
    assert sizing.stored_bytes is not None
    assert abs(sizing.stored_bytes / theirs - 1) < 5e-4
    fp8 = sum(p.numel() for p in model.parameters() if p.dtype == torch.float8_e4m3fn)
    assert abs(sizing.stored[0].params / fp8 - 1) < 1e-4


def test_mxfp4_experts_at_the_published_4_25_bits() -> None:
    # OpenAI's model card: MoE weights in MXFP4, 4.25 bits per parameter; the rest in bf16
    # (the experts' matrices: their biases are stored in bf16 beside the blocks and scales)
    _, s = sizing_from_config(_cfg("gpt-oss-20b"), "gpt-oss-20b")
    mx, rest = s.stored
    assert mx.params + rest.routed_expert_params == s.params_routed_experts
    assert rest.routed_expert_params == 24 * 32 * (2 * 2880 + 2880)  # layers x experts x biases
    assert mx.bytes * 8 == mx.params * 4.25
    assert round((mx.bytes + rest.bytes) / 1024**3, 1) == 12.8  # the model card's checkpoint
    assert rest.format == "bfloat16" and rest.bytes == 2 * rest.params


def test_modelopt_mixed_precision_follows_the_layer_list() -> None:
    # the config's own config_groups list 208 FP8 and 193 NVFP4 matrices (lm_head included)
    cfg = _cfg("qwen3.6-27b-nvfp4")
    groups = cfg["quantization_config"]["config_groups"]
    _, s = sizing_from_config(cfg, "qwen3.6-27b-nvfp4")
    formats = {w.format.split(" ")[0]: w for w in s.stored}
    assert set(formats) == {"fp8_e4m3", "nvfp4", "bfloat16"}
    assert len(groups["group_0"]["targets"]) == 208 and len(groups["group_1"]["targets"]) == 193
    nv = formats["nvfp4"]
    assert nv.bytes == nv.params // 2 + math.ceil(nv.params / 16) + 4 * 193


def test_modelopt_nvfp4_keeps_the_ignored_attention_in_bf16() -> None:
    """nvidia/Gemma-4-31B-IT-NVFP4 (the catalog's copy of its config): the ignore list names
    every layer's ``self_attn`` (and lm_head, the vision tower), so only the MLP matrices are
    NVFP4. The shares are checked against the modules transformers builds for the config, the
    bytes against the published NVFP4 layout (4-bit values, an fp8 scale per 16, fp32 tensor
    scales); 6 of the 60 layers keep the test short."""
    torch = pytest.importorskip("torch")
    from transformers import AutoConfig, AutoModelForCausalLM

    from llmselect.arch.stored import share_lines

    cfg = json.loads((ADDITIONS / "gemma-4-31b-it-nvfp4.json").read_text(encoding="utf-8"))
    text = cfg["text_config"]
    text["num_hidden_layers"] = 6
    text["layer_types"] = text["layer_types"][:6]
    _, s = sizing_from_config(cfg, "gemma-4-31b-it-nvfp4")
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**cfg).text_config)
    mats = [(n, p.numel()) for n, p in model.named_parameters() if p.ndim == 2]
    mlp = [k for n, k in mats if ".mlp." in n]
    attn = sum(k for n, k in mats if ".self_attn." in n)
    nv, bf16 = s.stored
    assert nv.format.startswith("nvfp4") and bf16.format == "bfloat16"
    assert nv.params == sum(mlp) and len(mlp) == 6 * 3
    assert bf16.params == sum(p.numel() for p in model.parameters()) - sum(mlp)
    assert bf16.note is not None and f"self_attn {attn:,} weights" in bf16.note
    assert nv.bytes == sum(mlp) // 2 + sum(mlp) // 16 + 2 * 4 * len(mlp)
    share = 100 * sum(mlp) / s.params_total
    assert share_lines(s.stored)[0].startswith(
        f"{nv.format}: {sum(mlp):,} weights ({share:.1f} % of the weights)"
    )


def test_record_path_builds_a_validated_entry(tmp_path: Path) -> None:
    from llmselect.checkpoint.catalog_entry import entry_from_record

    (tmp_path / "configs").mkdir()
    data = (CONFIGS / "gpt-oss-20b.json").read_bytes()
    (tmp_path / "configs" / "gpt-oss-20b.json").write_bytes(data)
    import hashlib

    record = {
        "id": "gpt-oss-20b-test", "name": "gpt-oss-20b", "family": "gpt-oss",
        "variant": None, "tuning": "instruct", "hf_repo": "openai/gpt-oss-20b", "revision": None,
        "revision_note": "not recorded by the copy",
        "config": {"file": "configs/gpt-oss-20b.json",
                   "sha256": hashlib.sha256(data).hexdigest(),
                   "source": "ai-dynamo/aiconfigurator@095f58a51c4ca8e61b66ec108d86f223f8d559ce:"
                             "aic-core/src/aiconfigurator_core/model_configs/"
                             "openai--gpt-oss-20b_config.json",
                   "model_type": "gpt_oss", "note": None},
        "license": {"id": "apache-2.0", "commercial": "yes", "source": "LICENSE", "note": None},
        "release_date": "2025-08-05", "release_date_source": "model card",
        "context_length": 131072, "context_source": "model card",
        "tokenizer": {"family": None, "source": "not sourced"},
        "languages": None, "languages_source": "not sourced",
        "params_published": {"total": "20.9B", "active": "3.6B", "source": "model card"},
        "scores": [{"benchmark": "mmlu", "value": 85.3, "setting": "high reasoning", "shots": 0,
                    "split": None, "model": "instruct", "thinking": True, "source": "card"}],
        "notes": [],
    }  # fmt: skip
    import yaml

    path = tmp_path / "gpt-oss-20b-test.yaml"
    path.write_text(yaml.safe_dump(record), encoding="utf-8")
    spec = entry_from_record(path)
    assert spec.sizing is not None and spec.params_exact == spec.sizing.params_total
    assert spec.sizing.config_sha256 == record["config"]["sha256"]
    assert spec.sizing.config_source == record["config"]["source"]
    assert spec.scores[0].setting == "high reasoning; 0-shot; instruct; thinking True"
    # a copy that is not the recorded bytes is refused
    (tmp_path / "configs" / "gpt-oss-20b.json").write_bytes(data + b"\n")
    from llmselect.errors import LLMSelectError

    with pytest.raises(LLMSelectError, match="sha256"):
        entry_from_record(path)


@pytest.mark.parametrize("method", ["gptq", "awq"])
def test_int4_packed_layout(method: str) -> None:
    """AutoGPTQ/AutoAWQ checkpoint tensors of one Linear (out 4096, in 11008), group 128:
    qweight int32 holding 8 values each, qzeros int32 (8 per int32) and fp16 scales per group
    and output column; GPTQ adds g_idx (one int32 per input feature)."""
    from llmselect.arch.stored import stored_weights

    out_f, in_f, g = 4096, 11008, 128
    cfg = {
        "torch_dtype": "float16",
        "quantization_config": {"quant_method": method, "bits": 4, "group_size": g},
    }
    params = [("model.layers.0.mlp.down_proj.weight", (out_f, in_f))]
    stored, _ = stored_weights(params, cfg)
    qweight = 4 * (in_f * 4 // 32) * out_f
    qzeros = 4 * (in_f // g) * (out_f * 4 // 32)
    scales = 2 * (in_f // g) * out_f
    g_idx = 4 * in_f if method == "gptq" else 0
    assert stored[0].bytes == qweight + qzeros + scales + g_idx


@pytest.mark.parametrize("name", ["deepseek-v3", "qwen3.5-397b-a17b", "gpt-oss-20b"])
def test_rope_theta_and_norm_eps_are_the_configs(name: str) -> None:
    """The text decoder's RoPE base and norm epsilon as transformers reads the file (a nested
    ``text_config``, transformers 5's ``rope_parameters``), never the schema's default 1e-5."""
    from transformers import AutoConfig

    cfg = _cfg(name)
    text = AutoConfig.for_model(**cfg).get_text_config(decoder=True)
    arch, _ = sizing_from_config(cfg, name)
    assert arch.rope_theta == text.rope_parameters["rope_theta"]
    assert arch.norm_eps == text.rms_norm_eps
    stated = cfg.get("text_config", cfg)
    assert arch.norm_eps == stated["rms_norm_eps"]


def test_deepseek_v4_fp4_experts_match_transformers_prequantized_layout() -> None:
    """DeepSeek-V4-Flash's config states ``expert_dtype: fp4`` and ``scale_fmt: ue8m0``:
    transformers loads its routed experts as two 4-bit values per byte with a 1-byte scale per
    32, and 1-byte block scales elsewhere. Sized as all-FP8 with fp32 scales it came out 1.74x
    too large. Within 0.5 %: transformers keeps a few small projections in bf16 and fp32."""
    torch = pytest.importorskip("torch")
    copy = Path(__file__).resolve().parents[2] / "scripts/additions/configs/deepseek-v4-flash.json"
    cfg = json.loads(copy.read_text(encoding="utf-8"))
    cfg["num_hidden_layers"] = 4
    cfg["compress_ratios"] = cfg["compress_ratios"][:4]
    cfg.pop("num_nextn_predict_layers", None)
    model = prequantized_model(cfg)
    theirs = stored_bytes(model)
    _, sizing = sizing_from_config(cfg, "deepseek-v4-flash")
    assert sizing.stored_bytes is not None
    assert abs(sizing.stored_bytes / theirs - 1) < 5e-3
    packed = sum(p.numel() for p in model.parameters() if p.dtype == torch.int8)  # fp4 pairs
    [fp4] = [s for s in sizing.stored if s.format.startswith("fp4")]
    assert fp4.params == 2 * packed


@pytest.mark.parametrize("name", ["qwen3-next-80b-a3b-thinking", "deepseek-v3", "gpt-oss-20b"])
def test_arch_flags_are_the_modules_transformers_builds(name: str) -> None:
    """Shared experts, QK-norm and QKV bias as transformers' own modules have them (Qwen3-Next:
    a 512-wide shared expert and QK-norm; DeepSeek-V3: one shared expert; gpt-oss: QKV bias),
    not the schema's defaults (no shared expert, no norm, no bias)."""
    torch = pytest.importorskip("torch")
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = _cfg(name)
    cfg["num_hidden_layers"] = 4
    if "layer_types" in cfg:
        cfg["layer_types"] = cfg["layer_types"][:4]
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**cfg))
    arch, _ = sizing_from_config(cfg, name)
    last = model.model.layers[-1]
    shared = getattr(last.mlp, "shared_expert", None) or getattr(last.mlp, "shared_experts", None)
    assert arch.moe is not None
    if shared is None:
        assert arch.moe.shared_experts == 0
    else:
        width = shared.up_proj.out_features
        assert arch.moe.shared_experts >= 1
        assert (arch.moe.shared_intermediate or
                arch.moe.shared_experts * arch.moe.expert_intermediate) == width  # fmt: skip
    assert arch.qk_norm == hasattr(last.self_attn, "q_norm")
    q_proj = getattr(last.self_attn, "q_proj", None)  # latent attention has q_a/q_b instead
    assert arch.qkv_bias == (getattr(q_proj, "bias", None) is not None)
