"""Memory of one model on the user's budget, from the exact estimator only.

``llmselect.memory.estimate`` with the KV cache for the requested context, batch 1, the last
position's logits (as served; ``--logits all`` keeps every position's, for scoring and
training), tensor-parallel over the GPUs: the same call and defaults as ``llmselect perf
estimate``, whose command line ``perf_estimate_command`` writes out. An entry with a ``sizing``
block (computed from its config) is sized from it: exact counts, the cache per layer type
(windows, latents, linear-attention states), the active experts a decode step reads. The
parameter count is the exact one computed from the architecture; a model without architecture
numbers has no fit at all (the recommender excludes it as "architecture unknown" rather than
guessing). Weights published quantized (``as_stored``: a GGUF file's type, or a sizing that
records MXFP4, NVFP4 or FP8 blocks) are sized as stored, as ``perf estimate`` sizes them
without ``--dtype``; an unknown layout is never guessed.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from llmselect.arch.params import ParamCount
from llmselect.arch.spec import ArchSpec
from llmselect.arch.stored import quantized_label
from llmselect.catalog import ModelSpec
from llmselect.errors import LLMSelectError
from llmselect.hardware import GpuBudget

GIB = 1024**3


@dataclass(frozen=True)
class MemoryFit:
    """Expected memory of one model at one precision on the budget."""

    precision: str
    total_gib: float  # all devices together
    per_device_gib: float
    budget_gib: float  # per device: usable memory less the headroom
    parts_gib: dict[str, float]
    kind: str  # estimated
    method: str
    tp: int
    read_per_token_gb: float  # bytes one decode step reads per device (active weights + KV), GB
    device: str = "cuda"  # the estimator's runtime overhead model: cuda | cpu
    engine: str = "transformers"
    gpus: int = 1  # devices the model is spread over: the tensor-parallel degree, or the GPUs
    # llama.cpp splits the layers over (its tp stays 1)

    @property
    def fits(self) -> bool:
        return self.per_device_gib <= self.budget_gib


def exact_count(model: ModelSpec) -> tuple[ParamCount | None, str | None]:
    """(the exact parameter count from the architecture, None) or (None, why not)."""
    if model.arch is None:
        missing = ", ".join(model.arch_missing) if model.arch_missing else "no numbers recorded"
        return None, f"architecture unknown ({missing})"
    from llmselect.arch.count import count_model

    try:
        return count_model(model), None
    except LLMSelectError as exc:
        return None, f"architecture unknown: {str(exc).removeprefix(f'{model.id}: ')}"


def fit_device(gpu: GpuBudget) -> str:
    """The estimator's runtime overhead model for the budget: cuda or cpu."""
    return "cpu" if gpu.is_cpu else "cuda"


def tp_degree(arch: ArchSpec, count: int) -> int:
    """The largest split over ``count`` GPUs that divides the attention heads."""
    if count <= 1:
        return 1
    return max(t for t in range(1, count + 1) if arch.heads % t == 0)


def memory_fit(
    model: ModelSpec,
    count: ParamCount,
    precision: str,
    context: int,
    gpu: GpuBudget,
    budget_gib: float | None = None,
    logits: str = "last",
    engine: str = "transformers",
) -> MemoryFit:
    """Inference memory of ``model`` at ``precision`` for ``context`` tokens, batch 1.

    ``engine="llama.cpp"``: the GGUF recipe of the precision (``PRECISION_FTYPES``), F16 KV cache
    and llama.cpp's compute buffer (``memory.llamacpp``); several GPUs split the layers
    (llama.cpp's default ``--split-mode layer``), each keeping a compute buffer.
    """
    from llmselect.memory.estimate import bytes_read_per_decode_token, estimate_memory

    arch = model.arch
    assert arch is not None
    device = fit_device(gpu)
    layout = as_stored(model, engine, device)
    stored = layout[1] if layout is not None and precision == layout[0] else None
    from_config = stored is not None and not model.stored_as  # a catalog entry's sizing
    if engine == "llama.cpp":
        from llmselect.memory.llamacpp import PRECISION_FTYPES, estimate_llamacpp

        ftype = PRECISION_FTYPES.get(precision, "f16" if precision == "fp16" else precision)
        est = estimate_llamacpp(
            arch, ftype, context, device=device, params_total=count.total, weights_bytes=stored,
            sizing=model.sizing,
        )  # fmt: skip
        split = max(gpu.count, 1)
        parts = {k.removesuffix("_mib"): v / 1024 for k, v in est.as_mib().items()}
        parts["weights"] /= split
        parts["kv_cache"] /= split
        parts.pop("peak")
        per_device = sum(parts.values())
        tp = 1
    else:
        tp = tp_degree(arch, gpu.count)
        est = estimate_memory(
            arch,
            dtype="bf16" if from_config else precision,  # as perf estimate sizes it, no --dtype
            batch=1,
            seq=context,
            device=device,
            tp=tp,
            params_total=count.total,
            last_token_logits=logits == "last",  # serving keeps only the sampled position's
            sizing=model.sizing,  # exact counts and cache per layer type, when the entry has them
            weights_bytes=stored,  # a file's own tensors, as perf estimate sizes the file
        )
        parts = {k.removesuffix("_mib"): v / 1024 for k, v in est.as_mib().items()}
        per_device = parts.pop("peak")
    read = bytes_read_per_decode_token(
        arch, dtype="fp16" if stored else precision, batch=1, context=context,
        params_total=count.total, sizing=model.sizing, weights_bytes=stored,
    )  # fmt: skip
    split = max(gpu.count, 1) if engine == "llama.cpp" else tp
    return MemoryFit(
        precision=precision,
        total_gib=per_device * split,
        per_device_gib=per_device,
        budget_gib=gpu.usable_gib_each if budget_gib is None else budget_gib,
        parts_gib={k: round(v, 3) for k, v in parts.items()},
        kind="estimated",
        method=(
            f"llama.cpp: GGUF weights + F16 KV cache ({context} tokens) + compute buffer"
            + (f", layers split over {split} GPUs" if split > 1 else "")
            if engine == "llama.cpp"
            else _weights_term(model, from_config)
            + f" + KV cache ({context} tokens) + activations + runtime"
            + (f", tensor-parallel over {tp} GPUs" if tp > 1 else "")
        ),
        tp=tp,
        read_per_token_gb=read / tp / 1e9,
        device=device,
        engine=engine,
        gpus=split,
    )


def choose_precision(
    model: ModelSpec,
    count: ParamCount,
    precisions: Iterable[str],
    context: int,
    gpu: GpuBudget,
    budget_gib: float | None = None,
    logits: str = "last",
    engine: str = "transformers",
) -> tuple[MemoryFit | None, list[MemoryFit]]:
    """First precision that fits, and every estimate tried, in ``precisions_of`` order."""
    tried: list[MemoryFit] = []
    for prec in precisions_of(model, precisions, engine, fit_device(gpu)):
        fit = memory_fit(model, count, prec, context, gpu, budget_gib, logits, engine)
        tried.append(fit)
        if fit.fits:
            return fit, tried
    return None, tried


def as_stored(
    model: ModelSpec, engine: str = "transformers", device: str = "cuda"
) -> tuple[str, int] | None:
    """(precision, weight bytes) of weights published quantized: a local GGUF file's own type
    and tensor bytes, or a catalog entry's quantized layout (MXFP4, NVFP4, FP8 blocks) as its
    sizing records it, the bytes ``perf estimate`` uses without ``--dtype``. None: the weights
    load at any precision, or their layout is unknown; also for a catalog layout under
    llama.cpp (it converts the weights to a GGUF type) or on a CPU (transformers' MXFP4 and
    FP8 kernels are GPU kernels), where the profile's precisions stay as they were."""
    if model.stored_as and model.stored_weights_bytes:
        return model.stored_as, model.stored_weights_bytes
    sizing = model.sizing
    if sizing is None or engine == "llama.cpp" or device == "cpu":
        return None
    label = quantized_label(sizing.stored)
    return (label, sizing.stored_bytes) if label and sizing.stored_bytes else None


def _weights_term(model: ModelSpec, from_config: bool) -> str:
    """How the weights are counted: as the catalog's sizing records them stored (the precision
    they are published, and their published scores measured, at), or at the precision asked."""
    if not from_config or model.sizing is None:
        return "weights"
    return (
        f"weights as stored ({model.sizing.stored_dtype}, from the config: the precision "
        "they are published and scored at)"
    )


def precisions_of(
    model: ModelSpec, precisions: Iterable[str], engine: str = "transformers", device: str = "cuda"
) -> tuple[str, ...]:
    """The precisions a model can run at, in the order tried: a GGUF file only at the type it
    is stored in (its weights cannot be loaded at another); weights published quantized first
    as stored, then each of ``precisions`` whose weights are smaller than the stored ones
    (a larger one would only dequantize them); anything else at each of ``precisions``."""
    layout = as_stored(model, engine, device)
    if layout is None:
        return tuple(precisions)
    if model.stored_as or model.arch is None:
        return (layout[0],)
    from llmselect.memory.estimate import weight_bytes

    smaller = [
        p for p in precisions if weight_bytes(model.arch, p, sizing=model.sizing) < layout[1]
    ]
    return (layout[0], *smaller)


def perf_estimate_command(model: ModelSpec, fit: MemoryFit, context: int, logits: str) -> str:
    """The ``llmselect perf estimate`` call that reproduces ``fit`` (same estimator, same
    convention): its peak per device is ``fit.per_device_gib`` (one device's share for llama.cpp
    over several GPUs). A local candidate is named by its path (its id resolves nowhere)."""
    model_id = shlex.quote(model.checkpoint or model.id)
    layout = as_stored(model, fit.engine, fit.device)
    stored = layout is not None and fit.precision == layout[0]  # no --dtype
    cmd = f"llmselect perf estimate -m {model_id}"
    if fit.engine == "llama.cpp":
        from llmselect.memory.llamacpp import PRECISION_FTYPES

        dtype = "" if stored else f" --dtype {PRECISION_FTYPES[fit.precision]}"
        return f"{cmd} --engine llama.cpp{dtype} --seq {context} --device {fit.device}"
    cmd += ("" if stored else f" --dtype {fit.precision}") + f" --seq {context}"
    cmd += f" --device {fit.device}"
    if fit.tp > 1:
        cmd += f" --tp {fit.tp}"
    return cmd + f" --logits {logits}"
