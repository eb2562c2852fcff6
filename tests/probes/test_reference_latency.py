"""``reference_latency``: a tiny model measured in a child; OOM and SIGKILL → does not fit."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from llmselect import childproc
from llmselect.arch.spec import ArchSpec
from llmselect.errors import LLMSelectError
from llmselect.probes import reference_latency as rl
from llmselect.probes.base import RunContext
from llmselect.probes.reference_latency import ReferenceLatencyProbe
from llmselect.units import Unit, run_unit

# A tiny llama-style config in the shape of transformers' Llama tests (GQA: 4 heads, 2 KV).
TINY = ArchSpec(family="llama", hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128,
                vocab=256, source="test: tiny llama-style config")  # fmt: skip


class _Target:
    def __init__(self, id: str, arch: ArchSpec | None) -> None:  # noqa: A002
        self.id, self.arch = id, arch


def _by_point(recs):  # type: ignore[no-untyped-def]
    out: dict[str, dict[str, object]] = {}
    for r in recs:
        out.setdefault(r.subset, {})[r.metric] = r
    return out


def test_cpu_child_measures_and_oom_point_does_not_stop_the_run() -> None:
    """Point 1 cannot fit under a 512 MiB cap (its activations alone exceed it); point 2 fits."""
    cfg = ReferenceLatencyProbe.Config(
        device="cpu", dtype="fp32", batch=[1], seq=[1_000_000, 32], new_tokens=4, warmup=1,
        iterations=2, memory_cap_mib=512, timeout_s=120,  # threads unset: 1 on CPU
    )  # fmt: skip
    recs = run_unit(Unit(_Target("tiny", TINY), ReferenceLatencyProbe(cfg)), RunContext("r"))
    points = _by_point(recs)
    big, small = points["bs=1,seq=1000000,dtype=fp32"], points["bs=1,seq=32,dtype=fp32"]
    assert big["fits"].value == 0.0 and big["fits"].status == "ok"
    assert "does not fit" in big["fits"].params["reason"]
    assert "peak_memory_mib" not in big
    assert big["est_peak_memory_mib"].kind == "estimated"

    assert small["fits"].value == 1.0
    for metric, unit in [
        ("peak_memory_mib", "MiB"), ("prefill_ms", "ms"), ("prefill_ms_p90", "ms"),
        ("decode_ms_per_token", "ms"), ("decode_ms_per_token_p90", "ms"),
        ("decode_tokens_per_s", "tok/s"), ("est_peak_memory_mib", "MiB"),
    ]:  # fmt: skip
        rec = small[metric]
        assert rec.status == "ok" and rec.unit == unit and rec.value > 0, metric
    assert small["peak_memory_mib"].kind == "measured"
    assert small["prefill_ms"].n == 2 and small["decode_ms_per_token"].n == 4
    assert small["prefill_ms_p90"].value >= small["prefill_ms"].value
    assert small["peak_memory_mib"].params["device"] == "cpu"
    assert small["peak_memory_mib"].params["backend"] == "llmselect.refmodels"
    # The thread count is pinned to 1 on CPU by default and recorded with the point.
    assert small["prefill_ms"].params["threads"] == 1
    assert len(small["prefill_ms"].samples) == 2 and len(small["decode_ms_per_token"].samples) == 4
    assert small["prefill_ms"].params["cpu_threads"] == 1  # what torch in the child used
    # Memory both ways: the process total = the loaded runtime + the increase over it.
    total = small["peak_process_memory_mib"].value
    over = small["peak_memory_over_runtime_mib"].value
    runtime = small["runtime_memory_mib"].value
    assert over == pytest.approx(small["peak_memory_mib"].value)
    assert total == pytest.approx(runtime + over) and runtime > over > 0
    assert small["peak_process_memory_mib"].params["memory"] == "process total at peak"
    est, meas = small["est_peak_memory_mib"].value, small["peak_memory_mib"].value
    assert small["est_error_pct"].value == pytest.approx((est - meas) / meas * 100)


def test_several_processes_pool_their_repeats() -> None:
    """Two fresh children time the same point: every repeat of both is kept, the median is over
    all of them, and memory is the first child's measurement."""
    cfg = ReferenceLatencyProbe.Config(
        device="cpu", dtype="fp32", batch=[1], seq=[32], new_tokens=4, warmup=1, iterations=2,
        processes=2, timeout_s=120,
    )  # fmt: skip
    recs = run_unit(Unit(_Target("tiny", TINY), ReferenceLatencyProbe(cfg)), RunContext("r"))
    point = _by_point(recs)["bs=1,seq=32,dtype=fp32"]
    prefill, decode = point["prefill_ms"], point["decode_ms_per_token"]
    assert prefill.params["processes"] == 2 and prefill.n == 4 and decode.n == 8
    assert len(prefill.samples) == 4 and len(decode.samples) == 8
    ordered = sorted(prefill.samples)
    assert prefill.value == pytest.approx((ordered[1] + ordered[2]) / 2)
    assert 0 < prefill.params["cpu_share"] <= 1.5 and point["peak_memory_mib"].value > 0


def _fake_run(returncode: int):  # type: ignore[no-untyped-def]
    def run(cmd, **kw):  # type: ignore[no-untyped-def]
        return subprocess.CompletedProcess(cmd, returncode, stdout="", stderr="boom")

    return run


def test_child_killed_by_sigkill_is_does_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(childproc.subprocess, "run", _fake_run(-signal.SIGKILL))
    cfg = ReferenceLatencyProbe.Config(device="cpu", seq=[64, 128])
    recs = list(ReferenceLatencyProbe(cfg).run(_Target("tiny", TINY), RunContext("r")))
    fits = [r for r in recs if r.metric == "fits"]
    assert [r.value for r in fits] == [0.0, 0.0]  # both points reported, the run went on
    assert "SIGKILL" in fits[0].params["reason"]


def test_child_crash_is_an_error_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(childproc.subprocess, "run", _fake_run(1))
    probe = ReferenceLatencyProbe(ReferenceLatencyProbe.Config(device="cpu", seq=[64, 128]))
    recs = run_unit(Unit(_Target("tiny", TINY), probe), RunContext("r"))
    failed = [r for r in recs if r.status == "error"]
    assert len(failed) == 2  # one per point: a crash of one point does not stop the others
    assert all("exited 1" in (r.error or "") for r in failed)


def test_roofline_share_on_a_known_gpu() -> None:
    """A CUDA result is turned into records; H100 SXM5 bandwidth 3.35 TB/s (datasheet)."""
    probe = ReferenceLatencyProbe(ReferenceLatencyProbe.Config(device="cuda", new_tokens=10))
    spec = rl.worker_spec(probe.config, _Target("tiny", TINY), 1, 100, "cuda")
    result = {
        "status": "ok", "device_name": "NVIDIA H100 80GB HBM3", "backend": "llmselect.refmodels",
        "peak_memory_mib": 600.0, "peak_reserved_mib": 80.0, "peak_allocated_mib": 70.0,
        "cuda_context_mib": 520.0, "prefill_ms": 2.0, "prefill_ms_p90": 3.0, "prefill_n": 5,
        "decode_ms_per_token": 0.5, "decode_ms_per_token_p90": 0.6, "decode_n": 10,
    }  # fmt: skip
    recs = {r.metric: r for r in probe.point_records(RunContext("r"), "tiny", TINY, spec, result)}
    assert recs["peak_vram_mib"].value == 600.0
    share = recs["decode_roofline_share"]
    # bf16 weights of the tiny model + its KV cache at 105 tokens, over 3.35e12 B/s.
    embed_and_head = 2 * 256 * 64  # untied
    attn = 64 * 64 + 2 * (64 * 2 * 16) + 64 * 64  # q, k, v (2 KV heads of 16), o
    mlp = 3 * 64 * 128
    params = embed_and_head + 2 * (attn + mlp + 2 * 64) + 64  # + norms
    kv = 2 * 2 * 2 * 16 * 105 * 2  # K and V · layers · kv heads · head dim · tokens · bytes
    assert share.params["bytes_per_token"] == params * 2 + kv
    assert share.value == pytest.approx((params * 2 + kv) / 3.35e12 * 1000 / 0.5)
    assert share.unit == "ratio" and share.higher_is_better is True


def test_quantized_dtype_is_refused() -> None:
    probe = ReferenceLatencyProbe(ReferenceLatencyProbe.Config(device="cpu", dtype="int4"))
    with pytest.raises(LLMSelectError, match="fp32, bf16 or fp16"):
        list(probe.run(_Target("tiny", TINY), RunContext("r")))


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_available(), reason="needs a CUDA GPU")
def test_gpu_tiny_model_records() -> None:
    cfg = ReferenceLatencyProbe.Config(
        device="cuda", dtype="bf16", seq=[64], new_tokens=8, warmup=2, iterations=5
    )
    recs = list(ReferenceLatencyProbe(cfg).run(_Target("tiny", TINY), RunContext("r")))
    got = {r.metric: r for r in recs}
    assert got["fits"].value == 1.0
    assert got["peak_vram_mib"].value > 0 and got["peak_allocated_mib"].value > 0
    assert got["cuda_context_mib"].value > 0
    assert got["decode_ms_per_token"].value > 0 and got["prefill_ms"].n == 5


@pytest.mark.slow
def test_local_safetensors_checkpoint(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A transformers checkpoint on disk (safetensors) is loaded and measured in the child."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, intermediate_size=128, vocab_size=256)  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(tmp_path / "ckpt", safe_serialization=True)
    assert list((tmp_path / "ckpt").glob("*.safetensors"))
    cfg = ReferenceLatencyProbe.Config(
        device="cpu", dtype="fp32", seq=[16], new_tokens=2, warmup=0, iterations=1,
        checkpoint=str(tmp_path / "ckpt"),
    )  # fmt: skip
    recs = {
        r.metric: r for r in ReferenceLatencyProbe(cfg).run(_Target("t", TINY), RunContext("r"))
    }
    assert recs["fits"].value == 1.0
    assert recs["peak_memory_mib"].params["backend"] == "transformers-checkpoint"
    assert recs["decode_ms_per_token"].value > 0


def test_checkpoint_without_a_family_keeps_its_measurement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real SmolLM3 checkpoint (no hand-written family: transformers sizes it) measured with
    ``--engine transformers``: the point's records and its estimate come from the config's own
    counts. Before, the estimate asked for a family formula and the measured point was lost."""
    import torch
    import transformers

    from llmselect.checkpoint.source import source_from_path

    config = transformers.SmolLM3Config(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=128, vocab_size=256, pad_token_id=None, bos_token_id=None,
        eos_token_id=None,
    )  # fmt: skip
    model = transformers.SmolLM3ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(tmp_path)
    params = sum(p.numel() for p in model.parameters())
    source = source_from_path(str(tmp_path))
    assert source.arch.family == "other"
    child = {
        "status": "ok", "backend": "transformers", "peak_memory_mib": 600.0, "prefill_ms": 2.0,
        "prefill_ms_p90": 3.0, "prefill_n": 5, "decode_ms_per_token": 0.5,
        "decode_ms_per_token_p90": 0.6, "decode_n": 10,
    }  # fmt: skip
    monkeypatch.setattr(rl, "run_worker", lambda spec, timeout_s: child)
    cfg = ReferenceLatencyProbe.Config(device="cpu", seq=[100], new_tokens=10,
                                       engine="transformers", bandwidth_gb_s=100.0)  # fmt: skip
    recs = run_unit(Unit(source, ReferenceLatencyProbe(cfg)), RunContext("r"))
    assert [r.error for r in recs if r.status != "ok"] == []
    by_metric = {r.metric: r for r in recs}
    assert by_metric["fits"].value == 1.0 and by_metric["prefill_ms"].value == 2.0
    assert "est_error_pct" in by_metric
    # the estimate sits on the measured point's row (its subset names the engine)
    assert by_metric["est_peak_memory_mib"].subset == by_metric["prefill_ms"].subset
    assert by_metric["prefill_ms"].subset.endswith(",engine=transformers")
    kv = 2 * 2 * 2 * 16 * 105 * 2  # K and V · layers · kv heads · head dim · tokens · bf16
    assert by_metric["decode_roofline_share"].params["bytes_per_token"] == params * 2 + kv
