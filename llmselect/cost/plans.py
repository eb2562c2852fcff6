"""The parsed options of ``llmselect cost train|finetune`` → what they report: the GPU a name
stands for (``2048xH800``), and a fine-tuning setup's memory, fit and time per epoch."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from llmselect.cost.compute import context_caveat, parse_count, require_arch
from llmselect.cost.finetune import (
    FinetuneEstimate,
    FinetuneSetup,
    FinetuneTime,
    finetune_memory,
    finetune_time,
)
from llmselect.errors import LLMSelectError
from llmselect.hardware import GpuBudget, GpuSpec, find_gpu, load_gpus, parse_gpu


def named_gpu(text: str, gpus: int | None) -> tuple[GpuSpec, int]:
    """``A100-80G`` or ``2048xA100-80G`` → (GpuSpec, count); ``gpus`` wins over the prefix."""
    count, name = 1, text.strip()
    prefix = re.match(r"^(\d+)\s*[x×*]\s*(.+)$", name, flags=re.IGNORECASE)
    if prefix:
        count, name = int(prefix.group(1)), prefix.group(2)
        if count < 1:
            raise LLMSelectError(f"--gpu {text.strip()!r}: the GPU count must be at least 1")
    gpu = find_gpu(name)
    if gpu is None:
        known = ", ".join(sorted({g.name for g in load_gpus().values()}))
        raise LLMSelectError(f"unknown GPU {text.strip()!r}: name one of {known}")
    return gpu, gpus if gpus is not None else count


def finetune_setup(
    method: str, *, lora_rank: int | None, quant_bits: int | None, **options: Any
) -> FinetuneSetup:
    """``cost finetune``'s setup; ``--lora-rank`` or ``--quant-bits`` given for a method that
    has no such thing is refused (it was left out of the estimate without a word)."""
    method = method.strip().lower()
    if lora_rank is not None and method == "full":
        raise LLMSelectError("--lora-rank applies to lora and qlora, not to --method full")
    if quant_bits is not None and method != "qlora":
        raise LLMSelectError(f"--quant-bits applies to qlora, not to --method {method}")
    given = {"lora_rank": lora_rank, "quant_bits": quant_bits}
    return FinetuneSetup(
        method=method, **options, **{k: v for k, v in given.items() if v is not None}
    )


@dataclass(frozen=True)
class FinetunePlan:
    """A fine-tuning setup sized: its memory, the budget it was checked against, the time per
    epoch (when a named GPU and a token count were given) and all of it as ``--json`` data."""

    memory: FinetuneEstimate
    budget: GpuBudget | None
    time: FinetuneTime | None
    data: dict[str, Any]


def plan_finetune(
    target: Any,
    setup: FinetuneSetup,
    *,
    gpu: str | None,
    gpus: int | None,
    tokens: str | None,
    mfu: float | None,
    dtype: str,
) -> FinetunePlan:
    """Size fine-tuning ``target`` with ``setup`` on ``gpu`` (a memory budget or a GPU name)
    and time one epoch of ``tokens``; the GPU count is ``gpus``, else the budget's, else 1
    (``setup.gpus`` is replaced by it)."""
    arch = require_arch(target)
    budget = parse_gpu(gpu) if gpu else None
    if budget is not None and budget.is_cpu:
        raise LLMSelectError("cost finetune sizes GPU memory; --gpu cpu does not apply")
    count = gpus if gpus is not None else (budget.count if budget else 1)
    if budget is not None and budget.count != count:  # --gpus wins over 2x80GB's count
        budget = replace(budget, count=count)
    setup = replace(setup, gpus=count)
    est = finetune_memory(target, setup)
    data: dict[str, Any] = {"model_id": target.id, **est.to_dict()}
    caveat = context_caveat(target, setup.seq)
    if caveat is not None:
        data["context_caveat"] = caveat
    if budget is not None:
        data["gpu"] = budget.describe()
        data["memory_gib_each"] = round(budget.memory_gib_each, 3)
        data["fits"] = est.per_gpu_gib <= budget.memory_gib_each
    named = find_gpu(budget.name) if budget is not None else None
    time = None
    if tokens is not None:
        n_tokens = parse_count(tokens)
        if named is None:
            data["time_note"] = "time per epoch needs a named GPU (its peak FLOPs): --gpu H100"
        else:
            time = finetune_time(
                target, setup.validated(arch), named, n_tokens, mfu=mfu, dtype=dtype
            )
            data["epoch"] = time.__dict__
    return FinetunePlan(est, budget, time, data)
