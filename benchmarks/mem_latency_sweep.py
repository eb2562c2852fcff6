"""Memory/latency sweep of random-weight reference models; writes JSONL + a Markdown table.

Each (model, batch x seq) point runs in its own child process; an out-of-memory point is
recorded as "does not fit" and the sweep goes on. Output folder: ``raw.jsonl`` (child results),
``measurements.jsonl`` (result-store records: measured next to estimated), ``run.json`` and
``table.md``.

GPU sweep (1B-13B classes)::

    python benchmarks/mem_latency_sweep.py --device cuda --dtype bf16 \
        -m llama:1.1b,gpt2:1.5b,llama:3b,glm:6b,llama:7b,bloom:7b1,llama:13b \
        --points 1x512,1x2048,8x2048 --new-tokens 64 --out reports/perf/DATE-DEVICE

CPU comparison (three families, two small sizes each)::

    python benchmarks/mem_latency_sweep.py --device cpu --dtype fp32 \
        -m gpt2:124m,gpt2:355m,bloom:560m,bloom:1b1,llama:0.5b,llama:1.1b --points 1x128 \
        --new-tokens 4 --warmup 1 --iterations 2 --out reports/perf/DATE-cpu

``--rerender DIR`` recomputes the estimates and the table from ``DIR/raw.jsonl``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run (or re-render) the sweep, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-m", "--models", default="", help="comma list: catalog ids or family:size")
    ap.add_argument("--points", default="1x512", help="BATCHxSEQ list, e.g. 1x512,8x2048")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--dtype", default="bf16")
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--memory-cap-mib", type=float, default=None)
    ap.add_argument("--timeout-s", type=float, default=600)
    ap.add_argument("--out", type=Path, help="output folder")
    ap.add_argument("--rerender", type=Path, help="recompute estimates + table from a folder")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)

    from llmselect.errors import LLMSelectError
    from llmselect.names import split_csv
    from llmselect.sweep import TABLE, parse_points, rerender, run_sweep

    try:
        if args.rerender:
            rerender(args.rerender)
            print((args.rerender / TABLE).read_text(encoding="utf-8"))
            return 0
        if not args.out or not args.models:
            ap.error("--models and --out are required")
        run_sweep(
            split_csv([args.models]),
            parse_points(args.points),
            args.out,
            probe_options={
                "device": args.device,
                "dtype": args.dtype,
                "new_tokens": args.new_tokens,
                "warmup": args.warmup,
                "iterations": args.iterations,
                "threads": args.threads,
                "memory_cap_mib": args.memory_cap_mib,
                "timeout_s": args.timeout_s,
            },
            command=" ".join(["mem_latency_sweep.py", *(argv or sys.argv[1:])]),
        )
    except LLMSelectError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    print((args.out / TABLE).read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
