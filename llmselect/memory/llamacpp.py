"""Memory of llama.cpp serving a GGUF: the file's tensors, its KV cache and its compute buffer.

What ``llama_context`` allocates (llama.cpp ``src/llama-context.cpp``, ``src/llama-kv-cache.cpp``,
``src/llama-graph.cpp``), for a context of ``n_ctx`` tokens and a micro-batch of ``n_ubatch``:

* **weights**: the file type's per-tensor recipe (``ggml_quant.gguf_weight_bytes``), or a given
  file's exact tensor bytes;
* **KV cache**: K and V in F16 (``--cache-type-k/v`` default) for ``n_ctx`` cells in every layer:
  ``2 · layers · kv_heads · head_dim · n_ctx · 2`` bytes; with a config's or GGUF's cache layout
  (``Sizing``), only the layers that hold a cache of their own, sliding and chunked layers at
  ``n_ctx`` cells too (llama-cpp-python keeps a full-size SWA cache). The state of
  linear-attention layers, latent (MLA) and compressed caches are not modelled: an error says so;
* **output buffer**: the logits of the outputs a call keeps (one row of ``n_vocab`` F32 when
  generating);
* **compute buffer**: the graph is reserved for the worst micro-batch, every token an output, so
  it holds at least the logits ``n_ubatch · n_vocab · 4`` bytes; without flash attention the
  attention scores ``KQ`` (F32, ``n_ctx · n_ubatch · n_head``) and the mask (``n_ctx · n_ubatch``)
  are materialised too. The graph allocator reuses memory, so the buffer is the larger of the two
  plus a few MiB of small tensors (``COMPUTE_SMALL_MIB``, measured).

Checked against the sizes llama.cpp itself prints for SmolLM2-135M (``tests/checkpoints/
test_llamacpp_memory.py``: n_ctx 512 to 16384, flash attention on and off). On a GPU the CUDA
context is added (``estimate.CUDA_OVERHEAD_MIB``); llama.cpp's own code and the process around
it are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from llmselect.arch.spec import ArchSpec
from llmselect.errors import LLMSelectError
from llmselect.memory.estimate import CUDA_OVERHEAD_MIB, MIB, MemoryEstimate, kv_cache_bytes

if TYPE_CHECKING:
    from llmselect.arch.sizing import Sizing

N_UBATCH = 512  # llama.cpp's default micro-batch (``n_ubatch``)
# the rest of the reserved graph: just above the largest residual seen (SmolLM2: 2.3-6.51 MiB)
COMPUTE_SMALL_MIB = 6.6
PRECISION_FTYPES = {"fp16": "f16", "int8": "q8_0", "int4": "q4_k_m"}  # usual GGUF recipes
# Layer kinds whose llama.cpp cache is K and V per cell (sliding/chunked: full size, see above)
KV_KINDS = frozenset({"full_attention", "sliding_attention", "chunked_attention"})


@dataclass(frozen=True)
class LlamaCppBuffers:
    """The buffers llama.cpp allocates, bytes."""

    weights: int
    kv_cache: int
    output: int
    compute: int


def compute_buffer_bytes(
    arch: ArchSpec, n_ctx: int, n_ubatch: int = N_UBATCH, flash_attn: bool = True
) -> int:
    """The reserved compute buffer (see the module doc)."""
    logits = n_ubatch * arch.vocab * 4
    scores = 0 if flash_attn else n_ctx * n_ubatch * (arch.heads + 1) * 4
    return int(max(logits, scores) + COMPUTE_SMALL_MIB * MIB)


def kv_bytes(arch: ArchSpec, n_ctx: int, sizing: Sizing | None = None) -> int:
    """llama.cpp's F16 KV cache for ``n_ctx`` cells (see the module doc)."""
    if getattr(arch, "mla", None) is not None:
        raise LLMSelectError(
            "llama.cpp's cache of latent-attention layers is not modelled; "
            "estimate with --engine transformers"
        )
    if sizing is None:
        return kv_cache_bytes(arch, batch=1, context=n_ctx, kv_dtype="fp16")
    other = sorted({g.kind for g in sizing.cache} - KV_KINDS)
    other += sorted(
        {f"{g.kind} + state" for g in sizing.cache if g.state_values and g.kind in KV_KINDS}
    )  # Falcon-H1's hybrid layers
    if other:
        raise LLMSelectError(
            f"llama.cpp's cache of {', '.join(other)} layers is not modelled; "
            "estimate with --engine transformers"
        )
    return sum(g.layers * g.values_per_token for g in sizing.cache) * n_ctx * 2


def llamacpp_buffers(
    arch: ArchSpec,
    ftype: str,
    n_ctx: int,
    *,
    n_ubatch: int = N_UBATCH,
    flash_attn: bool = True,
    weights_bytes: int | None = None,
    sizing: Sizing | None = None,
) -> LlamaCppBuffers:
    from llmselect.memory.ggml_quant import gguf_weight_bytes

    kv = kv_bytes(arch, n_ctx, sizing)  # before the weights: its refusal is the clearer one
    exact = sizing.params_total if sizing is not None else None
    weights = weights_bytes if weights_bytes is not None else gguf_weight_bytes(arch, ftype, exact)
    return LlamaCppBuffers(
        weights=weights,
        kv_cache=kv,
        output=arch.vocab * 4,
        compute=compute_buffer_bytes(arch, n_ctx, n_ubatch, flash_attn),
    )


def estimate_llamacpp(
    arch: ArchSpec,
    ftype: str,
    n_ctx: int,
    *,
    device: str = "cuda",
    flash_attn: bool = True,
    params_total: int = 0,
    weights_bytes: int | None = None,
    sizing: Sizing | None = None,
) -> MemoryEstimate:
    """Peak memory of llama.cpp for one sequence of ``n_ctx`` tokens, as a ``MemoryEstimate``
    (activations = compute + output buffers; overhead = the CUDA context on a GPU)."""
    b = llamacpp_buffers(arch, ftype, n_ctx, flash_attn=flash_attn, weights_bytes=weights_bytes,
                         sizing=sizing)  # fmt: skip
    note = (
        f"llama.cpp: {ftype} weights, F16 KV cache for {n_ctx} cells, compute buffer for a "
        f"{N_UBATCH}-token micro-batch (flash attention {'on' if flash_attn else 'off'})"
    )
    return MemoryEstimate(
        weights_bytes=b.weights,
        kv_cache_bytes=b.kv_cache,
        activation_bytes=b.compute + b.output,
        overhead_bytes=int(CUDA_OVERHEAD_MIB * MIB) if device == "cuda" else 0,
        dtype=ftype,
        kv_dtype="fp16",
        batch=1,
        seq=n_ctx,
        new_tokens=0,
        tp=1,
        device=device,
        params_total=params_total,
        notes=[note],
    )
