"""The parsed options of ``llmselect perf measure`` → the targets and the configured
``reference_latency`` probe: every bad option, name or engine pairing is one error here, before
any child process starts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmselect.errors import LLMSelectError
from llmselect.memory.dtypes import parse_dtype
from llmselect.names import split_csv
from llmselect.probes.reference_latency import (
    ENGINES,
    ReferenceLatencyProbe,
    check_engine,
    checkpoint_for,
    resolve_device,
)
from llmselect.targets import resolve_model, resolve_target


def engine_device(engine: str, dtype: str | None, device: str) -> str:
    """The device asked for, given the engine (llama.cpp runs the file's types on the CPU)."""
    if engine not in ENGINES:
        raise LLMSelectError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "llama.cpp":
        if dtype is not None:
            raise LLMSelectError(
                "--engine llama.cpp runs the GGUF file's own tensor types; leave out --dtype"
            )
        if device == "auto":
            device = "cpu"
    return device


def positive_ints(values: Sequence[str], what: str) -> list[int]:
    """``["1,4", "8"]`` → ``[1, 4, 8]``; anything but a positive integer is an error."""
    out_vals = []
    for v in split_csv(list(values)):
        if not v.isdigit() or int(v) < 1:
            raise LLMSelectError(f"{what} must be positive integers, got {v!r}")
        out_vals.append(int(v))
    return out_vals


def latency_targets(names: list[str], checkpoint: str | None) -> list[Any]:
    """The models to time: ``-m`` names, or the checkpoint (shape-checked against them)."""
    if not names and not checkpoint:
        raise LLMSelectError("name a model with -m (catalog id, family:size or checkpoint)")
    targets = [resolve_target(n) for n in names]
    if checkpoint:
        # Shape check first (exit 2); the records then belong to the checkpoint itself.
        targets = [checkpoint_for(t, checkpoint) for t in targets] or [resolve_model(checkpoint)]
        targets = list({t.id: t for t in targets}.values())
    for t in targets:
        if getattr(t, "is_checkpoint", False) and t.arch is None:
            raise LLMSelectError(f"{t.id}: no architecture numbers in the checkpoint")
    return targets


@dataclass(frozen=True)
class LatencySetup:
    """What ``perf measure`` runs: the targets, the probe, and the device it resolved to."""

    targets: list[Any]
    probe: ReferenceLatencyProbe
    device: str


def latency_setup(
    model: list[str],
    checkpoint: str | None,
    *,
    device: str,
    dtype: str | None,
    batch: Sequence[str],
    seq: Sequence[str],
    engine: str,
    **config: Any,
) -> LatencySetup:
    """Check and resolve everything ``perf measure`` was given (``device`` already checked
    for this machine); ``config``: the probe's other ``Config`` fields, as given."""
    dt = parse_dtype(dtype or "bf16")
    if dt.quantized:
        raise LLMSelectError(f"reference models run fp32, bf16 or fp16, not {dt.name}")
    targets = latency_targets(split_csv(model), checkpoint)
    resolved = resolve_device(device)
    batches = positive_ints(batch, "--batch")
    for t in targets:  # before any child process starts
        check_engine(engine, t, resolved, batches)
    probe = ReferenceLatencyProbe(
        ReferenceLatencyProbe.Config(
            device=resolved, dtype=dt.name, batch=batches, seq=positive_ints(seq, "--seq"),
            engine=engine, **config,
        )
    )  # fmt: skip
    return LatencySetup(targets, probe, resolved)
