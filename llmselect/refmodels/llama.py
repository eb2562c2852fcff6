"""Family ``llama``: LLaMA-style decoders (RMSNorm, RoPE, SwiGLU, MHA/GQA/MQA, sliding window).

Covers Llama-2/3, Mistral, Qwen2, Qwen3 (QK-norm), Yi, InternLM2, DeepSeek-LLM, Baichuan2-7B:
they differ only in numbers. The PyTorch model is ``llama_model.py``; this file is what the rest
of llmselect reads about the family (traits, config builder, parameter count), importable
without torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmselect.arch.family import Family, Traits
from llmselect.arch.readers import need
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
    return LlamaConfig(
        vocab=arch.vocab,
        hidden=arch.hidden,
        layers=arch.layers,
        heads=arch.heads,
        kv_heads=arch.kv_heads,
        head_dim=hd,
        intermediate=arch.intermediate,
        rope_theta=arch.rope_theta or 10000.0,
        rotary_dim=rotary_dim,
        rope_interleaved=rope_interleaved,
        qkv_bias=arch.qkv_bias,
        mlp_bias=arch.mlp_bias,
        tied_embeddings=arch.tied_embeddings,
        norm_eps=arch.norm_eps,
        sliding_window=arch.sliding_window,
        qk_norm=arch.qk_norm,
    )


TRAITS = Traits(mlp="swiglu", position="rope", attention="plain", norm="rmsnorm")


def from_hf_config(cfg: Mapping[str, Any], where: str) -> ArchSpec:
    """``ArchSpec`` from a LLaMA-style ``config.json`` (Llama, Mistral, Qwen2, Yi, ...)."""
    mt = str(cfg.get("model_type") or "").lower()
    src = f"{where} (model_type {mt})"
    hidden = int(need(cfg, where, "hidden_size"))
    heads = int(need(cfg, where, "num_attention_heads"))
    return ArchSpec(
        family="llama",
        hidden=hidden,
        layers=int(need(cfg, where, "num_hidden_layers")),
        heads=heads,
        kv_heads=int(cfg.get("num_key_value_heads") or heads),
        intermediate=int(need(cfg, where, "intermediate_size")),
        vocab=int(need(cfg, where, "vocab_size")),
        head_dim=cfg.get("head_dim") if cfg.get("head_dim") != hidden // heads else None,
        tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        max_position=cfg.get("max_position_embeddings"),
        rope_theta=float(cfg.get("rope_theta", 10000.0)),
        qkv_bias=mt == "qwen2" or bool(cfg.get("attention_bias", False)),
        mlp_bias=bool(cfg.get("mlp_bias", False)),
        sliding_window=cfg.get("sliding_window")
        if cfg.get("use_sliding_window", mt == "mistral")
        else None,
        norm_eps=float(cfg.get("rms_norm_eps", 1e-6)),
        source=src,
    )


FAMILY = Family(
    name="llama",
    description="LLaMA: pre-RMSNorm, RoPE, SwiGLU, MHA/GQA/MQA, optional QKV bias and QK-norm, "
    "sliding window",
    traits=TRAITS,
    build_config=build_config,
    model="llmselect.refmodels.llama_model:Transformer",
    converter="llmselect.refmodels.llama_model:convert_hf_state_dict",
    hf_model_type="llama",
    hf_config_types=frozenset({"llama", "mistral", "qwen2", "yi", "internlm2", "deepseek"}),
    from_hf_config=from_hf_config,
    gguf_architectures=frozenset({"llama", "qwen2"}),
)
