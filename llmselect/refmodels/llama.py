"""Family ``llama``: LLaMA-style decoders (RMSNorm, RoPE, SwiGLU, MHA/GQA/MQA, sliding window).

Covers Llama-2/3, Mistral, Qwen2, Qwen3 (QK-norm), Yi, InternLM2, DeepSeek-LLM, Baichuan2-7B:
they differ only in numbers. The PyTorch model is ``llama_model.py``; this file is what the rest
of llmselect reads about the family (traits, config builder, parameter count), importable
without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmselect.errors import LLMSelectError
from llmselect.refmodels.family import Family, Traits

if TYPE_CHECKING:
    from llmselect.catalog import ArchSpec


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

FAMILY = Family(
    name="llama",
    description="LLaMA: pre-RMSNorm, RoPE, SwiGLU, MHA/GQA/MQA, optional QKV bias and QK-norm, "
    "sliding window",
    traits=TRAITS,
    build_config=build_config,
    model="llmselect.refmodels.llama_model:Transformer",
    converter="llmselect.refmodels.llama_model:convert_hf_state_dict",
    hf_model_type="llama",
)
