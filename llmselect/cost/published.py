"""Published training runs and fine-tuning memory tables beside our estimates.

``data/published_costs.yaml`` copies each row from its source. For a training run we compute
the FLOPs of that run (``cost.compute``), the MFU its published GPU-hours imply, and our
GPU-hours at the MFU the source reports (tokens/s per GPU or an MFU range), or, when it reports
none, at the implied MFU written in the data file (``stated_mfu``). For the fine-tuning table we
compute ``finetune_memory`` for catalog models of each size column.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from llmselect.config import PACKAGE_DATA
from llmselect.cost.compute import gpu_hours, implied_mfu, peak_tflops, train_compute
from llmselect.cost.finetune import FinetuneSetup, finetune_memory
from llmselect.errors import LLMSelectError

PUBLISHED_FILE = PACKAGE_DATA / "published_costs.yaml"
GB = 1e9


@lru_cache(maxsize=2)
def load_published(path: Path = PUBLISHED_FILE) -> dict[str, Any]:
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LLMSelectError(f"cannot read {path}: {exc}") from exc


@dataclass(frozen=True)
class TrainingRow:
    """One published pre-training run beside our estimate."""

    model_id: str
    label: str
    gpu: str
    tokens: float
    seq: int
    published_gpu_hours: float
    source: str
    total_flops: float  # estimated
    implied_mfu: float  # what the published hours imply under our compute model
    mfu_used: float
    mfu_basis: str  # where mfu_used comes from
    estimated_gpu_hours: float

    @property
    def rel_diff(self) -> float:
        return self.estimated_gpu_hours / self.published_gpu_hours - 1.0


def training_rows(catalog: Any = None) -> list[TrainingRow]:
    """Every published training run with our FLOPs, implied MFU and GPU-hours."""
    from llmselect.catalog import load_catalog
    from llmselect.hardware import find_gpu

    cat = catalog or load_catalog()
    rows = []
    for run in load_published()["training_runs"]:
        model = cat.get(run["model"])
        gpu = find_gpu(run["gpu"])
        if gpu is None:
            raise LLMSelectError(f"published run {run['label']}: unknown GPU {run['gpu']!r}")
        peak = peak_tflops(gpu, run["dtype"])
        comp = train_compute(model, float(run["tokens"]), int(run["seq"]), "total")
        hours = float(run["gpu_hours"])
        if "reported_tokens_per_gpu_s" in run:
            tps = float(run["reported_tokens_per_gpu_s"])
            mfu = tps * comp.flops_per_token / (peak * 1e12)
            basis = f"reported {tps:g} tokens/s/GPU → MFU ({run['reported_source']})"
        elif "reported_mfu" in run:
            low, high = run["reported_mfu"]
            mfu = float(low)
            basis = f"reported MFU {low:.0%}-{high:.0%}, low end ({run['reported_source']})"
        else:
            mfu = float(run["stated_mfu"])
            basis = "implied by the published GPU-hours (no MFU published), stated in the data"
        rows.append(
            TrainingRow(
                model_id=model.id,
                label=run["label"],
                gpu=gpu.name,
                tokens=comp.tokens,
                seq=comp.seq,
                published_gpu_hours=hours,
                source=run["source"],
                total_flops=comp.total_flops,
                implied_mfu=implied_mfu(comp.total_flops, peak, hours),
                mfu_used=mfu,
                mfu_basis=basis,
                estimated_gpu_hours=gpu_hours(comp.total_flops, peak, mfu),
            )
        )
    return rows


@dataclass(frozen=True)
class MemoryRow:
    """One cell of the published fine-tuning memory table beside our estimate."""

    method_label: str
    size: str
    model_id: str
    published_gb: float
    estimated_gb: float
    setup: dict[str, Any]

    @property
    def rel_diff(self) -> float:
        return self.estimated_gb / self.published_gb - 1.0


def memory_rows(catalog: Any = None) -> list[MemoryRow]:
    """The cited fine-tuning memory table against ``finetune_memory`` for catalog models."""
    from llmselect.catalog import load_catalog

    cat = catalog or load_catalog()
    table = load_published()["finetune_memory"]
    out = []
    for row in table["rows"]:
        setup = FinetuneSetup(
            method=row["method"],
            precision=row.get("precision", "amp"),
            quant_bits=row.get("quant_bits", 4),
            seq=2048,
            batch=1,
            checkpointing=True,
        )
        for size, model_ids in table["models"].items():
            for model_id in model_ids:
                model = cat.get(model_id)
                est = finetune_memory(model, setup)
                if size == "xB":
                    published = row["per_b"] * est.params_total / 1e9
                    label = f"{row['per_b']:g}x ({est.params_total / 1e9:.2f}B)"
                else:
                    published = float(row["values"][table["sizes"].index(size)])
                    label = size
                out.append(
                    MemoryRow(
                        method_label=row["label"],
                        size=label,
                        model_id=model.id,
                        published_gb=published,
                        estimated_gb=est.per_gpu_gib * 1024**3 / GB,
                        setup=est.setup,
                    )
                )
    return out


def published_sources() -> dict[str, str]:
    """Source line of the memory table and its comparison setting."""
    table = load_published()["finetune_memory"]
    return {"source": table["source"], "setting": table["setting"]}


def report_tables() -> list[tuple[str, list[str], list[list[str]], str]]:
    """Both comparisons as plain tables ``(title, header, rows, note)`` for the run report."""
    runs = training_rows()
    train = [
        [
            r.label, r.gpu, f"{r.tokens / 1e12:g}T", f"{r.published_gpu_hours:,.0f}",
            f"{r.implied_mfu:.1%}", f"{r.mfu_used:.1%}", f"{r.estimated_gpu_hours:,.0f}",
            f"{r.rel_diff:+.1%}",
        ]
        for r in runs
    ]  # fmt: skip
    train_note = "Sources and MFU basis: " + "; ".join(
        f"{r.label}: {r.source} (MFU used: {r.mfu_basis})" for r in runs
    )
    mem = [
        [r.method_label, r.size, r.model_id, f"{r.published_gb:.1f}", f"{r.estimated_gb:.1f}",
         f"{r.rel_diff:+.1%}"]
        for r in memory_rows()
    ]  # fmt: skip
    src = published_sources()
    return [
        (
            "Pre-training GPU-hours: published beside estimated",
            ["run", "GPU", "tokens", "published GPU-h", "implied MFU", "MFU used",
             "estimated GPU-h", "diff"],
            train,
            train_note,
        ),
        (
            "Fine-tuning memory, GB: published beside estimated",
            ["method", "size", "model", "published GB", "estimated GB", "diff"],
            mem,
            f"Source: {src['source']}. Setting: {src['setting']}.",
        ),
    ]  # fmt: skip
