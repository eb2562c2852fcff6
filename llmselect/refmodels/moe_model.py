"""PyTorch model of family ``moe`` (Mixtral, Qwen1.5-MoE/Qwen2-MoE, Qwen3-MoE): LLaMA attention
with a sparse MLP.

    x = tok_emb(ids)
    for block: x = x + attn(attn_norm(x)); x = x + mlp(mlp_norm(x))
    logits = lm_head(final_norm(x))

where ``mlp`` is the dense SwiGLU in the first ``dense_layers`` blocks (and off the
``layer_step`` grid), otherwise a sparse MoE block, as transformers computes it:

    p = softmax(router(x))                       # (N, E), fp32
    w, e = topk(p, k)                            # the k experts of each token
    w = w / w.sum() if norm_topk_prob            # Mixtral, Qwen3-MoE; Qwen1.5-MoE keeps p
    y = sum_j w_j * expert_{e_j}(x)              # each expert a SwiGLU of width I_e
    y += sigmoid(shared_gate(x)) * shared(x)     # Qwen-MoE's always-on shared expert

Expert weights are stacked per block, (E, I_e, D) for gate and up and (E, D, I_e) for down, and
each expert runs over only the tokens routed to it. The attention (with Qwen3's QK-norm) and
the dense SwiGLU are ``llama_model.py``'s; this file holds only what MoE adds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llmselect.refmodels.common import (
    TILE,
    RMSNorm,
    _fill_tiled,
)
from llmselect.refmodels.llama_model import (
    HF_ATTENTION_NAMES,
    Attention,
    LlamaConfig,
    SwiGLU,
    Transformer,
)


@dataclass(frozen=True)
class MoEConfig(LlamaConfig):
    """LlamaConfig plus the sparse MLP (HF names in comments)."""

    experts: int = 8  # num_local_experts / num_experts
    experts_per_token: int = 2  # num_experts_per_tok
    expert_intermediate: int = 0  # moe_intermediate_size (Mixtral: intermediate_size)
    shared_intermediate: int = 0  # shared_expert_intermediate_size; 0 = no shared expert
    shared_expert_gate: bool = False  # Qwen-MoE's sigmoid gate on the shared expert
    norm_topk_prob: bool = True
    dense_layers: int = 0  # leading blocks with the dense MLP
    layer_step: int = 1  # decoder_sparse_step

    def is_moe_layer(self, layer: int) -> bool:
        """Same rule as ``llmselect.arch.params.is_moe_layer``."""
        if layer < self.dense_layers:
            return False
        return (layer - self.dense_layers + 1) % self.layer_step == 0


class SparseMoE(nn.Module):
    """Top-k routed SwiGLU experts, plus an optional (gated) shared expert."""

    def __init__(self, cfg: MoEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        E, I, D = cfg.experts, cfg.expert_intermediate, cfg.hidden  # noqa: E741
        self.router = nn.Linear(D, E, bias=False)
        self.w_gate = nn.Parameter(torch.empty(E, I, D))  # expert e: gate(x) = x @ w_gate[e].T
        self.w_up = nn.Parameter(torch.empty(E, I, D))
        self.w_down = nn.Parameter(torch.empty(E, D, I))
        self.shared = None
        if cfg.shared_intermediate:
            self.shared = SwiGLU(_dense(cfg, cfg.shared_intermediate))
        self.shared_gate = nn.Linear(D, 1, bias=False) if cfg.shared_expert_gate else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        B, T, D = x.shape
        flat = x.reshape(-1, D)  # (N, D)
        probs = F.softmax(self.router(flat), dim=-1, dtype=torch.float)  # (N, E)
        weights, chosen = torch.topk(probs, cfg.experts_per_token, dim=-1)  # (N, k)
        if cfg.norm_topk_prob:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        weights = weights.to(x.dtype)
        out = torch.zeros_like(flat)
        for e in chosen.unique().tolist():  # only the experts some token was sent to
            token, slot = torch.where(chosen == e)
            h = flat[token]  # (n_e, D)
            y = F.linear(
                F.silu(F.linear(h, self.w_gate[e])) * F.linear(h, self.w_up[e]), self.w_down[e]
            )
            out.index_add_(0, token, y * weights[token, slot, None])
        if self.shared is not None:
            shared = self.shared(flat)
            if self.shared_gate is not None:
                shared = torch.sigmoid(self.shared_gate(flat)) * shared
            out = out + shared
        return out.view(B, T, D)


def _dense(cfg: MoEConfig, inner: int) -> LlamaConfig:
    """A LlamaConfig for a dense SwiGLU of width ``inner`` (dense blocks, the shared expert)."""
    return LlamaConfig(
        vocab=cfg.vocab,
        hidden=cfg.hidden,
        layers=cfg.layers,
        heads=cfg.heads,
        kv_heads=cfg.kv_heads,
        head_dim=cfg.head_dim,
        intermediate=inner,
    )


class Block(nn.Module):
    """Pre-norm residual block with a dense or sparse MLP."""

    def __init__(self, cfg: MoEConfig, layer: int) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.hidden, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.hidden, cfg.norm_eps)
        self.mlp: nn.Module = (
            SparseMoE(cfg) if cfg.is_moe_layer(layer) else SwiGLU(_dense(cfg, cfg.intermediate))
        )

    def forward(self, x, rope, allowed, cache, layer):  # type: ignore[no-untyped-def]
        x = x + self.attn(self.attn_norm(x), rope, allowed, cache, layer)
        return x + self.mlp(self.mlp_norm(x))


class MoETransformer(Transformer):
    """LLaMA decoder whose blocks carry a sparse MLP. ``forward`` is the LLaMA one."""

    family = "moe"

    def make_block(self, cfg: LlamaConfig, layer: int) -> nn.Module:
        assert isinstance(cfg, MoEConfig)
        return Block(cfg, layer)

    @torch.no_grad()
    def init_weights(self, seed: int | None, *, tiled: bool = False) -> None:
        """The base scheme, plus the stacked expert matrices (not nn.Linear modules)."""
        super().init_weights(seed, tiled=tiled)
        device = next(self.parameters()).device
        if device.type == "meta":
            return
        gen = torch.Generator(device=device).manual_seed(seed + 1) if seed is not None else None
        tile = torch.randn(TILE, generator=gen, device=device) if tiled else None
        residual_std = 0.02 / (2 * self.n_layers) ** 0.5
        for name, p in self.named_parameters():
            if not name.endswith(("mlp.w_gate", "mlp.w_up", "mlp.w_down")):
                continue
            std = residual_std if name.endswith("w_down") else 0.02
            if tile is None:
                p.normal_(0.0, std, generator=gen)
            else:
                _fill_tiled(p, tile, std)


# ---------------------------------------------------------------------------------------------
# Hugging Face weight names -> ours (Mixtral, Qwen2-MoE, Qwen3-MoE; per-expert or fused experts)

_DENSE = {"gate_proj": "w_gate", "up_proj": "w_up", "down_proj": "w_down"}
# Mixtral's block_sparse_moe experts: w1 = gate, w3 = up, w2 = down.
_EXPERT = {"gate_proj": "w_gate", "up_proj": "w_up", "down_proj": "w_down", "w1": "w_gate",
           "w3": "w_up", "w2": "w_down"}  # fmt: skip
_PER_EXPERT = re.compile(r"(?:mlp|block_sparse_moe)\.experts\.(\d+)\.(\w+)\.weight")


def convert_hf_state_dict(
    hf: dict[str, torch.Tensor], cfg: MoEConfig
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """HF tensors renamed to ours (experts stacked); also returns the HF names not placed."""
    ours: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    experts: dict[tuple[str, str], dict[int, torch.Tensor]] = {}
    for name, tensor in hf.items():
        key = name.removeprefix("model.")
        if key.endswith("rotary_emb.inv_freq"):
            continue
        simple = {"embed_tokens.weight": "tok_emb.weight", "norm.weight": "final_norm.weight"}
        if key in simple:
            ours[simple[key]] = tensor
            continue
        if key == "lm_head.weight":
            if not cfg.tied_embeddings:
                ours["lm_head.weight"] = tensor
            continue
        m = re.fullmatch(r"layers\.(\d+)\.(.+)", key)
        if m is None:
            unknown.append(name)
            continue
        idx, rest = m.groups()
        prefix = f"blocks.{idx}."
        if rest in HF_ATTENTION_NAMES:
            ours[prefix + HF_ATTENTION_NAMES[rest]] = tensor
        elif (e := _PER_EXPERT.fullmatch(rest)) and e.group(2) in _EXPERT:
            experts.setdefault((idx, _EXPERT[e.group(2)]), {})[int(e.group(1))] = tensor
        elif rest in ("mlp.gate.weight", "block_sparse_moe.gate.weight"):
            ours[prefix + "mlp.router.weight"] = tensor
        elif rest == "mlp.experts.gate_up_proj":  # fused (E, 2 I_e, D): gate rows first
            gate, up = tensor.chunk(2, dim=1)
            ours[prefix + "mlp.w_gate"], ours[prefix + "mlp.w_up"] = gate, up
        elif rest == "mlp.experts.down_proj":  # fused (E, D, I_e)
            ours[prefix + "mlp.w_down"] = tensor
        elif (s := re.fullmatch(r"mlp\.shared_expert\.(\w+)\.weight", rest)) and s[1] in _DENSE:
            ours[prefix + f"mlp.shared.{_DENSE[s[1]]}.weight"] = tensor
        elif rest == "mlp.shared_expert_gate.weight":
            ours[prefix + "mlp.shared_gate.weight"] = tensor
        elif (d := re.fullmatch(r"mlp\.(\w+)\.weight", rest)) and d[1] in _DENSE:
            ours[prefix + f"mlp.{_DENSE[d[1]]}.weight"] = tensor  # dense block
        else:
            unknown.append(name)
    for (idx, ours_name), by_expert in experts.items():
        ours[f"blocks.{idx}.mlp.{ours_name}"] = torch.stack(
            [by_expert[e] for e in sorted(by_expert)]
        )
    return ours, unknown
