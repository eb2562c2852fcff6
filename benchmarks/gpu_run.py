"""One GPU run: memory and latency per parameter size, LLaMA family, bf16, two engines.

Sweeps random-weight LLaMA-family models from 0.5B to 8B (``MODELS``: the presets
``llama:0.5b`` Qwen2.5-0.5B, ``llama:1.1b`` TinyLlama, ``llama:3b`` Qwen2.5-3B, ``llama:7b``
Llama-2-7B, ``llama:8b`` Llama-3-8B; shapes copied from the published configs) at batch 1,
prompts of 512 and 2,048 tokens, 128 decoded tokens, bf16, in both engines: ``reference``
(``llmselect.refmodels``) and ``transformers`` (the same shapes in transformers' own classes,
``refmodels.transformers_twin``). Every point runs in its own child process
(``llmselect.sweep.run_sweep``, as ``llmselect perf sweep`` does), which measures peak
memory (NVML context + torch peak reserved) beside the estimate for the same point, and times
prefill and decode with CUDA events after warm-up.

Written to ``reports/perf/<UTC date>-<gpu>/`` (``--out`` to change), at most 8 files:

* ``raw.jsonl``, ``measurements.jsonl``, ``run.json``, ``table.md``: the sweep's own files, both
  engines in one run;
* ``summary.csv`` / ``summary.md``: one row per (model, engine, point), ``COLUMNS``: measured
  peak against the estimate, the CUDA context, prefill and decode latency, and decode as a share
  of the memory-bandwidth roofline (bandwidth from ``llmselect/data/gpus.yaml``, its source in
  the row; empty where the device is not in the table, never a guess);
* ``calibration.json``: the runtime constant the estimator adds on this device, refitted as the
  median over the reference engine's points of (measured peak − the estimate's weights, KV cache
  and activations), with each point's residual, the measured CUDA context, and the estimate's
  error with the current constant and with the refitted one. The constant in
  ``llmselect/memory/estimate.py`` is changed by hand, citing this file.

``--dry-run`` runs the same path on the CPU with two tiny LLaMA-family shapes (one with q/k/v
biases, as Qwen2), a 32-token prompt and 4 decoded tokens, so a test can check the files and columns
before a GPU is lent. The GPU run targets under 8 minutes on one H100/H200; its wall time is
printed and stored in ``calibration.json``.

Usage: ``bash benchmarks/gpu_run.sh`` (or ``python benchmarks/gpu_run.py [--dry-run] [--out DIR]``).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

MODELS = ("llama:0.5b", "llama:1.1b", "llama:3b", "llama:7b", "llama:8b")
POINTS = "1x512,1x2048"
NEW_TOKENS = 128
ENGINES = ("reference", "transformers")
BUDGET_S = 480.0
COLUMNS = (
    "model", "params", "engine", "device_name", "dtype", "batch", "seq", "new_tokens", "fits",
    "peak_memory_mib", "est_peak_memory_mib", "est_error_pct", "est_overhead_mib",
    "cuda_context_mib", "prefill_ms", "prefill_ms_p90", "decode_ms_per_token",
    "decode_ms_per_token_p90", "decode_tokens_per_s", "decode_roofline_share", "roofline_ms",
    "bandwidth_gb_s", "bandwidth_source",
)  # fmt: skip
OUTPUT_FILES = ("raw.jsonl", "measurements.jsonl", "run.json", "table.md", "summary.csv",
                "summary.md", "calibration.json")  # fmt: skip
# Dry run: tiny shapes with the LLaMA family's features (GQA, tied embeddings, q/k/v biases).
TINY = {
    "tiny-llama": dict(family="llama", hidden=64, layers=2, heads=4, kv_heads=2,
                       intermediate=128, vocab=512, rope_theta=10000.0),
    "tiny-qwen2": dict(family="llama", hidden=64, layers=2, heads=4, kv_heads=1,
                       intermediate=160, vocab=512, tied_embeddings=True, qkv_bias=True,
                       rope_theta=1000000.0),
}  # fmt: skip
SUBSET = re.compile(r"bs=(?P<batch>\d+),seq=(?P<seq>\d+),dtype=(?P<dtype>[^,]+)")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def targets(dry_run: bool) -> list[Any]:
    """The sweep's models: preset names, or built tiny targets for the dry run."""
    if not dry_run:
        return list(MODELS)
    from llmselect.arch.presets import ArchTarget
    from llmselect.arch.spec import ArchSpec

    source = "a tiny shape for the dry run (benchmarks/gpu_run.py)"
    return [ArchTarget(name, ArchSpec(**arch, source=source)) for name, arch in TINY.items()]


def summarize(
    records: list[Any], params_of: dict[str, int], new_tokens: int
) -> list[dict[str, Any]]:
    """One row per (model, engine, point) from the sweep's records (``COLUMNS``)."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in records:
        if r.status != "ok" or r.probe != "reference_latency":
            continue
        m = SUBSET.match(r.subset)
        if m is None:
            continue
        engine = r.params.get("engine", "reference")
        row = rows.setdefault(
            (r.model_id, engine, m.group(0)),
            {c: "" for c in COLUMNS}
            | {
                "model": r.model_id,
                "params": params_of.get(r.model_id, ""),
                "engine": engine,
                "batch": int(m["batch"]),
                "seq": int(m["seq"]),
                "dtype": m["dtype"],
                "new_tokens": new_tokens,
            },  # fmt: skip
        )
        if r.params.get("device_name"):
            row["device_name"] = r.params["device_name"]
        if r.metric in row:
            row[r.metric] = r.value
        if r.metric == "est_error_pct" and r.params.get("est_peak_mib") is not None:
            row["est_peak_memory_mib"] = r.params["est_peak_mib"]
        if r.metric == "decode_roofline_share":
            for key in ("roofline_ms", "bandwidth_gb_s", "bandwidth_source"):
                row[key] = r.params.get(key, "")
    # The estimate of a point is one for both engines; its parts are stored once per point.
    for (model, _engine, point), row in rows.items():
        ref = rows.get((model, "reference", point))
        if row["est_overhead_mib"] == "" and ref is not None:
            row["est_overhead_mib"] = ref["est_overhead_mib"]
    order = {name: i for i, name in enumerate(params_of)}
    return sorted(
        rows.values(),
        key=lambda x: (
            order.get(x["model"], 99),
            x["engine"] != "reference",
            x["seq"],
        ),  # fmt: skip
    )


def calibrate(rows: list[dict[str, Any]], prior_mib: float) -> dict[str, Any]:
    """The runtime constant refitted on the reference engine's points (see the docstring)."""
    points = [
        r for r in rows
        if r["engine"] == "reference" and r["peak_memory_mib"] != ""
        and r["est_peak_memory_mib"] != "" and r["est_overhead_mib"] != ""
    ]  # fmt: skip
    residuals = [
        {
            "model": r["model"], "seq": r["seq"],
            "residual_mib": r["peak_memory_mib"]
            - (r["est_peak_memory_mib"] - r["est_overhead_mib"]),
        }
        for r in points
    ]  # fmt: skip
    out: dict[str, Any] = {
        "constant_in_estimator_mib": prior_mib,
        "points": len(points),
        "residuals": residuals,
        "rule": "median over the reference engine's points of measured peak minus the "
        "estimate's weights + KV cache + activations",
    }
    if not points:
        return out
    fitted = statistics.median(x["residual_mib"] for x in residuals)
    contexts = [r["cuda_context_mib"] for r in points if r["cuda_context_mib"] != ""]

    def worst(constant: float) -> float:
        return max(
            abs(r["est_peak_memory_mib"] - r["est_overhead_mib"] + constant - r["peak_memory_mib"])
            / r["peak_memory_mib"] * 100
            for r in points
        )  # fmt: skip

    out.update(
        refitted_mib=round(fitted, 1),
        cuda_context_mib_median=round(statistics.median(contexts), 1) if contexts else None,
        worst_abs_error_pct_with_current=round(worst(prior_mib), 2),
        worst_abs_error_pct_with_refitted=round(worst(fitted), 2),
    )
    return out


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def write_summary(out_dir: Path, rows: list[dict[str, Any]], calib: dict[str, Any],
                  header: str) -> None:  # fmt: skip
    with (out_dir / "summary.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    shown = ("model", "params", "engine", "seq", "peak_memory_mib", "est_peak_memory_mib",
             "est_error_pct", "cuda_context_mib", "prefill_ms", "decode_ms_per_token",
             "decode_roofline_share", "bandwidth_gb_s")  # fmt: skip
    lines = [header, "", "| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
    lines += ["| " + " | ".join(_cell(r[c]) for c in shown) + " |" for r in rows]
    sources = sorted({r["bandwidth_source"] for r in rows if r["bandwidth_source"]})
    lines += ["", "Memory in MiB (measured peak; estimated), latency in ms (measured p50), "
              "roofline share = bandwidth floor of a decode step / measured step."]  # fmt: skip
    lines += [f"Bandwidth source: {s}" for s in sources] or [
        "Bandwidth: the device is not in llmselect/data/gpus.yaml; no roofline share."
    ]
    lines += ["", "Runtime constant: " + json.dumps({k: v for k, v in calib.items()
                                                     if k != "residuals"})]  # fmt: skip
    (out_dir / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny shapes, few tokens")
    ap.add_argument("--out", type=Path, help="output folder (default reports/perf/<date>-<gpu>)")
    args = ap.parse_args(argv)

    from llmselect.arch.count import count_params
    from llmselect.errors import LLMSelectError
    from llmselect.memory.estimate import CPU_OVERHEAD_MIB, CUDA_OVERHEAD_MIB
    from llmselect.records import RunInfo
    from llmselect.store import LOCK
    from llmselect.sweep import (
        TABLE,
        gpu_description,
        parse_points,
        refuse_a_run_folder,
        render_table,
        run_sweep,
    )
    from llmselect.targets import resolve_target

    start = time.perf_counter()
    dry = args.dry_run
    device = "cpu" if dry else "cuda"
    gpu = {} if dry else gpu_description()
    if not dry and not gpu:
        print("Error: no GPU found (nvidia-smi); use --dry-run on a CPU", file=sys.stderr)
        return 2
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    name = _slug(gpu.get("gpu_name", "cpu-dry-run"))
    out_dir = args.out or Path("reports/perf") / f"{day}-{name}"
    try:  # the sweep's own refusal, before the shapes are counted
        refuse_a_run_folder(out_dir)
    except LLMSelectError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    models = targets(dry)
    params_of = {
        (m if isinstance(m, str) else m.id): count_params(
            resolve_target(m).arch if isinstance(m, str) else m.arch
        ).total
        for m in models
    }
    options = {
        "device": device, "dtype": "bf16",
        "new_tokens": 4 if dry else NEW_TOKENS,
        "warmup": 1, "iterations": 1 if dry else 3,
        "threads": 1 if dry else None,
    }  # fmt: skip
    points = parse_points("1x32" if dry else POINTS)
    command = " ".join(["benchmarks/gpu_run.py", *(argv if argv is not None else sys.argv[1:])])
    try:  # e.g. --out names a file, or a folder that cannot be created
        records = run_sweep(
            models, points, out_dir, probe_options=options, command=command,
            variants=[{"engine": engine} for engine in ENGINES],
        )  # fmt: skip
    except LLMSelectError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    # The writer's lock file stays after the run, released; a report folder does not need it.
    (out_dir / LOCK).unlink(missing_ok=True)
    info = RunInfo.model_validate_json((out_dir / "run.json").read_text(encoding="utf-8"))
    header = (
        f"GPU run `{info.run_id}`: {gpu.get('gpu_name') or info.device_name or device}"
        + (f", driver {gpu['driver']}" if gpu.get("driver") else "")
        + f", torch {(info.versions or {}).get('torch')}, "
        f"transformers {(info.versions or {}).get('transformers')}; "
        f"engines {', '.join(ENGINES)}; bf16, batch 1, {options['new_tokens']} new tokens"
        + (" (dry run on the CPU: tiny shapes)" if dry else "")
    )
    (out_dir / TABLE).write_text(render_table(records, header=header + "\n"), encoding="utf-8")
    rows = summarize(records, params_of, options["new_tokens"])
    calib = calibrate(rows, CPU_OVERHEAD_MIB if dry else CUDA_OVERHEAD_MIB)
    wall = time.perf_counter() - start
    calib.update(device=device, wall_s=round(wall, 1), budget_s=BUDGET_S)
    (out_dir / "calibration.json").write_text(json.dumps(calib, indent=2), encoding="utf-8")
    write_summary(out_dir, rows, calib, header)
    print((out_dir / "summary.md").read_text(encoding="utf-8"))
    print(f"{len(rows)} points in {wall:.0f} s wall (budget {BUDGET_S:.0f} s on one GPU); "
          f"written to {out_dir}")  # fmt: skip
    failed = [r for r in records if r.status == "error"]
    for r in failed:
        print(f"{r.model_id} {r.subset}: error: {r.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
