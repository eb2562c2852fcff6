"""CLI commands: ``cost train|finetune|published``: what training or adapting a model costs.

Pure arithmetic on catalog architecture numbers and the GPU table: no torch import.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from llmselect.cli.common import err, out, print_json
from llmselect.cli.options import JsonOpt

cost_app = typer.Typer(
    help="What training or fine-tuning a model costs: GPU-hours, memory per GPU, time.",
    no_args_is_help=True,
)

ModelOpt = Annotated[
    str,
    typer.Option(
        "-m",
        "--model",
        help="Catalog id, family:size preset, or a local checkpoint (folder, .safetensors, .gguf).",
    ),
]
MfuOpt = Annotated[
    float | None,
    typer.Option(
        min=0, max=1, help="Model-FLOPs utilisation, share of peak (default 0.40; see README)."
    ),
]
DtypeFlopsOpt = Annotated[
    str,
    typer.Option(
        help="Dtype whose peak FLOPs apply: auto (bf16, or fp16 without it), bf16, fp16, fp8."
    ),
]
ParamsOpt = Annotated[
    str, typer.Option("--params", help="N in 6·N·D: total or non-embedding parameters.")
]
TokensOpt = Annotated[str, typer.Option(help="Training tokens: 2T, 1.4T, 500B, 3e9.")]
TrainGpuOpt = Annotated[str, typer.Option(help="GPU name (A100-80G, H100, H800, H20, 910B, ...).")]
TrainGpusOpt = Annotated[int | None, typer.Option(min=1, help="GPU count, for wall-clock days.")]
TrainSeqOpt = Annotated[int, typer.Option(min=1, help="Training sequence length, tokens.")]
PowerOpt = Annotated[
    float | None, typer.Option(min=0, help="Power per GPU, W (for energy; e.g. its TDP).")
]
PriceOpt = Annotated[
    float | None, typer.Option(min=0, help="Price per GPU-hour, in your currency (for cost).")
]
MethodOpt = Annotated[str, typer.Option(help="full, lora or qlora.")]
FtSeqOpt = Annotated[int, typer.Option(min=1, help="Tokens per training sequence.")]
BatchOpt = Annotated[int, typer.Option(min=1, help="Sequences per GPU per step (micro-batch).")]
FtGpuOpt = Annotated[
    str | None, typer.Option(help="Memory per GPU (24GB, 2x80GB) or a GPU name (H100, 4090).")
]
FtGpusOpt = Annotated[int | None, typer.Option(min=1, help="GPU count (default: from --gpu or 1).")]
ZeroOpt = Annotated[
    int | None,
    typer.Option(min=0, max=3, help="ZeRO stage 0-3 (3 = FSDP); default 3 on several GPUs."),
]
PrecisionOpt = Annotated[
    str, typer.Option(help="Full fine-tuning: amp (fp32 master + bf16 autocast), bf16, fp32.")
]
OptimizerOpt = Annotated[str, typer.Option(help="adamw, adamw-8bit or sgd.")]
CheckpointingOpt = Annotated[
    bool, typer.Option("--checkpointing/--no-checkpointing", help="Gradient checkpointing.")
]
LoraRankOpt = Annotated[
    int | None, typer.Option(min=1, help="LoRA rank (lora, qlora; default 16).")
]
QuantBitsOpt = Annotated[
    int | None, typer.Option(help="QLoRA base weights: 4 (NF4, the default) or 8.")
]
EpochTokensOpt = Annotated[
    str | None, typer.Option(help="Tokens per epoch, for time per epoch (e.g. 100M).")
]


def _model(name: str) -> Any:
    from llmselect.targets import resolve_target

    return resolve_target(name.strip())


def _fmt_count(x: float) -> str:
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.4g}{unit}"
    return f"{x:g}"


def _fmt_hours(h: float) -> str:
    return f"{h / 1e6:.3g}M" if h >= 1e6 else f"{h:,.0f}" if h >= 100 else f"{h:.3g}"


def _mfu_note(source: str) -> str:
    """``given``, or the assumed default named with its source (in short)."""
    return "given" if source.startswith("given") else "assumed default, Llama 3 paper Table 4"


def _render_training(est: Any) -> None:
    from rich.table import Table

    c = est.compute
    table = Table(title=f"Training cost of {est.model_id} (estimated)", show_header=False)
    basis = (
        c.param_basis
        if c.params_counted == c.params_total
        else (f"{c.param_basis}; total {c.params_total:,}")
    )
    table.add_row("parameters N", f"{c.params_counted:,} ({basis}; exact, from the architecture)")
    table.add_row("tokens D", f"{_fmt_count(c.tokens)} at {c.seq} tokens per sequence")
    table.add_row(
        "FLOPs per token",
        f"{c.flops_per_token:.4g} = 6·N {c.dense_flops_per_token:.4g} "
        f"+ attention {c.attention_flops_per_token:.4g}",
    )
    table.add_row("total compute", f"{c.total_flops:.3e} FLOPs")
    table.add_row(
        "GPU peak", f"{est.peak_tflops:g} TFLOP/s dense {est.dtype}, {est.gpu} (published)"
    )
    table.add_row("MFU", f"{est.mfu:.0%} ({_mfu_note(est.mfu_source)})")
    table.add_row("GPU-hours", f"{est.gpu_hours:,.0f} {est.gpu}-hours")
    table.add_row("wall clock", f"{est.wall_clock_days:,.1f} days on {est.gpus} GPUs")
    if est.energy_mwh is not None:
        table.add_row("energy", f"{est.energy_mwh:,.1f} MWh at {est.power_w:g} W per GPU")
    if est.cost is not None:
        table.add_row("cost", f"{est.cost:,.0f} at {est.price_per_gpu_hour:g} per GPU-hour")
    out.print(table)
    if est.context_caveat is not None:
        out.print(f"caveat: {est.context_caveat['note']}")
    err.print(f"GPU source: {est.gpu_source}")


@cost_app.command("train")
def train(
    model: ModelOpt,
    tokens: TokensOpt,
    gpu: TrainGpuOpt,
    gpus: TrainGpusOpt = None,
    mfu: MfuOpt = None,
    seq: TrainSeqOpt = 4096,
    dtype: DtypeFlopsOpt = "auto",
    params: ParamsOpt = "total",
    power_w: PowerOpt = None,
    price: PriceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute (6·N·D + attention), GPU-hours, wall-clock days, energy and cost of training."""
    from llmselect.cost.compute import estimate_training, parse_count
    from llmselect.cost.plans import named_gpu
    from llmselect.cost.published import training_rows

    spec, count = named_gpu(gpu, gpus)
    est = estimate_training(
        _model(model), spec, parse_count(tokens), seq=seq, gpus=count, mfu=mfu,
        dtype=dtype.strip().lower(),
        basis=params.strip().lower(), power_w=power_w, price_per_gpu_hour=price,
    )  # fmt: skip
    published = [r for r in training_rows() if r.model_id == est.model_id]
    if as_json:
        print_json({**est.to_dict(), "published": [_training_row_dict(r) for r in published]})
        return
    _render_training(est)
    if published:
        _print_training_rows(published)


def _training_row_dict(r: Any) -> dict[str, Any]:
    return {
        "model_id": r.model_id, "label": r.label, "gpu": r.gpu, "tokens": r.tokens, "seq": r.seq,
        "published_gpu_hours": r.published_gpu_hours, "source": r.source,
        "total_flops": r.total_flops, "implied_mfu": round(r.implied_mfu, 4),
        "mfu_used": round(r.mfu_used, 4), "mfu_basis": r.mfu_basis,
        "estimated_gpu_hours": round(r.estimated_gpu_hours), "rel_diff": round(r.rel_diff, 4),
    }  # fmt: skip


def _print_training_rows(rows: list[Any]) -> None:
    from rich.table import Table

    table = Table(
        "run", "GPU", "tokens", "published GPU-h", "implied MFU", "MFU used", "our GPU-h", "diff",
        title="Published pre-training runs beside our estimate",
    )  # fmt: skip
    for r in rows:
        table.add_row(
            r.label, r.gpu, _fmt_count(r.tokens), _fmt_hours(r.published_gpu_hours),
            f"{r.implied_mfu:.1%}", f"{r.mfu_used:.1%}", _fmt_hours(r.estimated_gpu_hours),
            f"{r.rel_diff:+.1%}",
        )  # fmt: skip
    out.print(table)
    for r in rows:
        err.print(f"{r.label}: {r.source}; MFU used: {r.mfu_basis}")


def _render_finetune(model_id: str, plan: Any) -> None:
    from rich.table import Table

    est, budget, time = plan.memory, plan.budget, plan.time
    table = Table(
        "part", "GiB per GPU",
        title=f"{est.method} fine-tuning memory of {model_id} (estimated)",
    )  # fmt: skip
    for part, gib in est.parts_gib.items():
        table.add_row(part, f"{gib:.2f}")
    table.add_row("peak (not the sum: see rule)", f"{est.per_gpu_gib:.2f}")
    out.print(table)
    if "context_caveat" in plan.data:
        out.print(f"caveat: {plan.data['context_caveat']['note']}")
    out.print(f"rule: {est.rule}")
    out.print(
        f"trainable parameters: {est.trainable_params:,} of {est.params_total:,} (exact, from arch)"
    )
    if budget is not None:
        verdict = "fits" if plan.data["fits"] else "does NOT fit"
        out.print(f"{budget.describe()}: {est.per_gpu_gib:.1f} GiB per GPU {verdict}")
    if time is not None:
        out.print(
            f"one epoch of {_fmt_count(time.tokens)} tokens: "
            f"{time.gpu_hours:,.1f} {time.gpu}-hours, {time.wall_clock_hours:,.1f} h on "
            f"{time.gpus} GPUs at MFU {time.mfu:.0%} ({_mfu_note(time.mfu_source)}) of "
            f"{time.peak_tflops:g} TFLOP/s dense {time.dtype} (published) "
            f"({time.flops_per_token:.3g} FLOPs/token, estimated)"
        )
        err.print(f"GPU source: {time.gpu_source}")
    elif "time_note" in plan.data:
        err.print(plan.data["time_note"])


@cost_app.command("finetune")
def finetune(
    model: ModelOpt,
    method: MethodOpt = "lora",
    seq: FtSeqOpt = 2048,
    batch: BatchOpt = 1,
    gpu: FtGpuOpt = None,
    gpus: FtGpusOpt = None,
    zero: ZeroOpt = None,
    precision: PrecisionOpt = "amp",
    optimizer: OptimizerOpt = "adamw",
    checkpointing: CheckpointingOpt = True,
    lora_rank: LoraRankOpt = None,
    quant_bits: QuantBitsOpt = None,
    tokens: EpochTokensOpt = None,
    mfu: MfuOpt = None,
    dtype: DtypeFlopsOpt = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Memory per GPU (weights, gradients, optimizer, adapters, activations) and time per epoch."""
    from llmselect.cost.plans import finetune_setup, plan_finetune

    target = _model(model)
    setup = finetune_setup(
        method, seq=seq, batch=batch, zero=zero, precision=precision.strip().lower(),
        optimizer=optimizer.strip().lower(), checkpointing=checkpointing, lora_rank=lora_rank,
        quant_bits=quant_bits,
    )  # fmt: skip
    plan = plan_finetune(
        target, setup, gpu=gpu, gpus=gpus, tokens=tokens, mfu=mfu, dtype=dtype.strip().lower()
    )
    if as_json:
        print_json(plan.data)
    else:
        _render_finetune(target.id, plan)


@cost_app.command("published")
def published(as_json: JsonOpt = False) -> None:
    """Published training runs and fine-tuning memory beside our estimates."""
    from llmselect.cost.published import memory_rows, published_sources, training_rows

    runs, mem, src = training_rows(), memory_rows(), published_sources()
    if as_json:
        print_json(
            {
                "training_runs": [_training_row_dict(r) for r in runs],
                "finetune_memory": {
                    **src,
                    "rows": [
                        {**r.__dict__, "estimated_gb": round(r.estimated_gb, 2),
                         "rel_diff": round(r.rel_diff, 4)}
                        for r in mem
                    ],
                },
            }
        )  # fmt: skip
        return
    _print_training_rows(runs)
    from rich.table import Table

    table = Table(
        "method", "size", "model", "published GB", "our GB", "diff",
        title="Fine-tuning memory: published table beside our estimate",
    )  # fmt: skip
    for r in mem:
        table.add_row(
            r.method_label, r.size, r.model_id, f"{r.published_gb:.1f}", f"{r.estimated_gb:.1f}",
            f"{r.rel_diff:+.1%}",
        )  # fmt: skip
    out.print(table)
    err.print(f"memory table: {src['source']}; setting: {src['setting']}")


def register(app: typer.Typer) -> None:
    app.add_typer(cost_app, name="cost")
