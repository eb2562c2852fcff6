"""Probe ``tokenizer_throughput``: how fast a tokenizer encodes Chinese and English text.

Target and text as in ``tokenizer_efficiency`` (``config.corpus``, ``config.tokenizer_dir``).
Two modes per language (subset ``<corpus>/<lang>``, n = segments):

Metrics ``{single,batch}_{chars,tokens}_per_s`` (+ ``_p90``), higher is better; and
``{single,batch}_chars_per_cpu_s``: characters per second of this process's CPU time (all
threads), the encoding's cost, which other processes on a shared machine barely move.

* ``single``: one segment per call, in a Python loop (latency-bound use, e.g. a chat turn);
* ``batch``: all segments in one ``encode_batch`` call with ``threads`` threads (``params``
  holds the requested and the effective count: ``tokenizers`` sizes its pool once per process
  and ``TOKENIZERS_PARALLELISM=false`` turns it off).

The timing runs in fresh child processes (``_throughput_worker``), so earlier probes of the run
do not disturb it, and in ``processes`` of them one after another, because a process's own state
(allocator arenas, memory layout, which core and cache it lands on) moves its speed by more than
its passes differ among themselves: measured on a 2-core machine, two runs' single-process pass
ranges missed each other by up to 1.5x with no code change. Each process warms up per mode, then
times ``repeats`` passes, each pass long enough (``min_pass_s``) to be timed stably: the texts are
encoded ``loops`` times per pass (sized by the first process, then fixed so every process times
the same work; in ``params``). ``value`` is the rate at the median pass time over all processes,
the ``_p90`` sibling the rate at the 90th-percentile (slow) pass time, and ``samples`` keeps every
pass of every process, so their spread is the between-process spread a later report compares
against. ``params["cpu_share"]`` is the CPU time the processes got per wall second while timing
(about the thread count on a free machine): runs whose shares differ were timed under different
machine load and are not compared as regressions.

``timing="quick"`` is the first answer ``tokenize-bench`` gives by default: one fresh process,
short warm-up and passes (``QUICK_WARMUP_S``, ``QUICK_MIN_PASS_S``), still ``repeats`` passes
whose spread is kept. It is labelled in ``params["timing"]`` so a report never compares a quick
timing with a precise one (the default, and the nightly's).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field

from llmselect.childproc import run_child
from llmselect.errors import LLMSelectError
from llmselect.hardware import usable_cpus
from llmselect.measure import summarize
from llmselect.metrics import ChartSpec, MetricSpec
from llmselect.probes.base import Probe, ProbeConfig, RunContext, worker_env
from llmselect.probes.throughput_spec import ThroughputSpec, loops_key
from llmselect.probes.tokenizer_efficiency import LANGS, corpus_texts, get_corpus
from llmselect.records import Measurement
from llmselect.tokenizers.spec import TokenizerSpec

WORKER_MODULE = "llmselect.probes._throughput_worker"
# Quick timing: one process, passes of 0.1 s after 0.05 s of warm-up per mode. A 0.1 s pass is
# still ~25 scheduler ticks long; the between-process spread it leaves out is what "precise" adds.
QUICK_WARMUP_S = 0.05
QUICK_MIN_PASS_S = 0.1


class TokenizerThroughputConfig(ProbeConfig):
    """Options of the tokenizer throughput probe."""

    corpus: str = Field(default="default", description="corpus name or path")
    repeats: int = Field(default=5, ge=1, le=100, description="timed passes per mode and process")
    processes: int = Field(
        default=3,
        ge=1,
        le=20,
        description="fresh child processes timed one after another; the spread of the kept "
        "passes is then the spread between processes, not only within one",
    )
    timing: Literal["precise", "quick"] = Field(
        default="precise",
        description="precise: `processes` fresh processes with passes of `min_pass_s`; quick: "
        "one process, warm-up and passes capped at QUICK_WARMUP_S / QUICK_MIN_PASS_S",
    )
    threads: int = Field(default=0, ge=0, description="batch-mode threads (0 = all CPU cores)")
    warmup_s: float = Field(
        default=0.2, ge=0, description="untimed encoding per mode before timing, seconds"
    )
    min_pass_s: float = Field(
        default=0.25, ge=0, description="shortest timed pass, seconds (texts repeat to fill it)"
    )
    timeout_s: float = Field(default=600, gt=0, description="wall-clock limit of the child")
    tokenizer_dir: str | None = Field(
        default=None, description="folder with tokenizer files, tried before the data root"
    )


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


def run_worker(spec: ThroughputSpec, timeout_s: float) -> dict[str, Any]:
    """Time one tokenizer in a child process (``childproc``); returns the worker's result."""
    result = run_child(
        WORKER_MODULE, spec.model_dump_json(), timeout_s=timeout_s, label="tokenizer",
        env=worker_env(),
    )  # fmt: skip
    if result.get("status") != "ok":
        raise LLMSelectError(f"throughput worker failed: {result.get('error')}")
    return result


def time_in_processes(spec: ThroughputSpec, processes: int, timeout_s: float) -> dict[str, Any]:
    """Run the worker in ``processes`` fresh processes one after another; one result whose modes
    keep every process's passes (the first process sizes the passes, the others reuse them)."""
    first = run_worker(spec, timeout_s)
    modes = {(m["mode"], m["lang"]): m for m in first["modes"]}
    fixed = spec.model_copy(
        update={"loops": {loops_key(*key): m["loops"] for key, m in modes.items()}}
    )
    for _ in range(processes - 1):
        for m in run_worker(fixed, timeout_s)["modes"]:
            into = modes[(m["mode"], m["lang"])]
            if m["tokens"] != into["tokens"]:  # the same texts must give the same tokens
                raise LLMSelectError(
                    f"{m['mode']}/{m['lang']}: {m['tokens']} tokens in one process, "
                    f"{into['tokens']} in another"
                )
            into["pass_s"] = into["pass_s"] + m["pass_s"]
            into["pass_cpu_s"] = into["pass_cpu_s"] + m["pass_cpu_s"]
    return first


class TokenizerThroughputProbe(Probe[TokenizerThroughputConfig, TokenizerSpec]):
    """Characters/s and tokens/s, one text at a time and batched."""

    name: ClassVar[str] = "tokenizer_throughput"
    target_kind: ClassVar[str] = "tokenizer"
    # 2: fresh process, sized passes, all single passes first; 3: passes of several processes
    version: ClassVar[int] = 3
    requires: ClassVar[frozenset[str]] = frozenset({"tokenizer"})
    fresh_process = True
    description: ClassVar[str] = (
        "Encoding speed (chars/s, tokens/s; p50 and p90) per language, single text and batched"
    )
    Config: ClassVar[type[ProbeConfig]] = TokenizerThroughputConfig
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec(
            "single_chars_per_s", "chars/s", True, "tokenizers",
            label="chars/s, one text per call", table="Throughput",
        ),
        MetricSpec(
            "batch_chars_per_s", "chars/s", True, "tokenizers",
            chart=ChartSpec(
                "tokenizer-throughput",
                "Tokenizer throughput (batch encode)",
                "Characters encoded per second on this machine (median pass).",
                order=30,
            ),
            label="chars/s, batched", table="Throughput",
        ),
        MetricSpec("single_tokens_per_s", "tokens/s", True, "tokenizers"),
        MetricSpec("batch_tokens_per_s", "tokens/s", True, "tokenizers"),
        MetricSpec("single_chars_per_s_p90", "chars/s", True, "tokenizers"),
        MetricSpec("batch_chars_per_s_p90", "chars/s", True, "tokenizers"),
        MetricSpec("single_tokens_per_s_p90", "tokens/s", True, "tokenizers"),
        MetricSpec("batch_tokens_per_s_p90", "tokens/s", True, "tokenizers"),
        MetricSpec(
            "single_chars_per_cpu_s", "chars/CPU-s", True, "tokenizers",
            description="characters per second of process CPU time, one text per call",
        ),
        MetricSpec(
            "batch_chars_per_cpu_s", "chars/CPU-s", True, "tokenizers",
            description="characters per second of process CPU time, batched (all threads)",
        ),
    )  # fmt: skip

    def run(self, target: TokenizerSpec, ctx: RunContext) -> Iterable[Measurement]:
        cfg = self.config
        corpus = get_corpus(cfg.corpus, ctx)
        threads = cfg.threads or usable_cpus()
        texts = {lang: corpus_texts(corpus, lang) for lang in LANGS}
        texts = {lang: t for lang, t in texts.items() if t}
        if not texts:
            return []
        quick = cfg.timing == "quick"
        processes = 1 if quick else cfg.processes
        warmup_s = min(cfg.warmup_s, QUICK_WARMUP_S) if quick else cfg.warmup_s
        min_pass_s = min(cfg.min_pass_s, QUICK_MIN_PASS_S) if quick else cfg.min_pass_s
        spec = ThroughputSpec(
            tokenizer=target.model_dump(mode="json"),
            tokenizer_dir=str(cfg.tokenizer_dir) if cfg.tokenizer_dir else None,
            texts=texts,
            threads=threads,
            repeats=cfg.repeats,
            warmup_s=warmup_s,
            min_pass_s=min_pass_s,
        )
        result = time_in_processes(spec, processes, cfg.timeout_s)
        out: list[Measurement] = []
        for mode in result["modes"]:
            lang, chars, tokens, loops = mode["lang"], mode["chars"], mode["tokens"], mode["loops"]
            times = summarize(mode["pass_s"])
            # CPU seconds the process got per wall second while timing: ~threads when the
            # machine is free, far less when other processes take the cores.
            share = summarize(
                [c / w for c, w in zip(mode["pass_cpu_s"], mode["pass_s"], strict=True) if w > 0]
            ).p50
            params: dict[str, Any] = {
                **result["describe"],
                "mode": mode["mode"],
                "threads": mode["threads"],
                "threads_requested": mode["threads_requested"],
                "timing": cfg.timing,
                "repeats": cfg.repeats,
                "processes": processes,
                "min_pass_s": min_pass_s,
                "loops": loops,
                "isolation": "child process",
                "cpu_share": round(share, 2),
                "chars": chars,
                "tokens": tokens,
            }
            for unit_name, amount in (("chars", chars), ("tokens", tokens)):
                per_pass = amount * loops
                rates = [per_pass / s if s > 0 else float("inf") for s in mode["pass_s"]]
                for suffix, seconds in (("", times.p50), ("_p90", times.p90)):
                    out.append(
                        self.record(
                            ctx, target.id, f"{mode['mode']}_{unit_name}_per_s{suffix}",
                            per_pass / seconds if seconds > 0 else float("inf"),
                            f"{unit_name}/s", higher_is_better=True, subset=f"{corpus.name}/{lang}",
                            n=len(texts[lang]), params=params,
                            samples=rates,  # the p50 and the p90 sibling share the passes
                        )
                    )  # fmt: skip
            cpu = mode["pass_cpu_s"]
            cpu_rates = [chars * loops / s if s > 0 else float("inf") for s in cpu]
            median_cpu = summarize(cpu).p50
            out.append(
                self.record(
                    ctx, target.id, f"{mode['mode']}_chars_per_cpu_s",
                    chars * loops / median_cpu if median_cpu > 0 else float("inf"),
                    "chars/CPU-s", higher_is_better=True, subset=f"{corpus.name}/{lang}",
                    n=len(texts[lang]), params={**params, "clock": "process CPU time"},
                    samples=cpu_rates,
                )
            )  # fmt: skip
        return out
