"""Family ``moe``: mixture-of-experts decoders (Mixtral, Qwen1.5-MoE/Qwen2-MoE, Qwen3-MoE).

LLaMA attention (with QK-norm for Qwen3-MoE) and a sparse MLP: a router, top-k routed SwiGLU
experts, optionally a (gated) shared expert, and dense blocks before ``moe.dense_layers`` or off
the ``moe.layer_step`` grid. The PyTorch model is ``moe_model.py``; this file is importable
without torch. Parameters are counted from the traits and ``ArchSpec.moe``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmselect.arch.family import Family
from llmselect.errors import LLMSelectError
from llmselect.refmodels import llama

if TYPE_CHECKING:
    from llmselect.arch.spec import ArchSpec


def build_config(arch: ArchSpec) -> Any:
    """``MoEConfig`` from catalog numbers (needs ``arch.moe`` and plain attention)."""
    from llmselect.arch.params import shared_intermediate
    from llmselect.refmodels.moe_model import MoEConfig

    if arch.moe is None or arch.mla is not None:
        raise LLMSelectError("moe family needs arch.moe and plain (not latent) attention")
    if arch.rope_fraction != 1.0 or arch.post_norms or arch.sliding_window_pattern:
        raise LLMSelectError(
            "moe family rotates the whole head, has two norms per block and one window"
        )
    moe = arch.moe
    return MoEConfig(
        vocab=arch.vocab,
        hidden=arch.hidden,
        layers=arch.layers,
        heads=arch.heads,
        kv_heads=arch.kv_heads,
        head_dim=arch.head_size,
        intermediate=arch.intermediate,
        rope_theta=arch.rope_theta or 10000.0,
        qkv_bias=arch.qkv_bias,
        tied_embeddings=arch.tied_embeddings,
        norm_eps=arch.norm_eps,
        sliding_window=arch.sliding_window,
        qk_norm=arch.qk_norm,
        experts=moe.experts,
        experts_per_token=moe.experts_per_token,
        expert_intermediate=moe.expert_intermediate,
        shared_intermediate=shared_intermediate(arch),
        shared_expert_gate=moe.shared_expert_gate,
        norm_topk_prob=moe.norm_topk_prob,
        dense_layers=moe.dense_layers,
        layer_step=moe.layer_step,
    )


FAMILY = Family(
    name="moe",
    description="Mixture of experts: LLaMA attention, top-k routed SwiGLU experts, shared expert",
    traits=llama.TRAITS,
    build_config=build_config,
    model="llmselect.refmodels.moe_model:MoETransformer",
    converter="llmselect.refmodels.moe_model:convert_hf_state_dict",
    hf_model_type="qwen2_moe",
)
