"""Family ``bloom``: BLOOM (ALiBi, embedding LayerNorm, GELU MLP, biases).

The PyTorch model is ``bloom_model.py``; this file is what the rest of llmselect reads about the
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


def from_hf_config(cfg: Mapping[str, Any], where: str) -> ArchSpec:
    """``ArchSpec`` from a BLOOM ``config.json``."""
    mt = str(cfg.get("model_type") or "").lower()
    src = f"{where} (model_type {mt})"
    hidden = int(need(cfg, where, "hidden_size", "n_embed"))
    heads = int(need(cfg, where, "n_head", "num_attention_heads"))
    return ArchSpec(
        family="bloom",
        hidden=hidden,
        layers=int(need(cfg, where, "n_layer", "num_hidden_layers")),
        heads=heads,
        kv_heads=heads,
        intermediate=4 * hidden,
        vocab=int(need(cfg, where, "vocab_size")),
        tied_embeddings=True,
        qkv_bias=True,
        mlp_bias=True,
        norm_eps=float(cfg.get("layer_norm_epsilon", 1e-5)),
        source=src,
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
    hf_config_types=frozenset({"bloom"}),
    from_hf_config=from_hf_config,
    gguf_architectures=frozenset({"bloom"}),
)
