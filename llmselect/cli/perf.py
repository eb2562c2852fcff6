"""CLI commands: ``perf estimate|measure|sweep|archs`` (memory estimate, measured probe, sweeps).

``estimate`` is pure arithmetic (no torch); ``measure`` and ``sweep`` run each point in a child
process and import torch only there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from llmselect.cli.common import EXIT_PROBE_FAILED, err, out, print_json
from llmselect.cli.executors import AddressOpt, ExecutorOpt, ExecutorOptionOpt, pick_executor
from llmselect.cli.numbers import check_threads
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
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON on stdout.")]


def _ints(values: list[str], what: str) -> list[int]:
    from llmselect.errors import LLMSelectError
    from llmselect.names import split_csv

    out_vals = []
    for v in split_csv(values):
        if not v.isdigit() or int(v) < 1:
            raise LLMSelectError(f"{what} must be positive integers, got {v!r}")
        out_vals.append(int(v))
    return out_vals


def _require_device(device: str) -> None:
    """``--device cuda`` on a machine without a usable GPU is a usage error, not a skip."""
    from llmselect.errors import LLMSelectError

    if device not in ("auto", "cpu", "cuda"):
        raise LLMSelectError(f"device must be auto, cpu or cuda, got {device!r}")
    if device != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else "no visible GPU"
        raise LLMSelectError(
            f"--device cuda: CUDA is not available here (torch {torch.__version__}, {build}); "
            "use --device cpu or auto"
        )


def _context_tokens(target: Any) -> int | None:
    """The longest sequence a target runs: catalog context length, else learned positions."""
    context = getattr(target, "context_length", None)
    if context is None and getattr(target, "arch", None) is not None:
        context = target.arch.max_position
    return context


@perf_app.command("estimate")
def estimate(
    model: ModelOpt,
    dtype: Annotated[
        str | None,
        typer.Option(
            help="fp32, bf16, fp16, int8, int4, or a llama.cpp type (q4_k_m, q5_k_m, q8_0, "
            "q4_0, ...). Default: bf16; a GGUF file's own tensors."
        ),
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="Batch size.")] = 1,
    seq: Annotated[int, typer.Option(min=1, help="Prompt length, tokens.")] = 2048,
    new_tokens: Annotated[int, typer.Option(min=0, help="Tokens generated after it.")] = 0,
    device: Annotated[str, typer.Option(help="cuda or cpu (runtime overhead model).")] = "cuda",
    tp: Annotated[int, typer.Option(min=1, help="Tensor-parallel degree.")] = 1,
    group_size: Annotated[
        int | None, typer.Option(min=1, help="int4/int8 scale group size.")
    ] = None,
    gpu_mem_gib: Annotated[
        float | None,
        typer.Option(min=0, help="Per-GPU memory: pick the smallest TP split that fits."),
    ] = None,
    logits: Annotated[
        str,
        typer.Option(
            help="Prefill logits kept: last (the sampled position, as served; default, the "
            "recommender's convention) or all (every position: scoring, training)."
        ),
    ] = "last",
    engine: Annotated[
        str,
        typer.Option(
            help="transformers (default) or llama.cpp (a GGUF file type as --dtype, F16 KV "
            "cache, llama.cpp's compute buffer with flash attention)."
        ),
    ] = "transformers",
    as_json: JsonOpt = False,
) -> None:
    """Estimated peak memory per device: weights + KV cache + activations + overhead."""
    from llmselect.arch.count import count_model
    from llmselect.errors import LLMSelectError
    from llmselect.memory.estimate import (
        MIB,
        check_weight_dtype,
        estimate_memory,
        plan_tensor_parallel,
    )
    from llmselect.names import split_csv
    from llmselect.targets import resolve_target

    if dtype is not None:
        dtype = check_weight_dtype(dtype)
    if logits not in ("last", "all"):
        raise LLMSelectError(f"--logits must be last or all, got {logits!r}")
    if engine not in ("transformers", "llama.cpp"):
        raise LLMSelectError(f"unknown engine {engine!r}; use transformers or llama.cpp")
    if engine == "llama.cpp" and (tp > 1 or gpu_mem_gib is not None):
        raise LLMSelectError("--engine llama.cpp sizes one device: drop --tp and --gpu-mem-gib")
    names = split_csv(model)
    if not names:
        raise LLMSelectError("name a model with -m (catalog id or family:size)")
    rows: list[dict[str, Any]] = []
    for name in names:
        target = resolve_target(name)
        if target.arch is None:
            raise LLMSelectError(f"{target.id}: the catalog has no architecture numbers")
        sizing = getattr(target, "sizing", None)
        kw: dict[str, Any] = dict(
            dtype=dtype or "bf16", batch=batch, seq=seq, new_tokens=new_tokens, device=device,
            group_size=group_size, params_total=count_model(target).total,
            last_token_logits=logits == "last", sizing=sizing,
        )  # fmt: skip
        gguf = getattr(target, "gguf", None)
        stored_source = None
        if gguf is not None and dtype is None:  # the file as it is: its exact tensor bytes
            kw.update(dtype=target.gguf_file_type or "fp16", weights_bytes=gguf.tensor_bytes)
            stored_source = "tensor bytes of the GGUF file"
        elif sizing is not None and dtype is None and sizing.stored_bytes is not None and (
            engine != "llama.cpp"  # llama.cpp converts: its file type decides the bytes
        ):
            kw.update(weights_bytes=sizing.stored_bytes)  # as the config says it is stored
            stored_source = f"as stored, from the config: {sizing.stored_dtype}"
        if engine == "llama.cpp":
            from llmselect.memory.ggml_quant import FTYPE_BASE
            from llmselect.memory.llamacpp import estimate_llamacpp

            ftype = {"fp16": "f16", "fp32": "f32"}.get(kw["dtype"], kw["dtype"])
            if ftype not in FTYPE_BASE:
                known = ", ".join(FTYPE_BASE)
                raise LLMSelectError(
                    f"--engine llama.cpp: give a GGUF file type as --dtype ({known})"
                )
            est = estimate_llamacpp(
                target.arch, ftype, seq + new_tokens, device=device,
                params_total=kw["params_total"], weights_bytes=kw.get("weights_bytes"),
            )  # fmt: skip
            fits = None
        elif gpu_mem_gib is not None:
            plan = plan_tensor_parallel(target.arch, gpu_mem_gib, **kw)
            est, fits = plan.per_device, plan.fits
        else:
            est, fits = estimate_memory(target.arch, tp=tp, **kw), None
        row = {"model_id": target.id, "kind": "estimated", **est.to_dict()}
        context = _context_tokens(target)
        if context is not None and seq + new_tokens > context:
            row["notes"] = [
                *row.get("notes", []),
                f"warning: --seq {seq} + --new-tokens {new_tokens} exceeds the model's context of "
                f"{context} tokens: the estimate is for a length it cannot run",
            ]
        if stored_source is not None:
            row["weights_source"] = stored_source
            if gguf is None:
                row["dtype"] = "stored"
        if sizing is not None:
            row["params_total"] = sizing.params_total
            row["params_active"] = sizing.params_active
            row["cache"] = [g.model_dump(exclude_defaults=True) for g in sizing.cache]
        if fits is not None:
            row["fits"] = fits
            row["gpu_mem_gib"] = gpu_mem_gib
        rows.append(row)
    if as_json:
        print_json(rows)
        return
    from rich.table import Column, Table

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
ROW_PARAMS = ("device_name", "engine", "threads", "torch", "transformers", "llama_cpp_python",
              "llama_cpp")  # fmt: skip


@perf_app.command("measure")
def measure(
    model: ModelOpt,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    dtype: Annotated[
        str | None,
        typer.Option(help="fp32, bf16 or fp16 (default bf16; llama.cpp: the file's own types)."),
    ] = None,
    batch: Annotated[list[str], typer.Option(help="Batch sizes (repeatable, 1,4).")] = ["1"],  # noqa: B006
    seq: Annotated[list[str], typer.Option(help="Prompt lengths (repeatable).")] = ["512"],  # noqa: B006
    new_tokens: Annotated[int, typer.Option(min=0, help="Decode steps timed.")] = 32,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed rounds first.")] = 2,
    iterations: Annotated[int, typer.Option(min=1, help="Timed prefills.")] = 5,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1, callback=check_threads, help="CPU threads in the child (default 1 on CPU)."
        ),
    ] = None,
    memory_cap_mib: Annotated[
        float | None,
        typer.Option(min=0, help="Memory the child may use; beyond it = does not fit."),
    ] = None,
    checkpoint: Annotated[
        str | None,
        typer.Option(
            help="Real weights instead of random ones: a GGUF file, safetensors folder/file or "
            "hub id; it must have the shape of -m (records carry the checkpoint's own id)."
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="reference (llmselect.refmodels), transformers (a checkpoint) or llama.cpp "
            "(a .gguf file through llama-cpp-python, CPU, batch 1)."
        ),
    ] = "reference",
    check_logits: Annotated[
        bool, typer.Option(help="Check a checkpoint's logits against transformers.")
    ] = True,
    bandwidth_gb_s: Annotated[
        float | None, typer.Option(min=0, help="Memory bandwidth for the decode roofline (GB/s).")
    ] = None,
    save: Annotated[bool, typer.Option(help="Store the records in the result store.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Measure peak memory, prefill and decode latency (one child process per point)."""
    from llmselect.errors import LLMSelectError
    from llmselect.memory.dtypes import parse_dtype
    from llmselect.names import split_csv
    from llmselect.probes.reference_latency import (
        ENGINES,
        ReferenceLatencyProbe,
        check_engine,
        resolve_device,
    )
    from llmselect.runner import open_run
    from llmselect.targets import resolve_target
    from llmselect.units import plan

    if engine not in ENGINES:
        raise LLMSelectError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "llama.cpp":
        if dtype is not None:
            raise LLMSelectError(
                "--engine llama.cpp runs the GGUF file's own tensor types; leave out --dtype"
            )
        if device == "auto":
            device = "cpu"
    _require_device(device)
    dt = parse_dtype(dtype or "bf16")
    if dt.quantized:
        raise LLMSelectError(f"reference models run fp32, bf16 or fp16, not {dt.name}")
    names = split_csv(model)
    if not names and not checkpoint:
        raise LLMSelectError("name a model with -m (catalog id, family:size or checkpoint)")
    targets = [resolve_target(n) for n in names]
    if checkpoint:
        from llmselect.probes.reference_latency import checkpoint_for
        from llmselect.targets import resolve_model

        # Shape check first (exit 2); the records then belong to the checkpoint itself.
        targets = [checkpoint_for(t, checkpoint) for t in targets] or [resolve_model(checkpoint)]
        targets = list({t.id: t for t in targets}.values())
    for t in targets:
        if getattr(t, "is_checkpoint", False) and t.arch is None:
            raise LLMSelectError(f"{t.id}: no architecture numbers in the checkpoint")
    resolved = resolve_device(device)
    batches = _ints(batch, "--batch")
    for t in targets:  # before any child process starts
        check_engine(engine, t, resolved, batches)
    probe = ReferenceLatencyProbe(
        ReferenceLatencyProbe.Config(
            device=resolved, dtype=dt.name, batch=batches,
            seq=_ints(seq, "--seq"), new_tokens=new_tokens, warmup=warmup,
            iterations=iterations, threads=threads, memory_cap_mib=memory_cap_mib,
            engine=engine, check_logits=check_logits, bandwidth_gb_s=bandwidth_gb_s,
        )
    )  # fmt: skip
    run = open_run("perf measure", device=resolved, store=save)
    run_id = run.run_id
    units = plan(targets, [probe])
    with UnitProgress("perf measure", len(units)) as progress:  # a bar, or plain lines
        summary = run.execute(units, on_unit_done=progress.done)
    rows = _measure_rows(summary.records)
    if as_json:
        print_json(rows)
    else:
        from rich.table import Table

        table = Table(
            "model", "point", "engine", "fits", "process MiB", "over runtime MiB", "est MiB",
            "err %", "prefill ms", "decode ms/tok", "tok/s", "roofline",
            title=f"Measured on {resolved} (run {run_id}); est = estimate of the MiB over runtime",
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
            if r.get("reason"):
                err.print(f"{r['model_id']} {r['point']}: {r['reason']}")
            if r.get("error"):
                err.print(f"{r['model_id']} {r['point']}: error: {r['error']}")
    if summary.errors:
        raise typer.Exit(EXIT_PROBE_FAILED)


@perf_app.command("sweep")
def sweep(
    model: ModelOpt,
    points: Annotated[str, typer.Option(help="BATCHxSEQ list, e.g. 1x512,8x2048.")] = "1x512",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for JSONL + table.md.")] = Path(
        "perf-sweep"
    ),
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    dtype: Annotated[str, typer.Option(help="fp32, bf16 or fp16.")] = "bf16",
    new_tokens: Annotated[int, typer.Option(min=0)] = 32,
    warmup: Annotated[int, typer.Option(min=0)] = 2,
    iterations: Annotated[int, typer.Option(min=1)] = 5,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1, callback=check_threads, help="CPU threads per point (default 1 on CPU)."
        ),
    ] = None,
    memory_cap_mib: Annotated[float | None, typer.Option(min=0)] = None,
    executor: ExecutorOpt = None,
    executor_option: ExecutorOptionOpt = [],  # noqa: B006 - typer reads it, never mutated
    address: AddressOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure many (model, point) pairs; writes raw.jsonl, measurements.jsonl and table.md."""
    from llmselect.errors import LLMSelectError
    from llmselect.memory.dtypes import parse_dtype
    from llmselect.names import split_csv
    from llmselect.sweep import TABLE, parse_points, run_sweep

    runner = pick_executor(executor, executor_option, address)
    if runner.name == "local":  # on a cluster, the GPUs are the workers', not this machine's
        _require_device(device)
    elif device not in ("auto", "cpu", "cuda"):
        raise LLMSelectError(f"device must be auto, cpu or cuda, got {device!r}")
    dt = parse_dtype(dtype)
    names = split_csv(model)
    if not names:
        raise LLMSelectError("name a model with -m (catalog id or family:size)")
    pts = parse_points(points)
    records = run_sweep(
        names, pts, out_dir,
        probe_options={"device": device, "dtype": dt.name, "new_tokens": new_tokens,
                       "warmup": warmup, "iterations": iterations, "threads": threads,
                       "memory_cap_mib": memory_cap_mib},
        command="perf sweep", executor=runner,
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
