"""Family ``bloom``: BLOOM (ALiBi, embedding LayerNorm, GELU MLP, biases).

The PyTorch model is ``bloom_model.py``; this file is what the rest of llmselect reads about the
family (traits, config builder, parameter count), importable without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmselect.errors import LLMSelectError
from llmselect.refmodels.family import Family, Traits

if TYPE_CHECKING:
    from llmselect.catalog import ArchSpec


def build_config(arch: ArchSpec) -> Any:
    """``BloomConfig`` from catalog numbers."""
    from llmselect.refmodels.bloom_model import BloomConfig

    if arch.kv_heads != arch.heads or arch.head_size * arch.heads != arch.hidden:
        raise LLMSelectError("bloom family needs kv_heads == heads, head_dim == hidden/heads")
    return BloomConfig(
        vocab=arch.vocab,
        hidden=arch.hidden,
        layers=arch.layers,
        heads=arch.heads,
        intermediate=arch.intermediate,
        tied_embeddings=arch.tied_embeddings,
        norm_eps=arch.norm_eps,
    )


FAMILY = Family(
    name="bloom",
    description="BLOOM: ALiBi, embedding LayerNorm, GELU MLP, biases (BloomForCausalLM)",
    traits=Traits(
        mlp="gelu", position="alibi", attention="biased", norm="layernorm", embedding_norm=True
    ),
    build_config=build_config,
    model="llmselect.refmodels.bloom_model:Bloom",
    converter="llmselect.refmodels.bloom_model:convert_hf_state_dict",
    hf_model_type="bloom",
)
