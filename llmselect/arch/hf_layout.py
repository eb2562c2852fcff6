"""The transformers model with a catalog ``ArchSpec``'s layout, built on the meta device.

The catalog's exact parameter counts (``params_exact``) are computed here: the architecture
numbers go into the transformers config class of the checkpoint's ``model_type`` and the model is
instantiated on the meta device (shapes only, no storage), so the count is what the publisher's
own modelling code holds. ``scripts/count_params.py`` writes the counts; the catalog tests rebuild
them. Checkpoints whose modelling code exists only as remote code are built with the transformers
class that has the same modules (named in ``LAYOUT_TWINS`` with the reason).

Imports transformers and torch lazily: only scripts and tests call this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmselect.arch.family import NO_REFERENCE, family
from llmselect.errors import LLMSelectError

if TYPE_CHECKING:
    from llmselect.arch.spec import ArchSpec

# Remote-code checkpoints → the transformers class with the same parameter tensors, and why.
LAYOUT_TWINS: dict[str, tuple[str, str]] = {
    "internlm3": (
        "llama",
        "InternLM3 modelling code (remote) has Llama's modules; with qkv_bias and bias false it "
        "adds no bias tensors",
    ),
    "internlm2": ("llama", "InternLM2 fuses q/k/v into wqkv (no bias): the same tensor sizes"),
    "baichuan": ("llama", "Baichuan fuses q/k/v into W_pack (no bias): the same tensor sizes"),
    "minicpm": ("llama", "MiniCPM modelling code (remote) is Llama's plus scalar scales"),
    "qwen": ("qwen2", "Qwen-1 c_attn is q/k/v with bias and c_proj without: Qwen2's tensors"),
    "internlm": (
        "llama",
        "InternLM (v1) modelling code (remote) is Llama's with bias on q, k, v and o "
        "(Llama's attention_bias)",
    ),
    "chatglm": ("glm", "ChatGLM2/3 and GLM-4 (remote code) have the tensors of transformers' Glm"),
    "yi": ("llama", "Yi is published as a Llama checkpoint"),
}


@dataclass(frozen=True)
class HFCount:
    """Parameters of the transformers model built for an ``ArchSpec``."""

    total: int
    model_class: str
    transformers_version: str


def _model_type(arch: ArchSpec) -> str:
    mt = arch.model_type
    if mt == "chatglm" and arch.family != "glm":
        raise LLMSelectError("ChatGLM-6B (v1) has a GLM-130B layout that transformers lacks")
    if mt in LAYOUT_TWINS:
        mt = LAYOUT_TWINS[mt][0]
    if mt is None and arch.family != NO_REFERENCE:
        mt = family(arch.family).hf_model_type
    if arch.model_type == "internlm":
        return "llama-all-bias"
    if mt == "llama" and arch.qkv_bias and not arch.mlp_bias:
        mt = "qwen2"  # bias on q, k and v only: Qwen2's layout (Llama's bias flag adds o_proj's)
    if mt is None:
        raise LLMSelectError(
            f"no transformers layout for family {arch.family!r} without model_type"
        )
    return mt


# transformers config keyword → the ArchSpec attribute it takes. GPT-2 (and GPT-J) and BLOOM
# configs name the sizes as GPT-2 does; the other config classes as LlamaConfig does.
_EVERY_CONFIG = {"vocab_size": "vocab", "tie_word_embeddings": "tied_embeddings"}
_GPT2_SIZES = {
    "n_embd": "hidden",
    "n_layer": "layers",
    "n_head": "heads",
    "n_inner": "intermediate",
    "n_positions": "max_position",
}
_BLOOM_SIZES = {"hidden_size": "hidden", "n_layer": "layers", "n_head": "heads"}
_DECODER_SIZES = {
    "hidden_size": "hidden",
    "num_hidden_layers": "layers",
    "num_attention_heads": "heads",
    "num_key_value_heads": "kv_heads",
    "intermediate_size": "intermediate",
    "head_dim": "head_size",
}
# Qwen-MoE and DeepSeek-style MoE keyword → the MoESpec attribute it takes.
_QWEN_MOE = {
    "num_experts": "experts",
    "num_experts_per_tok": "experts_per_token",
    "moe_intermediate_size": "expert_intermediate",
    "decoder_sparse_step": "layer_step",
}
_DEEPSEEK_MOE = {
    "n_routed_experts": "experts",
    "num_experts_per_tok": "experts_per_token",
    "moe_intermediate_size": "expert_intermediate",
    "n_shared_experts": "shared_experts",
    "first_k_dense_replace": "dense_layers",
}


def _keywords(numbers: object, names: dict[str, str]) -> dict[str, Any]:
    """Config keywords (``names``: keyword → attribute) with the values ``numbers`` holds."""
    return {keyword: getattr(numbers, attribute) for keyword, attribute in names.items()}


def hf_config_kwargs(arch: ArchSpec) -> tuple[str, dict[str, Any]]:
    """The transformers ``model_type`` and the config keywords that fix every tensor shape."""
    mt = _model_type(arch)
    if mt in ("gpt2", "gptj"):  # GPT-J's config takes GPT-2's keyword names
        return mt, _keywords(arch, _GPT2_SIZES | _EVERY_CONFIG)
    if mt == "bloom":
        return mt, _keywords(arch, _BLOOM_SIZES | _EVERY_CONFIG)
    kw = _keywords(arch, _DECODER_SIZES | _EVERY_CONFIG)
    if mt == "llama-all-bias":
        mt = "llama"
        kw.update(attention_bias=True, mlp_bias=arch.mlp_bias)
    elif mt in ("llama", "mistral"):
        kw.update(attention_bias=arch.qkv_bias, mlp_bias=arch.mlp_bias)
        if mt == "mistral":
            kw.pop("mlp_bias")
    elif mt in ("qwen3", "glm", "glm4"):
        kw.update(attention_bias=arch.qkv_bias)
        if mt != "qwen3":
            kw.update(partial_rotary_factor=arch.rope_fraction)
    elif mt in ("gemma", "gemma2", "gemma3_text", "phi3", "qwen2"):
        pass
    elif mt == "mixtral":
        moe = _need_moe(arch)
        kw.update(num_local_experts=moe.experts, num_experts_per_tok=moe.experts_per_token)
        kw["intermediate_size"] = moe.expert_intermediate
    elif mt == "qwen3_moe":
        moe = _need_moe(arch)
        kw.update(attention_bias=arch.qkv_bias, **_keywords(moe, _QWEN_MOE))
        kw.update(mlp_only_layers=list(range(moe.dense_layers)))
    elif mt == "glm4_moe":
        moe = _need_moe(arch)
        kw.update(
            attention_bias=arch.qkv_bias,
            use_qk_norm=arch.qk_norm,
            partial_rotary_factor=arch.rope_fraction,
            **_deepseek_moe(moe),
        )
    elif mt == "minicpm3":  # dense MLA; value heads are hidden / heads wide, as in the config
        kw.update(_mla(arch))
        kw.pop("head_dim")
    elif mt in ("deepseek_v2", "deepseek_v3"):
        kw.update(_mla(arch))
        kw.pop("head_dim")
        if arch.moe is not None:
            kw.update(_deepseek_moe(arch.moe))
        else:  # a dense MLA model: every layer keeps the dense MLP
            kw.update(first_k_dense_replace=arch.layers, n_routed_experts=1, n_shared_experts=1)
    else:
        raise LLMSelectError(f"no transformers layout for model_type {arch.model_type!r}")
    return mt, kw


def _need_moe(arch: ArchSpec):  # type: ignore[no-untyped-def]
    if arch.moe is None:
        raise LLMSelectError(f"model_type {arch.model_type!r} needs the arch's moe numbers")
    return arch.moe


def _deepseek_moe(moe) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    shared = moe.shared_intermediate
    if (
        moe.shared_experts
        and shared is not None
        and shared != moe.shared_experts * (moe.expert_intermediate)
    ):
        raise LLMSelectError("DeepSeek-style shared experts are expert-sized")
    return {**_keywords(moe, _DEEPSEEK_MOE), "n_group": 1, "topk_group": 1}


def _mla(arch: ArchSpec) -> dict[str, Any]:
    if arch.mla is None:
        raise LLMSelectError(f"model_type {arch.model_type!r} needs the arch's mla numbers")
    return arch.mla.model_dump()  # MLASpec's fields are the DeepSeek config keywords


def build_meta_model(arch: ArchSpec):  # type: ignore[no-untyped-def]
    """The transformers causal-LM for ``arch`` on the meta device (no weights allocated)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    model_type, kw = hf_config_kwargs(arch)
    # Special-token ids do not shape any tensor; a class default can exceed a smaller vocab.
    config = AutoConfig.for_model(model_type, pad_token_id=None, **kw)
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def count_hf_params(arch: ArchSpec) -> HFCount:
    """Exact parameter count of the transformers model with ``arch``'s layout."""
    import transformers

    model = build_meta_model(arch)
    total = sum(p.numel() for p in model.parameters())
    return HFCount(total, type(model).__name__, transformers.__version__)
