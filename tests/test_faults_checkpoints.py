"""Fault cases of checkpoint inputs: a GGUF of an unknown format version, a ``--tokenizer-dir``
that holds only part of a family's files, a folder with ``config.json`` and no weights, and
license verdicts that must cite the model's own evidence."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _cli import run_main

from llmselect.errors import LLMSelectError


def _tiny_gguf(path: Path, version: int | None = None) -> Path:
    """A GGUF written by the gguf library itself (format version 3), its version field then set
    to ``version`` as a file from a future or foreign writer would carry."""
    import numpy as np
    from gguf import GGUFWriter

    writer = GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    if version is not None:
        data = bytearray(path.read_bytes())
        data[4:8] = version.to_bytes(4, "little")
        path.write_bytes(bytes(data))
    return path


def test_gguf_of_an_unknown_version_is_refused(tmp_path: Path) -> None:
    from gguf import GGUF_VERSION

    from llmselect.formats.gguf_file import read_gguf

    assert read_gguf(_tiny_gguf(tmp_path / "v3.gguf")).version == GGUF_VERSION
    for version in (99, 1):
        bad = _tiny_gguf(tmp_path / f"v{version}.gguf", version)
        with pytest.raises(LLMSelectError, match=rf"GGUF version {version} is not supported"):
            read_gguf(bad)


def test_inspect_refuses_a_gguf_of_version_99(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _tiny_gguf(tmp_path / "future.gguf", 99)
    assert run_main(["inspect", str(bad)], monkeypatch) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("Error: ") and "GGUF version 99 is not supported" in line


def test_tokenizer_dir_with_part_of_the_files_is_an_error_not_a_fallback(
    with_data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """qwen2 needs vocab.json and merges.txt: a folder with only a (corrupt) tokenizer.json
    must not be replaced silently by the data root's files."""
    mine = tmp_path / "toks" / "qwen2"
    mine.mkdir(parents=True)
    (mine / "tokenizer.json").write_text("{not json")
    args = ["tokenize-bench", "--models", "qwen2", "--tokenizer-dir", str(tmp_path / "toks"),
            "--no-throughput", "--limit", "3", "--json"]  # fmt: skip
    assert run_main(args, monkeypatch) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line.startswith(f"Error: --tokenizer-dir: {mine} (missing vocab.json, merges.txt)")


def test_tokenizer_dir_with_a_corrupt_file_is_an_error(
    with_data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from llmselect.store import iter_records, iter_run_dirs

    mine = tmp_path / "toks" / "llama2"
    mine.mkdir(parents=True)
    (mine / "tokenizer.model").write_bytes(b"not a sentencepiece model")
    args = ["tokenize-bench", "--models", "llama2", "--tokenizer-dir", str(tmp_path / "toks"),
            "--no-throughput", "--limit", "3", "--json"]  # fmt: skip
    assert run_main(args, monkeypatch) == 1  # the unit failed; nothing else was measured
    records = [r for d in iter_run_dirs() for r in iter_records(d)]
    assert records and all(r.status == "error" for r in records)
    assert all(str(mine / "tokenizer.model") in (r.error or "") for r in records)


@pytest.fixture
def config_only(tmp_path: Path, tokenizers_root: Path) -> Path:
    """Llama 2's real config.json and tokenizer, and no weights."""
    folder = tmp_path / "llama2-config-only"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tokenizers_root / "llama2" / name, folder / name)
    return folder


def test_config_only_folder_says_no_weights(
    config_only: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(["inspect", str(config_only), "--no-tokenizer"], monkeypatch) == 0
    text = capsys.readouterr().out
    assert "no weights (config.json only" in text
    assert "sha256" not in text and "e3b0c442" not in text  # no hash of empty input
    assert run_main(["inspect", str(config_only), "--no-tokenizer", "--json"], monkeypatch) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["weights"] is False and "checkpoint_sha256" not in data["checkpoint"]
    # the architecture still counts: Llama-2-7B's 6,738,415,616 parameters (Meta's config)
    assert data["params"]["total"] == 6_738_415_616 and data["params"]["kind"] == "estimated"


def test_config_only_folder_is_never_a_candidate_with_weights(config_only: Path) -> None:
    from llmselect.checkpoint.candidate import candidate_spec
    from llmselect.targets import resolve_model

    spec = candidate_spec(resolve_model(str(config_only)))
    assert "no weights" in spec.tags
    assert spec.notes == [f"{config_only}: config.json only, no weights"]


def test_eval_and_inspect_agree_on_folders(
    config_only: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder in (empty, config_only):
        assert run_main(["eval", "-m", str(folder), "-t", "cmmlu"], monkeypatch) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("Error: ")
    assert "no weights (config.json only); nothing to eval" in line
    assert run_main(["inspect", str(empty)], monkeypatch) == 2


def test_license_detect_cites_the_card_it_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    card = tmp_path / "my-model"
    card.mkdir()
    (card / "README.md").write_text("---\nlicense: mit\n---\n# My model\n")
    assert run_main(["license", "detect", str(card), "--json"], monkeypatch) == 0
    v = json.loads(capsys.readouterr().out)["verdict"]
    assert v["license_id"] == "mit" and v["allowed"] == "yes"
    assert v["source"] == "my-model/README.md (model card: license: mit)"
    assert "Phi-2" not in v["source"]


def test_every_verdict_cites_its_own_model() -> None:
    """A verdict's source is the model's own license evidence (catalog ``license.source``),
    never the license table's note, which may be about another model."""
    from llmselect.catalog import load_catalog
    from llmselect.licenses import verdict
    from llmselect.licenses.table import load_licenses

    permissive = 0
    for model in load_catalog():
        v = verdict(model, "commercial")
        if model.license is not None and model.license.id == v.license_id:
            assert v.source == model.license.source, model.id
        if v.license_id in ("mit", "apache-2.0"):
            permissive += 1
            # the table's notes on these texts name Phi-2 and GPT-J's mesh-transformer-jax
            source = (v.source or "").lower()
            assert "mesh-transformer-jax" not in source or model.id.startswith("gpt-j"), model.id
            assert "phi-2" not in source or model.id.startswith("phi"), model.id
            assert v.terms_source == load_licenses().get(v.license_id).source
    assert permissive >= 10


def test_config_whose_numbers_do_not_fit_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """3 heads cannot split a hidden size of 64: the one error line says so, not only that
    some validation failed."""
    cfg = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
           "num_attention_heads": 3, "intermediate_size": 128, "vocab_size": 100}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    assert run_main(["inspect", str(tmp_path), "--no-tokenizer"], monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "heads (3) do not divide hidden (64)" in err[0], err
