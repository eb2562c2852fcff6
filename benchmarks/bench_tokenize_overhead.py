"""Overhead of ``tokenize-bench``'s encode path against the tokenizer libraries called directly.

For several families, on the same text in one run, this times the path the
``tokenizer_throughput`` probe uses (``load_tokenizer(...)`` + the probe's timing helpers) and the
raw library (sentencepiece / tokenizers / tiktoken objects built here from the same files),
alternating the two so machine noise hits both alike. It prints our throughput as a ratio of the
raw one; the overhead (1 − ratio) must stay at or under 10 % (exit 1 otherwise).

Rates are from the fastest pass of each side. The ratios are the median over rounds of the
per-round ratio (each round runs both sides back to back, alternating which goes first), on two
clocks: wall time (what the probe reports) and this process's CPU time (all threads). Batch calls
encode several copies of the corpus so that a pass is long enough to time. The verdict uses CPU
time by default (``--clock cpu``): it counts the work our path adds and ignores time other
processes steal on a shared machine; ``--clock wall`` judges by wall time, for a quiet machine.

Usage: ``LLMSELECT_DATA_ROOT=/path/to/data python benchmarks/bench_tokenize_overhead.py
[--corpus flores200] [--repeats 9] [--threads 2] [--batch-copies 8]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from llmselect.config import data_subdir
from llmselect.hardware import usable_cpus
from llmselect.probes.tokenizer_efficiency import corpus_texts
from llmselect.probes.tokenizer_throughput import time_batch, time_single
from llmselect.tokenizers import load_tokenizer, load_tokenizer_catalog

MAX_OVERHEAD = 0.10
FAMILIES = ("llama2", "chatglm3", "gpt-neox", "deepseek-coder", "qwen", "llama3")


def raw_encoders(
    family: str, root: Path
) -> tuple[Callable[[str], list[int]], Callable[[Sequence[str], int], list[list[int]]]]:
    """(single, batch) encoders straight from the library, built from the family's files."""
    spec = load_tokenizer_catalog().get(family)
    folder = root / spec.folder
    if spec.kind == "sentencepiece":
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=str(folder / spec.files[0]))
        return sp.EncodeAsIds, lambda texts, n: sp.encode(list(texts), num_threads=n)
    if spec.kind == "hf-json":
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(folder / spec.files[0]))
        return (
            lambda text: tok.encode(text, add_special_tokens=False).ids,
            lambda texts, n: [
                e.ids for e in tok.encode_batch(list(texts), add_special_tokens=False)
            ],
        )
    if spec.kind == "tiktoken":
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe

        from llmselect.tokenizers.tiktoken_fmt import PATTERNS

        enc = tiktoken.Encoding(
            f"raw-{family}",
            pat_str=PATTERNS[str(spec.options["pattern"])],
            mergeable_ranks=load_tiktoken_bpe(str(folder / spec.files[0])),
            # The model's special tokens, as our loader registers them (not used by encoding).
            special_tokens=dict(load_tokenizer(spec).enc._special_tokens),
        )
        return enc.encode_ordinary, lambda texts, n: enc.encode_ordinary_batch(
            list(texts), num_threads=n
        )
    raise SystemExit(f"no raw baseline for kind {spec.kind}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="flores200")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=usable_cpus())
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    # One batch call over the corpus takes ~50 ms; a longer pass keeps thread-pool start-up
    # and scheduling jitter from dominating the comparison.
    parser.add_argument("--batch-copies", type=int, default=8, help="corpus copies per batch call")
    args = parser.parse_args()

    root = data_subdir("tokenizers")
    if root is None:
        print("Set LLMSELECT_DATA_ROOT to the data root (with tokenizers/).", file=sys.stderr)
        return 2
    from llmselect.corpora import load_corpus

    corpus = load_corpus(args.corpus)
    texts = corpus_texts(corpus, "zh") + corpus_texts(corpus, "en")
    chars = sum(len(t) for t in texts)
    batch_texts = texts * args.batch_copies
    print(f"corpus {corpus.name}: {len(texts)} segments, {chars} chars; "
          f"repeats {args.repeats}; batch threads {args.threads}, "
          f"{args.batch_copies} corpus copies per batch call")  # fmt: skip
    header = f"{'family':<16}{'mode':<8}{'ours chars/s':>15}{'raw chars/s':>15}"
    print(header + f"{'wall ratio':>12}{'cpu ratio':>11}{'overhead':>10}")
    worst = 0.0
    for family in args.families.split(","):
        spec = load_tokenizer_catalog().get(family)
        ours = load_tokenizer(spec)
        raw_single, raw_batch = raw_encoders(family, root)
        cases = {
            "single": (
                lambda o=ours: time_single(o.encode, texts),
                lambda r=raw_single: time_single(r, texts),
            ),
            "batch": (
                lambda o=ours: time_batch(o.encode_batch, batch_texts, args.threads),
                lambda r=raw_batch: time_batch(r, batch_texts, args.threads),
            ),
        }
        for mode, (run_ours, run_raw) in cases.items():
            run_ours(), run_raw()  # warm-up
            ours_t, raw_t, ours_cpu, raw_cpu = [], [], [], []
            sides = [(run_ours, ours_t, ours_cpu), (run_raw, raw_t, raw_cpu)]
            counts = {}
            for i in range(args.repeats):  # alternate, and swap who goes first, against drift
                for run, wall, cpu in sides if i % 2 == 0 else sides[::-1]:
                    c0 = time.process_time()
                    t, counts[id(wall)] = run()
                    cpu.append(time.process_time() - c0)
                    wall.append(t)
            n_ours, n_raw = counts[id(ours_t)], counts[id(raw_t)]
            if n_ours != n_raw:
                print(f"{family} {mode}: token counts differ ({n_ours} vs {n_raw})")
                return 1
            mode_chars = chars * (args.batch_copies if mode == "batch" else 1)
            ours_rate = mode_chars / min(ours_t)  # min: the least-disturbed pass of each side
            raw_rate = mode_chars / min(raw_t)
            # Each round runs both sides back to back under the same machine conditions; the
            # median of the per-round ratios is robust to drift and to a disturbed pass.
            wall_ratio = statistics.median(r / o for r, o in zip(raw_t, ours_t, strict=True))
            cpu_ratio = statistics.median(r / o for r, o in zip(raw_cpu, ours_cpu, strict=True))
            overhead = max(0.0, 1.0 - (cpu_ratio if args.clock == "cpu" else wall_ratio))
            worst = max(worst, overhead)
            print(f"{family:<16}{mode:<8}{ours_rate:>15,.0f}{raw_rate:>15,.0f}"
                  f"{wall_ratio:>12.3f}{cpu_ratio:>11.3f}{overhead:>9.1%}")  # fmt: skip
    verdict = "OK" if worst <= MAX_OVERHEAD else "TOO SLOW"
    print(f"worst overhead ({args.clock} clock) {worst:.1%} (limit {MAX_OVERHEAD:.0%}): {verdict}")
    return 0 if worst <= MAX_OVERHEAD else 1


if __name__ == "__main__":
    sys.exit(main())
