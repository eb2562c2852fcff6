"""Probe ``tokenizer_throughput``: how fast a tokenizer encodes Chinese and English text.

Target and text as in ``tokenizer_efficiency`` (``ctx.extra["corpus"]`` or ``config.corpus``).
Two modes per language (subset ``<corpus>/<lang>``, n = segments):

Metrics ``{single,batch}_{chars,tokens}_per_s`` (+ ``_p90``), higher is better.

* ``single``: one segment per call, in a Python loop (latency-bound use, e.g. a chat turn);
* ``batch``: all segments in one ``encode_batch`` call with ``threads`` threads (``params``
  holds the requested and the effective count: ``tokenizers`` sizes its pool once per process
  and ``TOKENIZERS_PARALLELISM=false`` turns it off).

Each mode runs one warm-up pass and ``repeats`` timed passes over all segments. ``value`` is the
rate at the median pass time; the ``_p90`` sibling is the rate at the 90th-percentile (slow)
pass time. The timed section calls the library and sums lengths, nothing more.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from pydantic import Field

from llmselect.measure import summarize
from llmselect.probes.base import Probe, ProbeConfig, RunContext
from llmselect.probes.tokenizer_efficiency import LANGS, corpus_texts, get_corpus, get_tokenizer
from llmselect.records import Measurement
from llmselect.tokenizers.base import cpu_threads


class TokenizerThroughputConfig(ProbeConfig):
    """Options of the tokenizer throughput probe."""

    corpus: str = Field(
        default="default",
        description="corpus name or path (used when the run does not pass a loaded corpus)",
    )
    repeats: int = Field(default=5, ge=1, le=100, description="timed passes per mode")
    threads: int = Field(default=0, ge=0, description="batch-mode threads (0 = all CPU cores)")


def time_single(encode: Callable[[str], list[int]], texts: Sequence[str]) -> tuple[float, int]:
    """Seconds to encode every text with one call each, and the token count."""
    start = time.perf_counter()
    tokens = 0
    for text in texts:
        tokens += len(encode(text))
    return time.perf_counter() - start, tokens


def time_batch(
    encode_batch: Callable[[Sequence[str], int], list[list[int]]],
    texts: Sequence[str],
    threads: int,
) -> tuple[float, int]:
    """Seconds to encode all texts in one batch call, and the token count."""
    start = time.perf_counter()
    rows = encode_batch(texts, threads)
    elapsed = time.perf_counter() - start
    return elapsed, sum(map(len, rows))


class TokenizerThroughputProbe(Probe):
    """Characters/s and tokens/s, one text at a time and batched."""

    name: ClassVar[str] = "tokenizer_throughput"
    target_kind: ClassVar[str] = "tokenizer"
    version: ClassVar[int] = 1
    requires: ClassVar[frozenset[str]] = frozenset({"tokenizer"})
    description: ClassVar[str] = (
        "Encoding speed (chars/s, tokens/s; p50 and p90) per language, single text and batched"
    )
    Config: ClassVar[type[ProbeConfig]] = TokenizerThroughputConfig

    def run(self, target: Any, ctx: RunContext) -> Iterable[Measurement]:
        cfg: TokenizerThroughputConfig = self.config  # type: ignore[assignment]
        corpus = get_corpus(cfg.corpus, ctx)
        tok = get_tokenizer(target, ctx)
        threads = cfg.threads or int(ctx.extra.get("threads") or 0) or cpu_threads()
        out: list[Measurement] = []
        for lang in LANGS:
            texts = corpus_texts(corpus, lang)
            if not texts:
                continue
            chars = sum(len(t) for t in texts)
            subset = f"{corpus.name}/{lang}"
            modes: dict[str, tuple[Callable[[], tuple[float, int]], int]] = {
                "single": (lambda texts=texts: time_single(tok.encode, texts), 1),
                "batch": (
                    lambda texts=texts: time_batch(tok.encode_batch, texts, threads),
                    tok.batch_threads(threads),
                ),
            }
            for mode, (timed, effective) in modes.items():
                timed()  # warm-up: caches, thread pool start
                runs = [timed() for _ in range(cfg.repeats)]
                tokens = runs[0][1]
                times = summarize([r[0] for r in runs])
                params: dict[str, Any] = {
                    **tok.describe(),
                    "mode": mode,
                    "threads": effective if mode == "batch" else 1,
                    "threads_requested": threads if mode == "batch" else 1,
                    "repeats": cfg.repeats,
                    "chars": chars,
                    "tokens": tokens,
                }
                for unit_name, amount in (("chars", chars), ("tokens", tokens)):
                    for suffix, seconds in (("", times.p50), ("_p90", times.p90)):
                        out.append(
                            self.record(
                                ctx, target.id, f"{mode}_{unit_name}_per_s{suffix}",
                                amount / seconds if seconds > 0 else float("inf"),
                                f"{unit_name}/s", higher_is_better=True, subset=subset,
                                n=len(texts), params=params,
                            )
                        )  # fmt: skip
        return out
