"""CLI commands: ``perf estimate|measure|sweep|archs`` (memory estimate, measured probe, sweeps).

``estimate`` is pure arithmetic (no torch); ``measure`` and ``sweep`` run each point in a child
process and import torch only there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from llmselect.cli.common import (
    EXIT_PROBE_FAILED,
    command_line,
    emit,
    err,
    out,
    print_json,
    require_device_here,
)
from llmselect.cli.executors import AddressOpt, ExecutorOpt, ExecutorOptionOpt, pick_executor
from llmselect.cli.numbers import check_above_zero
from llmselect.cli.options import JsonOpt, threads_option
from llmselect.cli.progress import UnitProgress

perf_app = typer.Typer(
    help="Memory estimates and measured memory/latency of reference models.",
    no_args_is_help=True,
)

ModelOpt = Annotated[
    list[str],
    typer.Option(
        "-m",
        "--model",
        help="Catalog id, family:size, GGUF file, checkpoint folder or hub id (repeatable, a,b).",
    ),
]


def _require_device(device: str, here: bool = True) -> None:
    """``--device`` is auto, cpu or cuda; cuda on a machine without a usable GPU is a usage
    error, not a skip, when the points run ``here`` (a cluster's workers have their own GPUs)."""
    from llmselect.errors import LLMSelectError

    if device not in ("auto", "cpu", "cuda"):
        raise LLMSelectError(f"device must be auto, cpu or cuda, got {device!r}")
    if here:
        require_device_here(device, "use --device cpu or auto")


def _model_names(model: list[str]) -> list[str]:
    """The ``-m`` values (repeatable, each comma-separated) as names; none is a usage error."""
    from llmselect.errors import LLMSelectError
    from llmselect.names import split_csv

    names = split_csv(model)
    if not names:
        raise LLMSelectError("name a model with -m (catalog id or family:size)")
    return names


EstDtypeOpt = Annotated[
    str | None,
    typer.Option(
        help="fp32, bf16, fp16, int8, int4, or a llama.cpp type (q4_k_m, q5_k_m, q8_0, "
        "q4_0, ...). Default: bf16; a GGUF file's own tensors."
    ),
]
BatchOpt = Annotated[int, typer.Option(min=1, help="Batch size.")]
SeqOpt = Annotated[int, typer.Option(min=1, help="Prompt length, tokens.")]
NewTokensOpt = Annotated[int, typer.Option(min=0, help="Tokens generated after it.")]
EstDeviceOpt = Annotated[str, typer.Option(help="cuda or cpu (runtime overhead model).")]
TpOpt = Annotated[int, typer.Option(min=1, help="Tensor-parallel degree.")]
GroupSizeOpt = Annotated[int | None, typer.Option(min=1, help="int4/int8 scale group size.")]
GpuMemOpt = Annotated[
    float | None,
    typer.Option(min=0, help="Per-GPU memory: pick the smallest TP split that fits."),
]
LogitsOpt = Annotated[
    str,
    typer.Option(
        help="Prefill logits kept: last (the sampled position, as served; default, the "
        "recommender's convention) or all (every position: scoring, training)."
    ),
]
EstEngineOpt = Annotated[
    str,
    typer.Option(
        help="transformers (default) or llama.cpp (a GGUF file type as --dtype, F16 KV "
        "cache, llama.cpp's compute buffer with flash attention)."
    ),
]


def _render_estimates(rows: list[dict[str, Any]]) -> None:
    from rich.table import Column, Table

    from llmselect.memory.estimate import MIB

    table = Table(
        Column("model", no_wrap=True), "dtype", "bs", "seq", "tp", "weights", "KV", "act",
        "overhead", Column("peak", no_wrap=True),
        title="Estimated peak memory per device, MiB",
    )  # fmt: skip
    for r in rows:
        peak = f"{r['peak_mib']:.0f} ({r['total_bytes'] / (1024 * MIB):.2f} GiB)"
        table.add_row(
            r["model_id"], r["dtype"], str(r["batch"]), str(r["seq"]), str(r["tp"]),
            f"{r['weights_mib']:.0f}", f"{r['kv_cache_mib']:.0f}", f"{r['activations_mib']:.0f}",
            f"{r['overhead_mib']:.0f}", peak + ("" if r.get("fits", True) else " no fit"),
        )  # fmt: skip
    out.print(table)
    for r in rows:
        for note in r["notes"]:
            err.print(f"{r['model_id']}: {note}")


@perf_app.command("estimate")
def estimate(
    model: ModelOpt,
    dtype: EstDtypeOpt = None,
    batch: BatchOpt = 1,
    seq: SeqOpt = 2048,
    new_tokens: NewTokensOpt = 0,
    device: EstDeviceOpt = "cuda",
    tp: TpOpt = 1,
    group_size: GroupSizeOpt = None,
    gpu_mem_gib: GpuMemOpt = None,
    logits: LogitsOpt = "last",
    engine: EstEngineOpt = "transformers",
    as_json: JsonOpt = False,
) -> None:
    """Estimated peak memory per device: weights + KV cache + activations + overhead."""
    from llmselect.memory.estimate_rows import EstimateOptions, estimate_row
    from llmselect.targets import resolve_target

    opts = EstimateOptions(
        dtype=dtype, batch=batch, seq=seq, new_tokens=new_tokens, device=device, tp=tp,
        group_size=group_size, gpu_mem_gib=gpu_mem_gib, logits=logits, engine=engine,
    ).checked()  # fmt: skip
    rows = [estimate_row(resolve_target(name), opts) for name in _model_names(model)]
    emit(rows, as_json, _render_estimates)


def engine_label(row: dict[str, Any]) -> str:
    """``llama.cpp: llama-cpp-python 0.3.36 (ggml-org/llama.cpp@...)``: an engine's version."""
    engine = row.get("engine", "")
    if engine == "llama.cpp":
        return f"llama.cpp: llama-cpp-python {row.get('llama_cpp_python')} ({row.get('llama_cpp')})"
    if engine == "transformers":
        return f"transformers: transformers {row.get('transformers')}, torch {row.get('torch')}"
    return f"{engine}: llmselect.refmodels, torch {row.get('torch')}" if engine else ""


def _measure_rows(records: list[Any]) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        row = rows.setdefault((r.model_id, r.subset), {"model_id": r.model_id, "point": r.subset})
        if r.status != "ok":
            row["status"] = r.status
            row["error"] = r.error
            continue
        row[r.metric] = r.value
        if r.metric == "fits" and r.value == 0:
            row["reason"] = r.params.get("reason")
        for key in ROW_PARAMS:
            if key in r.params:
                row[key] = r.params[key]
    return list(rows.values())


# Params every measured row shows: the machine, the engine that ran and its version, threads.
# A point beyond the model's context carries its caveat (context_params).
ROW_PARAMS = ("device_name", "engine", "threads", "torch", "transformers", "llama_cpp_python",
              "llama_cpp", "context_tokens", "context_source", "context_note")  # fmt: skip


DeviceOpt = Annotated[str, typer.Option(help="auto, cpu or cuda.")]
MeasureDtypeOpt = Annotated[
    str | None,
    typer.Option(help="fp32, bf16 or fp16 (default bf16; llama.cpp: the file's own types)."),
]
BatchesOpt = Annotated[list[str], typer.Option(help="Batch sizes (repeatable, 1,4).")]
SeqsOpt = Annotated[list[str], typer.Option(help="Prompt lengths (repeatable).")]
DecodeStepsOpt = Annotated[int, typer.Option(min=0, help="Decode steps timed.")]
WarmupOpt = Annotated[int, typer.Option(min=0, help="Untimed rounds first.")]
IterationsOpt = Annotated[int, typer.Option(min=1, help="Timed prefills.")]
ChildThreadsOpt = Annotated[
    int | None, threads_option("CPU threads in the child (default 1 on CPU).")
]
MemoryCapOpt = Annotated[
    float | None,
    typer.Option(
        callback=check_above_zero, help="Memory the child may use; beyond it = does not fit."
    ),
]
CheckpointOpt = Annotated[
    str | None,
    typer.Option(
        help="Real weights instead of random ones: a GGUF file, safetensors folder/file or "
        "hub id; it must have the shape of -m (records carry the checkpoint's own id)."
    ),
]
MeasureEngineOpt = Annotated[
    str,
    typer.Option(
        help="reference (llmselect.refmodels), transformers (a checkpoint) or llama.cpp "
        "(a .gguf file through llama-cpp-python, CPU, batch 1)."
    ),
]
CheckLogitsOpt = Annotated[
    bool, typer.Option(help="Check a checkpoint's logits against transformers.")
]
BandwidthOpt = Annotated[
    float | None,
    typer.Option(
        callback=check_above_zero, help="Memory bandwidth for the decode roofline (GB/s)."
    ),
]
SaveOpt = Annotated[bool, typer.Option(help="Store the records in the result store.")]


def _render_measured(rows: list[dict[str, Any]], device: str, run_id: str) -> None:
    from rich.table import Table

    table = Table(
        "model", "point", "engine", "fits", "process MiB", "over runtime MiB", "est MiB",
        "err %", "prefill ms", "decode ms/tok", "tok/s", "roofline",
        title=f"Measured on {device} (run {run_id}); est = estimate of the MiB over runtime",
        caption="; ".join(dict.fromkeys(engine_label(r) for r in rows if r.get("engine"))),
    )  # fmt: skip

    def f(v: Any, spec: str = ".0f") -> str:
        return "" if v is None else format(v, spec)

    for r in rows:
        fits = {1.0: "yes", 0.0: "no"}.get(r.get("fits"), r.get("status", ""))  # type: ignore[arg-type]
        table.add_row(
            r["model_id"], r["point"], r.get("engine", ""), fits,
            f(r.get("peak_process_memory_mib")), f(r.get("peak_memory_mib")),
            f(r.get("est_peak_memory_mib")), f(r.get("est_error_pct"), "+.1f"),
            f(r.get("prefill_ms"), ".1f"), f(r.get("decode_ms_per_token"), ".2f"),
            f(r.get("decode_tokens_per_s"), ".1f"), f(r.get("decode_roofline_share"), ".2f"),
        )  # fmt: skip
    out.print(table)
    for r in rows:
        if r.get("context_note"):
            err.print(f"{r['model_id']} {r['point']}: warning: {r['context_note']}", markup=False)
        if r.get("reason"):
            err.print(f"{r['model_id']} {r['point']}: {r['reason']}")
        if r.get("error"):
            err.print(f"{r['model_id']} {r['point']}: error: {r['error']}")


@perf_app.command("measure")
def measure(
    model: ModelOpt,
    device: DeviceOpt = "auto",
    dtype: MeasureDtypeOpt = None,
    batch: BatchesOpt = ["1"],  # noqa: B006 - typer reads it, never mutated
    seq: SeqsOpt = ["512"],  # noqa: B006 - typer reads it, never mutated
    new_tokens: DecodeStepsOpt = 32,
    warmup: WarmupOpt = 2,
    iterations: IterationsOpt = 5,
    threads: ChildThreadsOpt = None,
    memory_cap_mib: MemoryCapOpt = None,
    checkpoint: CheckpointOpt = None,
    engine: MeasureEngineOpt = "reference",
    check_logits: CheckLogitsOpt = True,
    bandwidth_gb_s: BandwidthOpt = None,
    save: SaveOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Measure peak memory, prefill and decode latency (one child process per point)."""
    from llmselect.probes.latency_setup import engine_device, latency_setup
    from llmselect.runner import open_run
    from llmselect.units import plan

    device = engine_device(engine, dtype, device)
    _require_device(device)
    setup = latency_setup(
        model, checkpoint, device=device, dtype=dtype, batch=batch, seq=seq, engine=engine,
        new_tokens=new_tokens, warmup=warmup, iterations=iterations, threads=threads,
        memory_cap_mib=memory_cap_mib, check_logits=check_logits, bandwidth_gb_s=bandwidth_gb_s,
    )  # fmt: skip
    run = open_run(command_line(), device=setup.device, store=save)
    units = plan(setup.targets, [setup.probe])
    with UnitProgress("perf measure", len(units)) as progress:  # a bar, or plain lines
        summary = run.execute(units, on_unit_done=progress.done)
    rows = _measure_rows(summary.records)
    emit(rows, as_json, lambda rows: _render_measured(rows, setup.device, run.run_id))
    if summary.errors:
        raise typer.Exit(EXIT_PROBE_FAILED)


SWEEP_OUT_HELP = (
    "Folder of this run: raw.jsonl, measurements.jsonl, run.json, table.md. One run per folder: "
    "a folder that already holds a sweep's files is refused."
)


@perf_app.command("sweep")
def sweep(
    model: ModelOpt,
    points: Annotated[str, typer.Option(help="BATCHxSEQ list, e.g. 1x512,8x2048.")] = "1x512",
    out_dir: Annotated[Path, typer.Option("--out", help=SWEEP_OUT_HELP)] = Path("perf-sweep"),
    device: DeviceOpt = "auto",
    dtype: Annotated[str, typer.Option(help="fp32, bf16 or fp16.")] = "bf16",
    new_tokens: Annotated[int, typer.Option(min=0)] = 32,
    warmup: Annotated[int, typer.Option(min=0)] = 2,
    iterations: Annotated[int, typer.Option(min=1)] = 5,
    threads: Annotated[
        int | None, threads_option("CPU threads per point (default 1 on CPU).")
    ] = None,
    memory_cap_mib: MemoryCapOpt = None,
    executor: ExecutorOpt = None,
    executor_option: ExecutorOptionOpt = [],  # noqa: B006 - typer reads it, never mutated
    address: AddressOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure many (model, point) pairs; writes raw.jsonl, measurements.jsonl and table.md."""
    from llmselect.memory.dtypes import parse_dtype
    from llmselect.sweep import TABLE, parse_points, run_sweep

    runner = pick_executor(executor, executor_option, address)
    _require_device(device, here=runner.name == "local")
    dt = parse_dtype(dtype)
    names = _model_names(model)
    pts = parse_points(points)
    records = run_sweep(
        names, pts, out_dir,
        probe_options={"device": device, "dtype": dt.name, "new_tokens": new_tokens,
                       "warmup": warmup, "iterations": iterations, "threads": threads,
                       "memory_cap_mib": memory_cap_mib},
        command=command_line(), executor=runner,
    )  # fmt: skip
    if as_json:
        print_json(_measure_rows(records))
    else:
        out.print((out_dir / TABLE).read_text(encoding="utf-8"), markup=False, highlight=False)
    failed = [r for r in records if r.status == "error"]
    for r in failed:
        err.print(f"{r.model_id} {r.subset}: error: {r.error}", markup=False, highlight=False)
    if failed:
        raise typer.Exit(EXIT_PROBE_FAILED)


@perf_app.command("archs")
def archs(as_json: JsonOpt = False) -> None:
    """Architecture presets (family:size) usable with -m, each copied from a published config."""
    from llmselect.arch.presets import describe, preset_arch, preset_names

    rows = [
        {"name": n, "checkpoint": describe(n), **preset_arch(n).model_dump()}
        for n in preset_names()
    ]
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table("name", "checkpoint", "layers", "hidden", "heads", "kv_heads", "source")
    for r in rows:
        table.add_row(
            r["name"], r["checkpoint"], str(r["layers"]), str(r["hidden"]), str(r["heads"]),
            str(r["kv_heads"]), r["source"],
        )  # fmt: skip
    out.print(table)


def register(app: typer.Typer) -> None:
    """Attach ``perf``."""
    app.add_typer(perf_app, name="perf")
