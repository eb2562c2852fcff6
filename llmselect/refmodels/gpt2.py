"""Family ``gpt2``: GPT-2 (learned positions, LayerNorm, GELU MLP, biases, pre- or post-LN).

The PyTorch model is ``gpt2_model.py``; this file is what the rest of llmselect reads about the
family (traits, config builder, parameter count), importable without torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmselect.arch.family import Family, Traits
from llmselect.arch.readers import need
from llmselect.arch.spec import ArchSpec
from llmselect.errors import LLMSelectError


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


def from_hf_config(cfg: Mapping[str, Any], where: str) -> ArchSpec:
    """``ArchSpec`` from a GPT-2 ``config.json``."""
    mt = str(cfg.get("model_type") or "").lower()
    src = f"{where} (model_type {mt})"
    hidden = int(need(cfg, where, "n_embd"))
    return ArchSpec(
        family="gpt2",
        hidden=hidden,
        layers=int(need(cfg, where, "n_layer")),
        heads=int(need(cfg, where, "n_head")),
        kv_heads=int(need(cfg, where, "n_head")),
        intermediate=int(cfg.get("n_inner") or 4 * hidden),
        vocab=int(need(cfg, where, "vocab_size")),
        tied_embeddings=True,
        max_position=int(need(cfg, where, "n_positions")),
        qkv_bias=True,
        mlp_bias=True,
        norm_eps=float(cfg.get("layer_norm_epsilon", 1e-5)),
        source=src,
    )


FAMILY = Family(
    name="gpt2",
    description="GPT-2: learned positions, LayerNorm, GELU MLP, biases (GPT2LMHeadModel)",
    traits=Traits(mlp="gelu", position="learned", attention="biased", norm="layernorm"),
    build_config=build_config,
    model="llmselect.refmodels.gpt2_model:GPT2",
    converter="llmselect.refmodels.gpt2_model:convert_hf_state_dict",
    hf_model_type="gpt2",
    hf_config_types=frozenset({"gpt2"}),
    from_hf_config=from_hf_config,
    gguf_architectures=frozenset({"gpt2"}),
)
