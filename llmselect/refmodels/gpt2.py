"""Family ``gpt2``: GPT-2 (learned positions, LayerNorm, GELU MLP, biases, pre- or post-LN).

The PyTorch model is ``gpt2_model.py``; this file is what the rest of llmselect reads about the
family (traits, config builder, parameter count), importable without torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmselect.arch.family import Family, Traits, config_from_arch
from llmselect.arch.readers import hf_source, need_ints
from llmselect.arch.spec import ArchSpec
from llmselect.errors import LLMSelectError


def build_config(arch: ArchSpec) -> Any:
    """``GPT2Config`` from catalog numbers."""
    from llmselect.refmodels.gpt2_model import GPT2Config

    if arch.max_position is None:
        raise LLMSelectError("gpt2 family needs arch.max_position (learned position table)")
    if arch.kv_heads != arch.heads or arch.head_size * arch.heads != arch.hidden:
        raise LLMSelectError("gpt2 family needs kv_heads == heads and head_dim == hidden/heads")
    return config_from_arch(GPT2Config, arch)


# ArchSpec number → the config.json key that states it.
HF_KEYS = {
    "hidden": ("n_embd",),
    "layers": ("n_layer",),
    "heads": ("n_head",),
    "vocab": ("vocab_size",),
    "max_position": ("n_positions",),
}


def read_gpt_style(
    cfg: Mapping[str, Any], where: str, keys: Mapping[str, tuple[str, ...]]
) -> dict[str, Any]:
    """``ArchSpec`` numbers of a config.json in GPT-2's style (GPT-2, BLOOM): those ``keys``
    states, one KV head per query head, tied embeddings, biases on every projection."""
    stated = need_ints(cfg, where, keys)
    return dict(
        stated,
        kv_heads=stated["heads"],
        tied_embeddings=True,
        qkv_bias=True,
        mlp_bias=True,
        norm_eps=float(cfg.get("layer_norm_epsilon", 1e-5)),
        source=hf_source(cfg, where),
    )


def from_hf_config(cfg: Mapping[str, Any], where: str) -> ArchSpec:
    """``ArchSpec`` from a GPT-2 ``config.json`` (``n_inner`` null: 4·hidden)."""
    numbers = read_gpt_style(cfg, where, HF_KEYS)
    intermediate = int(cfg.get("n_inner") or 4 * numbers["hidden"])
    return ArchSpec(family="gpt2", intermediate=intermediate, **numbers)


FAMILY = Family(
    name="gpt2",
    description="GPT-2: learned positions, LayerNorm, GELU MLP, biases (GPT2LMHeadModel)",
    traits=Traits(mlp="gelu", position="learned", attention="biased", norm="layernorm"),
    build_config=build_config,
    model="llmselect.refmodels.gpt2_model:GPT2",
    hf_model_type="gpt2",
    hf_config_types=frozenset({"gpt2"}),
    from_hf_config=from_hf_config,
)
