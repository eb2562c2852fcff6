"""Family ``moe``: mixture-of-experts decoders (Mixtral, Qwen1.5-MoE/Qwen2-MoE, Qwen3-MoE).

LLaMA attention (with QK-norm for Qwen3-MoE) and a sparse MLP: a router, top-k routed SwiGLU
experts, optionally a (gated) shared expert, and dense blocks before ``moe.dense_layers`` or off
the ``moe.layer_step`` grid. The PyTorch model is ``moe_model.py``; this file is importable
without torch. Parameters are counted from the traits and ``ArchSpec.moe``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmselect.arch.family import Family, config_from_arch
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
    return config_from_arch(
        MoEConfig,
        arch,
        arch.moe,
        head_dim=arch.head_size,
        rope_theta=arch.rope_theta or 10000.0,
        shared_intermediate=shared_intermediate(arch),
    )


FAMILY = Family(
    name="moe",
    description="Mixture of experts: LLaMA attention, top-k routed SwiGLU experts, shared expert",
    traits=llama.TRAITS,
    build_config=build_config,
    model="llmselect.refmodels.moe_model:MoETransformer",
    hf_model_type="qwen2_moe",
)
