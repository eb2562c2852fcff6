"""GPT-2-style decoder: learned absolute positions, LayerNorm, GELU MLP, biases, tied embeddings.

    x = tok_emb(ids) + pos_emb(positions)
    pre-LN (GPT-2):        x = x + attn(ln_1(x));  x = x + mlp(ln_2(x));  then ln_f
    post-LN (Vaswani et al. 2017, option): x = ln_1(x + attn(x));  x = ln_2(x + mlp(x)); no ln_f

Positions come from the attention mask, so a left-padded row numbers its first real token 0,
as ``generate()`` does.

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
    allowed_keys,
    attend,
    gelu_tanh,
    positions_from_mask,
)


@dataclass(frozen=True)
class GPT2Config:
    """Numbers that define a GPT-2-style model (HF names in comments)."""

    vocab: int  # vocab_size
    hidden: int  # n_embd, D
    layers: int  # n_layer
    heads: int  # n_head, H
    intermediate: int  # n_inner, 4 * D in GPT-2
    max_position: int  # n_positions: rows of the learned position table
    tied_embeddings: bool = True
    norm_eps: float = 1e-5  # layer_norm_epsilon
    post_ln: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


class Attention(nn.Module):
    """Multi-head causal self-attention with biases (separate q, k, v; HF fuses them)."""

    def __init__(self, cfg: GPT2Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.wq = nn.Linear(cfg.hidden, cfg.hidden)
        self.wk = nn.Linear(cfg.hidden, cfg.hidden)
        self.wv = nn.Linear(cfg.hidden, cfg.hidden)
        self.wo = nn.Linear(cfg.hidden, cfg.hidden)

    def forward(self, x, allowed, cache: KVCache, layer: int) -> torch.Tensor:  # type: ignore[no-untyped-def]
        B, T, D = x.shape
        H, hd = self.cfg.heads, self.cfg.head_dim
        q = self.wq(x).view(B, T, H, hd).transpose(1, 2)  # (B, H, T, hd)
        k = self.wk(x).view(B, T, H, hd).transpose(1, 2)
        v = self.wv(x).view(B, T, H, hd).transpose(1, 2)
        k, v = cache.update(layer, k, v)  # (B, H, S, hd)
        y = attend(q, k, v, allowed)  # (B, H, T, hd)
        return self.wo(y.transpose(1, 2).reshape(B, T, D))


class MLP(nn.Module):
    """w_out(gelu_tanh(w_in(x)))."""

    def __init__(self, cfg: GPT2Config) -> None:
        super().__init__()
        self.w_in = nn.Linear(cfg.hidden, cfg.intermediate)
        self.w_out = nn.Linear(cfg.intermediate, cfg.hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_out(gelu_tanh(self.w_in(x)))


class Block(nn.Module):
    """Residual block, pre-LN or post-LN."""

    def __init__(self, cfg: GPT2Config) -> None:
        super().__init__()
        self.post_ln = cfg.post_ln
        self.ln_1 = nn.LayerNorm(cfg.hidden, eps=cfg.norm_eps)
        self.attn = Attention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.hidden, eps=cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, allowed, cache, layer):  # type: ignore[no-untyped-def]
        if self.post_ln:
            x = self.ln_1(x + self.attn(x, allowed, cache, layer))
            return self.ln_2(x + self.mlp(x))
        x = x + self.attn(self.ln_1(x), allowed, cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT2(DecoderLM):
    """GPT-2-style decoder LM. ``forward`` returns (logits (B, T, V), cache)."""

    family = "gpt2"

    def __init__(self, cfg: GPT2Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.n_layers, self.n_kv_heads, self.head_dim = cfg.layers, cfg.heads, cfg.head_dim
        self.tok_emb = nn.Embedding(cfg.vocab, cfg.hidden)
        self.pos_emb = nn.Embedding(cfg.max_position, cfg.hidden)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        # Post-LN already ends every block with a norm; pre-LN needs a final one.
        self.ln_f = None if cfg.post_ln else nn.LayerNorm(cfg.hidden, eps=cfg.norm_eps)
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
        positions = positions_from_mask(attention_mask, S, input_ids.device)[:, S - T :]  # (B, T)
        x = self.tok_emb(input_ids) + self.pos_emb(positions)  # (B, T, D)
        allowed = allowed_keys(attention_mask, T, S, x.device)
        for i, block in enumerate(self.blocks):
            x = block(x, allowed, cache, i)
        cache.advance(T)
        if self.ln_f is not None:
            x = self.ln_f(x)
        head = self.tok_emb.weight if self.lm_head is None else self.lm_head.weight
        if logits_to_keep:
            x = x[:, -logits_to_keep:]  # serving needs the next token only: (B, keep, D)
        return F.linear(x, head), cache  # (B, T or keep, V)


# ---------------------------------------------------------------------------------------------
# Hugging Face weight names -> ours

_LAYER = {
    "ln_1.weight": "ln_1.weight",
    "ln_1.bias": "ln_1.bias",
    "ln_2.weight": "ln_2.weight",
    "ln_2.bias": "ln_2.bias",
    "attn.c_proj.weight": "attn.wo.weight",
    "attn.c_proj.bias": "attn.wo.bias",
    "mlp.c_fc.weight": "mlp.w_in.weight",
    "mlp.c_fc.bias": "mlp.w_in.bias",
    "mlp.c_proj.weight": "mlp.w_out.weight",
    "mlp.c_proj.bias": "mlp.w_out.bias",
}


def convert_hf_state_dict(
    hf: dict[str, torch.Tensor], cfg: GPT2Config
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """HF ``GPT2LMHeadModel`` (or bare ``GPT2Model``) tensors renamed to ours.

    HF stores GPT-2 matrices as ``Conv1D`` weights, (in, out): they are transposed to
    ``nn.Linear``'s (out, in). ``c_attn`` holds q, k, v side by side and is split in three.
    The causal-mask buffers (``attn.bias``, ``attn.masked_bias``) of old checkpoints are skipped.
    """
    ours: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    D = cfg.hidden
    for name, tensor in hf.items():
        short = name.removeprefix("transformer.")
        if short in ("wte.weight", "wpe.weight"):
            ours[{"wte.weight": "tok_emb.weight", "wpe.weight": "pos_emb.weight"}[short]] = tensor
        elif short.startswith("ln_f."):
            ours[short] = tensor
        elif short == "lm_head.weight":
            if not cfg.tied_embeddings:
                ours["lm_head.weight"] = tensor
        elif short.startswith("h."):
            _, idx, rest = short.split(".", 2)
            prefix = f"blocks.{idx}."
            if rest in ("attn.bias", "attn.masked_bias"):
                continue
            if rest.startswith("attn.c_attn."):
                kind = rest.rsplit(".", 1)[1]  # weight (D, 3D) or bias (3D,)
                parts = tensor.split(D, dim=-1)
                for proj, part in zip(("wq", "wk", "wv"), parts, strict=True):
                    ours[f"{prefix}attn.{proj}.{kind}"] = part.t() if kind == "weight" else part
            elif rest in _LAYER:
                conv_weight = rest.endswith(".weight") and not rest.startswith("ln_")
                ours[prefix + _LAYER[rest]] = tensor.t() if conv_weight else tensor
            else:
                unknown.append(name)
        else:
            unknown.append(name)
    return ours, unknown
