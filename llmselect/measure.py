"""Timing and memory helpers shared by the performance probes."""

from __future__ import annotations

import math
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """Distribution of repeated timings (same unit as the inputs)."""

    n: int
    mean: float
    p50: float
    p90: float
    stdev: float
    minimum: float


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, ``q`` in [0, 100]."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(values: Sequence[float]) -> Summary:
    """p50/p90/stdev of repeated measurements."""
    vals = list(values)
    return Summary(
        n=len(vals),
        mean=statistics.fmean(vals),
        p50=percentile(vals, 50),
        p90=percentile(vals, 90),
        stdev=statistics.stdev(vals) if len(vals) > 1 else 0.0,
        minimum=min(vals),
    )


class Timer:
    """Wall-clock timer (``time.perf_counter``); ``elapsed_s`` after the block."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.elapsed_s = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed_s = time.perf_counter() - self.start


def process_peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (``getrusage``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
