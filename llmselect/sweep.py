"""Memory/latency sweep: many (model, batch, seq) points, each in its own child process.

``run_sweep`` opens a run in its output folder (``llmselect.runner.open_run``) and runs one
``reference_latency`` unit per (model, point) through the runner; as each point finishes, the
store's writer appends its records (estimate next to measurement) to ``measurements.jsonl``
and the child's result and spec go to ``raw.jsonl`` (so estimates can be recomputed later from
the same measurement); ``run.json`` (kept by the writer) and ``table.md`` follow. Sits beside
the suite runner: it drives probes, the math lives in ``llmselect.memory``.
``render_table`` turns records into the Markdown table. No torch in this process.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmselect.errors import LLMSelectError
from llmselect.probes.reference_latency import (
    WORKER_RESULT,
    RecordedPoint,
    ReferenceLatencyProbe,
    resolve_device,
    worker_spec,
)
from llmselect.records import RunInfo
from llmselect.runner import open_run
from llmselect.store import MEASUREMENTS, RUN_INFO
from llmselect.targets import resolve_target
from llmselect.units import Unit

log = logging.getLogger(__name__)

RAW = "raw.jsonl"
RECORDS = MEASUREMENTS
TABLE = "table.md"


@dataclass(frozen=True)
class Point:
    """One (batch, prompt length) point."""

    batch: int
    seq: int


def parse_points(text: str) -> list[Point]:
    """``"1x512,8x2048"`` → points; a malformed item is a one-line error."""
    points = []
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        b, sep, s = item.lower().partition("x")
        if not sep or not b.isdigit() or not s.isdigit() or int(b) < 1 or int(s) < 1:
            raise LLMSelectError(f"bad point {item!r}: write BATCHxSEQ, e.g. 1x512")
        points.append(Point(int(b), int(s)))
    if not points:
        raise LLMSelectError("no points given (e.g. --points 1x512,1x2048)")
    return points


def gpu_description() -> dict[str, str]:
    """nvidia-smi's name, driver and memory of GPU 0, or {} without nvidia-smi."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return {}
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {}
    if not out:
        return {}
    name, driver, mem = (p.strip() for p in out.splitlines()[0].split(",")[:3])
    return {"gpu_name": name, "driver": driver, "gpu_memory": mem}


def run_sweep(
    models: Sequence[Any],
    points: Sequence[Point],
    out_dir: Path,
    *,
    probe_options: dict[str, Any] | None = None,
    command: str = "",
    executor: Any = "local",
    variants: Sequence[dict[str, Any]] = ({},),
) -> list[Any]:
    """Measure every (model, point) through the runner; returns the records.

    One unit per (model, point): a ``reference_latency`` probe whose config names that point
    and keeps each child's raw result, so ``raw.jsonl`` can be written beside the records.
    ``variants`` are config updates measured at every point, in one run (e.g. the engines
    ``[{"engine": "reference"}, {"engine": "transformers"}]``).
    """
    # a name, or a target already built (an ``ArchTarget`` of an arch that has no preset)
    targets = [m if hasattr(m, "arch") else resolve_target(m) for m in models]
    opts = dict(probe_options or {})
    opts["device"] = resolve_device(opts.get("device", "auto"))
    base = ReferenceLatencyProbe.Config(**opts, keep_worker_result=True)
    units = [
        Unit(
            target,
            ReferenceLatencyProbe(
                base.model_copy(update={**variant, "batch": [pt.batch], "seq": [pt.seq]})
            ),
        )
        for target in targets
        for variant in variants
        for pt in points
    ]
    refuse_a_run_folder(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file of that name, a read-only or full disk
        raise LLMSelectError(f"--out {out_dir}: cannot create the folder: {exc.strerror}") from exc
    # The run's records, run.json and lock live in the sweep's folder, written by the store's
    # writer (whole units, resumable); each child's raw result goes beside them in raw.jsonl.
    run = open_run(command, device=opts["device"], folder=out_dir)
    gpu = gpu_description() if opts["device"].startswith("cuda") else {}
    records: list[Any] = []
    with (out_dir / RAW).open("a", encoding="utf-8") as raw_fh, run.writer as writer:

        def keep_raw(unit: Unit, recs: list[Any]) -> list[Any]:
            """One finished point: its child's result to raw.jsonl, the rest to the store."""
            nonlocal gpu
            cfg = unit.probe.config
            kept = []
            for r in recs:
                if r.metric == "probe_status":  # the point did not run (e.g. too long for GPT-2)
                    log.warning("%s: %s", unit.target.id, r.error)
                    continue
                if WORKER_RESULT in r.params:
                    params = dict(r.params)
                    result = json.loads(params.pop(WORKER_RESULT))
                    spec = worker_spec(cfg, unit.target, cfg.batch[0], cfg.seq[0], cfg.device)
                    row = {
                        "model_id": unit.target.id,
                        "spec": spec.model_dump(),
                        "result": result,
                        "host": r.host,
                    }
                    raw_fh.write(json.dumps(row) + "\n")
                    if not gpu and result.get("driver"):
                        gpu = {
                            "gpu_name": result.get("device_name", ""),
                            "driver": result["driver"],
                        }
                    r = r.model_copy(update={"params": params})
                kept.append(r)
            raw_fh.flush()
            records.extend(kept)
            return kept

        run.execute(units, prepare=keep_raw, executor=executor)
        writer.run_info = writer.run_info.model_copy(
            update={"device_name": gpu.get("gpu_name") or _device_name(records)}
        )
        writer.write_run_info()
        info = writer.run_info
    (out_dir / TABLE).write_text(render_table(records, header=_header(info, gpu)), encoding="utf-8")
    return records


def refuse_a_run_folder(out_dir: Path) -> None:
    """A sweep's folder holds one run: its ``run.json`` describes every record beside it and
    ``rerender`` replays them as that run. A folder that already holds a sweep's files is
    refused (before anything is measured) rather than mixed with this run's."""
    held = [n for n in (RUN_INFO, RECORDS, RAW, TABLE) if (out_dir / n).is_file()]
    if not held:
        return
    run_id = ""
    with suppress(OSError, ValueError):
        run_id = f" of run {RunInfo.model_validate_json((out_dir / RUN_INFO).read_bytes()).run_id}"
    raise LLMSelectError(
        f"--out {out_dir} already holds a sweep's files{run_id} ({', '.join(held)}): one folder "
        "holds one run; give a new folder"
    )


def rerender(out_dir: Path) -> list[Any]:
    """Recompute the records (estimates included) from ``raw.jsonl`` and rewrite the table.

    The same path as a measurement: one ``reference_latency`` unit per stored point, through
    the runner, whose config replays the child's stored result instead of starting a child.
    """
    info = RunInfo.model_validate_json((out_dir / RUN_INFO).read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in (out_dir / RAW).read_text().splitlines() if line.strip()]
    units: list[Unit] = []
    gpu: dict[str, str] = {}
    for row in rows:
        point = RecordedPoint.model_validate(
            {"spec": row["spec"], "result": row["result"], "host": row.get("host")}
        )
        config = ReferenceLatencyProbe.Config(
            device=point.spec.device if point.spec.device in ("cpu", "cuda") else "cuda",
            dtype=point.spec.dtype,
            new_tokens=point.spec.new_tokens,
            replay=point,
        )
        units.append(Unit(resolve_target(row["model_id"]), ReferenceLatencyProbe(config)))
        result = point.result
        if result.get("driver"):
            gpu = {"gpu_name": result.get("device_name", ""), "driver": result["driver"]}
    run = open_run(info.command, device=info.device, store=False, resume=info)
    records: list[Any] = []
    for rec in run.execute(units).records:
        if rec.metric == "probe_status":  # a point whose records cannot be rebuilt
            log.warning("%s: %s", rec.model_id, rec.error)
            continue
        records.append(rec)
    with (out_dir / RECORDS).open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(r.model_dump_json() + "\n")
    (out_dir / TABLE).write_text(render_table(records, header=_header(info, gpu)), encoding="utf-8")
    return records


def _device_name(records: Iterable[Any]) -> str | None:
    for r in records:
        name = r.params.get("device_name")
        if name:
            return str(name)
    return None


def _header(info: Any, gpu: dict[str, str]) -> str:
    torch_v = (info.versions or {}).get("torch")
    lines = [
        f"Run `{info.run_id}`, device `{info.device}`"
        + (f": {gpu['gpu_name']}, driver {gpu['driver']}" if gpu.get("gpu_name") else "")
        + f", torch {torch_v}, {info.cpu_count} CPU cores, {info.platform}.",
        "",
        "Measured peak = device memory the child process needed (CUDA: NVML context + "
        "torch peak reserved; CPU: peak RSS above the RSS after imports); process peak = the "
        "whole process at its peak, as peers report it. Estimate = "
        "`llmselect.memory.estimate` for the same point; error = (est − measured) / measured. "
        "Latency: p50 (p90) after warm-up; roofline share = bandwidth floor ÷ measured "
        "decode step. Threads = CPU threads of the point (1 unless --threads).",
        "",
    ]
    return "\n".join(lines)


def _fmt(v: Any, spec: str = ".0f") -> str:
    return "" if v is None else format(v, spec)


def render_table(records: Iterable[Any], header: str = "") -> str:
    """Markdown: one row per (model, point) with measured vs estimated peak and latencies."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        if r.status != "ok":
            continue
        row = rows.setdefault((r.model_id, r.subset), {"params": {}})
        row[r.metric] = r.value
        if r.metric == "fits":
            row["params"] = r.params
    cols = (
        "| model | point | threads | fits | measured peak MiB | process peak MiB "
        "| estimated peak MiB | error % | prefill ms p50 (p90) | decode ms/token p50 (p90) "
        "| tok/s | roofline share |"
    )
    out = [header, cols, "|" + "---|" * 12]
    for (model, subset), row in rows.items():
        fits = row.get("fits")
        if fits == 0:
            reason = str(row["params"].get("reason", "does not fit"))[:80]
            out.append(
                f"| {model} | {subset} | {row['params'].get('threads', '')} | **no**: {reason} "
                f"| | | {_fmt(row.get('est_peak_memory_mib'))} | | | | | |"
            )
            continue
        out.append(
            "| "
            + " | ".join(
                [
                    model,
                    subset,
                    str(row["params"].get("cpu_threads", row["params"].get("threads", ""))),
                    "yes",
                    _fmt(row.get("peak_memory_mib")),
                    _fmt(row.get("peak_process_memory_mib")),
                    _fmt(row.get("est_peak_memory_mib")),
                    _fmt(row.get("est_error_pct"), "+.1f"),
                    f"{_fmt(row.get('prefill_ms'), '.1f')} "
                    f"({_fmt(row.get('prefill_ms_p90'), '.1f')})",
                    f"{_fmt(row.get('decode_ms_per_token'), '.2f')} "
                    f"({_fmt(row.get('decode_ms_per_token_p90'), '.2f')})",
                    _fmt(row.get("decode_tokens_per_s"), ".1f"),
                    _fmt(row.get("decode_roofline_share"), ".2f"),
                ]
            )
            + " |"
        )
    notes = [
        f"{model} {subset}: warning: {row['params']['context_note']}"
        for (model, subset), row in rows.items()
        if row["params"].get("context_note")
    ]
    out += ["", *notes] if notes else []
    errors = [abs(row["est_error_pct"]) for row in rows.values() if "est_error_pct" in row]
    if errors:
        within = sum(e <= 5.0 for e in errors)
        out += [
            "",
            f"Estimator: mean |error| {sum(errors) / len(errors):.1f} %, max {max(errors):.1f} %, "
            f"{within}/{len(errors)} points within 5 %.",
        ]
    return "\n".join(out) + "\n"
