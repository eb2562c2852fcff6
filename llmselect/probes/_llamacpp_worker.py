"""Child process of ``reference_latency`` with ``engine: llama.cpp``: one (GGUF file, seq) point.

Run as ``python -m llmselect.probes._llamacpp_worker SPEC.json RESULT.json``, with the same spec
and result contract as ``_latency_worker`` (same points, same timing loop, same memory views),
but the file runs in llama.cpp (``llmselect.checkpoint.llamacpp``) and torch is never imported:
the runtime measured is the one a llama.cpp user loads.

Memory, measured (CPU): the baseline is the RSS after ``llama_cpp`` (libllama, ggml) is
loaded; the kernel's peak-RSS mark is reset after the model and context are created, so the
peak is what prefill and decode needed. RSS counts the pages of the memory-mapped GGUF file that
inference touched (all weights, after a forward pass), so both ``peak_process_mib`` (the whole
process at its peak) and ``peak_over_runtime_mib`` (that minus the baseline) include the mapped
model file, as they include the reference engine's weights.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from llmselect.probes._latency_worker import (
    _cap_cpu_memory,
    _cpu_name,
    _peak_rss_mib,
    _reset_peak_rss,
    _rss_mib,
    cpu_memory_fields,
    run_worker,
    timing_fields,
)
from llmselect.probes.latency_spec import LatencyPoint


def _open_within_cap(spec: LatencyPoint, threads: int) -> Any:
    """The model and its context, as ``measure`` runs them. llama.cpp reports any failed load
    or allocation as a ValueError; under ``memory_cap_mib`` it is the cap's doing (a
    ``MemoryError``: the point does not fit) when the same load succeeds with the cap lifted."""
    import resource

    from llmselect.checkpoint import llamacpp as engine

    def load() -> Any:
        return engine.open_model(spec.checkpoint or "", n_ctx=spec.seq + spec.new_tokens,
                                 threads=threads)  # fmt: skip

    try:
        return load()
    except ValueError as exc:
        if not spec.memory_cap_mib:
            raise
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
        load().close()  # fails again: not the cap, that error stands
        raise MemoryError(f"{exc} within --memory-cap-mib {spec.memory_cap_mib:g}") from exc


def measure(spec: LatencyPoint) -> dict[str, Any]:
    """Time one point in llama.cpp; returns the result dict (status ok or oom)."""
    import llama_cpp  # noqa: F401 - loads libllama before the baseline
    import numpy as np

    from llmselect.checkpoint import llamacpp as engine

    if spec.batch != 1:
        raise ValueError("the llama.cpp engine measures one sequence (batch 1)")
    threads = int(spec.threads or 1)
    seq, new_tokens = spec.seq, spec.new_tokens
    res: dict[str, Any] = {
        "device": "cpu",
        "device_name": _cpu_name(),
        "cpu_threads": threads,
        "backend": "llama.cpp",
        **engine.version_info(),
        "ggml_system_info": engine.system_info(),
    }
    if spec.memory_cap_mib:
        _cap_cpu_memory(float(spec.memory_cap_mib))
    baseline_rss = _rss_mib()
    res["baseline_rss_mib"] = baseline_rss

    phase = "build"
    try:
        t0 = time.perf_counter()
        llm = _open_within_cap(spec, threads)
        res["build_s"] = time.perf_counter() - t0
        res["build_peak_rss_mib"] = _peak_rss_mib() - baseline_rss
        res["weights_rss_mib"] = _rss_mib() - baseline_rss  # mapped pages touched so far
        res["peak_reset"] = _reset_peak_rss()
        vocab = llm.n_vocab()
        ids = np.random.default_rng(spec.seed).integers(0, vocab, seq).tolist()

        def prefill() -> Any:
            engine.clear(llm)  # every prompt starts from an empty KV cache
            llm.eval(ids)

        def decode_steps(steps: int, times: list[float] | None) -> None:
            nxt = int(engine.last_logits(llm).argmax())
            for _ in range(steps):
                t = time.perf_counter()
                llm.eval([nxt])
                ms = (time.perf_counter() - t) * 1000.0
                nxt = int(engine.last_logits(llm).argmax())
                if times is not None:
                    times.append(ms)

        prefill_ms: list[float] = []
        decode_ms: list[float] = []
        phase = "warm-up"
        for _ in range(spec.warmup):
            prefill()
            decode_steps(min(new_tokens, 4), None)
        phase = "prefill"
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(spec.iterations):
            t = time.perf_counter()
            prefill()
            prefill_ms.append((time.perf_counter() - t) * 1000.0)
        phase = "decode"
        for _ in range(spec.decode_runs):
            prefill()
            decode_steps(new_tokens, decode_ms)
        res["cpu_share"] = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    except MemoryError as exc:
        res.update(status="oom", phase=phase, error=str(exc)[:500] or "MemoryError")
        return res

    res.update(cpu_memory_fields(baseline_rss))
    llm.close()
    res.update(timing_fields(prefill_ms, decode_ms))
    return res


def main(argv: list[str]) -> int:
    """``SPEC.json RESULT.json``; exit 0 whenever a result (ok or oom) was written."""
    return run_worker(argv, measure)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
