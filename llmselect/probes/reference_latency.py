"""Probe ``reference_latency``: measured peak memory, prefill latency and decode ms/token.

Each (batch, seq) point runs in its own child process
(``python -m llmselect.probes._latency_worker``), on a random-weight reference model built from
the catalog's ``arch`` (or a local safetensors checkpoint). An out-of-memory in the child, or the
child being killed (the kernel's OOM killer sends SIGKILL), becomes a ``fits = 0`` record with the
reason, and the next point runs. Next to each measurement the probe stores the analytic estimate
of the same point (``est_peak_memory_mib``) and its relative error, and, where the device's memory
bandwidth is known, the decode step as a share of the bandwidth roofline.

CPU points run with a pinned thread count (``threads``, 1 unless set; stored in ``params``): with
as many threads as cores, a loaded machine's contention, not the model, decides the timing.
Prefill computes the last position's logits only, as serving does.

Engines (``engine``): ``reference`` (``llmselect.refmodels``: random weights from the ``arch``, or
a checkpoint's real weights), ``transformers`` (a checkpoint in transformers, or a llama-family
``arch`` with random weights in transformers' own classes: ``refmodels.transformers_twin``) and
``llama.cpp`` (a GGUF file in llama.cpp through ``llama-cpp-python``, in ``_llamacpp_worker``: the
file's own quantized tensors, memory-mapped, no torch in the process). Every record names its
engine and the engine's version (``torch``/``transformers``/``llama_cpp_python`` + ``llama_cpp``);
records of an engine other than ``reference`` carry ``,engine=<name>`` in their subset, so the
engines' numbers for one model never replace each other in the store. llama.cpp points store no
memory estimate: the estimator models our torch runtime (its activations and runtime constant), not
llama.cpp's compute buffers.

Records per point, subset ``bs=<B>,seq=<T>,dtype=<dtype>``:
``peak_memory_mib`` (measured; on CUDA also ``peak_vram_mib``, ``peak_allocated_mib``,
``peak_reserved_mib``, ``cuda_context_mib``), ``prefill_ms`` (+ ``_p90``),
``decode_ms_per_token`` (+ ``_p90``), ``decode_tokens_per_s``, ``decode_roofline_share``,
``est_peak_memory_mib`` (+ its parts), ``est_error_pct`` and ``fits`` (1 or 0); memory also
as ``peak_process_memory_mib`` (the whole process at its peak, as peers report it),
``peak_memory_over_runtime_mib`` (the increase over the loaded runtime) and
``runtime_memory_mib`` (the loaded runtime before the model is built).
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, field_validator

from llmselect.childproc import run_child
from llmselect.errors import LLMSelectError, ProbeSkipped
from llmselect.metrics import ChartSpec, MetricSpec
from llmselect.probes.base import (
    ModelTarget,
    PositiveInts,
    Probe,
    ProbeConfig,
    RunContext,
    field_check,
    worker_env,
)
from llmselect.probes.latency_spec import LatencyPoint, PointSettings
from llmselect.probes.memory_estimate import estimate_metric_specs, estimate_records, point_subset
from llmselect.records import Measurement

if TYPE_CHECKING:
    from llmselect.arch.sizing import Sizing

WORKER_MODULE = "llmselect.probes._latency_worker"
LLAMACPP_WORKER_MODULE = "llmselect.probes._llamacpp_worker"
ENGINES = ("reference", "transformers", "llama.cpp")
WORKER_RESULT = "worker_result"  # fits-record param holding the child's raw result (opt-in)


class RecordedPoint(BaseModel):
    """A point measured earlier (a line of a sweep's ``raw.jsonl``): what its child ran, what it
    returned, and the host it ran on."""

    spec: LatencyPoint = Field(description="The spec the child process measured.")
    result: dict[str, Any] = Field(description="The child's result, as it returned it.")
    host: str | None = Field(default=None, description="Host the point ran on, if recorded.")


# Host of a replayed point whose raw.jsonl line predates recording it: never this machine's.
UNRECORDED_HOST = "not recorded"


class ReferenceLatencyConfig(ProbeConfig, PointSettings):
    """Options of ``reference_latency`` (the per-point settings come from ``PointSettings``)."""

    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="auto = cuda when available, else cpu."
    )
    dtype: str = Field(default="bf16", description="Weights and compute dtype: fp32, bf16, fp16.")
    batch: PositiveInts = Field(default=[1], description="Batch sizes to measure.")
    seq: PositiveInts = Field(default=[512], description="Prompt lengths, tokens.")
    timeout_s: float = Field(default=900, gt=0, description="Wall-clock limit per point.")
    checkpoint: str | None = Field(
        default=None,
        description="Checkpoint (GGUF file, safetensors folder or file, hub id) whose real "
        "weights are measured; its shape must match the named model.",
    )
    engine: Literal["reference", "transformers", "llama.cpp"] = Field(
        default="reference",
        description="reference = llmselect.refmodels (checkpoint weights included); "
        "transformers = the checkpoint (or a random-weight llama-family arch) in transformers; "
        "llama.cpp = a GGUF file in llama.cpp "
        "(llama-cpp-python, CPU, batch 1, the file's own quant types).",
    )
    check_logits: bool = Field(
        default=True,
        description="With a checkpoint in the reference decoders: compare logits with "
        "transformers on the same weights after the timed phase (a mismatch fails the point).",
    )
    bandwidth_gb_s: float | None = Field(
        default=None,
        gt=0,
        description="Memory bandwidth for the roofline when the device is unknown.",
    )
    processes: int = Field(
        default=1,
        ge=1,
        le=10,
        description="Fresh child processes per point, one after another: their timed repeats "
        "are pooled, so the spread holds how much one process differs from the next (memory "
        "comes from the first).",
    )
    keep_worker_result: bool = Field(
        default=False,
        description="Also store each child's raw result (JSON) with its fits record, so the "
        "estimates can be recomputed later from the same measurement (perf sweep).",
    )
    replay: RecordedPoint | None = Field(
        default=None,
        description="Measure nothing: turn this earlier child result into records again "
        "(estimates recomputed by the current estimator; perf sweep's --rerender).",
    )

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, value: str) -> str:
        """Refused when the plan is built (the probe parses it again per point)."""
        from llmselect.memory.dtypes import parse_dtype

        return field_check(parse_dtype, value)


def resolve_device(device: str) -> str:
    """``auto`` → cuda when torch sees a GPU, else cpu (imports torch only for auto)."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def check_engine(engine: str, target: Any, device: str, batches: list[int]) -> None:
    """Refuse, in one line, an engine that cannot run this target or point."""
    if engine not in ENGINES:
        raise LLMSelectError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    kind = getattr(target, "kind", None)
    arch = getattr(target, "arch", None)
    twin = arch is not None and getattr(arch, "family", None) == "llama"  # random weights
    if engine == "transformers" and not getattr(target, "has_weights", False) and not twin:
        raise LLMSelectError(
            f"--engine transformers runs a checkpoint's weights or a random-weight llama-family "
            f"arch; {target.id} is neither (give a GGUF file, a safetensors folder or file, or "
            "a hub id)"
        )
    if engine == "reference" and arch is not None:
        from llmselect.arch.family import require_reference_model

        require_reference_model(arch.family, str(target.id),
                                "llama.cpp" if kind == "gguf" else "transformers")  # fmt: skip
    if engine != "llama.cpp":
        return
    if kind != "gguf":
        raise LLMSelectError(
            f"--engine llama.cpp runs a .gguf file; {target.id} is not one "
            "(give -m FILE.gguf or --checkpoint FILE.gguf)"
        )
    if device.startswith("cuda"):
        raise LLMSelectError("--engine llama.cpp is measured on the CPU here; use --device cpu")
    if any(b != 1 for b in batches):
        raise LLMSelectError("--engine llama.cpp measures one sequence: use --batch 1")
    from llmselect.checkpoint.llamacpp import require

    require()


def engine_subset(subset: str, engine: str) -> str:
    """A point's subset, with the engine named unless it is our reference implementation."""
    return subset if engine == "reference" else f"{subset},engine={engine}"


def run_worker(spec: LatencyPoint, timeout_s: float) -> dict[str, Any]:
    """Run one point in a child process (``childproc``); OOM and SIGKILL come back as
    ``status == "oom"``, any other signal as an error naming it (``"llama.cpp child died with
    SIGSEGV"``)."""
    module = LLAMACPP_WORKER_MODULE if spec.engine == "llama.cpp" else WORKER_MODULE
    env = worker_env()
    if spec.threads:  # size the OpenMP/MKL pools before torch starts them
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(spec.threads)
    result = run_child(
        module, spec.model_dump_json(), timeout_s=timeout_s, label=spec.engine, env=env
    )
    if result.get("signal") == signal.SIGKILL.name:
        result.update(
            status="oom",
            phase="unknown",
            error="child killed by SIGKILL (the kernel's out-of-memory killer)",
        )
    return result


ARCH_FIELDS = ("hidden", "layers", "heads", "kv_heads", "head_size", "intermediate", "vocab",
               "tied_embeddings", "qkv_bias", "rope_fraction")  # fmt: skip


def checkpoint_for(target: Any, checkpoint: str) -> Any:
    """The checkpoint as the target to measure, after checking it has the named model's shape:
    its records carry the checkpoint's own id, never the named model's."""
    from llmselect.targets import resolve_model

    source = resolve_model(checkpoint)
    if not source.is_checkpoint:
        raise LLMSelectError(f"--checkpoint {checkpoint!r} is not a checkpoint file or folder")
    if not source.has_weights:
        raise LLMSelectError(f"--checkpoint {checkpoint!r} has no weights (config.json only)")
    want, have = getattr(target, "arch", None), source.arch
    if want is not None and have is not None:
        diffs = [
            f"{f} {getattr(have, f)} vs {getattr(want, f)}"
            for f in ARCH_FIELDS
            if getattr(have, f) != getattr(want, f)
        ]
        if want.family != have.family:
            diffs.insert(0, f"family {have.family} vs {want.family}")
        if diffs:
            raise LLMSelectError(
                f"checkpoint {source.name} does not have the shape of {target.id} "
                f"(checkpoint vs model): {', '.join(diffs)}"
            )
    return source


def worker_spec(
    cfg: ReferenceLatencyConfig, target: Any, batch: int, seq: int, device: str
) -> LatencyPoint:
    """The JSON spec one child process measures."""
    from llmselect.arch.family import traits_of
    from llmselect.memory.dtypes import parse_dtype

    arch = getattr(target, "arch", None)
    # A config-only folder is measured like a preset: random weights of its architecture.
    checkpoint = target if getattr(target, "has_weights", False) else None
    learned_positions = (
        arch is not None and traits_of(arch.family).position == "learned" and arch.max_position
    )
    if learned_positions and seq + cfg.new_tokens > arch.max_position:
        raise LLMSelectError(
            f"{target.id}: prompt {seq} + {cfg.new_tokens} new tokens exceed the learned "
            f"position table ({arch.max_position})"
        )
    settings = {name: getattr(cfg, name) for name in PointSettings.model_fields}
    ck: dict[str, Any] = {"checkpoint": cfg.checkpoint, "engine": cfg.engine}
    dtype = parse_dtype(cfg.dtype).name
    if cfg.engine == "llama.cpp" and checkpoint is not None:
        dtype = checkpoint.gguf_file_type or "gguf"  # the file's own tensors, as llama.cpp runs it
    if checkpoint is not None:
        ck = {
            "checkpoint": str(checkpoint.path),
            "checkpoint_format": "gguf" if checkpoint.kind == "gguf" else "safetensors",
            "identity": checkpoint.identity(),
            "rope_scaling": checkpoint.rope_scaling(),
            "engine": cfg.engine,
            "check_logits": cfg.check_logits and cfg.engine == "reference",
        }
    return LatencyPoint(
        **{**settings, "threads": point_threads(cfg.threads, device)},
        arch=arch.model_dump() if arch is not None else None,
        **ck,
        dtype=dtype,
        device=device,
        batch=batch,
        seq=seq,
    )


def context_params(target: Any, seq: int, new_tokens: int) -> dict[str, Any]:
    """The caveat of a point longer than the model's stated context (none within it, or where
    no context is recorded), stored in every record of the point beside the measurement, which
    it does not change: rotary positions run past the trained range (llama.cpp warns and runs),
    so the timing and memory are real, while what the model writes there is not measured. A
    learned position table cannot run past its size; ``worker_spec`` refuses that point."""
    from llmselect.memory.estimate_rows import stated_context

    tokens = seq + new_tokens
    context, source = stated_context(target)
    if context is None or tokens <= context:
        return {}
    return {
        "context_tokens": context,
        "context_source": source,
        "context_extension": True,
        "context_note": (
            f"--seq {seq:,} + --new-tokens {new_tokens:,} = {tokens:,} tokens is beyond "
            f"{target.id}'s context of {context:,} tokens ({source}): positions past the range "
            "the model was trained on; memory and latency are measured at that length, whether "
            "the model's output is usable there is not part of the measurement"
        ),
    }


def _file_bytes(target: Any) -> int | None:
    """A GGUF checkpoint's tensor bytes (None for anything else)."""
    gguf = getattr(target, "gguf", None)
    return gguf.tensor_bytes if gguf is not None else None


def pool_timings(first: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """``first``'s result with ``other``'s timed repeats added (another process, same point):
    medians, p90s and counts over all repeats, the mean CPU share; memory stays ``first``'s.
    A point that failed in the other process is that failure."""
    from llmselect.measure import summarize

    if other.get("status") != "ok":
        return other
    pooled = dict(first)
    prefill = [*first["prefill_samples_ms"], *other["prefill_samples_ms"]]
    decode = [*(first.get("decode_samples_ms") or []), *(other.get("decode_samples_ms") or [])]
    p = summarize(prefill)
    pooled.update(prefill_ms=p.p50, prefill_ms_p90=p.p90, prefill_n=p.n,
                  prefill_samples_ms=prefill, decode_samples_ms=decode,
                  processes=first.get("processes", 1) + 1,
                  wall_s=first.get("wall_s", 0.0) + other.get("wall_s", 0.0))  # fmt: skip
    if decode:
        d = summarize(decode)
        pooled.update(decode_ms_per_token=d.p50, decode_ms_per_token_p90=d.p90, decode_n=d.n)
    shares = [*first.get("cpu_shares", [first.get("cpu_share")]), other.get("cpu_share")]
    shares = [x for x in shares if x is not None]
    if shares:  # CPU-s per wall-s of each process, averaged
        pooled.update(cpu_shares=shares, cpu_share=sum(shares) / len(shares))
    return pooled


def point_threads(threads: int | None, device: str) -> int | None:
    """Threads of a point: as given, else 1 on CPU (None on CUDA: the library's default)."""
    if threads:
        return threads
    return None if device.startswith("cuda") else 1


def engine_params(spec: LatencyPoint, result: dict[str, Any]) -> dict[str, Any]:
    """The engine and its version, on every record of a point."""
    if spec.engine == "llama.cpp":
        keys = ("llama_cpp_python", "llama_cpp", "ggml_system_info")
        return {"engine": "llama.cpp", **{k: result[k] for k in keys if result.get(k)}}
    out = {"engine": spec.engine, "torch": result.get("torch")}
    if spec.engine == "transformers" or spec.check_logits:
        out["transformers"] = result.get("transformers")
    return {k: v for k, v in out.items() if v is not None}


class ReferenceLatencyProbe(Probe[ReferenceLatencyConfig, ModelTarget]):
    """Peak memory and latency of a random-weight reference model, one child process per point."""

    name = "reference_latency"
    version = 2  # 2: 1 CPU thread by default, last-position prefill logits, tiled random init
    description = "Measured peak memory, prefill ms and decode ms/token (child process per point)."
    Config = ReferenceLatencyConfig
    uses_device = True
    fresh_process = True
    metrics = (
        MetricSpec(
            "prefill_ms", "ms", False, "latency",
            chart=ChartSpec(
                "latency-prefill", "Prefill latency (p50)", "Median ms to process the prompt.",
                order=60,
            ),
            label="prefill", description="median ms to process the prompt",
            table="Reference model on this machine",
        ),
        MetricSpec(
            "decode_ms_per_token", "ms", False, "latency",
            chart=ChartSpec(
                "latency-decode", "Decode latency per token (p50)",
                "Median ms per generated token of the reference model with random weights.",
                order=50,
            ),
            label="decode", description="median ms per generated token",
            table="Reference model on this machine", evidence="decode_ms",
        ),
        MetricSpec(
            "decode_tokens_per_s", "tok/s", True, "latency",
            label="decode speed", table="Reference model on this machine",
        ),
        MetricSpec(
            "peak_memory_mib", "MiB", False, "latency",
            label="peak memory", description="measured peak (CUDA: context + reserved; CPU: RSS)",
            table="Reference model on this machine",
        ),
        MetricSpec("prefill_ms_p90", "ms", False, "latency"),
        MetricSpec("decode_ms_per_token_p90", "ms", False, "latency"),
        MetricSpec("fits", "bool", True, "latency", description="1 = the point ran, 0 = OOM"),
        MetricSpec("peak_process_memory_mib", "MiB", False, "latency", label="process total"),
        MetricSpec(
            "peak_memory_over_runtime_mib", "MiB", False, "latency",
            label="increase over the loaded runtime",
        ),
        MetricSpec("runtime_memory_mib", "MiB", False, "latency", label="runtime before the model"),
        MetricSpec("peak_vram_mib", "MiB", False, "latency"),
        MetricSpec("peak_allocated_mib", "MiB", False, "latency"),
        MetricSpec("peak_reserved_mib", "MiB", False, "latency"),
        MetricSpec("cuda_context_mib", "MiB", False, "latency"),
        MetricSpec("est_error_pct", "%", None, "latency", label="estimate error"),
        MetricSpec("decode_roofline_share", "ratio", True, "latency"),
        *estimate_metric_specs("latency"),
    )  # fmt: skip

    def run(self, target: ModelTarget, ctx: RunContext) -> Iterator[Measurement]:
        from llmselect.memory.dtypes import parse_dtype

        cfg = self.config
        if cfg.replay is not None:  # measured earlier: only records and estimates, here
            host = cfg.replay.host or UNRECORDED_HOST
            arch = getattr(target, "arch", None)
            for rec in self.target_records(ctx, target, arch, cfg.replay.spec, cfg.replay.result):
                yield rec.model_copy(update={"host": host})
            return
        if cfg.checkpoint and not getattr(target, "is_checkpoint", False):
            target = checkpoint_for(target, cfg.checkpoint)
        arch = getattr(target, "arch", None)
        if arch is None and not cfg.checkpoint:
            raise ProbeSkipped(f"{target.id}: no architecture numbers and no checkpoint")
        dt = parse_dtype(cfg.dtype)
        if dt.quantized and cfg.engine != "llama.cpp":
            raise LLMSelectError(f"reference models run fp32, bf16 or fp16, not {dt.name}")
        if cfg.engine == "llama.cpp":  # llama.cpp's build here runs on the CPU
            device = "cpu" if cfg.device == "auto" else cfg.device
        else:
            device = resolve_device(cfg.device if cfg.device != "auto" else ctx.device or "auto")
        check_engine(cfg.engine, target, device, cfg.batch)
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ProbeSkipped("CUDA is not available here")
        for batch in cfg.batch:
            for seq in cfg.seq:
                spec = worker_spec(cfg, target, batch, seq, device)
                ctx.logger.info("%s: measuring %s on %s", target.id, spec, device)
                result = run_worker(spec, cfg.timeout_s)
                for _ in range(cfg.processes - 1):
                    if result.get("status") != "ok":
                        break
                    result = pool_timings(result, run_worker(spec, cfg.timeout_s))
                yield from self.target_records(ctx, target, arch, spec, result)

    def target_records(
        self, ctx: RunContext, target: Any, arch: Any, spec: LatencyPoint, result: dict[str, Any]
    ) -> Iterator[Measurement]:
        """``point_records`` with what the target adds: its config's sizing, a GGUF file's
        tensor bytes and the caveat of a point beyond its context (measured or replayed alike)."""
        return self.point_records(ctx, target.id, arch, spec, result,
                                  sizing=getattr(target, "sizing", None),
                                  file_bytes=_file_bytes(target),
                                  context=context_params(target, spec.seq,
                                                         spec.new_tokens))  # fmt: skip

    def point_records(
        self,
        ctx: RunContext,
        model_id: str,
        arch: Any,
        spec: LatencyPoint,
        result: dict[str, Any],
        sizing: Sizing | None = None,
        file_bytes: int | None = None,
        context: dict[str, Any] | None = None,
    ) -> Iterator[Measurement]:
        """Turn one child result into records (and the estimate of the same point; ``sizing``:
        a config's exact counts and cache layout, which a family-less architecture needs;
        ``file_bytes``: a GGUF file's tensor bytes, the weights llama.cpp reads as stored;
        ``context``: the caveat of a point beyond the model's context, ``context_params``)."""
        from llmselect.memory.devices import lookup_bandwidth
        from llmselect.memory.estimate import (
            bytes_read_per_decode_token,
            decode_roofline_ms,
            estimate_memory,
        )

        cfg = self.config
        batch, seq, dtype = spec.batch, spec.seq, spec.dtype
        device = spec.device
        subset = engine_subset(point_subset(batch, seq, dtype), spec.engine)
        status = result.get("status")
        raw = {WORKER_RESULT: json.dumps(result, sort_keys=True)} if cfg.keep_worker_result else {}
        if status == "error":  # this point failed; the other points still run
            yield Measurement(
                run_id=ctx.run_id,
                model_id=model_id,
                probe=self.name,
                probe_version=self.version,
                metric="fits",
                unit="bool",
                subset=subset,
                params={"device": device, **(context or {}), **raw},
                status="error",
                error=str(result.get("error"))[-2000:],
                duration_s=float(result.get("wall_s", 0.0)),
            )
            return
        params: dict[str, Any] = {
            "device": device,
            "device_name": result.get("device_name"),
            "backend": result.get("backend"),
            "new_tokens": spec.new_tokens,
            "warmup": spec.warmup,
            "iterations": spec.iterations,
            "prefill_logits": "last position",
            **engine_params(spec, result),
            "processes": result.get("processes", 1),
            **(context or {}),
        }
        if spec.threads:
            params["threads"] = spec.threads
        if result.get("cpu_share") is not None and not device.startswith("cuda"):
            params["cpu_share"] = round(float(result["cpu_share"]), 2)
        for key in ("driver", "cpu_threads", "memory_cap_mib"):
            val = result.get(key, getattr(spec, key, None))
            if val is not None:
                params[key] = val
        params.update(spec.identity)
        duration = float(result.get("wall_s", 0.0))

        def rec(metric: str, value: float, unit: str, hib: bool | None, **kw: Any) -> Measurement:
            return self.record(
                ctx,
                model_id,
                metric,
                value,
                unit,
                higher_is_better=hib,
                subset=subset,
                params={**params, **kw.pop("extra", {})},
                duration_s=duration,
                **kw,
            )

        est = None
        if arch is not None and spec.engine != "llama.cpp":
            est = estimate_memory(
                arch,
                dtype=dtype,
                batch=batch,
                seq=seq,
                new_tokens=spec.new_tokens,
                device="cuda" if device.startswith("cuda") else "cpu",
                last_token_logits=True,  # the worker's prefill keeps the last position only
                sizing=sizing,
            )
            yield from estimate_records(self, ctx, model_id, est, prefill_logits="last position",
                                        subset=subset)  # fmt: skip

        if status == "oom":
            reason = (
                f"does not fit: {result.get('error', 'out of memory')} "
                f"(phase {result.get('phase')})"
            )
            yield rec("fits", 0.0, "bool", True, extra={"reason": reason[:500], **raw})
            return

        if "logits_match" in result:
            check = {k: result[k] for k in ("logits_tolerance", "logits_prompt_tokens",
                                             "logits_oracle")}  # fmt: skip
            if not result["logits_match"]:
                yield Measurement(
                    run_id=ctx.run_id, model_id=model_id, probe=self.name,
                    probe_version=self.version, metric="logits_max_abs_diff", unit="logit",
                    subset=subset, params={**params, **check}, status="error",
                    error="reference logits differ from transformers by "
                    f"{result['logits_max_abs_diff']:.3g} "
                    f"(tolerance {check['logits_tolerance']:.3g})",
                    duration_s=duration,
                )  # fmt: skip
                return
            yield rec("logits_max_abs_diff", result["logits_max_abs_diff"], "logit", False,
                      extra=check)  # fmt: skip
        peak = float(result["peak_memory_mib"])
        yield rec("fits", 1.0, "bool", True, extra=raw)
        yield rec("peak_memory_mib", peak, "MiB", False)
        for key, metric, meaning in (
            ("peak_process_mib", "peak_process_memory_mib", "process total at peak"),
            ("peak_over_runtime_mib", "peak_memory_over_runtime_mib", "increase over runtime"),
            ("runtime_mib", "runtime_memory_mib", "loaded runtime before the model"),
        ):
            if result.get(key) is not None:
                yield rec(metric, float(result[key]), "MiB", False, extra={"memory": meaning})
        if device.startswith("cuda"):
            yield rec("peak_vram_mib", peak, "MiB", False)
            for key in ("peak_allocated_mib", "peak_reserved_mib", "cuda_context_mib"):
                if result.get(key) is not None:
                    yield rec(key, float(result[key]), "MiB", False)
        if est is not None:
            err_pct = (est.total_mib - peak) / peak * 100.0
            yield rec("est_error_pct", err_pct, "%", None, extra={"est_peak_mib": est.total_mib})
        yield rec(
            "prefill_ms",
            result["prefill_ms"],
            "ms",
            False,
            n=result["prefill_n"],
            samples=result.get("prefill_samples_ms"),
        )
        yield rec(
            "prefill_ms_p90",
            result["prefill_ms_p90"],
            "ms",
            False,
            n=result["prefill_n"],
            samples=result.get("prefill_samples_ms"),  # the p50 and p90 share the repeats
        )
        decode = result.get("decode_ms_per_token")
        if decode:
            n = result["decode_n"]
            steps = result.get("decode_samples_ms")
            yield rec("decode_ms_per_token", decode, "ms", False, n=n, samples=steps)
            yield rec(
                "decode_ms_per_token_p90",
                result["decode_ms_per_token_p90"],
                "ms",
                False,
                n=n,
                samples=steps,
            )
            rates = [batch * 1000.0 / ms for ms in steps or [] if ms > 0] or None
            yield rec(
                "decode_tokens_per_s", batch * 1000.0 / decode, "tok/s", True, n=n, samples=rates
            )
            bandwidth, bw_source = None, None
            if cfg.bandwidth_gb_s:
                bandwidth, bw_source = cfg.bandwidth_gb_s * 1e9, "given (--bandwidth-gb-s)"
            elif device.startswith("cuda") and result.get("device_name"):
                dev = lookup_bandwidth(result["device_name"])
                if dev is not None:
                    bandwidth, bw_source = dev.bandwidth_bytes_per_s, f"{dev.name}: {dev.source}"
            # llama.cpp reads the file's own tensors and keeps an F16 KV cache (as `recommend`
            # sizes it); without the file's bytes its roofline is not computed.
            llama = spec.engine == "llama.cpp"
            if bandwidth and arch is not None and (file_bytes or not llama):
                # Average context over the timed decode steps.
                context = seq + max(spec.new_tokens // 2, 1)
                per_token = bytes_read_per_decode_token(
                    arch, dtype="fp16" if llama else dtype, batch=batch, context=context,
                    sizing=sizing, weights_bytes=file_bytes if llama else None,
                )  # fmt: skip
                floor_ms = decode_roofline_ms(per_token, bandwidth)
                yield rec(
                    "decode_roofline_share",
                    floor_ms / decode,
                    "ratio",
                    True,
                    n=n,
                    extra={
                        "bandwidth_gb_s": bandwidth / 1e9,
                        "bandwidth_source": bw_source,
                        "bytes_per_token": per_token,
                        "roofline_ms": floor_ms,
                    },
                )
