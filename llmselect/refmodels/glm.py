"""Family ``glm``: ChatGLM2/3 and GLM-4 (LLaMA layout with partial, interleaved RoPE).

The PyTorch model is ``glm_model.py`` (the LLaMA decoder with GLM's weight names); this file is
what the rest of llmselect reads about the family, importable without torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from llmselect.arch.family import Family
from llmselect.arch.readers import hf_source, need_ints
from llmselect.arch.spec import ArchSpec
from llmselect.refmodels import llama


def build_config(arch: ArchSpec) -> Any:
    """``LlamaConfig`` with GLM's interleaved rotary layout."""
    return llama.build_config(arch, rope_interleaved=True)


# ArchSpec number → the config.json key that states it (ChatGLM's own names).
HF_KEYS = {
    "heads": ("num_attention_heads",),
    "hidden": ("hidden_size",),
    "layers": ("num_layers",),
    "intermediate": ("ffn_hidden_size",),
    "vocab": ("padded_vocab_size",),
}


def from_hf_config(cfg: Mapping[str, Any], where: str) -> ArchSpec:
    """``ArchSpec`` from a ChatGLM2/3 or GLM-4 (remote-code) ``config.json``."""
    stated = need_ints(cfg, where, HF_KEYS)
    mqa = bool(cfg.get("multi_query_attention", False))
    return ArchSpec(
        family="glm",
        **stated,
        kv_heads=int(cfg.get("multi_query_group_num", 1)) if mqa else stated["heads"],
        max_position=cfg.get("seq_length"),
        rope_theta=10000.0 * float(cfg.get("rope_ratio", 1.0)),
        rope_fraction=0.5,
        qkv_bias=bool(cfg.get("add_qkv_bias", False)),
        norm_eps=float(cfg.get("layernorm_epsilon", 1e-5)),
        source=hf_source(cfg, where),
    )


FAMILY = Family(
    name="glm",
    description="GLM: LLaMA layout with partial interleaved RoPE and multi-query groups",
    traits=replace(llama.TRAITS, fused_qkv=True),
    build_config=build_config,
    model="llmselect.refmodels.glm_model:GLMTransformer",
    hf_model_type="glm",
    hf_config_types=frozenset({"chatglm"}),
    from_hf_config=from_hf_config,
)
