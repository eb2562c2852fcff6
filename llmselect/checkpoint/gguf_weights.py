"""GGUF weights as a transformers-named fp32 state dict, dequantized with the ``gguf`` package.

llama.cpp's converter renames tensors (``blk.N.attn_q.weight``) and, for the ``llama``
architecture only, permutes the rows of the query and key projections so that rotary pairs are
interleaved; this module renames them back and undoes that permutation, so the result loads
into ``llmselect.refmodels`` through the same path as a safetensors checkpoint
(``load_hf_state_dict``). Each tensor is dequantized from a memory map, one at a time.
"""

from __future__ import annotations

import mmap
import re
from typing import TYPE_CHECKING, Any

from llmselect.errors import LLMSelectError

if TYPE_CHECKING:
    import torch

    from llmselect.formats.gguf_file import GGUFFile

_LAYER = re.compile(r"^blk\.(\d+)\.(.+)$")
# GGUF → transformers (LlamaForCausalLM / Qwen2ForCausalLM) names.
_TOP = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
_BLOCK = {
    "attn_norm.weight": "input_layernorm.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "attn_q.bias": "self_attn.q_proj.bias",
    "attn_k.bias": "self_attn.k_proj.bias",
    "attn_v.bias": "self_attn.v_proj.bias",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
SUPPORTED = ("llama", "qwen2")


def hf_name(gguf_name: str) -> str | None:
    """The transformers name of a llama-style GGUF tensor (None if it has no counterpart)."""
    if gguf_name in _TOP:
        return _TOP[gguf_name]
    m = _LAYER.match(gguf_name)
    if m and m.group(2) in _BLOCK:
        return f"model.layers.{m.group(1)}.{_BLOCK[m.group(2)]}"
    return None


def unpermute_rows(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Undo llama.cpp's q/k row permutation: per head, rows (pairs interleaved) → (two halves)."""
    rows = w.shape[0]
    return (
        w.reshape(n_heads, rows // n_heads // 2, 2, *w.shape[1:]).transpose(1, 2).reshape(w.shape)
    )


def dequantize_tensor(buf: Any, data_offset: int, t: Any) -> Any:
    """One tensor as a float32 numpy array in (outer … ne0) order."""
    import numpy as np
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize

    raw = np.frombuffer(buf, dtype=np.uint8, count=t.n_bytes, offset=data_offset + t.offset)
    shape = tuple(reversed(t.shape))  # numpy order: ne0 last
    if t.ggml_type == "F32":
        return raw.view(np.float32).reshape(shape).copy()
    if t.ggml_type == "F16":
        return raw.view(np.float16).reshape(shape).astype(np.float32)
    rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    out = dequantize(raw.reshape(rows, -1), GGMLQuantizationType[t.ggml_type])
    return np.asarray(out, dtype=np.float32).reshape(shape)


def load_gguf_state_dict(gguf: GGUFFile) -> dict[str, torch.Tensor]:
    """Every weight of a llama/qwen2 GGUF as fp32 torch tensors under transformers names."""
    import torch

    arch_name = gguf.architecture
    if arch_name not in SUPPORTED:
        raise LLMSelectError(
            f"{gguf.path.name}: loading {arch_name!r} GGUF weights is not supported "
            f"(supported: {', '.join(SUPPORTED)})"
        )
    heads = int(gguf.arch_key("attention.head_count"))
    kv_heads = int(gguf.arch_key("attention.head_count_kv") or heads)
    permuted = arch_name == "llama"  # convert_hf_to_gguf permutes q/k for LlamaModel only
    out: dict[str, torch.Tensor] = {}
    with gguf.path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        for t in gguf.tensors:
            name = hf_name(t.name)
            if name is None:
                if t.name.startswith("rope_freqs"):
                    raise LLMSelectError(
                        f"{gguf.path.name}: rope_freqs (RoPE scaling) not supported"
                    )
                raise LLMSelectError(f"{gguf.path.name}: unrecognised tensor {t.name}")
            w = torch.from_numpy(dequantize_tensor(buf, gguf.data_offset, t))
            if permuted and t.name.endswith("attn_q.weight"):
                w = unpermute_rows(w, heads)
            elif permuted and t.name.endswith("attn_k.weight"):
                w = unpermute_rows(w, kv_heads)
            out[name] = w
    return out
