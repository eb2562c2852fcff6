"""GLM-style decoder (ChatGLM2/3, GLM-4): the LLaMA decoder with GLM's rotary embedding.

What differs from LLaMA, exactly as transformers' ``GlmForCausalLM`` (and THUDM's original
``modeling_chatglm.py``) compute it:

* RoPE touches only the first ``rope_fraction * head_dim`` features of each head (0.5 for GLM),
  and rotates *neighbouring* pairs (2i, 2i + 1) instead of the two halves;
* few key/value groups (``multi_query_group_num`` = 2): grouped-query attention;
* bias on the fused QKV projection only (``add_qkv_bias``), none on the MLP or output;
* checkpoints fuse gate and up of the SwiGLU into one ``gate_up_proj`` (gate rows first), and
  the original ChatGLM checkpoints also fuse q, k, v into ``query_key_value``.

The decoder itself lives in ``llama.py``; this module supplies the config and the weight
mapping for both checkpoint layouts. ChatGLM's ``rope_ratio`` scales the base: set
``ArchSpec.rope_theta`` to ``10000 * rope_ratio`` (e.g. 500000 for ChatGLM3-6B-32K's ratio 50).
"""

from __future__ import annotations

import torch

from llmselect.refmodels.llama_model import LlamaConfig, Transformer
from llmselect.refmodels.llama_model import convert_hf_state_dict as convert_llama_state_dict
from llmselect.refmodels.llama_model import map_hf_name as map_llama_name


class GLMTransformer(Transformer):
    """LLaMA decoder configured with GLM's partial interleaved rotary embedding."""

    family = "glm"


def glm_config(**numbers: object) -> LlamaConfig:
    """A LlamaConfig with GLM's rotary layout; ``rotary_dim`` must be given (head_dim / 2)."""
    return LlamaConfig(rope_interleaved=True, **numbers)  # type: ignore[arg-type]


def _split_rows(cfg: LlamaConfig, what: str) -> list[tuple[str, slice]]:
    """Row slices of a fused GLM matrix: ``qkv`` -> q, k, v; ``gate_up`` -> gate, up."""
    if what == "gate_up":
        n = cfg.intermediate
        return [("mlp.w_gate", slice(0, n)), ("mlp.w_up", slice(n, 2 * n))]
    q_rows, kv_rows = cfg.heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim
    return [
        ("attn.wq", slice(0, q_rows)),
        ("attn.wk", slice(q_rows, q_rows + kv_rows)),
        ("attn.wv", slice(q_rows + kv_rows, q_rows + 2 * kv_rows)),
    ]


# Original THUDM ChatGLM2/3 / GLM-4 (trust_remote_code) names, per layer, -> (ours, fused kind).
_CHATGLM_LAYER = {
    "input_layernorm.weight": ("attn_norm.weight", None),
    "post_attention_layernorm.weight": ("mlp_norm.weight", None),
    "self_attention.query_key_value.weight": ("weight", "qkv"),
    "self_attention.query_key_value.bias": ("bias", "qkv"),
    "self_attention.dense.weight": ("attn.wo.weight", None),
    "mlp.dense_h_to_4h.weight": ("weight", "gate_up"),
    "mlp.dense_4h_to_h.weight": ("mlp.w_down.weight", None),
}


def map_hf_name(name: str, cfg: LlamaConfig) -> list[tuple[str, slice | None]] | None:
    """Our name(s) for one tensor of a ``GlmForCausalLM`` or original ChatGLM checkpoint."""
    if name.endswith(("rotary_emb.inv_freq", "rotary_pos_emb.inv_freq")):
        return None
    if name.startswith("transformer."):  # original ChatGLM layout
        rest = name.removeprefix("transformer.")
        simple = {
            "embedding.word_embeddings.weight": "tok_emb.weight",
            "encoder.final_layernorm.weight": "final_norm.weight",
            "output_layer.weight": "lm_head.weight",
        }
        if rest in simple:
            return [(simple[rest], None)]
        if not rest.startswith("encoder.layers."):
            return []
        _, _, idx, tail = rest.split(".", 3)
        if tail not in _CHATGLM_LAYER:
            return []
        ours, fused = _CHATGLM_LAYER[tail]
        if fused is None:
            return [(f"blocks.{idx}.{ours}", None)]
        return [(f"blocks.{idx}.{mod}.{ours}", rows) for mod, rows in _split_rows(cfg, fused)]
    # transformers' GlmForCausalLM: LLaMA names, except the fused MLP input
    if name.endswith("mlp.gate_up_proj.weight"):
        idx = name.removeprefix("model.").split(".")[1]
        return [(f"blocks.{idx}.{mod}.weight", rows) for mod, rows in _split_rows(cfg, "gate_up")]
    return map_llama_name(name, cfg)


def convert_hf_state_dict(
    hf: dict[str, torch.Tensor], cfg: LlamaConfig
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """HF/ChatGLM tensors renamed (and unfused) to ours; also the names we could not place."""
    return convert_llama_state_dict(hf, cfg, map_name=map_hf_name)
