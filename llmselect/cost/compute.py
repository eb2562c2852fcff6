"""Training compute: FLOPs per token from architecture numbers, GPU-hours for a GPU and an MFU.

Every figure here is **estimated** by the formulas below; the GPU peaks they divide by are
**published** (``data/gpus.yaml``, datasheet cited per entry).

* Dense matmuls: ``6 · N`` FLOPs per trained token (2 forward + 4 backward per parameter,
  Kaplan et al. 2020 §2.1). ``N`` is the exact parameter count of the model
  (``llmselect.arch.count.count_model``: the family's counter, or for family ``other`` the
  common layout where it reproduces the recorded total), either ``total`` (embeddings and
  output matrix included, the convention of the Llama 3 paper's "3.8 × 10^25 FLOPs" =
  6 · 405B · 15.6T) or ``non-embedding`` (Kaplan's N: no embedding table, no output matrix).
  Output says which. For a mixture of experts ``N`` is the active count: a token runs only its
  routed experts (memory, in ``cost.finetune``, holds every expert: the total).
* Attention scores: ``12 · L · T · d_attn`` per token (QKᵀ and A·V, forward and backward, over a
  sequence of ``T`` tokens; PaLM, Chowdhery et al. 2022, Appendix B, no discount for the causal
  mask). ``T`` is capped by a sliding window on the layers that slide. It matters for long
  sequences: +8 % for Llama-3.1-405B at 8k tokens, +15 % for a 70B model at 8k.
* GPU-hours = FLOPs / (peak dense FLOP/s of the GPU in the training dtype × MFU) / 3600.
  MFU (model-FLOPs utilisation) is an input, never fitted per model: ``DEFAULT_MFU`` = 0.40 is
  the middle of the 38-43 % BF16 MFU the Llama 3 paper reports for 405B on H100 (Table 4).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from llmselect.arch.count import count_model
from llmselect.arch.params import ParamCount
from llmselect.errors import LLMSelectError
from llmselect.memory.estimate_rows import stated_context

if TYPE_CHECKING:
    from llmselect.arch.spec import ArchSpec
    from llmselect.hardware import GpuSpec

ParamBasis = Literal["total", "non-embedding"]
PARAM_BASES: tuple[str, ...] = ("total", "non-embedding")
TRAIN_DTYPES: tuple[str, ...] = ("bf16", "fp16", "fp8")
DEFAULT_MFU = 0.40
MFU_SOURCE = (
    "default 0.40: middle of the 38-43 % BF16 MFU reported for Llama-3.1-405B on 8k-16k H100 "
    "(Llama 3 paper, arXiv:2407.21783, Table 4)"
)

_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
_COUNT = re.compile(r"^(\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*([kmbgt]?)$")


def parse_count(text: str, what: str = "--tokens") -> float:
    """``2T`` → 2e12, ``1.4t``, ``500B``, ``100M``, ``3e9``, ``20000``; positive, else an error."""
    raw = str(text).strip().lower().replace("_", "").replace(",", "")
    if raw.startswith("-"):
        raise LLMSelectError(f"{what} must be positive, got {text!r}")
    match = _COUNT.match(raw)
    if not match:
        raise LLMSelectError(f"cannot read {what} {text!r}: use e.g. 2T, 1.4T, 500B, 100M or 3e9")
    value = float(match.group(1)) * _SUFFIX.get(match.group(2), 1.0)
    if value <= 0:
        raise LLMSelectError(f"{what} must be positive, got {text!r}")
    if not math.isfinite(value):
        raise LLMSelectError(f"{what} {text!r} is too large to be a count")
    if value < 1:
        raise LLMSelectError(f"{what} counts tokens: at least 1, got {text!r}")
    return value


def check_mfu(mfu: float) -> float:
    """MFU is a share of peak: 0 < mfu ≤ 1."""
    if not 0 < mfu <= 1:
        raise LLMSelectError(f"--mfu must be in (0, 1], got {mfu:g} (e.g. 0.4 = 40 % of peak)")
    return mfu


def mfu_and_source(mfu: float | None) -> tuple[float, str]:
    """The MFU to divide by and where it comes from: the one given, else ``DEFAULT_MFU`` with
    its source (an assumption the output names, never a silent default)."""
    if mfu is None:
        return DEFAULT_MFU, MFU_SOURCE
    return check_mfu(mfu), "given (--mfu)"


def require_finite(**values: float | None) -> None:
    """Results that overflowed a float (``inf``) are refused instead of printed."""
    for name, value in values.items():
        if value is not None and not math.isfinite(value):
            raise LLMSelectError(
                f"the estimate's {name.replace('_', ' ')} overflows: an input is too large"
            )


def require_arch(model: Any) -> ArchSpec:
    """The model's architecture numbers, or a one-line "architecture unknown" error."""
    arch = getattr(model, "arch", None)
    name = getattr(model, "id", str(model))
    if arch is None:
        missing = ", ".join(getattr(model, "arch_missing", []) or []) or "architecture numbers"
        raise LLMSelectError(
            f"{name}: architecture unknown (catalog lacks {missing}); cost needs exact "
            "architecture numbers and does not guess from the parameter count"
        )
    return arch


def params_for(model: Any, basis: str) -> tuple[int, ParamCount]:
    """Parameters counted as ``N`` for ``basis`` (total or non-embedding) and the full count.

    A mixture-of-experts token runs through its routed experts only, so ``N`` is the active
    count there (all shared parts plus ``experts_per_token`` routed experts per MoE layer).
    """
    if basis not in PARAM_BASES:
        raise LLMSelectError(f"--params must be one of {', '.join(PARAM_BASES)}, got {basis!r}")
    require_arch(model)
    counts = count_model(model)
    n = counts.total if basis == "total" else counts.non_embedding
    return n - counts.routed_experts + counts.routed_active, counts


def attention_flops_per_token(arch: ArchSpec, seq: int) -> float:
    """``6 · Σ_layers T_eff · (d_qk + d_v)``: QKᵀ and A·V, forward + backward, per token.

    ``d_qk = d_v = heads · head_dim`` (12 · L · T · d_attn) except for latent attention, whose
    keys are ``qk_nope + qk_rope`` wide and values ``v_head_dim`` per head.
    """
    if arch.mla is not None:
        d_qk = arch.heads * (arch.mla.qk_nope_head_dim + arch.mla.qk_rope_head_dim)
        d_v = arch.heads * arch.mla.v_head_dim
    else:
        d_qk = d_v = arch.heads * arch.head_size
    window = arch.sliding_window
    if window is None or window >= seq:
        return 6.0 * arch.layers * seq * (d_qk + d_v)
    pattern = arch.sliding_window_pattern
    global_layers = arch.layers // pattern if pattern else 0  # every n-th layer attends fully
    sliding_layers = arch.layers - global_layers
    return 6.0 * (d_qk + d_v) * (global_layers * seq + sliding_layers * window)


def context_caveat(model: Any, seq: int) -> dict[str, Any] | None:
    """What a run at ``seq`` tokens per sequence is when ``seq`` exceeds the model's stated
    context: None within it (or where no context is recorded), else a caveat for the output.

    Beyond it the run is a context-extension run. With rotary or ALiBi positions that is a
    training run people do (long-context continued training, RoPE scaling or a raised RoPE
    base), and the estimate stays what the formulas count at ``seq``: the same parameters,
    attention over ``seq`` tokens, activations of ``seq`` tokens. So it is a caveat, not a
    refusal. A learned position table has no row past its size: such a run first needs a
    larger table, parameters this estimate does not count, so that one is refused.
    """
    arch = require_arch(model)
    name = getattr(model, "id", str(model))
    table = arch.max_position
    if arch.traits.position == "learned" and table is not None and seq > table:
        raise LLMSelectError(
            f"--seq {seq}: {name} has a learned position table of {table} positions "
            f"({arch.source}); training at {seq} tokens needs a larger table, whose parameters "
            f"this estimate does not count; give --seq {table} or less"
        )
    context, source = stated_context(model)
    if context is None or seq <= context:
        return None
    how = " with RoPE scaling or a raised RoPE base" if arch.traits.position == "rope" else ""
    return {
        "seq": seq,
        "context_tokens": context,
        "context_source": source,
        "context_extension": True,
        "note": (
            f"--seq {seq:,} is beyond {name}'s context of {context:,} tokens ({source}): a "
            f"context-extension run, training positions past the range the model was trained "
            f"on{how}; compute and memory are estimated at {seq:,} tokens, whether the model "
            "learns to use that length is not part of the estimate"
        ),
    }


@dataclass(frozen=True)
class TrainCompute:
    """Training FLOPs for ``tokens`` at sequence length ``seq`` (all estimated)."""

    params_counted: int  # N: active parameters for a mixture-of-experts model
    param_basis: str
    params_total: int
    tokens: float
    seq: int
    dense_flops_per_token: float  # 6 · N
    attention_flops_per_token: float  # 12 · L · T · d_attn
    total_flops: float

    @property
    def flops_per_token(self) -> float:
        return self.dense_flops_per_token + self.attention_flops_per_token


def train_compute(
    model: Any, tokens: float, seq: int, basis: str = "total", attention: bool = True
) -> TrainCompute:
    """FLOPs to train ``model`` (anything with ``arch``, ``id``, ``params_exact``: a catalog
    entry, a preset, a checkpoint) on ``tokens`` tokens of ``seq``-token sequences."""
    if seq < 1:
        raise LLMSelectError(f"--seq must be a positive number of tokens, got {seq}")
    arch = require_arch(model)
    n, counts = params_for(model, basis)
    dense = 6.0 * n
    attn = attention_flops_per_token(arch, seq) if attention else 0.0
    return TrainCompute(
        params_counted=n,
        param_basis=basis + (", active per token (mixture of experts)" if arch.moe else ""),
        params_total=counts.total,
        tokens=tokens,
        seq=seq,
        dense_flops_per_token=dense,
        attention_flops_per_token=attn,
        total_flops=(dense + attn) * tokens,
    )


def resolve_dtype(gpu: GpuSpec, dtype: str) -> str:
    """``auto`` → bf16 where the GPU has it, else fp16 (T4, V100, 910B); others pass through."""
    if dtype != "auto":
        return dtype
    return "bf16" if gpu.bf16_tflops else "fp16"


def peak_tflops(gpu: GpuSpec, dtype: str) -> float:
    """Published dense peak of ``gpu`` in ``dtype`` (TFLOP/s), or a one-line error."""
    dtype = resolve_dtype(gpu, dtype)
    if dtype not in TRAIN_DTYPES:
        raise LLMSelectError(
            f"--dtype must be auto or one of {', '.join(TRAIN_DTYPES)}, got {dtype!r}"
        )
    value = {"bf16": gpu.bf16_tflops, "fp16": gpu.fp16_tflops, "fp8": gpu.fp8_tflops}[dtype]
    if not value:
        have = [d for d in TRAIN_DTYPES if peak_or_none(gpu, d)]
        hint = f"; it has {', '.join(have)}" if have else ""
        raise LLMSelectError(f"{gpu.name}: no published dense {dtype} peak{hint} (--dtype)")
    return float(value)


def peak_or_none(gpu: GpuSpec, dtype: str) -> float | None:
    return {"bf16": gpu.bf16_tflops, "fp16": gpu.fp16_tflops, "fp8": gpu.fp8_tflops}.get(dtype)


def gpu_hours(total_flops: float, peak_tflops_value: float, mfu: float) -> float:
    """GPU-hours = FLOPs / (peak · MFU) / 3600."""
    return total_flops / (peak_tflops_value * 1e12 * check_mfu(mfu)) / 3600.0


def implied_mfu(total_flops: float, peak_tflops_value: float, hours: float) -> float:
    """The MFU a published GPU-hour figure implies for ``total_flops``."""
    return total_flops / (peak_tflops_value * 1e12 * hours * 3600.0)


@dataclass(frozen=True)
class ComputeRate:
    """The FLOP rate a cost divides by: ``gpus`` GPUs at their published dense peak in the
    training dtype, times the share of it training reaches (MFU)."""

    gpu: str
    gpu_source: str  # the datasheet the peak comes from
    dtype: str
    peak_tflops: float
    mfu: float
    mfu_source: str  # given, or DEFAULT_MFU with its source
    gpus: int

    @classmethod
    def of(cls, gpu: GpuSpec, dtype: str, mfu: float | None, gpus: int) -> ComputeRate:
        """``dtype`` "auto": the GPU's training dtype; ``mfu`` None: ``DEFAULT_MFU``."""
        mfu, mfu_source = mfu_and_source(mfu)
        dtype = resolve_dtype(gpu, dtype)
        peak = peak_tflops(gpu, dtype)
        return cls(gpu.name, gpu.source, dtype, peak, mfu, mfu_source, gpus)

    def hours_for(self, total_flops: float) -> float:
        """GPU-hours of ``total_flops`` at this rate."""
        return gpu_hours(total_flops, self.peak_tflops, self.mfu)


@dataclass(frozen=True)
class TrainEstimate(ComputeRate):
    """``cost train`` result: compute, GPU-hours, wall-clock, and energy/cost when asked."""

    model_id: str
    compute: TrainCompute
    gpu_hours: float
    wall_clock_days: float
    power_w: float | None = None
    energy_mwh: float | None = None
    price_per_gpu_hour: float | None = None
    cost: float | None = None
    kind: str = "estimated"
    context_caveat: dict[str, Any] | None = None  # --seq beyond the model's context

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["compute"]["flops_per_token"] = self.compute.flops_per_token
        if data["context_caveat"] is None:  # only a run beyond the context carries one
            del data["context_caveat"]
        return data


def estimate_training(
    model: Any,
    gpu: GpuSpec,
    tokens: float,
    *,
    seq: int = 4096,
    gpus: int = 1,
    mfu: float | None = None,
    dtype: str = "auto",
    basis: str = "total",
    power_w: float | None = None,
    price_per_gpu_hour: float | None = None,
) -> TrainEstimate:
    """Pre-training / continued-training cost of ``model`` on ``tokens`` tokens (``mfu`` None:
    ``DEFAULT_MFU``, named as such with its source)."""
    require_arch(model)
    if gpus < 1:
        raise LLMSelectError(f"--gpus must be at least 1, got {gpus}")
    if power_w is not None and power_w <= 0:
        raise LLMSelectError(f"--power-w must be positive, got {power_w:g}")
    if price_per_gpu_hour is not None and price_per_gpu_hour < 0:
        raise LLMSelectError(f"--price must not be negative, got {price_per_gpu_hour:g}")
    rate = ComputeRate.of(gpu, dtype, mfu, gpus)
    comp = train_compute(model, tokens, seq, basis)
    caveat = context_caveat(model, seq)
    hours = rate.hours_for(comp.total_flops)
    energy = hours * power_w / 1e6 if power_w else None
    cost = hours * price_per_gpu_hour if price_per_gpu_hour is not None else None
    require_finite(total_compute=comp.total_flops, gpu_hours=hours, energy=energy, cost=cost)
    return TrainEstimate(
        **asdict(rate),
        model_id=getattr(model, "id", str(model)),
        compute=comp,
        gpu_hours=hours,
        wall_clock_days=hours / gpus / 24.0,
        power_w=power_w,
        energy_mwh=energy,
        price_per_gpu_hour=price_per_gpu_hour,
        cost=cost,
        context_caveat=caveat,
    )
