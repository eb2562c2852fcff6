"""Child process of the ``reference_latency`` probe: one (model, dtype, batch, seq) point.

Run as ``python -m llmselect.probes._latency_worker SPEC.json RESULT.json`` (the contract:
``llmselect.childproc``). It builds the model (random weights from an ``ArchSpec`` through
``llmselect.refmodels``; or a checkpoint's real weights, GGUF or safetensors, in the reference
decoders with a logits check against transformers after the timed phase, or in transformers
with ``engine: transformers``), runs warm-up then timed prefill and decode, and writes one JSON
object. Running each point in a fresh process
keeps the memory numbers clean (no cache of an earlier model) and turns an out-of-memory into a
result (``"status": "oom"``) instead of a crash of the whole sweep.

Memory, measured:

* CUDA: ``torch.cuda.max_memory_allocated``/``max_memory_reserved`` reset after the build (so a
  build-time transient is not counted), and NVML device memory used before CUDA starts, after
  the context exists, and at the end. ``peak_memory_mib`` = context (NVML) + peak reserved: the
  device memory this process needed.
* CPU: ``VmHWM`` (peak RSS) is reset through ``/proc/self/clear_refs`` after the build;
  ``peak_memory_mib`` = peak RSS during inference − RSS after imports, before the build. Where
  the reset is unavailable, ``getrusage`` peak is used (it then includes the build).

Both views are also returned under explicit names, because peers report the process total:
``peak_process_mib`` (the whole process at its peak: CPU peak RSS; CUDA context + peak
reserved) and ``peak_over_runtime_mib`` (the increase over the loaded runtime: CPU peak RSS −
RSS after imports; CUDA peak reserved), with ``runtime_mib`` (CPU RSS after imports; CUDA
context) between them.

Prefill computes the logits of the last prompt position only, as ``generate`` and serving
stacks do (the estimator assumes the same). Random weights are filled by tiling one random
block (``build_model(tiled_init=True)``): kernels run as fast on it, and the build no longer
dominates a small point's wall time.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmselect.childproc import serve
from llmselect.hardware import usable_cpus
from llmselect.probes.latency_spec import LatencyPoint

MIB = 1024**2


def _proc_status_kib(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ≥ 4.0); False where not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _rss_mib() -> float:
    kib = _proc_status_kib("VmRSS")
    if kib is not None:
        return kib / 1024
    from llmselect.measure import process_peak_rss_mib

    return process_peak_rss_mib()


def _peak_rss_mib() -> float:
    kib = _proc_status_kib("VmHWM")
    if kib is not None:
        return kib / 1024
    from llmselect.measure import process_peak_rss_mib

    return process_peak_rss_mib()


def _trim_heap() -> bool:
    """Give the heap freed after loading a checkpoint (dequantized copies, shard buffers) back
    to the OS (glibc ``malloc_trim``), so the RSS after the build is the model, not the loader's
    leftovers. False where glibc is not available."""
    import ctypes

    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def _cap_cpu_memory(cap_mib: float) -> None:
    """Limit this process's address space to its current size + ``cap_mib`` (RLIMIT_AS)."""
    import resource

    vm_kib = _proc_status_kib("VmSize") or 0.0
    limit = int(vm_kib * 1024 + cap_mib * MIB)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _cpu_name() -> str:
    """``"AMD EPYC (2 cores)"``: /proc/cpuinfo's model name and the usable core count."""
    import platform

    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name} ({usable_cpus()} cores)"


def _nvml_index(device: str) -> int:
    """NVML index of ``cuda[:N]`` without initialising CUDA (NVML ignores CUDA_VISIBLE_DEVICES)."""
    ordinal = int(device.split(":")[1]) if ":" in device else 0
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")]
    if visible and all(v.isdigit() for v in visible) and ordinal < len(visible):
        return int(visible[ordinal])
    return ordinal


def _is_oom(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.OutOfMemoryError | MemoryError):
        return True
    text = str(exc).lower()
    return "out of memory" in text or "can't allocate memory" in text or "cannot allocate" in text


class _HFAdapter:
    """Gives a transformers causal LM the refmodels call contract: ``(logits, cache)``."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.vocab = int(model.config.vocab_size)

    def new_cache(self, batch: int, max_len: int = 0) -> Any:
        from transformers import DynamicCache

        return DynamicCache()

    def __call__(
        self, input_ids: Any, cache: Any = None, logits_to_keep: int = 0
    ) -> tuple[Any, Any]:
        out = self.model(
            input_ids=input_ids,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=logits_to_keep,
        )
        return out.logits, out.past_key_values


def _build(spec: LatencyPoint, torch_dtype: Any, device: str) -> tuple[Any, int, str]:
    """(model, vocab, backend name)."""
    if spec.checkpoint and spec.engine == "reference":
        from llmselect.checkpoint.runtime import load_reference

        model = load_reference(spec.model_dump(), torch_dtype, device)
        return model, int(spec.arch["vocab"]) if spec.arch else 0, "llmselect.refmodels+checkpoint"
    if spec.checkpoint and spec.checkpoint_format == "gguf":
        from llmselect.checkpoint.runtime import transformers_model

        adapter = _HFAdapter(transformers_model(spec.model_dump(), torch_dtype, device))
        return adapter, adapter.vocab, "transformers-checkpoint"
    if spec.checkpoint:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(
            spec.checkpoint,
            dtype=torch_dtype,
            use_safetensors=True,
            trust_remote_code=False,
        )
        model = model.to(device).eval()  # no device_map: that would need accelerate
        adapter = _HFAdapter(model)
        return adapter, adapter.vocab, "transformers-checkpoint"
    if spec.engine == "transformers":  # no checkpoint: the arch in transformers' own classes
        from llmselect.refmodels.transformers_twin import random_model

        adapter = _HFAdapter(random_model(spec.arch or {}, torch_dtype, device, spec.seed))
        return adapter, adapter.vocab, "transformers-random"
    from llmselect.arch.spec import ArchSpec
    from llmselect.refmodels import build_model

    arch = ArchSpec.model_validate(spec.arch)
    model = build_model(arch, dtype=torch_dtype, device=device, seed=spec.seed, tiled_init=True)
    model.eval()
    return model, arch.vocab, "llmselect.refmodels"


def measure(spec: LatencyPoint) -> dict[str, Any]:
    """Run one measurement point; returns the result dict (status ok or oom)."""
    import torch

    from llmselect.memory.dtypes import parse_dtype

    device = spec.device
    dt = parse_dtype(spec.dtype)
    if dt.torch_name is None:
        raise ValueError(f"dtype {dt.name} is not run by the reference models (no kernels)")
    torch_dtype = getattr(torch, dt.torch_name)
    batch, seq = spec.batch, spec.seq
    new_tokens = spec.new_tokens
    warmup, iterations = spec.warmup, spec.iterations
    cap = spec.memory_cap_mib
    threads = spec.threads
    if threads:
        torch.set_num_threads(int(threads))
    torch.manual_seed(spec.seed)

    res: dict[str, Any] = {"device": device, "torch": torch.__version__}
    cuda = device.startswith("cuda")
    nvml = None
    if cuda:
        if not torch.cuda.is_available():
            raise RuntimeError("CUDA requested but not available")
        try:
            import pynvml

            pynvml.nvmlInit()
            nvml = pynvml.nvmlDeviceGetHandleByIndex(_nvml_index(device))
            res["nvml_used_before_mib"] = pynvml.nvmlDeviceGetMemoryInfo(nvml).used / MIB
            res["driver"] = pynvml.nvmlSystemGetDriverVersion()
        except Exception as exc:  # noqa: BLE001 - NVML is a cross-check, not required
            res["nvml_error"] = str(exc)
            nvml = None
        torch.cuda.init()
        torch.empty(1, device=device)
        res["device_name"] = torch.cuda.get_device_name(device)
        res["device_total_mib"] = torch.cuda.get_device_properties(device).total_memory / MIB
        torch.cuda.synchronize()
        if nvml is not None:
            used = pynvml.nvmlDeviceGetMemoryInfo(nvml).used / MIB
            res["cuda_context_mib"] = used - res["nvml_used_before_mib"]
        if cap:
            frac = min(
                1.0, float(cap) * MIB / torch.cuda.get_device_properties(device).total_memory
            )
            torch.cuda.set_per_process_memory_fraction(frac)
    else:
        res["device_name"] = _cpu_name()
        res["cpu_threads"] = torch.get_num_threads()
        if cap:
            _cap_cpu_memory(float(cap))
    # Import what the build needs before the baseline, so the baseline is "after imports".
    if spec.checkpoint or spec.engine == "transformers":
        import gguf.quants  # noqa: F401
        import transformers  # noqa: F401

        import llmselect.checkpoint.runtime
        import llmselect.refmodels  # noqa: F401

        res["transformers"] = transformers.__version__
    else:
        import llmselect.catalog
        import llmselect.refmodels  # noqa: F401
    baseline_rss = _rss_mib()
    res["baseline_rss_mib"] = baseline_rss

    phase = "build"
    try:
        t0 = time.perf_counter()
        model, vocab, backend = _build(spec, torch_dtype, device)
        res["backend"] = backend
        res["build_s"] = time.perf_counter() - t0
        if cuda:
            torch.cuda.synchronize()
            res["build_peak_allocated_mib"] = torch.cuda.max_memory_allocated() / MIB
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            res["weights_allocated_mib"] = torch.cuda.memory_allocated() / MIB
        else:
            res["build_peak_rss_mib"] = _peak_rss_mib() - baseline_rss
            if spec.checkpoint:
                res["heap_trimmed"] = _trim_heap()
            res["weights_rss_mib"] = _rss_mib() - baseline_rss
            res["peak_reset"] = _reset_peak_rss()

        gen = torch.Generator(device="cpu").manual_seed(spec.seed)
        ids = torch.randint(0, vocab, (batch, seq), generator=gen).to(device)

        def sync() -> None:
            if cuda:
                torch.cuda.synchronize()

        def timed(fn: Any) -> tuple[Any, float]:
            """(result, ms): CUDA events on a GPU, perf_counter on the CPU."""
            if cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(True)
                start.record()
                out = fn()
                end.record()
                end.synchronize()
                return out, start.elapsed_time(end)
            t = time.perf_counter()
            out = fn()
            return out, (time.perf_counter() - t) * 1000.0

        def prefill() -> tuple[Any, Any]:
            cache = model.new_cache(batch, seq + new_tokens)
            return model(ids, cache=cache, logits_to_keep=1)  # (B, 1, V), as serving does

        def decode_steps(logits: Any, cache: Any, steps: int, times: list[float] | None) -> None:
            nxt = logits[:, -1:].argmax(-1)  # (B, 1)
            del logits
            for _ in range(steps):
                (logits, cache), ms = timed(lambda: model(nxt, cache=cache))  # noqa: B023
                nxt = logits[:, -1:].argmax(-1)
                if times is not None:
                    times.append(ms)

        prefill_ms: list[float] = []
        decode_ms: list[float] = []
        with torch.inference_mode():
            phase = "warm-up"
            for _ in range(warmup):
                logits, cache = prefill()
                decode_steps(logits, cache, min(new_tokens, 4), None)
                del logits, cache
            sync()
            phase = "prefill"
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for _ in range(iterations):
                (logits, cache), ms = timed(prefill)
                prefill_ms.append(ms)
                del logits, cache
            phase = "decode"
            decode_runs = spec.decode_runs
            for _ in range(decode_runs):
                logits, cache = prefill()
                decode_steps(logits, cache, new_tokens, decode_ms)
                del logits, cache
            sync()
            # CPU seconds per wall second of the timed work: ~threads on a free machine.
            res["cpu_share"] = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    except Exception as exc:  # noqa: BLE001 - an OOM is a result; anything else is re-raised
        if not _is_oom(exc):
            raise
        lines = str(exc).strip().splitlines()
        message = lines[0][:500] if lines else type(exc).__name__
        res.update(status="oom", phase=phase, error=message)
        return res

    if cuda:
        res["peak_allocated_mib"] = torch.cuda.max_memory_allocated() / MIB
        res["peak_reserved_mib"] = torch.cuda.max_memory_reserved() / MIB
        if nvml is not None:
            import pynvml

            used_end = pynvml.nvmlDeviceGetMemoryInfo(nvml).used / MIB
            res["nvml_used_delta_mib"] = used_end - res["nvml_used_before_mib"]
        ctx = res.get("cuda_context_mib")
        res["peak_memory_mib"] = res["peak_reserved_mib"] + (ctx if ctx is not None else 0.0)
        res["peak_process_mib"] = res["peak_memory_mib"]
        res["peak_over_runtime_mib"] = res["peak_reserved_mib"]
        if ctx is not None:
            res["runtime_mib"] = ctx
    else:
        res.update(cpu_memory_fields(baseline_rss))
    if spec.check_logits and backend == "llmselect.refmodels+checkpoint":
        # After the timed phase, so the transformers copy never counts in the peak above.
        from llmselect.checkpoint.runtime import check_logits

        res.update(check_logits(model, spec.model_dump(), torch_dtype, device))
    res.update(timing_fields(prefill_ms, decode_ms))
    return res


def cpu_memory_fields(baseline_rss: float) -> dict[str, float]:
    """The CPU memory views of a point (MiB, measured): peak over the baseline, process total at
    its peak, and the runtime loaded before the model; every engine's worker reports these."""
    peak_rss = _peak_rss_mib()
    return {
        "peak_memory_mib": peak_rss - baseline_rss,
        "peak_process_mib": peak_rss,
        "peak_over_runtime_mib": peak_rss - baseline_rss,
        "runtime_mib": baseline_rss,
    }


def timing_fields(prefill_ms: list[float], decode_ms: list[float]) -> dict[str, Any]:
    """``status: ok`` with the prefill/decode summaries (ms) and every timed repeat."""
    from llmselect.measure import summarize

    p, d = summarize(prefill_ms), summarize(decode_ms) if decode_ms else None
    return {
        "status": "ok",
        "prefill_ms": p.p50,
        "prefill_ms_p90": p.p90,
        "prefill_n": p.n,
        "decode_ms_per_token": d.p50 if d else None,
        "decode_ms_per_token_p90": d.p90 if d else None,
        "decode_n": d.n if d else 0,
        "prefill_samples_ms": prefill_ms,  # every timed repeat, for run-to-run comparisons
        "decode_samples_ms": decode_ms,
    }


def main(argv: list[str]) -> int:
    """``SPEC.json RESULT.json``; exit 0 whenever a result (ok or oom) was written."""
    return run_worker(argv, measure)


def run_worker(argv: list[str], measure_point: Callable[[LatencyPoint], dict[str, Any]]) -> int:
    """The child's side of ``childproc``, shared by every engine's worker: read the point,
    measure, write the result (an error as one line); exit 0 whenever a result (ok or oom) was
    written."""
    return serve(argv, LatencyPoint.model_validate_json, measure_point, ok=("ok", "oom"))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
