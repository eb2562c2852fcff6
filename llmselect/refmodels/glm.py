"""Family ``glm``: ChatGLM2/3 and GLM-4 (LLaMA layout with partial, interleaved RoPE).

The PyTorch model is ``glm_model.py`` (the LLaMA decoder with GLM's weight names); this file is
what the rest of llmselect reads about the family, importable without torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from llmselect.arch.family import Family
from llmselect.arch.readers import need
from llmselect.arch.spec import ArchSpec
from llmselect.refmodels import llama


def build_config(arch: ArchSpec) -> Any:
    """``LlamaConfig`` with GLM's interleaved rotary layout."""
    return llama.build_config(arch, rope_interleaved=True)


def from_hf_config(cfg: Mapping[str, Any], where: str) -> ArchSpec:
    """``ArchSpec`` from a ChatGLM2/3 or GLM-4 (remote-code) ``config.json``."""
    mt = str(cfg.get("model_type") or "").lower()
    src = f"{where} (model_type {mt})"
    heads = int(need(cfg, where, "num_attention_heads"))
    mqa = bool(cfg.get("multi_query_attention", False))
    return ArchSpec(
        family="glm",
        hidden=int(need(cfg, where, "hidden_size")),
        layers=int(need(cfg, where, "num_layers")),
        heads=heads,
        kv_heads=int(cfg.get("multi_query_group_num", 1)) if mqa else heads,
        intermediate=int(need(cfg, where, "ffn_hidden_size")),
        vocab=int(need(cfg, where, "padded_vocab_size")),
        max_position=cfg.get("seq_length"),
        rope_theta=10000.0 * float(cfg.get("rope_ratio", 1.0)),
        rope_fraction=0.5,
        qkv_bias=bool(cfg.get("add_qkv_bias", False)),
        norm_eps=float(cfg.get("layernorm_epsilon", 1e-5)),
        source=src,
    )


FAMILY = Family(
    name="glm",
    description="GLM: LLaMA layout with partial interleaved RoPE and multi-query groups",
    traits=replace(llama.TRAITS, fused_qkv=True),
    build_config=build_config,
    model="llmselect.refmodels.glm_model:GLMTransformer",
    converter="llmselect.refmodels.glm_model:convert_hf_state_dict",
    hf_model_type="glm",
    hf_config_types=frozenset({"chatglm"}),
    from_hf_config=from_hf_config,
    gguf_architectures=frozenset({"chatglm"}),
)
