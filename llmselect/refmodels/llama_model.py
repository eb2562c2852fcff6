"""LLaMA-style decoder: pre-RMSNorm, RoPE, SwiGLU, grouped-query attention.

Covers Llama-2/3, Mistral (sliding window), Qwen2 (QKV bias), Yi, InternLM2, Baichuan2-7B,
DeepSeek-LLM: they differ only in the numbers of ``LlamaConfig``. GLM (``glm.py``) reuses this
decoder with GLM's partial, interleaved rotary embedding.

    x = tok_emb(ids)
    for block: x = x + attn(attn_norm(x)); x = x + mlp(mlp_norm(x))
    logits = lm_head(final_norm(x))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llmselect.refmodels.common import (
    DecoderLM,
    KVCache,
    RMSNorm,
    allowed_keys,
    apply_rope,
    attend,
    check_kv_heads,
    positions_from_mask,
    rope_cos_sin,
)


@dataclass(frozen=True)
class LlamaConfig:
    """Numbers that define a LLaMA-style model (names follow the HF config in comments)."""

    vocab: int  # vocab_size (padded embedding rows)
    hidden: int  # hidden_size, D
    layers: int  # num_hidden_layers
    heads: int  # num_attention_heads, H
    kv_heads: int  # num_key_value_heads: H = MHA, 1 = MQA, in between = GQA
    head_dim: int  # hd, usually D / H
    intermediate: int  # intermediate_size of the SwiGLU MLP
    rope_theta: float = 10000.0
    rotary_dim: int | None = None  # features rotated per head; None = all of hd
    rope_interleaved: bool = False  # GLM rotates neighbouring pairs, LLaMA the two halves
    qkv_bias: bool = False  # Qwen2 and GLM: bias on q, k, v (never on the output proj)
    mlp_bias: bool = False
    tied_embeddings: bool = False
    norm_eps: float = 1e-5  # rms_norm_eps
    sliding_window: int | None = None  # Mistral: a query sees at most this many keys
    qk_norm: bool = False  # Qwen3: RMSNorm over hd on each head's q and k, before RoPE


class Attention(nn.Module):
    """Multi-head attention with RoPE and n_kv <= H key/value heads."""

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.wq = nn.Linear(cfg.hidden, cfg.heads * cfg.head_dim, bias=cfg.qkv_bias)
        self.wk = nn.Linear(cfg.hidden, cfg.kv_heads * cfg.head_dim, bias=cfg.qkv_bias)
        self.wv = nn.Linear(cfg.hidden, cfg.kv_heads * cfg.head_dim, bias=cfg.qkv_bias)
        self.wo = nn.Linear(cfg.heads * cfg.head_dim, cfg.hidden, bias=False)
        self.q_norm = RMSNorm(cfg.head_dim, cfg.norm_eps) if cfg.qk_norm else None
        self.k_norm = RMSNorm(cfg.head_dim, cfg.norm_eps) if cfg.qk_norm else None

    def forward(
        self,
        x: torch.Tensor,  # (B, T, D)
        rope: tuple[torch.Tensor, torch.Tensor],  # cos, sin: (B, 1, T, rotary_dim)
        allowed: torch.Tensor | None,  # (B, 1, T, S) or None = causal
        cache: KVCache,
        layer: int,
    ) -> torch.Tensor:
        cfg = self.cfg
        B, T, _ = x.shape
        q = self.wq(x).view(B, T, cfg.heads, cfg.head_dim)
        k = self.wk(x).view(B, T, cfg.kv_heads, cfg.head_dim)
        if self.q_norm is not None and self.k_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)  # per head, over hd
        q, k = q.transpose(1, 2), k.transpose(1, 2)  # (B, H, T, hd), (B, n_kv, T, hd)
        v = self.wv(x).view(B, T, cfg.kv_heads, cfg.head_dim).transpose(1, 2)  # (B, n_kv, T, hd)
        cos, sin = rope
        q = apply_rope(q, cos, sin, cfg.rope_interleaved)
        k = apply_rope(k, cos, sin, cfg.rope_interleaved)
        k, v = cache.update(layer, k, v)  # (B, n_kv, S, hd)
        y = attend(q, k, v, allowed)  # (B, H, T, hd)
        return self.wo(y.transpose(1, 2).reshape(B, T, cfg.heads * cfg.head_dim))


class SwiGLU(nn.Module):
    """down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.w_gate = nn.Linear(cfg.hidden, cfg.intermediate, bias=cfg.mlp_bias)
        self.w_up = nn.Linear(cfg.hidden, cfg.intermediate, bias=cfg.mlp_bias)
        self.w_down = nn.Linear(cfg.intermediate, cfg.hidden, bias=cfg.mlp_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_down(F.silu(self.w_gate(x)) * self.w_up(x))


class Block(nn.Module):
    """Pre-norm residual block."""

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.hidden, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.hidden, cfg.norm_eps)
        self.mlp = SwiGLU(cfg)

    def forward(self, x, rope, allowed, cache, layer):  # type: ignore[no-untyped-def]
        x = x + self.attn(self.attn_norm(x), rope, allowed, cache, layer)
        return x + self.mlp(self.mlp_norm(x))


class Transformer(DecoderLM):
    """LLaMA-style decoder LM. ``forward`` returns (logits (B, T, V), cache)."""

    family = "llama"

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        check_kv_heads(cfg.heads, cfg.kv_heads)
        self.cfg = cfg
        self.n_layers, self.n_kv_heads, self.head_dim = cfg.layers, cfg.kv_heads, cfg.head_dim
        self.sliding_window = cfg.sliding_window
        self.tok_emb = nn.Embedding(cfg.vocab, cfg.hidden)
        self.blocks = nn.ModuleList(self.make_block(cfg, i) for i in range(cfg.layers))
        self.final_norm = RMSNorm(cfg.hidden, cfg.norm_eps)
        # Tied models reuse tok_emb.weight for the output; no second matrix exists.
        self.lm_head = None if cfg.tied_embeddings else nn.Linear(cfg.hidden, cfg.vocab, bias=False)

    def make_block(self, cfg: LlamaConfig, layer: int) -> nn.Module:
        """Block ``layer``; families that vary the block per layer (MoE) override this."""
        return Block(cfg)

    def output_projections(self) -> Iterator[str]:
        return iter(("attn.wo", "mlp.w_down"))

    def forward(
        self,
        input_ids: torch.Tensor,  # (B, T)
        attention_mask: torch.Tensor | None = None,  # (B, S), 1 = token, 0 = padding
        cache: KVCache | None = None,
        logits_to_keep: int = 0,  # > 0: logits of the last positions only
    ) -> tuple[torch.Tensor, KVCache]:
        cache, T, S = self._start(input_ids, attention_mask, cache)
        cfg = self.cfg
        x = self.tok_emb(input_ids)  # (B, T, D)
        positions = positions_from_mask(attention_mask, S, x.device)[:, S - T :]  # (B, T)
        rope = rope_cos_sin(
            positions, cfg.rotary_dim or cfg.head_dim, cfg.rope_theta, cfg.rope_interleaved, x.dtype
        )
        allowed = allowed_keys(attention_mask, T, S, x.device, cfg.sliding_window)
        for i, block in enumerate(self.blocks):
            x = block(x, rope, allowed, cache, i)
        cache.advance(T)
        x = self.final_norm(x)
        head = self.tok_emb.weight if self.lm_head is None else self.lm_head.weight
        if logits_to_keep:
            x = x[:, -logits_to_keep:]  # serving needs the next token only: (B, keep, D)
        return F.linear(x, head), cache  # (B, T or keep, V)


# ---------------------------------------------------------------------------------------------
# Hugging Face weight names -> ours


# HF tensor name → [(our name, rows of the HF tensor)], [] = unknown, None = not kept.
NameMapper = Callable[[str, "LlamaConfig"], "list[tuple[str, slice | None]] | None"]


# Per-layer norm and attention names of transformers' LLaMA-style decoders -> ours; the MoE
# family's converter shares them (only its MLP names differ).
HF_ATTENTION_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "mlp_norm.weight",
    "self_attn.q_proj.weight": "attn.wq.weight",
    "self_attn.q_proj.bias": "attn.wq.bias",
    "self_attn.k_proj.weight": "attn.wk.weight",
    "self_attn.k_proj.bias": "attn.wk.bias",
    "self_attn.v_proj.weight": "attn.wv.weight",
    "self_attn.v_proj.bias": "attn.wv.bias",
    "self_attn.o_proj.weight": "attn.wo.weight",
    "self_attn.q_norm.weight": "attn.q_norm.weight",
    "self_attn.k_norm.weight": "attn.k_norm.weight",
}


def map_hf_name(name: str, cfg: LlamaConfig) -> list[tuple[str, slice | None]] | None:
    """Our parameter name(s) for one HF ``LlamaForCausalLM`` tensor; None = not a weight we keep.

    Returns ``[(our_name, rows)]``: ``rows`` selects a slice of the HF tensor along dim 0 (used
    by fused checkpoints); None takes it whole.
    """
    if name.endswith("rotary_emb.inv_freq"):
        return None  # a buffer recomputed from rope_theta
    name = name.removeprefix("model.")
    simple = {
        "embed_tokens.weight": "tok_emb.weight",
        "norm.weight": "final_norm.weight",
        "lm_head.weight": "lm_head.weight",
    }
    if name in simple:
        if name == "lm_head.weight" and cfg.tied_embeddings:
            return None  # same matrix as the embedding
        return [(simple[name], None)]
    if not name.startswith("layers."):
        return []
    _, idx, rest = name.split(".", 2)
    per_layer = {
        **HF_ATTENTION_NAMES,
        "mlp.gate_proj.weight": "mlp.w_gate.weight",
        "mlp.gate_proj.bias": "mlp.w_gate.bias",
        "mlp.up_proj.weight": "mlp.w_up.weight",
        "mlp.up_proj.bias": "mlp.w_up.bias",
        "mlp.down_proj.weight": "mlp.w_down.weight",
        "mlp.down_proj.bias": "mlp.w_down.bias",
    }
    if rest in per_layer:
        return [(f"blocks.{idx}.{per_layer[rest]}", None)]
    # Baichuan: q, k, v stacked along the output rows. (Baichuan2 also L2-normalises the rows of
    # lm_head at inference, "NormHead": normalise that tensor before loading a Baichuan2 model.)
    if rest == "self_attn.W_pack.weight":
        q_rows = cfg.heads * cfg.head_dim
        kv_rows = cfg.kv_heads * cfg.head_dim
        return [
            (f"blocks.{idx}.attn.wq.weight", slice(0, q_rows)),
            (f"blocks.{idx}.attn.wk.weight", slice(q_rows, q_rows + kv_rows)),
            (f"blocks.{idx}.attn.wv.weight", slice(q_rows + kv_rows, q_rows + 2 * kv_rows)),
        ]
    return []


def convert_hf_state_dict(
    hf: dict[str, torch.Tensor], cfg: LlamaConfig, map_name: NameMapper | None = None
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """HF tensors renamed to ours; also returns the HF names we could not place.

    ``map_name`` (default: this family's ``map_hf_name``) lets GLM reuse the loop with its names.
    """
    map_name = map_name or map_hf_name
    ours: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for name, tensor in hf.items():
        targets = map_name(name, cfg)
        if targets is None:
            continue
        if not targets:
            unknown.append(name)
        for our_name, rows in targets:
            ours[our_name] = tensor if rows is None else tensor[rows]
    return ours, unknown
