"""``perf measure`` on the real SmolLM2 GGUF: its weights run through our LLaMA reference decoder
in a child process, the logits are checked against transformers on the same weights, the records
carry the checkpoint's identity, and the memory estimate is checked against the measurement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _cli import invoke_json, run_main

from llmselect.store import iter_records, iter_run_dirs


def test_shape_mismatch_names_the_numbers(
    smollm2_gguf: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["perf", "measure", "-m", "llama:0.5b", "--checkpoint", str(smollm2_gguf)]
    assert run_main(args, monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: checkpoint SmolLM2-135M-Instruct.Q4_1.gguf")
    for numbers in ("hidden 576 vs 896", "layers 30 vs 24", "vocab 49152 vs 151936"):
        assert numbers in err[0]


def test_measure_real_weights(smollm2_gguf: Path, smollm2_source: Any) -> None:
    args = ["perf", "measure", "-m", str(smollm2_gguf), "--device", "cpu", "--dtype", "fp32",
            "--seq", "32", "--new-tokens", "4", "--warmup", "0", "--iterations", "1",
            "--threads", "1", "--json"]  # fmt: skip
    (row,) = invoke_json(args)
    assert row["model_id"] == smollm2_source.id
    assert row["fits"] == 1.0
    assert row["logits_max_abs_diff"] < 1e-4  # reference vs transformers, fp32, same weights
    # Like with like: the estimate (weights + KV + last-position activations + the CPU runtime
    # constant, calibrated on this worker by benchmarks/calibrate_cpu_overhead.py) against the
    # increase over the loaded runtime, never the process total.
    assert row["peak_memory_mib"] == row["peak_memory_over_runtime_mib"]
    assert row["peak_process_memory_mib"] > row["peak_memory_over_runtime_mib"]
    assert abs(row["est_error_pct"]) < 5.0, row
    assert row["est_weights_mib"] * 2**20 == pytest.approx(4 * smollm2_source.gguf.n_params)
    (run_dir,) = iter_run_dirs()
    records = list(iter_records(run_dir))
    assert {r.model_id for r in records} == {smollm2_source.id}
    peak = next(r for r in records if r.metric == "peak_memory_mib")
    assert peak.params["checkpoint"] == str(smollm2_gguf.resolve())
    assert peak.params["checkpoint_sha256"] == smollm2_source.sha256
    assert peak.params["backend"] == "llmselect.refmodels+checkpoint"
    assert peak.params["gguf_file_type"] == "q4_1"
