"""Wall time of the main command, ``tokenize-bench --models llama2,chatglm3,bloom``.

Three commands, each a fresh process, in ``--rounds`` interleaved rounds (the order rotates per
round, so machine drift hits all alike):

* ``main``: the command as a user runs it (efficiency, then the quick throughput pass);
* ``no-throughput``: the same with ``--no-throughput`` (the efficiency table alone);
* ``raw``: the tokenizer libraries called directly, doing the tokenization the efficiency table
  needs: load the three tokenizers from the same files (sentencepiece ``tokenizer.model`` for
  llama2 and chatglm3, ``tokenizers`` on BLOOM's cached build) and encode every zh and en
  segment of the corpus once, one call per segment, counting tokens.

For ``main`` it also records when the efficiency table's caption reached stdout (the answer the
user came for). It prints per command the median wall and CPU seconds (children's user + system)
and the ratios of the medians; the goal is ``main`` ≤ 15 s wall on a quiet 2-core machine (exit 1
when over). The 1-minute load average before and after says how quiet the machine was.

Usage: ``LLMSELECT_DATA_ROOT=/path/to/data python benchmarks/bench_main_command.py [--rounds 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_S = 15.0
MODELS = "llama2,chatglm3,bloom"
CAPTION = "Lower tok/char is cheaper"

RAW = r"""
import json, sys
import sentencepiece as spm
from tokenizers import Tokenizer
job = json.load(open(sys.argv[1], encoding="utf-8"))
total = 0
for path in job["sentencepiece"]:
    sp = spm.SentencePieceProcessor(model_file=path)
    total += sum(len(sp.encode(t)) for t in job["texts"])
tok = Tokenizer.from_file(job["bloom"])
total += sum(len(tok.encode(t, add_special_tokens=False).ids) for t in job["texts"])
print(total)
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list[str]) -> tuple[float, float, float | None, str]:
    """(wall s, CPU s, seconds until the efficiency caption was printed, stdout)."""
    cpu0, t0 = _children_cpu(), time.perf_counter()
    first: float | None = None
    lines = []
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, encoding="utf-8"
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if first is None and CAPTION in line:
                first = time.perf_counter() - t0
            lines.append(line)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}")
    return time.perf_counter() - t0, _children_cpu() - cpu0, first, "".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from llmselect.config import data_subdir
    from llmselect.corpora import load_corpus
    from llmselect.tokenizers import load_tokenizer, load_tokenizer_catalog
    from llmselect.tokenizers.bloom import cache_path

    root = data_subdir("tokenizers")
    if root is None:
        print("Set LLMSELECT_DATA_ROOT to the data root (with tokenizers/).", file=sys.stderr)
        return 2
    catalog = load_tokenizer_catalog()
    load_tokenizer(catalog.get("bloom"))  # builds the BLOOM cache once, outside the timing
    corpus = load_corpus("default")
    texts = [s.text.strip() for s in corpus.segments if s.lang in ("zh", "en")]
    job = {
        "sentencepiece": [str(root / f / "tokenizer.model") for f in ("llama2", "chatglm3")],
        "bloom": str(cache_path(root / "bloom" / "merges.txt")),
        "texts": texts,
    }
    py = sys.executable
    cli = [py, "-m", "llmselect", "tokenize-bench", "--models", MODELS]
    with tempfile.TemporaryDirectory() as tmp:
        job_path = Path(tmp) / "job.json"
        job_path.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
        commands = {
            "main": cli,
            "no-throughput": [*cli, "--no-throughput"],
            "raw": [py, "-c", RAW, str(job_path)],
        }
        load_before = os.getloadavg()[0]
        results: dict[str, list[tuple[float, float, float | None]]] = {k: [] for k in commands}
        names = list(commands)
        for i in range(args.rounds):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                wall, cpu, first, _out = run(commands[name])
                results[name].append((wall, cpu, first))
        load_after = os.getloadavg()[0]
    print(f"corpus {corpus.name}: {len(texts)} segments; models {MODELS}; {args.rounds} rounds; "
          f"CPUs {os.cpu_count()}; 1-min load average {load_before:.1f} before, "
          f"{load_after:.1f} after")  # fmt: skip
    med = {
        k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v))
        for k, v in results.items()
    }
    print(f"{'command':<15}{'wall s (median)':>17}{'CPU s (median)':>16}{'runs (wall s)':>30}")
    for name, (wall, cpu) in med.items():
        each = ", ".join(f"{r[0]:.1f}" for r in results[name])
        print(f"{name:<15}{wall:>17.2f}{cpu:>16.2f}{each:>30}")
    firsts = [r[2] for r in results["main"] if r[2] is not None]
    if firsts:
        print(f"main: efficiency table printed after {statistics.median(firsts):.2f} s (median)")
    for a, b in (("main", "no-throughput"), ("main", "raw"), ("no-throughput", "raw")):
        print(f"ratio {a} / {b}: wall {med[a][0] / med[b][0]:.2f}x, "
              f"CPU {med[a][1] / med[b][1]:.2f}x")  # fmt: skip
    ok = med["main"][0] <= GOAL_S
    print(f"main command {med['main'][0]:.1f} s wall (goal <= {GOAL_S:.0f} s on a quiet machine): "
          f"{'OK' if ok else 'OVER'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
