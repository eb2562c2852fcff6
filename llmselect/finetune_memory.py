"""Memory needed to fine-tune a model (full, LoRA, QLoRA): documented rules, labelled estimated.

Rules (GiB = 2^30 bytes; batch 1, gradient checkpointing on, AdamW):

* **full**: 16 bytes/param for mixed-precision Adam — bf16 weights (2) + bf16 grads (2) +
  fp32 master weights (4) + Adam m and v (4 + 4) — plus activations.
* **lora**: frozen bf16 weights (2 bytes/param) + rank-16 adapters on every linear layer of each
  block (the QLoRA paper's recipe), 16 bytes per adapter parameter, plus activations.
* **qlora**: NF4 weights with double-quantized constants (4.127 bits ≈ 0.516 bytes/param,
  QLoRA paper §3) + the same adapters and activations.
* **activations** with gradient checkpointing: one saved bf16 hidden state per layer
  (``layers · seq · hidden · 2`` bytes) + one layer recomputed in full (``34 · seq · hidden`` bytes,
  Korthikanti et al. 2022 with flash attention, so no ``seq²`` term) + fp32 logits and their
  gradient (``2 · seq · vocab · 4`` bytes).
* **runtime**: 0.75 GiB per device for the CUDA context and allocator slack.

Without an architecture only the per-parameter part is known; the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from llmselect.catalog import ArchSpec

FinetuneMode = Literal["none", "lora", "qlora", "full"]
FINETUNE_MODES: tuple[str, ...] = ("none", "lora", "qlora", "full")

GIB = 1024**3
RUNTIME_OVERHEAD_GIB = 0.75
LORA_RANK = 16
ADAM_MIXED_BYTES = 16  # per trainable parameter
WEIGHT_BYTES = {"full": 2.0, "lora": 2.0, "qlora": 4.127 / 8}


@dataclass(frozen=True)
class FinetuneEstimate:
    """Estimated training memory, GiB, with its parts and the rule used."""

    mode: str
    total_gib: float
    parts_gib: dict[str, float] = field(default_factory=dict)
    trainable_params: float = 0.0
    coarse: bool = False  # True when no architecture was known (activations left out)
    rule: str = ""
    kind: str = "estimated"


def lora_params(arch: ArchSpec, rank: int = LORA_RANK) -> int:
    """Adapter parameters for rank-``rank`` LoRA on q, k, v, o, gate, up, down of every layer."""
    h, hd = arch.hidden, arch.head_size
    q_out, kv_out, inter = arch.heads * hd, arch.kv_heads * hd, arch.intermediate
    shapes = [(h, q_out), (h, kv_out), (h, kv_out), (q_out, h), (h, inter), (h, inter), (inter, h)]
    return arch.layers * sum(rank * (d_in + d_out) for d_in, d_out in shapes)


def activation_bytes(arch: ArchSpec, seq: int, batch: int = 1) -> float:
    """Training activations with gradient checkpointing (see module docstring), bytes."""
    tokens = seq * batch
    saved = arch.layers * tokens * arch.hidden * 2
    one_layer = 34 * tokens * arch.hidden
    logits = 2 * tokens * arch.vocab * 4
    return float(saved + one_layer + logits)


def finetune_memory(
    params_b: float,
    mode: str,
    arch: ArchSpec | None = None,
    seq: int = 2048,
    batch: int = 1,
    devices: int = 1,
) -> FinetuneEstimate:
    """Memory to fine-tune a ``params_b``-billion model in ``mode`` at ``seq`` tokens, GiB in all.

    With several devices, weights and optimizer states are assumed sharded (FSDP / ZeRO-3), so the
    total is compared against the sum of device memory; activations are per device.
    """
    if mode not in WEIGHT_BYTES:
        raise ValueError(f"unknown fine-tuning mode {mode!r}")
    params = params_b * 1e9
    parts: dict[str, float] = {}
    if mode == "full":
        trainable = params
        parts["weights+grads+adam"] = params * ADAM_MIXED_BYTES / GIB
    else:
        trainable = float(lora_params(arch)) if arch else params * 0.005
        parts["frozen weights"] = params * WEIGHT_BYTES[mode] / GIB
        parts["adapters+grads+adam"] = trainable * ADAM_MIXED_BYTES / GIB
    if arch is not None:
        parts["activations"] = activation_bytes(arch, seq, batch) / GIB
    parts["runtime"] = RUNTIME_OVERHEAD_GIB * max(devices, 1)
    rule = {
        "full": "16 B/param (bf16 w+g, fp32 master, Adam m+v) + checkpointed activations",
        "lora": "bf16 frozen weights + r=16 adapters (16 B/param) + checkpointed activations",
        "qlora": "NF4 weights (0.516 B/param) + r=16 adapters + checkpointed activations",
    }[mode]
    if arch is None:
        rule += "; coarse: no architecture, activations not included, adapters ≈0.5% of params"
    return FinetuneEstimate(
        mode=mode,
        total_gib=sum(parts.values()),
        parts_gib={k: round(v, 3) for k, v in parts.items()},
        trainable_params=trainable,
        coarse=arch is None,
        rule=rule,
    )
