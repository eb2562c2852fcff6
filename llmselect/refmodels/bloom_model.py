"""BLOOM-style decoder: ALiBi attention bias, LayerNorm after the embedding, GELU MLP, biases.

    x = emb_norm(tok_emb(ids))                       # no position embedding at all
    for block: x = x + attn(ln_1(x)) ; x = x + mlp(ln_2(x))
    logits = tok_emb.weight @ ln_f(x)               # tied

ALiBi adds ``slope_h * position(key)`` to every attention score of head h. Because softmax
ignores a constant added to a whole row, this equals the paper's ``-slope_h * (q - k)``. The
key positions are counted over real tokens only (``BloomModel.build_alibi_tensor``), so a
left-padded row scores exactly like the same row without padding.

Self-contained on purpose, as nanoGPT's ``model.py`` is: the attention and MLP blocks repeat
what the other family files hold in their own form, so this file reads on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llmselect.refmodels.common import (
    DecoderLM,
    KVCache,
    alibi_slopes,
    allowed_keys,
    attend,
    gelu_tanh,
)


@dataclass(frozen=True)
class BloomConfig:
    """Numbers that define a BLOOM-style model (HF names in comments)."""

    vocab: int  # vocab_size
    hidden: int  # hidden_size (n_embed), D
    layers: int  # n_layer
    heads: int  # n_head, H
    intermediate: int  # 4 * D in every BLOOM
    tied_embeddings: bool = True
    norm_eps: float = 1e-5  # layer_norm_epsilon

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


class Attention(nn.Module):
    """Multi-head attention whose positional signal is the ALiBi bias passed in."""

    def __init__(self, cfg: BloomConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.wq = nn.Linear(cfg.hidden, cfg.hidden)
        self.wk = nn.Linear(cfg.hidden, cfg.hidden)
        self.wv = nn.Linear(cfg.hidden, cfg.hidden)
        self.wo = nn.Linear(cfg.hidden, cfg.hidden)

    def forward(self, x, alibi, allowed, cache: KVCache, layer: int) -> torch.Tensor:  # type: ignore[no-untyped-def]
        B, T, D = x.shape
        H, hd = self.cfg.heads, self.cfg.head_dim
        q = self.wq(x).view(B, T, H, hd).transpose(1, 2)  # (B, H, T, hd)
        k = self.wk(x).view(B, T, H, hd).transpose(1, 2)
        v = self.wv(x).view(B, T, H, hd).transpose(1, 2)
        k, v = cache.update(layer, k, v)  # (B, H, S, hd)
        y = attend(q, k, v, allowed, bias=alibi)  # (B, H, T, hd)
        return self.wo(y.transpose(1, 2).reshape(B, T, D))


class MLP(nn.Module):
    """w_out(gelu_tanh(w_in(x)))."""

    def __init__(self, cfg: BloomConfig) -> None:
        super().__init__()
        self.w_in = nn.Linear(cfg.hidden, cfg.intermediate)
        self.w_out = nn.Linear(cfg.intermediate, cfg.hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_out(gelu_tanh(self.w_in(x)))


class Block(nn.Module):
    """Pre-LN residual block."""

    def __init__(self, cfg: BloomConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.hidden, eps=cfg.norm_eps)
        self.attn = Attention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.hidden, eps=cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, alibi, allowed, cache, layer):  # type: ignore[no-untyped-def]
        x = x + self.attn(self.ln_1(x), alibi, allowed, cache, layer)
        return x + self.mlp(self.ln_2(x))


class Bloom(DecoderLM):
    """BLOOM-style decoder LM. ``forward`` returns (logits (B, T, V), cache)."""

    family = "bloom"

    def __init__(self, cfg: BloomConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.n_layers, self.n_kv_heads, self.head_dim = cfg.layers, cfg.heads, cfg.head_dim
        self.tok_emb = nn.Embedding(cfg.vocab, cfg.hidden)
        self.emb_norm = nn.LayerNorm(cfg.hidden, eps=cfg.norm_eps)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.hidden, eps=cfg.norm_eps)
        self.lm_head = None if cfg.tied_embeddings else nn.Linear(cfg.hidden, cfg.vocab, bias=False)

    def output_projections(self) -> Iterator[str]:
        return iter(("attn.wo", "mlp.w_out"))

    def forward(
        self,
        input_ids: torch.Tensor,  # (B, T)
        attention_mask: torch.Tensor | None = None,  # (B, S)
        cache: KVCache | None = None,
        logits_to_keep: int = 0,  # > 0: logits of the last positions only
    ) -> tuple[torch.Tensor, KVCache]:
        cache, T, S = self._start(input_ids, attention_mask, cache)
        x = self.emb_norm(self.tok_emb(input_ids))  # (B, T, D)
        # key positions counted over real tokens: (B or 1, S)
        if attention_mask is None:
            key_pos = torch.arange(S, device=x.device)[None]
        else:
            key_pos = (attention_mask.long().cumsum(-1) - 1) * attention_mask.long()
        slopes = alibi_slopes(self.cfg.heads, x.device)  # (H,)
        alibi = slopes[None, :, None, None] * key_pos[:, None, None, :].float()  # (B, H, 1, S)
        alibi = alibi.to(x.dtype)  # BLOOM adds the bias in the model dtype
        allowed = allowed_keys(attention_mask, T, S, x.device)
        if allowed is None and T > 1:  # the bias path needs the causal mask spelled out
            allowed = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(S - T)[None, None]
        for i, block in enumerate(self.blocks):
            x = block(x, alibi, allowed, cache, i)
        cache.advance(T)
        x = self.ln_f(x)
        head = self.tok_emb.weight if self.lm_head is None else self.lm_head.weight
        if logits_to_keep:
            x = x[:, -logits_to_keep:]  # serving needs the next token only: (B, keep, D)
        return F.linear(x, head), cache  # (B, T or keep, V)


# ---------------------------------------------------------------------------------------------
# Hugging Face weight names -> ours

_LAYER = {
    "input_layernorm.weight": "ln_1.weight",
    "input_layernorm.bias": "ln_1.bias",
    "post_attention_layernorm.weight": "ln_2.weight",
    "post_attention_layernorm.bias": "ln_2.bias",
    "self_attention.dense.weight": "attn.wo.weight",
    "self_attention.dense.bias": "attn.wo.bias",
    "mlp.dense_h_to_4h.weight": "mlp.w_in.weight",
    "mlp.dense_h_to_4h.bias": "mlp.w_in.bias",
    "mlp.dense_4h_to_h.weight": "mlp.w_out.weight",
    "mlp.dense_4h_to_h.bias": "mlp.w_out.bias",
}
_TOP = {
    "word_embeddings.weight": "tok_emb.weight",
    "word_embeddings_layernorm.weight": "emb_norm.weight",
    "word_embeddings_layernorm.bias": "emb_norm.bias",
    "ln_f.weight": "ln_f.weight",
    "ln_f.bias": "ln_f.bias",
}


def split_fused_qkv(tensor: torch.Tensor, cfg: BloomConfig) -> tuple[torch.Tensor, ...]:
    """BLOOM's ``query_key_value`` rows are grouped per head: [q_h0, k_h0, v_h0, q_h1, ...].

    weight (3D, D) -> view (H, 3, hd, D) -> q, k, v each (D, D); bias likewise without D.
    """
    H, hd = cfg.heads, cfg.head_dim
    grouped = tensor.reshape(H, 3, hd, *tensor.shape[1:])
    return tuple(grouped[:, i].reshape(H * hd, *tensor.shape[1:]) for i in range(3))


def convert_hf_state_dict(
    hf: dict[str, torch.Tensor], cfg: BloomConfig
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """HF ``BloomForCausalLM`` (or bare ``BloomModel``) tensors renamed to ours."""
    ours: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for name, tensor in hf.items():
        short = name.removeprefix("transformer.")
        if short in _TOP:
            ours[_TOP[short]] = tensor
        elif short == "lm_head.weight":
            if not cfg.tied_embeddings:
                ours["lm_head.weight"] = tensor
        elif short.startswith("h."):
            _, idx, rest = short.split(".", 2)
            prefix = f"blocks.{idx}."
            if rest.startswith("self_attention.query_key_value."):
                kind = rest.rsplit(".", 1)[1]
                q_k_v = split_fused_qkv(tensor, cfg)
                for proj, part in zip(("wq", "wk", "wv"), q_k_v, strict=True):
                    ours[f"{prefix}attn.{proj}.{kind}"] = part
            elif rest in _LAYER:
                ours[prefix + _LAYER[rest]] = tensor
            else:
                unknown.append(name)
        else:
            unknown.append(name)
    return ours, unknown
