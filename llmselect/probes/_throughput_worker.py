"""Child process of ``tokenizer_throughput``: time one tokenizer in a fresh process.

Run as ``python -m llmselect.probes._throughput_worker SPEC.json RESULT.json``. A fresh process
means the timing sees no state left by earlier work in the run: a batched encode's thread pool,
warmed or fragmented allocator arenas, other tokenizers' caches (after ``tokenizer_efficiency``'s
batched encodes, tiktoken's single-call speed in the same process was ~20 % lower).

Per mode the worker warms up for ``warmup_s`` (at least one pass), then sizes a timed pass to
last at least ``min_pass_s`` by encoding the texts ``loops`` times (a 1 ms pass is mostly timer
and scheduler noise; the spec may fix ``loops`` so that every process of a measurement times the
same work), then times ``repeats`` passes. All single-call passes run before any
batched pass, so a batch's worker threads never run beside the single-call timing. The timed
section calls the library and sums lengths, nothing more. Each pass is timed on two clocks:
wall time (what a user waits) and this process's CPU time (all threads), which other processes
on a shared machine barely move.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from llmselect.childproc import serve
from llmselect.probes.throughput_spec import ThroughputSpec, loops_key


def size_pass(
    run: Callable[[], int], warmup_s: float, min_pass_s: float, loops: int | None = None
) -> int:
    """Warm up by calling ``run`` (one pass over the texts) for ``warmup_s``; return ``loops``
    when given, else how many loops over the texts make a pass of at least ``min_pass_s`` (from
    the fastest warm-up)."""
    start = time.perf_counter()
    fastest = math.inf
    while True:
        t = time.perf_counter()
        run()
        fastest = min(fastest, time.perf_counter() - t)
        if time.perf_counter() - start >= warmup_s:
            break
    if loops is not None:
        return loops
    return max(1, math.ceil(min_pass_s / max(fastest, 1e-9)))


def single_pass(encode: Callable[[str], list[int]], texts: Sequence[str], loops: int) -> int:
    """Encode every text with one call each, ``loops`` times; the token count of one loop."""
    tokens = 0
    for _ in range(loops):
        tokens = 0
        for text in texts:
            tokens += len(encode(text))
    return tokens


def time_mode(
    one_loop: Callable[[], int],
    timed_pass: Callable[[int], tuple[float, float, int]],
    *,
    warmup_s: float,
    min_pass_s: float,
    repeats: int,
    loops: int | None = None,
) -> dict[str, Any]:
    """Warm up, size the pass, time ``repeats`` passes: wall and CPU seconds per pass."""
    loops = size_pass(one_loop, warmup_s, min_pass_s, loops)
    passes = [timed_pass(loops) for _ in range(repeats)]
    return {
        "loops": loops,
        "pass_s": [p[0] for p in passes],
        "pass_cpu_s": [p[1] for p in passes],
        "tokens": passes[0][2],
    }


def measure(spec: ThroughputSpec) -> dict[str, Any]:
    """Time single and batched encoding of each language's texts with one tokenizer."""
    from llmselect.tokenizers.load import load_tokenizer
    from llmselect.tokenizers.spec import TokenizerSpec

    target = TokenizerSpec.model_validate(spec.tokenizer)
    folder = spec.tokenizer_dir
    tok = load_tokenizer(target, Path(folder) if folder else None)
    threads = spec.threads
    opts = {"warmup_s": spec.warmup_s, "min_pass_s": spec.min_pass_s, "repeats": spec.repeats}
    fixed = spec.loops or {}
    out: dict[str, Any] = {"describe": tok.describe(), "modes": []}

    def single(texts: list[str], loops: int | None) -> dict[str, Any]:
        encode = tok.encode

        def timed(loops: int) -> tuple[float, float, int]:
            c, t = time.process_time(), time.perf_counter()
            tokens = single_pass(encode, texts, loops)
            return time.perf_counter() - t, time.process_time() - c, tokens

        return time_mode(lambda: single_pass(encode, texts, 1), timed, loops=loops, **opts)

    def batch(texts: list[str], loops: int | None) -> dict[str, Any]:
        def one_loop() -> int:
            return sum(map(len, tok.encode_batch(texts, threads)))

        def timed(loops: int) -> tuple[float, float, int]:
            many = texts * loops
            c, t = time.process_time(), time.perf_counter()
            rows = tok.encode_batch(many, threads)
            elapsed, cpu = time.perf_counter() - t, time.process_time() - c
            return elapsed, cpu, sum(map(len, rows)) // loops

        return time_mode(one_loop, timed, loops=loops, **opts)

    for mode, fn, effective in (
        ("single", single, 1),
        ("batch", batch, tok.batch_threads(threads)),
    ):
        for lang, texts in spec.texts.items():
            result = fn(texts, fixed.get(loops_key(mode, lang)))
            result.update(
                mode=mode,
                lang=lang,
                chars=sum(len(t) for t in texts),
                threads=effective,
                threads_requested=threads if mode == "batch" else 1,
            )
            out["modes"].append(result)
    return out


def main(argv: list[str]) -> int:
    """``SPEC.json RESULT.json`` (``llmselect.childproc``); exit 0 when a result was written."""
    return serve(argv, ThroughputSpec.model_validate_json, lambda s: {"status": "ok", **measure(s)})


if __name__ == "__main__":
    code = main(sys.argv)
    # The result file is written and closed: skip the interpreter's teardown, which the parent
    # would wait for (freeing BLOOM's 250k-entry vocabulary and merge maps takes ~0.5 s).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
