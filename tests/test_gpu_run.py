"""The prepared GPU run (``benchmarks/gpu_run.sh``): its dry run on the CPU writes every file and
column, both engines run the same shapes, and the roofline's bandwidth comes from gpus.yaml."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from gpu_run import COLUMNS, OUTPUT_FILES, TINY  # noqa: E402


@pytest.mark.integration
@pytest.mark.slow  # four child processes with torch and transformers: ~30 s on 2 quiet cores
def test_dry_run_writes_every_file_and_column(tmp_path: Path) -> None:
    out = tmp_path / "perf"
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_run.sh"), "--dry-run", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    assert len(OUTPUT_FILES) <= 8  # what one device call brings back
    with (out / "summary.csv").open(encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        rows = list(reader)
    assert {(r["model"], r["engine"]) for r in rows} == {
        (m, e) for m in TINY for e in ("reference", "transformers")
    }
    from llmselect.arch.spec import ArchSpec
    from llmselect.refmodels.transformers_twin import random_model

    for r in rows:
        assert r["fits"] == "1.0" and r["dtype"] == "bf16" and r["seq"] == "32"
        assert float(r["peak_memory_mib"]) > 0 and float(r["est_peak_memory_mib"]) > 0
        assert float(r["prefill_ms"]) > 0 and float(r["decode_ms_per_token"]) > 0
        # The parameter count is the one transformers' own class builds for the shape.
        twin = random_model(ArchSpec(**TINY[r["model"]], source="t").model_dump(),
                            None, "meta", 0)  # fmt: skip
        assert int(r["params"]) == sum(p.numel() for p in twin.parameters())
        # No bandwidth is known for this CPU: no roofline share, never a guess.
        assert r["decode_roofline_share"] == "" and r["bandwidth_gb_s"] == ""
    calib = json.loads((out / "calibration.json").read_text(encoding="utf-8"))
    assert calib["device"] == "cpu" and calib["points"] == len(TINY)
    ref = [r for r in rows if r["engine"] == "reference"]
    residuals = sorted(
        float(r["peak_memory_mib"]) - float(r["est_peak_memory_mib"]) + float(r["est_overhead_mib"])
        for r in ref
    )
    assert calib["refitted_mib"] == pytest.approx(sum(residuals) / 2, abs=0.1)  # median of two
    assert "tiny-qwen2" in (out / "table.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("preset", "published"),
    [
        ("llama:0.5b", 494_032_768),  # Qwen2.5-0.5B: 988,065,536 bytes of bf16 safetensors
        ("llama:8b", 8_030_261_248),  # Meta-Llama-3-8B: 16,060,522,496 bytes of bf16 safetensors
    ],
)
def test_transformers_twin_has_the_published_parameter_count(preset: str, published: int) -> None:
    from llmselect.arch.count import count_params
    from llmselect.arch.presets import preset_arch
    from llmselect.refmodels.transformers_twin import random_model

    arch = preset_arch(preset)
    twin = random_model(arch.model_dump(), None, "meta", 0)
    assert sum(p.numel() for p in twin.parameters()) == published == count_params(arch).total


@pytest.mark.parametrize(
    ("driver_name", "gbs"),
    [("NVIDIA H100 80GB HBM3", 3350), ("NVIDIA H100 PCIe", 2000), ("NVIDIA H200", 4800)],
)
def test_roofline_bandwidth_comes_from_gpus_yaml(driver_name: str, gbs: float) -> None:
    from llmselect.memory.devices import lookup_bandwidth

    dev = lookup_bandwidth(driver_name)
    assert dev is not None and dev.bandwidth_bytes_per_s == gbs * 1e9
    assert dev.source.startswith("llmselect/data/gpus.yaml: NVIDIA H")


@pytest.mark.parametrize("held", ["run.json", "raw.jsonl"])
def test_a_folder_holding_a_sweep_file_is_one_error_line(tmp_path: Path, held: str) -> None:
    """A folder holding any of a sweep's files (not only measurements.jsonl) is refused with
    the sweep's own words, exit 2, before anything is measured or written."""
    (tmp_path / held).write_text("{}\n", encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_run.py"), "--dry-run",
         "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"Error: --out {tmp_path} already holds a sweep's files ({held}): one folder holds one "
        "run; give a new folder"
    ]
    assert [p.name for p in tmp_path.iterdir()] == [held]


def test_an_out_under_a_file_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_run.py"), "--dry-run",
         "--out", str(tmp_path / "f" / "perf")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"Error: --out {tmp_path / 'f' / 'perf'}: cannot create the folder: Not a directory"
    ]
