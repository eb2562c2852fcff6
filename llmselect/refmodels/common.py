"""Pieces every reference decoder shares: norms, RoPE, ALiBi, masks, the KV cache, init.

Shape names used in comments: B batch, T new tokens in this call, S keys seen so far (cache
length after this call), H query heads, n_kv key/value heads, hd head size, D hidden size.

Attention runs through ``torch.nn.functional.scaled_dot_product_attention`` (SDPA): numerically
the same softmax(QK^T/sqrt(hd) + bias) V as the eager formula, but it picks the flash or
memory-efficient kernel on a GPU, so latency and memory numbers taken on these models match what
a serving stack would see rather than the eager O(T^2) score matrix.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from llmselect.errors import LLMSelectError

if TYPE_CHECKING:
    from collections.abc import Iterator

# ---------------------------------------------------------------------------------------------
# Norms and activations


class RMSNorm(nn.Module):
    """Root-mean-square norm as LLaMA uses it: normalise in fp32, cast back, then scale."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GELU, tanh approximation (GPT-2's ``gelu_new``; BLOOM's ``bloom_gelu`` is the same curve)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


# ---------------------------------------------------------------------------------------------
# Positions


def positions_from_mask(attention_mask: torch.Tensor | None, total: int, device: torch.device):
    """Position id of every key slot, (B or 1, S): pads are skipped, as ``generate()`` does.

    With left padding the first real token gets position 0; pad slots get 1 (never used, they
    are masked). Without a mask, positions are simply 0..S-1.
    """
    if attention_mask is None:
        return torch.arange(total, device=device).unsqueeze(0)  # (1, S)
    pos = attention_mask.long().cumsum(-1) - 1
    return pos.masked_fill(attention_mask == 0, 1)  # (B, S)


def rope_cos_sin(
    positions: torch.Tensor, rotary_dim: int, theta: float, interleaved: bool, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables for the given positions, (B, 1, T, rotary_dim), computed in fp32.

    ``interleaved=False`` (LLaMA): frequencies laid out as two halves [f0..fk, f0..fk].
    ``interleaved=True`` (GLM): each frequency repeated for a pair [f0, f0, f1, f1, ...].
    Computed per call from the positions, so nothing of size max_position is allocated.
    """
    inv_freq = 1.0 / (
        theta
        ** (torch.arange(0, rotary_dim, 2, device=positions.device, dtype=torch.float) / rotary_dim)
    )
    freqs = positions.float()[..., None] * inv_freq  # (B, T, rotary_dim / 2)
    if interleaved:
        angles = freqs.repeat_interleave(2, dim=-1)
    else:
        angles = torch.cat((freqs, freqs), dim=-1)  # (B, T, rotary_dim)
    return angles.cos().to(dtype)[:, None], angles.sin().to(dtype)[:, None]


def apply_rope(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, interleaved: bool
) -> torch.Tensor:
    """Rotate the first ``cos.shape[-1]`` features of x (B, heads, T, hd); the rest pass through.

    LLaMA rotates the pair (i, i + d/2); GLM rotates neighbouring pairs (2i, 2i + 1).
    """
    rotary_dim = cos.shape[-1]
    x_rot, x_pass = x[..., :rotary_dim], x[..., rotary_dim:]
    if interleaved:
        x_even, x_odd = x_rot[..., 0::2], x_rot[..., 1::2]
        rotated = torch.stack((-x_odd, x_even), dim=-1).flatten(-2)
    else:
        x1, x2 = x_rot.chunk(2, dim=-1)
        rotated = torch.cat((-x2, x1), dim=-1)
    return torch.cat((x_rot * cos + rotated * sin, x_pass), dim=-1)


def alibi_slopes(n_heads: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Per-head ALiBi slopes (H,): the geometric series of Press et al., with BLOOM's rule for
    head counts that are not a power of two (take every other slope of the next power)."""
    closest = 2 ** math.floor(math.log2(n_heads))
    base = 2.0 ** (-(2.0 ** -(math.log2(closest) - 3)))
    slopes = [base ** (i + 1) for i in range(closest)]
    if closest != n_heads:
        extra = 2.0 ** (-(2.0 ** -(math.log2(2 * closest) - 3)))
        slopes += [extra ** (2 * i + 1) for i in range(min(closest, n_heads - closest))]
    return torch.tensor(slopes, dtype=torch.float32, device=device)


# ---------------------------------------------------------------------------------------------
# Masks


def allowed_keys(
    attention_mask: torch.Tensor | None,
    q_len: int,
    total: int,
    device: torch.device,
    sliding_window: int | None = None,
) -> torch.Tensor | None:
    """Which keys each new query may see, bool (B or 1, 1, T, S); None means "plain causal".

    Query t sits at cache slot ``total - q_len + t``; it sees key slot s when s is not in the
    future, not padding, and (with a sliding window w) ``slot - s < w``, as Mistral does. A pad
    query row that would see nothing is allowed everything: its output is never used, and an
    all-masked row would turn into NaN that then leaks through the pad keys of the next layer.
    """
    past = total - q_len
    plain = attention_mask is None or bool(attention_mask.all())
    if plain and sliding_window is None and (past == 0 or q_len == 1):
        return None  # causal only: SDPA's is_causal (prefill) or no mask at all (decode)
    q_slot = torch.arange(past, total, device=device)[:, None]  # (T, 1)
    k_slot = torch.arange(total, device=device)[None, :]  # (1, S)
    allowed = k_slot <= q_slot  # (T, S)
    if sliding_window is not None:
        allowed = allowed & (q_slot - k_slot < sliding_window)
    allowed = allowed[None, None]  # (1, 1, T, S)
    if attention_mask is not None:
        allowed = allowed & attention_mask.bool()[:, None, None, :]  # (B, 1, T, S)
    return allowed | ~allowed.any(dim=-1, keepdim=True)


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    allowed: torch.Tensor | None,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """softmax(q k^T / sqrt(hd) + bias) v over the allowed keys.

    q (B, H, T, hd), k and v (B, n_kv, S, hd). Grouped-query attention: each of the n_kv
    key/value heads serves H / n_kv query heads.
    Returns (B, H, T, hd).
    """
    gqa = q.shape[1] != k.shape[1]
    if bias is not None:  # additive float mask (ALiBi): masked keys get -inf
        mask = bias if allowed is None else bias.masked_fill(~allowed, float("-inf"))
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask.to(q.dtype), enable_gqa=gqa)
    if allowed is None:
        causal = q.shape[2] > 1  # decoding one token: it may see every cached key
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=gqa)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, enable_gqa=gqa)


# ---------------------------------------------------------------------------------------------
# KV cache


class KVCache:
    """Keys and values of every layer for incremental decoding.

    Buffers are (B, n_kv, capacity, hd) per layer. ``model.new_cache(batch, max_len)`` allocates
    them up front (what a latency probe wants: no reallocation while decoding). A model called
    with ``cache=None`` creates an empty cache whose buffers are allocated on first use with
    exactly the prompt length; later calls grow them (capacity doubles), so decoding without
    pre-allocation works too, at the cost of a copy on each growth.
    """

    def __init__(
        self,
        layers: int,
        batch: int,
        kv_heads: int,
        head_dim: int,
        max_len: int = 0,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        self.batch, self.kv_heads, self.head_dim = batch, kv_heads, head_dim
        self.dtype, self.device = dtype, torch.device(device)
        self.length = 0  # tokens stored (same for every layer once a forward pass is complete)
        self.capacity = 0
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.layers = layers
        if max_len > 0:
            self._reserve(max_len)

    def _reserve(self, capacity: int) -> None:
        shape = (self.batch, self.kv_heads, capacity, self.head_dim)
        kw = {"dtype": self.dtype, "device": self.device}
        new_k = [torch.zeros(shape, **kw) for _ in range(self.layers)]  # type: ignore[arg-type]
        new_v = [torch.zeros(shape, **kw) for _ in range(self.layers)]  # type: ignore[arg-type]
        if self.capacity:  # growing: keep what is stored
            for old, new in zip((*self.keys, *self.values), (*new_k, *new_v), strict=True):
                new[:, :, : self.capacity] = old
        self.keys, self.values, self.capacity = new_k, new_v, capacity

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Append this call's k/v (B, n_kv, T, hd); return all keys/values (B, n_kv, S, hd)."""
        if k.shape[0] != self.batch:
            raise LLMSelectError(f"KV cache holds batch {self.batch}, got {k.shape[0]}")
        end = self.length + k.shape[2]
        if end > self.capacity:
            self._reserve(max(end, 2 * self.capacity))
        self.keys[layer][:, :, self.length : end] = k
        self.values[layer][:, :, self.length : end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def advance(self, n_tokens: int) -> None:
        """Called by the model once every layer has stored the new tokens."""
        self.length += n_tokens

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffers (capacity, not only the filled part)."""
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))


# ---------------------------------------------------------------------------------------------
# Model base: cache creation, argument checks, init


class DecoderLM(nn.Module):
    """What every reference decoder shares: the call contract, its cache, its init scheme."""

    family: str = ""
    n_layers: int
    n_kv_heads: int
    head_dim: int
    sliding_window: int | None = None

    def new_cache(self, batch: int, max_len: int = 0) -> KVCache:
        """An empty KV cache; ``max_len > 0`` pre-allocates room for that many tokens."""
        p = next(self.parameters())
        return KVCache(
            self.n_layers,
            batch,
            self.n_kv_heads,
            self.head_dim,
            max_len,
            dtype=p.dtype,
            device=p.device,
        )

    def _start(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        cache: KVCache | None,
    ) -> tuple[KVCache, int, int]:
        """Check the arguments; return (cache, T new tokens, S keys after this call)."""
        if input_ids.dim() != 2:
            raise LLMSelectError(f"input_ids must be (batch, tokens), got {tuple(input_ids.shape)}")
        batch, q_len = input_ids.shape
        cache = cache if cache is not None else self.new_cache(batch)
        total = cache.length + q_len
        if attention_mask is not None and tuple(attention_mask.shape) != (batch, total):
            raise LLMSelectError(
                f"attention_mask must be (batch, past + new tokens) = {(batch, total)}, "
                f"got {tuple(attention_mask.shape)}"
            )
        return cache, q_len, total

    def output_projections(self) -> Iterator[str]:
        """Names of the layers that write into the residual stream (scaled down at init)."""
        return iter(())

    @torch.no_grad()
    def init_weights(self, seed: int | None, *, tiled: bool = False) -> None:
        """GPT-2's scheme: N(0, 0.02) for matrices and embeddings, N(0, 0.02/sqrt(2L)) for the
        projections that write into the residual stream, zero biases, unit norm gains.

        ``tiled``: draw one block of ``TILE`` normal values and repeat it through every weight
        (scaled per tensor). Each weight still holds N(0, std) values (no zeros, no denormals),
        so dense kernels run exactly as fast and the memory is the same, but filling costs a
        memory copy instead of a random draw per parameter (seconds for a 350M model on CPU).
        Use it where only time and memory are measured, never where outputs matter.
        """
        gen = None
        device = next(self.parameters()).device
        if device.type == "meta":  # shapes only (e.g. for counting): nothing to fill
            return
        if seed is not None:
            gen = torch.Generator(device=device).manual_seed(seed)
        residual_std = 0.02 / math.sqrt(2 * self.n_layers)
        out_names = tuple(self.output_projections())
        tile = torch.randn(TILE, generator=gen, device=device) if tiled else None
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                std = residual_std if name.endswith(out_names) and out_names else 0.02
                if tile is None:
                    module.weight.normal_(0.0, std, generator=gen)
                else:
                    _fill_tiled(module.weight, tile, std)
            elif isinstance(module, nn.LayerNorm | RMSNorm):
                module.weight.fill_(1.0)
            bias = getattr(module, "bias", None)
            if isinstance(bias, torch.Tensor):
                bias.zero_()


TILE = 1 << 20  # values drawn once for a tiled init (4 MiB in fp32)


def _fill_tiled(weight: torch.Tensor, tile: torch.Tensor, std: float) -> None:
    """Fill ``weight`` with ``tile * std`` repeated (cast to the weight's dtype once)."""
    flat = weight.view(-1)
    block = (tile * std).to(weight.dtype)
    for start in range(0, flat.numel(), block.numel()):
        part = flat[start : start + block.numel()]
        part.copy_(block[: part.numel()])


def check_kv_heads(heads: int, kv_heads: int) -> None:
    """Query heads must split evenly over the key/value heads."""
    if kv_heads < 1 or heads % kv_heads:
        raise LLMSelectError(f"heads ({heads}) must be a multiple of kv_heads ({kv_heads})")
