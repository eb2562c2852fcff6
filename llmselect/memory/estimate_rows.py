"""The rows of ``llmselect perf estimate``: the options checked once, then one estimate per
target (a catalog entry, a preset, a GGUF file or a config-only folder), with the notes that
say where its weight bytes came from and whether the asked length exceeds its context."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from llmselect.arch.count import count_model
from llmselect.errors import LLMSelectError
from llmselect.memory.estimate import check_weight_dtype, estimate_memory, plan_tensor_parallel
from llmselect.memory.ggml_quant import FTYPE_BASE
from llmselect.memory.llamacpp import estimate_llamacpp

ENGINES = ("transformers", "llama.cpp")


@dataclass(frozen=True)
class EstimateOptions:
    """The options of ``perf estimate``; ``dtype`` None = bf16, or a GGUF file's own tensors
    (a config's stored dtype where it states one)."""

    dtype: str | None = None
    batch: int = 1
    seq: int = 2048
    new_tokens: int = 0
    device: str = "cuda"
    tp: int = 1
    group_size: int | None = None
    gpu_mem_gib: float | None = None
    logits: str = "last"
    engine: str = "transformers"

    def checked(self) -> EstimateOptions:
        """The same options with the dtype normalised; a bad combination is one error."""
        dtype = check_weight_dtype(self.dtype) if self.dtype is not None else None
        if self.logits not in ("last", "all"):
            raise LLMSelectError(f"--logits must be last or all, got {self.logits!r}")
        if self.engine not in ENGINES:
            raise LLMSelectError(f"unknown engine {self.engine!r}; use transformers or llama.cpp")
        if self.engine == "llama.cpp" and (self.tp > 1 or self.gpu_mem_gib is not None):
            raise LLMSelectError("--engine llama.cpp sizes one device: drop --tp and --gpu-mem-gib")
        return replace(self, dtype=dtype)


def _past_context(target: Any) -> str:
    """What a length past the stated context means: a learned position table has no row for it;
    rotary and ALiBi positions run past the trained range (memory is real, quality unmeasured)."""
    if target.arch.traits.position == "learned":
        return "the estimate is for a length its learned position table cannot run"
    return (
        "the estimate is for positions past the range the model was trained on (a "
        "context-extension setting; whether its output is usable there is not estimated)"
    )


def stated_context(target: Any) -> tuple[int | None, str]:
    """The longest sequence a target runs and where that is stated: the catalog's context length
    (published, with its source), else the architecture's position limit (a config's, a GGUF
    file's or a learned position table's); ``(None, "not recorded")`` when neither is known."""
    context = getattr(target, "context_length", None)
    if context is not None:
        return context, f"published: {getattr(target, 'context_source', None) or 'catalog'}"
    arch = getattr(target, "arch", None)
    if arch is not None and arch.max_position is not None:
        return arch.max_position, f"position limit of the architecture: {arch.source}"
    return None, "not recorded"


def _llamacpp(target: Any, kw: dict[str, Any], opts: EstimateOptions) -> Any:
    ftype = {"fp16": "f16", "fp32": "f32"}.get(kw["dtype"], kw["dtype"])
    if ftype not in FTYPE_BASE:
        known = ", ".join(FTYPE_BASE)
        raise LLMSelectError(f"--engine llama.cpp: give a GGUF file type as --dtype ({known})")
    return estimate_llamacpp(
        target.arch, ftype, opts.seq + opts.new_tokens, device=opts.device,
        params_total=kw["params_total"], weights_bytes=kw.get("weights_bytes"),
        sizing=kw["sizing"],
    )  # fmt: skip


def _weights(target: Any, opts: EstimateOptions, kw: dict[str, Any]) -> str | None:
    """Weight bytes as stored, where the target states them and no --dtype overrides them:
    updates ``kw`` and says where they came from (None: computed from the dtype)."""
    gguf, sizing = getattr(target, "gguf", None), getattr(target, "sizing", None)
    if gguf is not None and opts.dtype is None:  # the file as it is: its exact tensor bytes
        kw.update(dtype=target.gguf_file_type or "fp16", weights_bytes=gguf.tensor_bytes)
        return "tensor bytes of the GGUF file"
    if (
        sizing is not None
        and opts.dtype is None
        and sizing.stored_bytes is not None
        and (
            opts.engine != "llama.cpp"  # llama.cpp converts: its file type decides the bytes
        )
    ):
        kw.update(weights_bytes=sizing.stored_bytes)  # as the config says it is stored
        return f"as stored, from the config: {sizing.stored_dtype}"
    return None


def estimate_row(target: Any, opts: EstimateOptions) -> dict[str, Any]:
    """One target's estimated peak memory per device as a ``perf estimate`` row."""
    if target.arch is None:
        raise LLMSelectError(f"{target.id}: the catalog has no architecture numbers")
    sizing = getattr(target, "sizing", None)
    kw: dict[str, Any] = dict(
        dtype=opts.dtype or "bf16", batch=opts.batch, seq=opts.seq, new_tokens=opts.new_tokens,
        device=opts.device, group_size=opts.group_size, params_total=count_model(target).total,
        last_token_logits=opts.logits == "last", sizing=sizing,
    )  # fmt: skip
    stored_source = _weights(target, opts, kw)
    if opts.engine == "llama.cpp":
        est, fits = _llamacpp(target, kw, opts), None
    elif opts.gpu_mem_gib is not None:
        plan = plan_tensor_parallel(target.arch, opts.gpu_mem_gib, **kw)
        est, fits = plan.per_device, plan.fits
    else:
        est, fits = estimate_memory(target.arch, tp=opts.tp, **kw), None
    row = {"model_id": target.id, "kind": "estimated", **est.to_dict()}
    context, _ = stated_context(target)
    if context is not None and opts.seq + opts.new_tokens > context:
        row["notes"] = [
            *row.get("notes", []),
            f"warning: --seq {opts.seq} + --new-tokens {opts.new_tokens} exceeds the model's "
            f"context of {context} tokens: {_past_context(target)}",
        ]
    if stored_source is not None:
        row["weights_source"] = stored_source
        if getattr(target, "gguf", None) is None:
            row["dtype"] = "stored"
    if sizing is not None:
        row["params_total"] = sizing.params_total
        row["params_active"] = sizing.params_active
        row["cache"] = [g.model_dump(exclude_defaults=True) for g in sizing.cache]
    if fits is not None:
        row["fits"] = fits
        row["gpu_mem_gib"] = opts.gpu_mem_gib
    return row
