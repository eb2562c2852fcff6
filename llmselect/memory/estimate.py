"""Analytic memory estimate for running a decoder LLM: weights, KV cache, activations, overhead.

Pure Python (no torch import): the recommender sizes models with it, and the
``reference_latency`` probe stores every estimate next to the matching measurement.

What is counted, per device, all in bytes:

* **weights**: parameters (``llmselect.arch.count.count_params``) × bytes per weight. For
  ``int8``/``int4`` only the linear layers inside the blocks are quantized (with their fp16 scales
  and zero points, see ``dtypes``); embeddings, the LM head and norms stay in fp16. llama.cpp
  file types (``q4_k_m``, ``q8_0``, ...) are sized tensor by tensor with llama.cpp's recipe
  (``ggml_quant``); a given GGUF file's weights are its exact tensor bytes (``weights_bytes``).
* **KV cache**: ``2 · layers · kv_heads · head_dim · context · batch · bytes`` with
  ``context = prompt + new tokens`` (capped by a sliding window on the layers that slide:
  all, or all but every ``sliding_window_pattern``-th). GQA/MQA shrink it through
  ``kv_heads``; latent attention (DeepSeek MLA) caches ``kv_lora_rank + qk_rope_head_dim``
  per token and layer instead.
* Mixture-of-experts models hold every expert (quantized like any block linear); a decode
  step reads only the experts a token is routed to (``bytes_read_per_decode_token``).
* **activations**: the largest transient above weights + KV during the prefill, which is the
  larger of (a) one block's working set: the residual stream plus the MLP intermediate (three
  ``(B, T, I)`` tensors for a gated MLP, two otherwise), and attention scores ``(B, H, T, T)``
  only when the attention kernel materializes them; and (b) the LM head: the final hidden state
  plus logits ``(B, T, V)`` in the compute dtype and their fp32 copy. Decode steps (T = 1) are
  small; their KV cache at the full context is covered by the KV term. On the CPU the term is
  counted twice (``CPU_HEAP_RETENTION``): glibc's malloc raises its mmap threshold to the size
  of each mmapped block it frees (up to 32 MiB), so after the first prefill transients are freed
  the later ones come from the heap, which keeps their pages; the process peak then holds the
  prefill working set about twice. This is the leftover that grew with the prompt (SmolLM2-135M
  at 2,048 tokens: 762 MiB measured with glibc's default, 715 MiB with a fixed 128 KiB mmap
  threshold, 711 MiB estimated with the working set once; see
  ``reports/perf/2026-12-06-cpu-long-prompts``).
* **overhead**: a constant for the runtime: on CUDA the context plus cuBLAS/allocator
  reservations, on CPU the allocator and thread-pool footprint. The constants are calibrated
  against the measured sweeps in ``reports/perf/`` (see ``CALIBRATION``), once per device kind,
  never per model.

Tensor parallelism (``tp > 1``, Megatron-style) splits attention heads, KV heads, the MLP and
the vocabulary (embedding/LM head) across devices; norms and the residual stream are replicated.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from llmselect.errors import LLMSelectError
from llmselect.memory.dtypes import DType, compute_dtype, parse_dtype

if TYPE_CHECKING:
    from llmselect.arch.family import Traits
    from llmselect.arch.sizing import Sizing

MIB = 1024**2
GIB = 1024**3

# Runtime overhead constants, MiB: one number per device kind, never per model, so the
# estimator stays a formula. How each was chosen is in CALIBRATION.
CUDA_OVERHEAD_MIB = 520.0
CPU_OVERHEAD_MIB = 63.0
CALIBRATION = (
    "CPU: what the measuring worker (fp32, 1 pinned thread, last-position prefill logits) "
    "needs beyond weights, KV cache and activations, as an increase over its loaded runtime "
    "(peak RSS during prefill + decode minus RSS after imports: the number the estimate is "
    "compared with, not the process total, whose runtime part is 254-256 MiB of torch and "
    "llmselect, 274 MiB with transformers and gguf for a checkpoint). 63 MiB is the median of "
    "that residual at bs=1, seq=128 for the smaller model of each family (gpt2:124m 65.4, "
    "bloom:560m 58.4, llama:0.5b 63.1 MiB); held out: gpt2:355m, llama:0.5b at bs=2, seq=256 "
    "and the real SmolLM2-135M Q4_1 GGUF through our decoder (seq 32 and 128) are within 1.4 %, "
    "gpt2:124m at bs=2, seq=256 at -5.7 % (residual 99 MiB: a gap left in its activations). "
    "Measured 2026-12-02 on an AMD EPYC, 2 cores, torch 2.13.0+cpu, by "
    "benchmarks/calibrate_cpu_overhead.py, which reruns it (reports/perf/2026-12-02-cpu-"
    "calibration). It was 114 MiB, calibrated on the worker before it pinned threads. "
    "It was fitted with the prefill working set counted once; the second copy the CPU estimate "
    "now adds (CPU_HEAP_RETENTION) is 3-16 MiB at those 128-token points, and the constant was "
    "kept: reports/perf/2026-12-06-cpu-long-prompts checks both together, within 3 % from 32 "
    "to 2,048 tokens for SmolLM2-135M and llama:0.5b. "
    "CUDA: 520 MiB is a prior for the CUDA context plus "
    "cuBLAS workspace of torch 2.x, not yet checked on a GPU here; the GPU sweep records the "
    "context it measures (cuda_context_mib, NVML) to replace it."
)
# How many times the CPU process peak holds the prefill working set (see the module docstring:
# glibc's heap keeps the pages of transients freed after its mmap threshold rose).
CPU_HEAP_RETENTION = 2
# Megatron-style TP keeps communication buffers per device (NCCL); a documented constant.
TP_COMM_OVERHEAD_MIB = 256.0


class ArchLike(Protocol):
    """The fields of ``llmselect.arch.spec.ArchSpec`` this module reads."""

    family: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    tied_embeddings: bool
    sliding_window: int | None

    @property
    def head_size(self) -> int: ...


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per device for one (model, dtype, batch, prompt, new tokens, tp) point."""

    weights_bytes: int
    kv_cache_bytes: int
    activation_bytes: int
    overhead_bytes: int
    dtype: str
    kv_dtype: str
    batch: int
    seq: int
    new_tokens: int
    tp: int
    device: str
    params_total: int
    notes: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        """Estimated peak per device."""
        return (
            self.weights_bytes + self.kv_cache_bytes + self.activation_bytes + self.overhead_bytes
        )

    @property
    def total_mib(self) -> float:
        return self.total_bytes / MIB

    def as_mib(self) -> dict[str, float]:
        """The parts and the total in MiB."""
        return {
            "weights_mib": self.weights_bytes / MIB,
            "kv_cache_mib": self.kv_cache_bytes / MIB,
            "activations_mib": self.activation_bytes / MIB,
            "overhead_mib": self.overhead_bytes / MIB,
            "peak_mib": self.total_mib,
        }

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(self.as_mib())
        d["total_bytes"] = self.total_bytes
        return d


def _params_total(arch: ArchLike) -> int:
    from llmselect.arch.count import count_params

    return int(count_params(arch).total)  # type: ignore[arg-type]


def traits(arch: ArchLike) -> Traits:
    """The layout traits of the model's family (``other``: the common modern decoder)."""
    from llmselect.arch.family import traits_of

    return traits_of(arch.family)


def is_gated(arch: ArchLike) -> bool:
    """Whether the MLP has a gate (SwiGLU: three matrices) rather than two (GELU)."""
    return traits(arch).mlp == "swiglu"


def layer_linear_shapes(arch: ArchLike, layer: int) -> list[tuple[int, int]]:
    """(in_features, out_features) of every linear layer in block ``layer`` (MoE: every
    expert; the router stays in the unquantized rest, as GPTQ/AWQ MoE checkpoints keep it)."""
    from llmselect.arch.params import attention_linear_shapes, mlp_linear_shapes

    arch_ = arch  # type: Any
    return attention_linear_shapes(arch_) + mlp_linear_shapes(arch_, layer)


def block_linear_shapes(arch: ArchLike) -> list[tuple[int, int]]:
    """(in_features, out_features) of every linear layer in the first block."""
    return layer_linear_shapes(arch, 0)


def _quantized_bytes(shapes: list[tuple[int, int]], dt: DType) -> tuple[float, int]:
    """(bytes in ``dt`` with its scales, weight count) of a list of matrices."""
    count = sum(i * o for i, o in shapes)
    return sum(i * o * dt.bytes_per_weight(in_features=i) for i, o in shapes), count


def _block_bytes(arch: ArchLike, layer: int, dt: DType) -> tuple[float, int]:
    """``_quantized_bytes(layer_linear_shapes(arch, layer), dt)``, with the routed experts of
    a MoE block (all the same shape) sized once and multiplied by their number."""
    from llmselect.arch.params import (
        attention_linear_shapes,
        gated_mlp_shapes,
        is_moe_layer,
        shared_intermediate,
    )

    arch_: Any = arch
    if traits(arch).mlp == "gelu" or not is_moe_layer(arch_, layer):
        return _quantized_bytes(layer_linear_shapes(arch, layer), dt)
    moe = arch_.moe
    shared = shared_intermediate(arch_)
    rest = attention_linear_shapes(arch_) + (
        gated_mlp_shapes(arch.hidden, shared) if shared else []
    )
    b, n = _quantized_bytes(rest, dt)
    eb, en = _quantized_bytes(gated_mlp_shapes(arch.hidden, moe.expert_intermediate), dt)
    return b + moe.experts * eb, n + moe.experts * en


def _linear_bytes(arch: ArchLike, dt: DType) -> tuple[float, int, float, int]:
    """Block linears in ``dt``: (all bytes, all count, inactive-expert bytes, inactive count).

    Inactive = the routed experts one token does not use, per MoE block. Blocks come in two
    kinds (dense MLP, MoE MLP), so each kind is sized once and multiplied by its count.
    """
    from llmselect.arch.params import gated_mlp_shapes, is_moe_layer

    arch_: Any = arch
    moe_idx = [i for i in range(arch.layers) if is_moe_layer(arch_, i)] if arch_.moe else []
    sparse = set(moe_idx)
    first_dense = next((i for i in range(arch.layers) if i not in sparse), None)
    n_dense = arch.layers - len(moe_idx)
    q_bytes, q_count = 0.0, 0
    for first, n in ((first_dense, n_dense), (moe_idx[0] if moe_idx else None, len(moe_idx))):
        if first is not None and n:
            b, c = _block_bytes(arch, first, dt)
            q_bytes, q_count = q_bytes + b * n, q_count + c * n
    idle_bytes, idle_count = 0.0, 0
    moe = getattr(arch, "moe", None)
    if moe is not None and moe_idx:
        b, c = _quantized_bytes(gated_mlp_shapes(arch.hidden, moe.expert_intermediate), dt)
        idle = (moe.experts - moe.experts_per_token) * len(moe_idx)
        idle_bytes, idle_count = b * idle, c * idle
    return q_bytes, q_count, idle_bytes, idle_count


def weight_bytes(
    arch: ArchLike,
    dtype: DType | str,
    *,
    tp: int = 1,
    params_total: int | None = None,
    active_only: bool = False,
    sizing: Sizing | None = None,
) -> int:
    """Bytes of the weights on one device.

    ``active_only``: only what one decode step reads (MoE: the routed experts a token is sent
    to, not all of them). With a ``sizing`` (a config read by transformers), the counts come
    from it: every block matrix is quantized for int8/int4, the rest stays fp16.
    """
    dt = parse_dtype(dtype) if isinstance(dtype, str) else dtype
    if sizing is not None:
        return _sizing_weight_bytes(sizing, dt, tp=tp, active_only=active_only)
    total = params_total if params_total is not None else _params_total(arch)
    if not dt.quantized:
        if active_only:
            _, _, _, idle = _linear_bytes(arch, dt)
            total -= idle
        return math.ceil(total * dt.element_bytes / tp)
    # Quantized: block linears (attention, MLP, every expert) in the quantized format with
    # their scales; embeddings, LM head, norms, routers and biases in fp16.
    q_bytes, q_count, idle_bytes, idle_count = _linear_bytes(arch, dt)
    rest = max(total - q_count, 0) * 2
    if active_only:
        q_bytes -= idle_bytes
    return math.ceil((q_bytes + rest) / tp)


def _sizing_weight_bytes(sizing: Sizing, dt: DType, *, tp: int, active_only: bool) -> int:
    """``weight_bytes`` from a ``Sizing``'s exact counts (block matrices, rows, experts)."""
    idle = sizing.params_routed_experts - sizing.params_routed_active if active_only else 0
    if not dt.quantized:
        return math.ceil((sizing.params_total - idle) * dt.element_bytes / tp)
    linear = sizing.params_block_linear
    scales = (
        sizing.block_linear_rows * (dt.scale_bytes + dt.zero_bytes)
        if dt.group_size is None
        else math.ceil(linear / dt.group_size) * (dt.scale_bytes + dt.zero_bytes)
    )
    per_weight = (linear * dt.element_bytes + scales) / linear if linear else 0.0
    q_bytes = (linear - idle) * per_weight  # routed experts are block matrices
    rest = (sizing.params_total - linear) * 2
    return math.ceil((q_bytes + rest) / tp)


def kv_heads_per_device(arch: ArchLike, tp: int) -> int:
    """KV heads held by one device: split when there are enough, replicated otherwise."""
    return math.ceil(arch.kv_heads / tp)


def cached_tokens_per_layer(arch: ArchLike, context: int) -> list[int]:
    """Tokens each layer keeps in its KV cache for ``context`` tokens.

    A sliding window caps every layer, or, with ``sliding_window_pattern`` n (Gemma-2: 2,
    Gemma-3: 6), all but every n-th layer (transformers' ``(i + 1) % n != 0`` slide).
    """
    window = arch.sliding_window
    pattern = getattr(arch, "sliding_window_pattern", None)
    out = []
    for i in range(arch.layers):
        slides = bool(window) and (pattern is None or (i + 1) % pattern != 0)
        out.append(min(context, window) if slides else context)  # type: ignore[type-var]
    return out


def cached_tokens(arch: ArchLike, context: int) -> int:
    """``sum(cached_tokens_per_layer(arch, context))`` in closed form: every n-th layer keeps
    the whole context, the others the window."""
    window = arch.sliding_window
    if not window:
        return arch.layers * context
    pattern = getattr(arch, "sliding_window_pattern", None)
    full = arch.layers // pattern if pattern else 0
    return full * context + (arch.layers - full) * min(context, window)


def kv_bytes_per_token_layer(arch: ArchLike, kv_dtype: DType, tp: int = 1) -> float:
    """Cache bytes one token adds to one layer on one device.

    Plain attention: a key and a value per KV head, ``2 · kv_heads · head_dim``. Latent
    attention (DeepSeek MLA): the compressed latent plus the one shared RoPE key,
    ``kv_lora_rank + qk_rope_head_dim``, replicated on every device under TP (serving stacks
    such as vLLM and SGLang cache exactly this; the heads are expanded on the fly).
    """
    mla = getattr(arch, "mla", None)
    if mla is not None:
        return (mla.kv_lora_rank + mla.qk_rope_head_dim) * kv_dtype.element_bytes
    return 2 * kv_heads_per_device(arch, tp) * arch.head_size * kv_dtype.element_bytes


def kv_cache_bytes(
    arch: ArchLike,
    *,
    batch: int,
    context: int,
    kv_dtype: DType | str = "bf16",
    tp: int = 1,
    sizing: Sizing | None = None,
) -> int:
    """KV cache on one device: per-token-per-layer bytes x cached tokens of each layer x batch.

    Plain attention: ``2 · layers · kv_heads · head_dim · context · batch · bytes``. With a
    ``sizing``: its cache groups (windows, chunks, latents, indexer keys, compressed entries,
    linear-attention states; shared-KV layers hold nothing). Under TP the KV heads split
    while there are enough of them; latent and linear-attention states are replicated.
    """
    dt = parse_dtype(kv_dtype) if isinstance(kv_dtype, str) else kv_dtype
    if sizing is not None:
        share = min(tp, arch.kv_heads) if getattr(arch, "mla", None) is None else 1
        cache = sizing.cache_bytes(
            context_tokens=context, batch=batch, bytes_per_value=dt.element_bytes
        )
        return math.ceil(cache / share)
    tokens = cached_tokens(arch, context)
    return math.ceil(kv_bytes_per_token_layer(arch, dt, tp) * tokens * batch)


def activation_bytes(
    arch: ArchLike,
    *,
    batch: int,
    seq: int,
    dtype: DType | str = "bf16",
    tp: int = 1,
    fused_attention: bool = True,
    logits_fp32: bool = False,
    last_token_logits: bool = False,
) -> int:
    """Largest transient during the prefill of ``seq`` tokens, one device.

    Tensor counts follow the reference decoders (``llmselect.refmodels``):

    * residual stream ``x`` and the normed block input, ``(B, T, D)`` each, live through a block;
      the norm itself works in fp32 (two ``(B, T, D)`` fp32 tensors at its peak);
    * gated MLP ``down(silu(gate(x)) * up(x))``: silu(gate), up and their product live at once
      (3 × ``(B, T, I)``); GELU MLP (GPT-2, BLOOM): the input and up to three tanh-GELU
      temporaries (4 × ``(B, T, I)``); a mixture-of-experts block runs the shared expert and
      then one routed expert at a time over the tokens sent to it (at most all of them), so
      its width is ``shared + expert`` inner size, or the dense width in dense blocks;
    * latent attention (MLA) expands the cache into per-head keys ``H · (nope + rope)`` and
      values ``H · v_head_dim`` for the prefill;
    * attention through SDPA kernels keeps no ``(T, T)`` scores (``fused_attention``); an
      additive bias (BLOOM's ALiBi) is materialised as a ``(B, H, T, S)`` float mask in the
      compute dtype, plus the boolean ``(T, S)`` causal mask;
    * LM head: logits ``(B, T, V)`` in the compute dtype (``logits_fp32`` adds an fp32 copy,
      as some serving stacks upcast) next to the final normed hidden state;
      ``last_token_logits`` keeps only the last position's row, as generation loops do
      (transformers' ``logits_to_keep=1``, vLLM), instead of the reference decoders' full ``T``.
    """
    dt = compute_dtype(parse_dtype(dtype) if isinstance(dtype, str) else dtype)
    a = dt.element_bytes
    bt = batch * seq
    hidden = bt * arch.hidden * a  # one (B, T, D) tensor, replicated under TP
    norm_fp32 = 2 * bt * arch.hidden * 4
    mlp_tensors = 3 if is_gated(arch) else 4
    mlp = mlp_tensors * bt * _mlp_width(arch) * a / tp
    heads = math.ceil(arch.heads / tp)
    mla = getattr(arch, "mla", None)
    if mla is not None:
        qk = mla.qk_nope_head_dim + mla.qk_rope_head_dim
        qkv = bt * heads * (2 * qk + mla.v_head_dim) * a
    else:
        qkv = bt * (heads + 2 * kv_heads_per_device(arch, tp)) * arch.head_size * a
    attn = 2 * qkv  # q, k, v plus the rotary/attention-output temporaries of the same size
    if not fused_attention:
        attn += 2 * batch * heads * seq * seq * a
    if traits(arch).position == "alibi":  # ALiBi as a dense float mask + the boolean causal mask
        attn += batch * heads * seq * seq * a + seq * seq
    block = 2 * hidden + max(mlp, attn, norm_fp32)
    logit_rows = batch if last_token_logits else bt
    logits = logit_rows * arch.vocab * a / tp
    if logits_fp32 and a < 4:
        logits += logit_rows * arch.vocab * 4 / tp
    head = hidden + max(logits, norm_fp32)
    return math.ceil(max(block, head))


def _mlp_width(arch: ArchLike) -> int:
    """Widest MLP working set of any block (MoE: shared expert + one routed expert)."""
    from llmselect.arch.params import moe_layers, shared_intermediate

    moe = getattr(arch, "moe", None)
    if moe is None:
        return arch.intermediate
    arch_: Any = arch
    widths = [shared_intermediate(arch_) + moe.expert_intermediate]
    if moe_layers(arch_) < arch.layers:
        widths.append(arch.intermediate)
    return max(widths)


def check_weight_dtype(name: str) -> str:
    """``name`` lowercased when the estimator takes it as a weight format: a torch dtype (or an
    alias) or a llama.cpp file type; anything else is a one-line error naming every accepted
    value (``parse_dtype`` alone names only torch dtypes: it also serves the measured
    workers, where GGUF types do not apply)."""
    from llmselect.memory.dtypes import ALIASES, DTYPES
    from llmselect.memory.ggml_quant import FTYPE_BASE, is_gguf_ftype

    key = name.strip().lower()
    if is_gguf_ftype(key) or ALIASES.get(key, key) in DTYPES:
        return key
    gguf = [t for t in FTYPE_BASE if is_gguf_ftype(t)]
    raise LLMSelectError(
        f"unknown dtype {name!r}; known: {', '.join(DTYPES)} (aliases: {', '.join(ALIASES)}), "
        f"or a llama.cpp type: {', '.join(gguf)}"
    )


def estimate_memory(
    arch: ArchLike,
    *,
    dtype: str = "bf16",
    batch: int = 1,
    seq: int = 2048,
    new_tokens: int = 0,
    kv_dtype: str | None = None,
    device: str = "cuda",
    tp: int = 1,
    group_size: int | None = None,
    fused_attention: bool | None = None,
    params_total: int | None = None,
    last_token_logits: bool = False,
    weights_bytes: int | None = None,
    sizing: Sizing | None = None,
) -> MemoryEstimate:
    """Peak memory per device for a prefill of ``seq`` tokens then ``new_tokens`` decode steps.

    ``kv_dtype`` defaults to the compute dtype (fp16 for int8/int4 weights and GGUF file
    types). ``fused_attention`` defaults to True (SDPA kernels that never hold the (T, T) score
    matrix). ``weights_bytes`` replaces the weight term with a known total (a file's tensors).
    ``sizing`` (a catalog entry's or a config's exact numbers) gives the parameter counts and
    the cache layout; without it they come from the family's formula.
    """
    from llmselect.memory.ggml_quant import gguf_weight_bytes, is_gguf_ftype

    if batch < 1 or seq < 1 or new_tokens < 0:
        raise LLMSelectError(
            f"batch and seq must be >= 1 and new tokens >= 0 (got {batch}, {seq}, {new_tokens})"
        )
    if tp < 1:
        raise LLMSelectError(f"tensor-parallel degree must be >= 1, got {tp}")
    if device not in ("cuda", "cpu"):
        raise LLMSelectError(f"device must be cuda or cpu, got {device!r}")
    if tp > 1 and arch.heads % tp:
        raise LLMSelectError(f"{arch.heads} attention heads do not split over tp={tp} devices")
    dtype = check_weight_dtype(dtype)
    gguf = is_gguf_ftype(dtype)
    dt = parse_dtype("fp16" if gguf else dtype, group_size=group_size)
    kv_dt = parse_dtype(kv_dtype) if kv_dtype else compute_dtype(dt)
    if kv_dt.quantized:
        raise LLMSelectError("the KV cache is kept in fp32, bf16 or fp16")
    if sizing is not None:
        total = sizing.params_total
    else:
        total = params_total if params_total is not None else _params_total(arch)
    fused = True if fused_attention is None else fused_attention
    if weights_bytes is not None:
        weights = math.ceil(weights_bytes / tp)
    elif gguf:
        exact = sizing.params_total if sizing is not None else None
        weights = math.ceil(gguf_weight_bytes(arch, dtype, exact) / tp)  # type: ignore[arg-type]
    else:
        weights = weight_bytes(arch, dt, tp=tp, params_total=total, sizing=sizing)
    kv = kv_cache_bytes(arch, batch=batch, context=seq + new_tokens, kv_dtype=kv_dt, tp=tp,
                        sizing=sizing)  # fmt: skip
    act = activation_bytes(
        arch,
        batch=batch,
        seq=seq,
        dtype=dt,
        tp=tp,
        fused_attention=fused,
        last_token_logits=last_token_logits,
    )
    if device == "cpu":
        act *= CPU_HEAP_RETENTION
    overhead_mib = CUDA_OVERHEAD_MIB if device == "cuda" else CPU_OVERHEAD_MIB
    if tp > 1:
        overhead_mib += TP_COMM_OVERHEAD_MIB
    notes = []
    if sizing is not None:
        notes.append("cache by layer type: " + ", ".join(
            f"{g.layers} {g.kind}" + (f" (window {g.window_tokens})" if g.window_tokens else "")
            for g in sizing.cache))  # fmt: skip
    elif arch.sliding_window and seq + new_tokens > arch.sliding_window:
        pattern = getattr(arch, "sliding_window_pattern", None)
        which = f"all but every {pattern}-th layer" if pattern else "every layer"
        notes.append(
            f"KV cache of {which} capped by the sliding window ({arch.sliding_window} tokens)"
        )
    moe = getattr(arch, "moe", None)
    if gguf and weights_bytes is None and moe is not None:
        notes.append(
            f"weights estimated with llama.cpp's {dtype} recipe tensor by tensor (the "
            f"{moe.experts} routed experts of a block: one 3-D tensor per projection)"
        )
    if getattr(arch, "mla", None) is not None and sizing is None:
        notes.append("latent attention: the KV cache holds the compressed latent + RoPE key")
    if arch.kv_heads < tp and getattr(arch, "mla", None) is None:
        notes.append(f"{arch.kv_heads} KV heads are replicated over tp={tp} devices")
    return MemoryEstimate(
        weights_bytes=weights,
        kv_cache_bytes=kv,
        activation_bytes=act,
        overhead_bytes=math.ceil(overhead_mib * MIB),
        dtype=dtype.strip().lower() if gguf else dt.name,
        kv_dtype=kv_dt.name,
        batch=batch,
        seq=seq,
        new_tokens=new_tokens,
        tp=tp,
        device=device,
        params_total=total,
        notes=notes,
    )


@dataclass(frozen=True)
class TPPlan:
    """The smallest tensor-parallel split that fits, with the per-device estimate."""

    tp: int
    per_device: MemoryEstimate
    device_mem_bytes: int

    @property
    def fits(self) -> bool:
        return self.per_device.total_bytes <= self.device_mem_bytes


def plan_tensor_parallel(
    arch: ArchLike,
    device_mem_gib: float,
    *,
    max_tp: int = 8,
    **kwargs: Any,
) -> TPPlan:
    """Smallest ``tp`` in 1, 2, 4, 8 (dividing the head count) whose per-device peak fits.

    Returns the largest tried split (with ``fits == False``) when none fits.
    """
    if device_mem_gib <= 0:
        raise LLMSelectError(f"device memory must be positive, got {device_mem_gib} GiB")
    cap = int(device_mem_gib * GIB)
    last: TPPlan | None = None
    tp = 1
    while tp <= max_tp:
        if arch.heads % tp == 0:
            est = estimate_memory(arch, tp=tp, **kwargs)
            last = TPPlan(tp=tp, per_device=est, device_mem_bytes=cap)
            if last.fits:
                return last
        tp *= 2
    assert last is not None  # tp = 1 always divides
    return last


def bytes_read_per_decode_token(
    arch: ArchLike,
    *,
    dtype: str = "bf16",
    batch: int = 1,
    context: int = 2048,
    params_total: int | None = None,
    sizing: Sizing | None = None,
    weights_bytes: int | None = None,
) -> int:
    """Bytes a decode step must read from memory: the active weights once + the whole KV cache.

    Active weights: all of a dense model; a mixture-of-experts model reads only the routed
    experts a token is sent to (batch 1). ``weights_bytes``: the weights as stored (the
    sizing's stored bytes are scaled to the active experts; a file's bytes are read whole).
    The lower bound on a memory-bound decode step is this divided by the device bandwidth.
    """
    dt = parse_dtype(dtype)
    w = weight_bytes(arch, dt, params_total=params_total, active_only=batch == 1, sizing=sizing)
    if weights_bytes is not None:  # the weights as stored (a file, or the config's format)
        stored = sizing.stored_bytes if sizing is not None else None
        w = sizing.stored_bytes_active if stored == weights_bytes and batch == 1 else weights_bytes
    kv = kv_cache_bytes(arch, batch=batch, context=context, kv_dtype=compute_dtype(dt),
                        sizing=sizing)  # fmt: skip
    return w + kv


def decode_roofline_ms(bytes_per_token: int, bandwidth_bytes_per_s: float) -> float:
    """Memory-bandwidth lower bound of one decode step, ms."""
    if bandwidth_bytes_per_s <= 0:
        raise ValueError("bandwidth must be positive")
    return bytes_per_token / bandwidth_bytes_per_s * 1000.0
