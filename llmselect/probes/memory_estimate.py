"""Probe ``memory_estimate``: analytic peak memory of a model from its architecture alone.

No torch, no download: weights (by dtype, int8/int4 with scales), KV cache, the largest prefill
activation and a runtime overhead constant, per ``llmselect.memory.estimate``. The prefill keeps
the last position's logits only (``prefill_logits``, in ``params``), as serving stacks and the
recommender's fit check do, and as ``reference_latency`` measures; ``all positions`` sizes the
full ``(B, T, V)`` logits of a scoring pass instead. Records are
``kind="estimated"`` with subset ``bs=<B>,seq=<T>,dtype=<dtype>`` so they sit next to the
``reference_latency`` measurements of the same point.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product
from typing import Any, Literal

from pydantic import Field, field_validator

from llmselect.arch.family import NO_REFERENCE
from llmselect.errors import ProbeSkipped
from llmselect.metrics import ChartSpec, MetricSpec
from llmselect.probes.base import (
    ModelTarget,
    PositiveInts,
    Probe,
    ProbeConfig,
    RunContext,
    field_check,
)
from llmselect.records import Measurement

SOURCE = "llmselect.memory.estimate (analytic)"


def point_subset(batch: int, seq: int, dtype: str) -> str:
    """The subset key shared by estimates and measurements: ``bs=1,seq=512,dtype=bf16``."""
    return f"bs={batch},seq={seq},dtype={dtype}"


class MemoryEstimateConfig(ProbeConfig):
    """Options of ``memory_estimate``."""

    dtype: list[str] = Field(
        default=["bf16"], description="Weight dtypes: fp32 bf16 fp16 int8 int4."
    )
    batch: PositiveInts = Field(default=[1], description="Batch sizes.")
    seq: PositiveInts = Field(default=[2048], description="Prompt lengths, tokens.")
    new_tokens: int = Field(default=0, ge=0, description="Decode steps after the prompt.")
    device: Literal["cuda", "cpu"] = Field(default="cuda", description="Overhead model to use.")
    tp: int = Field(default=1, ge=1, description="Tensor-parallel degree (memory per device).")
    group_size: int | None = Field(default=None, description="int4/int8 scale group size.")
    prefill_logits: Literal["last position", "all positions"] = Field(
        default="last position",
        description="Logits the prefill keeps: the last position (serving) or every position.",
    )

    @field_validator("dtype")
    @classmethod
    def _known_dtypes(cls, value: list[str]) -> list[str]:
        """A suite's typo is refused when the plan is built, not as a failed unit later."""
        from llmselect.memory.estimate import check_weight_dtype

        return [field_check(check_weight_dtype, name) for name in value]


# Config fields that ``estimate_memory`` takes under the same names.
ESTIMATOR_SETTINGS = {"new_tokens", "device", "tp", "group_size"}

WEIGHTS_CHART = ChartSpec(
    "memory-vs-params",
    "Weights memory vs parameters, by dtype",
    "One point per catalog model and dtype.",
    series="params_scatter",
    order=40,
    axis="weights memory",
)


def estimate_metric_specs(section: str, *, table: str | None = None) -> tuple[MetricSpec, ...]:
    """The ``est_*`` metrics of ``estimate_records`` (memory_estimate and reference_latency)."""
    in_section = section == "memory"
    return (
        MetricSpec(
            "est_peak_memory_mib", "MiB", False, section, table=table,
            label="estimated peak", description="weights + KV cache + activations + overhead",
        ),
        MetricSpec(
            "est_weights_mib", "MiB", False, section, table=table,
            chart=WEIGHTS_CHART if in_section else None, label="estimated weights",
        ),
        MetricSpec("est_kv_cache_mib", "MiB", False, section, label="estimated KV cache"),
        MetricSpec("est_activations_mib", "MiB", False, section, label="estimated activations"),
        MetricSpec("est_overhead_mib", "MiB", False, section, label="runtime overhead"),
    )  # fmt: skip


class MemoryEstimateProbe(Probe[MemoryEstimateConfig, ModelTarget]):
    """Estimated peak memory (weights + KV cache + activations + overhead) per point."""

    name = "memory_estimate"
    version = 2  # 2: the prefill keeps the last position's logits (as served), not all T
    description = "Analytic peak memory: weights, KV cache, activations, runtime overhead."
    Config = MemoryEstimateConfig
    metrics = estimate_metric_specs("memory", table="Estimated memory")

    def run(self, target: ModelTarget, ctx: RunContext) -> Iterator[Measurement]:
        from llmselect.memory.estimate import estimate_memory

        arch = getattr(target, "arch", None)
        if arch is None:
            raise ProbeSkipped(f"{target.id}: no architecture numbers in the catalog")
        cfg = self.config
        from llmselect.arch.count import count_model
        from llmselect.errors import LLMSelectError

        try:  # family 'other': the common layout, only where it reproduces the recorded total
            params_total = count_model(target).total
        except LLMSelectError as exc:
            raise ProbeSkipped(str(exc)) from None
        note = None
        if arch.family == NO_REFERENCE:
            note = "weights from the common decoder layout, confirmed by the recorded total"
        settings = {  # the same at every point
            **cfg.model_dump(include=ESTIMATOR_SETTINGS),
            "params_total": params_total,
            "last_token_logits": cfg.prefill_logits == "last position",
        }
        for dtype, batch, seq in product(cfg.dtype, cfg.batch, cfg.seq):
            est = estimate_memory(arch, dtype=dtype, batch=batch, seq=seq, **settings)
            if note:
                est.notes.append(note)
            yield from estimate_records(
                self, ctx, target.id, est, prefill_logits=cfg.prefill_logits
            )


def estimate_records(
    probe: Probe,
    ctx: RunContext,
    model_id: str,
    est: Any,
    prefix: str = "est_",
    prefill_logits: str | None = None,
    subset: str | None = None,
) -> Iterator[Measurement]:
    """One record per part of an estimate (MiB), all ``kind="estimated"``; ``subset``: the
    measured point's (it names a non-reference engine), else the estimate's own point."""
    subset = subset or point_subset(est.batch, est.seq, est.dtype)
    params = {
        "device": est.device,
        "tp": est.tp,
        "new_tokens": est.new_tokens,
        "kv_dtype": est.kv_dtype,
        "params_total": est.params_total,
    }
    if prefill_logits:
        params["prefill_logits"] = prefill_logits
    if est.notes:
        params["notes"] = "; ".join(est.notes)
    parts = est.as_mib()
    names = {
        "peak_mib": "peak_memory_mib",
        "weights_mib": "weights_mib",
        "kv_cache_mib": "kv_cache_mib",
        "activations_mib": "activations_mib",
        "overhead_mib": "overhead_mib",
    }
    for key, metric in names.items():
        yield probe.record(
            ctx,
            model_id,
            prefix + metric,
            parts[key],
            kind="estimated",
            subset=subset,
            params=params,
            source=SOURCE,
        )
