"""Family ``llama``: LLaMA-style decoders (RMSNorm, RoPE, SwiGLU, MHA/GQA/MQA, sliding window).

Covers Llama-2/3, Mistral, Qwen2, Qwen3 (QK-norm), Yi, InternLM2, DeepSeek-LLM, Baichuan2-7B:
they differ only in numbers. The PyTorch model is ``llama_model.py``; this file is what the rest
of llmselect reads about the family (traits, config builder, parameter count), importable
without torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmselect.arch.family import Family, Traits, config_from_arch
from llmselect.arch.readers import hf_source, model_type_of, need_ints, rope_theta_of
from llmselect.arch.spec import ArchSpec
from llmselect.errors import LLMSelectError


def build_config(arch: ArchSpec, *, rope_interleaved: bool = False) -> Any:
    """``LlamaConfig`` from catalog numbers (GLM passes its interleaved rotary layout)."""
    from llmselect.refmodels.llama_model import LlamaConfig

    beyond = [n for n in ("moe", "mla", "post_norms", "sliding_window_pattern") if getattr(arch, n)]
    if beyond:
        hint = " (use family: moe)" if arch.moe and not arch.mla else ""
        raise LLMSelectError(
            f"the {arch.family} reference decoder has no {', '.join(beyond)}{hint}"
        )
    hd = arch.head_size
    rotary_dim = int(hd * arch.rope_fraction)
    if rotary_dim % 2 or not 0 < rotary_dim <= hd:
        raise LLMSelectError(f"rope_fraction {arch.rope_fraction} gives odd rotary dim")
    return config_from_arch(
        LlamaConfig,
        arch,
        head_dim=hd,
        rope_theta=arch.rope_theta or 10000.0,
        rotary_dim=rotary_dim,
        rope_interleaved=rope_interleaved,
    )


TRAITS = Traits(mlp="swiglu", position="rope", attention="plain", norm="rmsnorm")


# ArchSpec number → the config.json key that states it (transformers' LlamaConfig names).
HF_KEYS = {
    "hidden": ("hidden_size",),
    "heads": ("num_attention_heads",),
    "layers": ("num_hidden_layers",),
    "intermediate": ("intermediate_size",),
    "vocab": ("vocab_size",),
}


def from_hf_config(cfg: Mapping[str, Any], where: str) -> ArchSpec:
    """``ArchSpec`` from a LLaMA-style ``config.json`` (Llama, Mistral, Qwen2, Qwen3, Yi, ...)."""
    mt = model_type_of(cfg)
    stated = need_ints(cfg, where, HF_KEYS)
    hidden, heads = stated["hidden"], stated["heads"]
    return ArchSpec(
        family="llama",
        **stated,
        kv_heads=int(cfg.get("num_key_value_heads") or heads),
        head_dim=cfg.get("head_dim") if cfg.get("head_dim") != hidden // heads else None,
        tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        max_position=cfg.get("max_position_embeddings"),
        rope_theta=rope_theta_of(cfg) or 10000.0,  # LlamaConfig's own default
        qkv_bias=mt == "qwen2" or bool(cfg.get("attention_bias", False)),
        qk_norm=mt == "qwen3",
        mlp_bias=bool(cfg.get("mlp_bias", False)),
        sliding_window=cfg.get("sliding_window")
        if cfg.get("use_sliding_window", mt == "mistral")
        else None,
        norm_eps=float(cfg.get("rms_norm_eps", 1e-6)),
        source=hf_source(cfg, where),
    )


FAMILY = Family(
    name="llama",
    description="LLaMA: pre-RMSNorm, RoPE, SwiGLU, MHA/GQA/MQA, optional QKV bias and QK-norm, "
    "sliding window",
    traits=TRAITS,
    build_config=build_config,
    model="llmselect.refmodels.llama_model:Transformer",
    hf_model_type="llama",
    hf_config_types=frozenset(
        {"llama", "mistral", "qwen2", "qwen3", "yi", "internlm2", "deepseek"}
    ),
    from_hf_config=from_hf_config,
    gguf_architectures=frozenset({"llama", "qwen2"}),
)
