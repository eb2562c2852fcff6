"""Memory per GPU and time per epoch of fine-tuning: full, LoRA and QLoRA (all estimated).

Bytes per GPU are the sum of the parts below; the recommender's ``--finetune`` and
``llmselect cost finetune`` both call ``finetune_memory``, so they always agree.

Per parameter (``P`` = the model's exact total, ``count_model``: every expert of a mixture of
experts is resident, so memory counts the total while compute counts the active parameters):

* **full**, by ``precision``: ``amp`` (torch autocast as the HF Trainer's ``--bf16`` runs it:
  fp32 weights 4 + fp32 grads 4 + a bf16 copy of each weight cached by autocast 2, the 18·P
  bytes of LLaMA-Factory's "Full (bf16 or fp16)" row with AdamW), ``bf16`` (pure bf16 weights 2
  + grads 2, optimizer states in bf16: LLaMA-Factory's "pure_bf16" 8·P) or ``fp32``.
* **optimizer states** per trainable parameter: AdamW m and v (8 bytes in fp32, 4 in pure
  bf16), 8-bit AdamW (2, bitsandbytes), SGD without momentum (0).
* **lora**: the frozen base in bf16 (fp32 with ``precision=fp32``); rank-``r`` adapters on q, k,
  v, o, gate, up, down of every layer (the QLoRA paper's recipe), kept in fp32 as PEFT does:
  weight 4 + grad 4 + optimizer states. **qlora**: the block linear weights in NF4 with
  double-quantized constants, 4.127 bits (QLoRA paper §3), or LLM.int8 8 bits; embeddings,
  norms and the LM head stay bf16 (bitsandbytes skips them); plus one dequantized bf16 matrix.
* **ZeRO / FSDP** over ``gpus``: stage 1 shards optimizer states, stage 2 also gradients,
  stage 3 (= FSDP full shard) also weights; activations are per GPU and never sharded.
* **activations** (``batch`` sequences of ``seq`` tokens per GPU, flash/SDPA attention so no
  ``seq²`` scores are kept, no dropout): per layer and token the tensors autograd saves, in
  the compute dtype — the two norm inputs and outputs (4·D), q, k, v (q_out + 2·kv_out), the
  attention output (q_out) and the MLP's inner tensors (4·I gated, 2·I GELU); 37·D bytes for
  Llama-2-7B in bf16, close to the 34·D of Korthikanti et al. 2022 (Table 2, GPT MLP). With
  gradient checkpointing only each layer's input (D) is kept and one layer is recomputed at a
  time. The loss adds ``batch·seq·vocab`` logits in the compute dtype plus fp32 log-probabilities
  and their fp32 gradient.
* **runtime**: the CUDA context and allocator constant of the inference estimator
  (``llmselect.memory.estimate.CUDA_OVERHEAD_MIB``), once per GPU.
* **peak** = weights, adapters, optimizer states and runtime (resident all step long) + the larger
  of (activations + loss), when the loss is computed, and (gradients, + the checkpointed inputs
  and one recomputed layer), at the end of backward. Checked against torch's allocator peak of
  real full and LoRA steps (``tests/test_cost_measured.py``).

Time per epoch uses the compute model of ``cost.compute``: ``2·N`` FLOPs per token per matmul
pass — forward, backward to activations, backward to weights (full only), and a recomputed
forward with checkpointing — plus the attention term, divided by peak × MFU × GPUs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from llmselect.arch.count import count_model
from llmselect.cost.compute import (
    ComputeRate,
    attention_flops_per_token,
    params_for,
    require_arch,
    require_finite,
)
from llmselect.errors import LLMSelectError
from llmselect.memory.estimate import CUDA_OVERHEAD_MIB, is_gated

if TYPE_CHECKING:
    from llmselect.arch.spec import ArchSpec
    from llmselect.hardware import GpuSpec

GIB = 1024**3
METHODS: tuple[str, ...] = ("full", "lora", "qlora")
FINETUNE_MODES: tuple[str, ...] = ("none", *METHODS)  # the recommender's --finetune values
PRECISIONS: tuple[str, ...] = ("amp", "bf16", "fp32")
OPTIMIZERS: tuple[str, ...] = ("adamw", "adamw-8bit", "sgd")
QUANT_BITS: dict[int, float] = {4: 4.127, 8: 8.0}  # NF4 + double-quant constants; LLM.int8
LORA_RANK = 16

# bytes per parameter: (weights, autocast weight copies, grads, compute dtype) by precision
_FULL_BYTES = {"amp": (4, 2, 4, 2), "bf16": (2, 0, 2, 2), "fp32": (4, 0, 4, 4)}
# optimizer state bytes per trainable parameter: fp32 states, or bf16 states under pure bf16
_OPT_BYTES = {"adamw": (8, 4), "adamw-8bit": (2, 2), "sgd": (0, 0)}
ADAPTER_BYTES = 4  # PEFT keeps LoRA weights (and so their grads) in fp32
_TRANSIENT = frozenset(
    {"gradients", "activations", "recomputed layer", "loss (logits)"}
)  # not alive all step long


@dataclass(frozen=True)
class FinetuneSetup:
    """How the model is fine-tuned; every field is a command-line option of ``cost finetune``."""

    method: str = "lora"
    seq: int = 2048
    batch: int = 1  # sequences per GPU per step (micro-batch)
    gpus: int = 1
    zero: int | None = None  # ZeRO stage 0-3 (3 = FSDP); None → 3 on several GPUs, else 0
    precision: str = "amp"
    optimizer: str = "adamw"
    checkpointing: bool = True
    lora_rank: int = LORA_RANK
    quant_bits: int = 4

    def validated(self, arch: ArchSpec) -> FinetuneSetup:
        """Self with ``zero`` resolved; one-line errors for values that cannot apply."""
        if self.method not in METHODS:
            raise LLMSelectError(
                f"unknown fine-tuning method {self.method!r}; use {', '.join(METHODS)}"
            )
        for name, value in (("--seq", self.seq), ("--batch", self.batch), ("--gpus", self.gpus)):
            if value < 1:
                raise LLMSelectError(f"{name} must be at least 1, got {value}")
        if self.precision not in PRECISIONS:
            raise LLMSelectError(f"--precision must be one of {', '.join(PRECISIONS)}")
        if self.optimizer not in OPTIMIZERS:
            raise LLMSelectError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}")
        zero = self.zero if self.zero is not None else (3 if self.gpus > 1 else 0)
        if zero not in (0, 1, 2, 3):
            raise LLMSelectError(f"--zero must be a ZeRO stage 0-3 (3 = FSDP), got {zero}")
        if self.method != "full":
            smallest = min(arch.hidden, arch.kv_heads * arch.head_size, arch.intermediate)
            if not 1 <= self.lora_rank <= smallest:
                raise LLMSelectError(
                    f"--lora-rank {self.lora_rank} does not fit this model: LoRA rank must be "
                    f"between 1 and its smallest adapted width ({smallest})"
                )
        if self.method == "qlora":
            if self.quant_bits not in QUANT_BITS:
                raise LLMSelectError("--quant-bits must be 4 (NF4) or 8 (LLM.int8) for qlora")
            if self.precision == "fp32":
                raise LLMSelectError("qlora computes in bf16; --precision fp32 does not apply")
        return FinetuneSetup(**{**asdict(self), "zero": zero})


@dataclass(frozen=True)
class FinetuneEstimate:
    """Estimated memory per GPU (GiB) with its parts, and the rule in words."""

    method: str
    per_gpu_gib: float
    gpus: int
    parts_gib: dict[str, float] = field(default_factory=dict)
    trainable_params: int = 0
    params_total: int = 0
    setup: dict[str, Any] = field(default_factory=dict)
    rule: str = ""
    kind: str = "estimated"

    @property
    def total_gib(self) -> float:
        """Memory over all GPUs."""
        return self.per_gpu_gib * self.gpus

    @property
    def mode(self) -> str:
        return self.method

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total_gib": round(self.total_gib, 3)}


def lora_params(arch: ArchSpec, rank: int = LORA_RANK) -> int:
    """Adapter parameters for rank-``rank`` LoRA on q, k, v, o, gate, up, down of every layer."""
    return arch.layers * sum(rank * (d_in + d_out) for d_in, d_out in _linear_shapes(arch))


def _linear_shapes(arch: ArchSpec) -> list[tuple[int, int]]:
    h, hd = arch.hidden, arch.head_size
    q_out, kv_out, inter = arch.heads * hd, arch.kv_heads * hd, arch.intermediate
    attn = [(h, q_out), (h, kv_out), (h, kv_out), (q_out, h)]
    if is_gated(arch):
        return [*attn, (h, inter), (h, inter), (inter, h)]
    return [*attn, (h, inter), (inter, h)]


def layer_activation_elems_per_token(arch: ArchSpec) -> int:
    """Elements one layer saves for backward per token (see module docstring)."""
    q_out, kv_out = arch.heads * arch.head_size, arch.kv_heads * arch.head_size
    mlp = (4 if is_gated(arch) else 2) * arch.intermediate
    return 4 * arch.hidden + q_out + 2 * kv_out + q_out + mlp


def activation_bytes(
    arch: ArchSpec, seq: int, batch: int, dtype_bytes: int, ckpt: bool
) -> tuple[float, float]:
    """(saved for backward, one layer recomputed) on one GPU, bytes, without the loss.

    With checkpointing only each layer's input is saved and one layer at a time is recomputed
    during backward; without it every layer keeps its tensors and nothing is recomputed.
    """
    tokens = seq * batch
    per_layer = layer_activation_elems_per_token(arch) * tokens * dtype_bytes
    if ckpt:
        return float(arch.layers * tokens * arch.hidden * dtype_bytes), float(per_layer)
    return float(arch.layers * per_layer), 0.0


def loss_bytes(arch: ArchSpec, seq: int, batch: int, dtype_bytes: int) -> float:
    """Logits in the compute dtype + fp32 log-probabilities + their fp32 gradient, bytes."""
    return float(seq * batch * arch.vocab * (dtype_bytes + 4 + 4))


def _block_linear_params(arch: ArchSpec) -> int:
    return arch.layers * sum(d_in * d_out for d_in, d_out in _linear_shapes(arch))


def finetune_memory(model: Any, setup: FinetuneSetup) -> FinetuneEstimate:
    """Memory per GPU to fine-tune ``model`` (anything with ``arch``, ``id`` and
    ``params_exact``: a catalog entry, a preset, a checkpoint) as ``setup`` says."""
    arch = require_arch(model)
    if arch.moe is not None or arch.mla is not None:
        raise LLMSelectError(
            "fine-tuning memory of mixture-of-experts / latent-attention models is not modelled "
            "yet (their adapter layout and per-expert activations); `cost train` covers them"
        )
    s = setup.validated(arch)
    g, zero = s.gpus, s.zero or 0
    total = count_model(model).total
    w_shard = g if zero >= 3 else 1
    grad_shard = g if zero >= 2 else 1
    opt_shard = g if zero >= 1 else 1
    pure = 1 if s.precision == "bf16" else 0
    opt_bytes = _OPT_BYTES[s.optimizer][pure]
    parts: dict[str, float] = {}
    if s.method == "full":
        w, cast, grad, act_dtype = _FULL_BYTES[s.precision]
        trainable = total
        parts["weights"] = total * (w + cast) / w_shard
        parts["gradients"] = total * grad / grad_shard
        parts["optimizer states"] = total * opt_bytes / opt_shard
        what = f"{s.precision} weights {w}+{cast} B, grads {grad} B, {s.optimizer} {opt_bytes} B"
    else:
        act_dtype = 4 if s.precision == "fp32" else 2
        trainable = lora_params(arch, s.lora_rank)
        if s.method == "lora":
            frozen = total * act_dtype
            what = f"frozen {'fp32' if act_dtype == 4 else 'bf16'} base"
        else:
            linear = _block_linear_params(arch)
            frozen = linear * QUANT_BITS[s.quant_bits] / 8 + (total - linear) * 2
            biggest = max(d_in * d_out for d_in, d_out in _linear_shapes(arch))
            parts["dequantized matrix"] = biggest * 2.0
            what = (
                f"{'NF4' if s.quant_bits == 4 else 'int8'} base ({QUANT_BITS[s.quant_bits]} bits)"
            )
        parts["weights"] = frozen / w_shard
        parts["adapters"] = trainable * ADAPTER_BYTES / w_shard
        parts["gradients"] = trainable * ADAPTER_BYTES / grad_shard
        parts["optimizer states"] = trainable * opt_bytes / opt_shard
        what += f", r={s.lora_rank} adapters 8 B + {s.optimizer} {opt_bytes} B per adapter param"
    saved, recomputed = activation_bytes(arch, s.seq, s.batch, act_dtype, s.checkpointing)
    parts["activations"] = saved
    if s.checkpointing:
        parts["recomputed layer"] = recomputed
    parts["loss (logits)"] = loss_bytes(arch, s.seq, s.batch, act_dtype)
    parts["runtime"] = CUDA_OVERHEAD_MIB * 1024**2
    # Gradients and activations do not peak together: the loss is computed with every saved
    # activation alive and no gradient yet; by the end of backward all gradients exist and the
    # activations are gone (with checkpointing the layer inputs and one recomputed layer remain).
    resident = sum(v for k, v in parts.items() if k not in _TRANSIENT)
    at_loss = parts["activations"] + parts["loss (logits)"]
    at_end = parts["gradients"] + (saved + recomputed if s.checkpointing else 0.0)
    ckpt = "checkpointed" if s.checkpointing else "all"
    rule = (
        f"{s.method}: {what}; {ckpt} activations for {s.batch}×{s.seq} tokens"
        + (f"; ZeRO-{zero} over {g} GPUs" if g > 1 or zero else "")
        + "; peak = resident + max(activations + loss, gradients"
        + (" + activations + recomputed layer)" if s.checkpointing else ")")
    )
    return FinetuneEstimate(
        method=s.method,
        per_gpu_gib=(resident + max(at_loss, at_end)) / GIB,
        gpus=g,
        parts_gib={k: round(v / GIB, 4) for k, v in parts.items()},
        trainable_params=trainable,
        params_total=total,
        setup=asdict(s),
        rule=rule,
    )


@dataclass(frozen=True)
class FinetuneTime(ComputeRate):
    """Time for one epoch of ``tokens`` tokens (estimated)."""

    tokens: float
    flops_per_token: float
    total_flops: float
    gpu_hours: float
    wall_clock_hours: float
    kind: str = "estimated"


def finetune_flops_per_token(model: Any, setup: FinetuneSetup, basis: str = "total") -> float:
    """Matmul passes × 2·N (N active for a mixture of experts), plus the attention term, per
    trained token."""
    arch = require_arch(model)
    n, _ = params_for(model, basis)
    recompute = 1 if setup.checkpointing else 0
    weight_grads = 1 if setup.method == "full" else 0
    passes = 1 + 1 + weight_grads + recompute  # forward, grad to activations, grad to weights
    dense = 2.0 * n * passes
    if setup.method != "full":
        dense += 6.0 * lora_params(arch, setup.lora_rank)
    attn = attention_flops_per_token(arch, setup.seq) * (3 + recompute) / 3
    return dense + attn


def finetune_time(
    model: Any,
    setup: FinetuneSetup,
    gpu: GpuSpec,
    tokens: float,
    *,
    mfu: float | None = None,
    dtype: str = "auto",
    basis: str = "total",
) -> FinetuneTime:
    """One epoch over ``tokens`` tokens on ``setup.gpus`` GPUs of type ``gpu`` (``mfu`` None:
    ``DEFAULT_MFU``, named as such with its source)."""
    rate = ComputeRate.of(gpu, dtype, mfu, setup.gpus)
    per_token = finetune_flops_per_token(model, setup, basis)
    total = per_token * tokens
    hours = rate.hours_for(total)
    require_finite(total_compute=total, gpu_hours=hours)
    return FinetuneTime(
        **asdict(rate),
        tokens=tokens,
        flops_per_token=per_token,
        total_flops=total,
        gpu_hours=hours,
        wall_clock_hours=hours / setup.gpus,
    )
