"""``recommend --candidates``: local checkpoints ranked beside the catalog, same constraints."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
from _cli import invoke_json


def _entries(payload: dict[str, Any], model_id: str) -> tuple[list[Any], list[Any]]:
    ranked = [r for r in payload["recommendations"] if r["model_id"] == model_id]
    excluded = [e for e in payload["excluded"] if e["model_id"] == model_id]
    return ranked, excluded


def test_gguf_candidate_passes_the_constraints(smollm2_gguf: Path, smollm2_source: Any) -> None:
    args = ["recommend", "--gpu", "cpu", "--ram", "8GB", "--purpose", "edge",
            "--candidates", str(smollm2_gguf), "--json"]  # fmt: skip
    payload = invoke_json(args)
    ranked, excluded = _entries(payload, smollm2_source.id)
    assert len(ranked) == 1 and not excluded  # passes the constraints beside the catalog
    (rec,) = ranked
    # no scores measured for it yet: ranked on predicted quality, labelled so, never published
    quality = [t for t in rec["terms"] if t["name"].startswith("quality_")]
    assert quality and all(t["kind"] == "predicted" and t["coverage"] == 0 for t in quality)
    assert rec["score"] is not None and rec["score"] < rec["score_mean"]
    assert rec["license"]["id"] == "apache-2.0" and rec["license"]["allowed"] == "yes"
    assert rec["params_b"] == 0.135 and rec["context_length"] == 8192
    assert len(payload["recommendations"]) > 1  # the catalog is ranked beside it
    # the file runs as it is stored (Q4_1), its weights its own tensors: never "int8"
    assert rec["precision"] == "q4_1"
    weights = rec["memory_detail"]["weights"] * 1024**3
    size = smollm2_gguf.stat().st_size  # the tensors plus a header (metadata, vocabulary)
    assert weights <= size < weights + 8 * 1024**2


def test_explain_of_a_candidate_prints_a_perf_estimate_that_runs(
    smollm2_gguf: Path, smollm2_source: Any
) -> None:
    """The reproduce command names the file (the candidate's id resolves nowhere) and gives the
    peak the ranking used."""
    args = ["recommend", "--gpu", "cpu", "--ram", "8GB", "--purpose", "edge",
            "--candidates", str(smollm2_gguf), "--explain", smollm2_source.id]  # fmt: skip
    rec = invoke_json([*args, "--json"])["recommendation"]
    cmd = shlex.split(rec["perf_estimate"])
    assert cmd[:4] == ["llmselect", "perf", "estimate", "-m"] and cmd[4] == str(smollm2_gguf)
    rows = invoke_json([*cmd[1:], "--json"])
    assert rows[0]["peak_mib"] / 1024 == pytest.approx(rec["memory_gib"], abs=0.006)


def test_restrictive_license_text_is_excluded(
    smollm2_folder: Path, smollm2_license_text: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "restricted"
    folder.mkdir()
    shutil.copy(smollm2_folder / "config.json", folder / "config.json")
    text = smollm2_license_text.read_text(encoding="utf-8")
    (folder / "LICENSE").write_text(text + "\nThis model is NOT for commercial use.\n")
    args = ["recommend", "--gpu", "24GB", "--purpose", "commercial",
            "--candidates", str(folder), "--json"]  # fmt: skip
    payload = invoke_json(args)
    ranked, excluded = _entries(payload, "restricted")
    assert not ranked and excluded
    assert any(e["constraint"] == "license" for e in excluded)


def test_candidates_and_inspect_do_not_import_torch(smollm2_gguf: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from llmselect.cli import app\n"
        f"p = {str(smollm2_gguf)!r}\n"
        "r1 = CliRunner().invoke(app, ['recommend', '--gpu', 'cpu', '--ram', '8GB', "
        "'--purpose', 'edge', '--candidates', p, '--json'])\n"
        "r2 = CliRunner().invoke(app, ['inspect', p, '--no-tokenizer', '--json'])\n"
        "assert r1.exit_code == 0 and r2.exit_code == 0, (r1.output, r2.output)\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
