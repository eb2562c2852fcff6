"""Family ``gpt2``: GPT-2 (learned positions, LayerNorm, GELU MLP, biases, pre- or post-LN).

The PyTorch model is ``gpt2_model.py``; this file is what the rest of llmselect reads about the
family (traits, config builder, parameter count), importable without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmselect.errors import LLMSelectError
from llmselect.refmodels.family import Family, Traits

if TYPE_CHECKING:
    from llmselect.catalog import ArchSpec


def build_config(arch: ArchSpec) -> Any:
    """``GPT2Config`` from catalog numbers."""
    from llmselect.refmodels.gpt2_model import GPT2Config

    if arch.max_position is None:
        raise LLMSelectError("gpt2 family needs arch.max_position (learned position table)")
    if arch.kv_heads != arch.heads or arch.head_size * arch.heads != arch.hidden:
        raise LLMSelectError("gpt2 family needs kv_heads == heads and head_dim == hidden/heads")
    return GPT2Config(
        vocab=arch.vocab,
        hidden=arch.hidden,
        layers=arch.layers,
        heads=arch.heads,
        intermediate=arch.intermediate,
        max_position=arch.max_position,
        tied_embeddings=arch.tied_embeddings,
        norm_eps=arch.norm_eps,
        post_ln=arch.post_ln,
    )


FAMILY = Family(
    name="gpt2",
    description="GPT-2: learned positions, LayerNorm, GELU MLP, biases (GPT2LMHeadModel)",
    traits=Traits(mlp="gelu", position="learned", attention="biased", norm="layernorm"),
    build_config=build_config,
    model="llmselect.refmodels.gpt2_model:GPT2",
    converter="llmselect.refmodels.gpt2_model:convert_hf_state_dict",
    hf_model_type="gpt2",
)
