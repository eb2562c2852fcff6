"""Family ``bloom``: BLOOM (ALiBi, embedding LayerNorm, GELU MLP, biases).

The PyTorch model is ``bloom_model.py``; this file is what the rest of llmselect reads about the
family (traits, config builder, parameter count), importable without torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmselect.arch.family import Family, Traits, config_from_arch
from llmselect.arch.spec import ArchSpec
from llmselect.errors import LLMSelectError
from llmselect.refmodels.gpt2 import read_gpt_style


def build_config(arch: ArchSpec) -> Any:
    """``BloomConfig`` from catalog numbers."""
    from llmselect.refmodels.bloom_model import BloomConfig

    if arch.kv_heads != arch.heads or arch.head_size * arch.heads != arch.hidden:
        raise LLMSelectError("bloom family needs kv_heads == heads, head_dim == hidden/heads")
    return config_from_arch(BloomConfig, arch)


# ArchSpec number → the config.json keys that may state it (BLOOM configs use both spellings).
HF_KEYS = {
    "hidden": ("hidden_size", "n_embed"),
    "heads": ("n_head", "num_attention_heads"),
    "layers": ("n_layer", "num_hidden_layers"),
    "vocab": ("vocab_size",),
}


def from_hf_config(cfg: Mapping[str, Any], where: str) -> ArchSpec:
    """``ArchSpec`` from a BLOOM ``config.json`` (the MLP is always 4·hidden)."""
    numbers = read_gpt_style(cfg, where, HF_KEYS)
    return ArchSpec(family="bloom", intermediate=4 * numbers["hidden"], **numbers)


FAMILY = Family(
    name="bloom",
    description="BLOOM: ALiBi, embedding LayerNorm, GELU MLP, biases (BloomForCausalLM)",
    traits=Traits(
        mlp="gelu", position="alibi", attention="biased", norm="layernorm", embedding_norm=True
    ),
    build_config=build_config,
    model="llmselect.refmodels.bloom_model:Bloom",
    hf_model_type="bloom",
    hf_config_types=frozenset({"bloom"}),
    from_hf_config=from_hf_config,
)
