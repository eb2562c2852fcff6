"""``llmselect catalog list|show``: filters, JSON output, sources, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _cli import invoke_json as _json
from _cli import run_main, runner

from llmselect.catalog import load_catalog
from llmselect.cli import app


def test_list_filters() -> None:
    rows = _json(["catalog", "list", "--lang", "zh", "--min-params", "1", "--max-params", "14",
                  "--json"])  # fmt: skip
    assert rows
    for r in rows:
        assert "zh" in r["languages"] and 1 <= r["params_b"] <= 14
    ids = {r["id"] for r in rows}
    assert {"qwen2.5-7b", "chatglm3-6b", "baichuan2-7b-base"} <= ids
    assert "llama-2-7b" not in ids  # English-only by its model card


def test_list_by_family_and_license_class() -> None:
    qwen = _json(["catalog", "list", "--family", "Qwen2.5", "--json"])
    assert {r["family"] for r in qwen} == {"Qwen2.5"} and len(qwen) == 14
    glm = _json(["catalog", "list", "--family", "glm", "--json"])
    assert {r["arch_family"] for r in glm} == {"glm"}
    no = _json(["catalog", "list", "--license-class", "no", "--json"])
    assert {"qwen2.5-3b", "llama-7b"} <= {r["id"] for r in no}
    assert all(r["commercial"] == "no" for r in no)
    conditional = _json(["catalog", "list", "--license-class", "conditional", "--json"])
    assert {"glm-4-9b", "baichuan-7b", "llama-2-7b"} <= {r["id"] for r in conditional}
    assert all(r["commercial"] == "conditional" for r in conditional)


def test_list_table_renders() -> None:
    result = runner.invoke(app, ["catalog", "list", "--family", "Llama 2"])
    assert result.exit_code == 0
    assert "llama-2-7b" in result.stdout and "6 models" in result.stdout


def test_show_json_has_sources() -> None:
    data = _json(["catalog", "show", "qwen2.5-7b", "--json"])
    assert data["id"] == "qwen2.5-7b" and data["arch"]["hidden"] == 3584
    assert data["arch"]["source"] and data["context_source"]
    assert data["license_verdict"]["allowed"] == "yes"
    llama = _json(["catalog", "show", "llama2-7b", "--json"])
    assert all(s["source"] for s in llama["scores"])


def test_show_text_says_published_with_units() -> None:
    result = runner.invoke(app, ["catalog", "show", "yi-34b"])
    assert result.exit_code == 0
    out = result.stdout
    assert "tokens (published;" in out
    assert "% (" in out and "published, github:" in out
    assert "comparison table; scores from different sources are not comparable" in out


def test_show_says_why_a_tokenizer_is_unknown() -> None:
    """The record's tokenizer source is shown, not a bare "(-)" for a kind not recorded."""
    out = runner.invoke(app, ["catalog", "show", "minimax-m2.5"]).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("tokenizer:"))
    spec = load_catalog().get("minimax-m2.5")
    assert line == f"tokenizer: unknown; {spec.tokenizer_source}"
    assert "MiniMax tokenizer" in line


def test_unknown_model_exits_2(monkeypatch, capsys) -> None:
    assert run_main(["catalog", "show", "qwen2.5-7bx"], monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: unknown model") and "did you mean" in err


def test_bad_license_class_exits_2(monkeypatch, capsys) -> None:
    assert run_main(["catalog", "list", "--license-class", "maybe"], monkeypatch) == 2
    assert "--license-class" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--family", ""], "--family is empty"), (["--lang", " "], "--lang is empty"),
     (["--license-class", ""], "--license-class"),
     (["--min-params", "100", "--max-params", "10"], "no size fits")],
)  # fmt: skip
def test_blank_filter_or_empty_range_is_one_error_line(args, message, monkeypatch, capsys) -> None:
    """A blank filter is a mistake, not "no filter": it would list the whole catalog."""
    assert run_main(["catalog", "list", *args], monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err and err.count("\n") == 1


def test_license_class_is_read_in_any_case() -> None:
    assert _json(["catalog", "list", "--license-class", "NO", "--json"]) == _json(
        ["catalog", "list", "--license-class", "no", "--json"]
    )


# --- catalog add / remove: the user's own entries ------------------------------------------

CONFIGS = Path(__file__).resolve().parent / "data" / "configs"


def _folder(tmp_path: Path, config: str | dict, name: str = "ckpt") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    text = config if isinstance(config, str) else json.dumps(config)
    (folder / "config.json").write_text(text, encoding="utf-8")
    return folder


def _overlay() -> Path:
    from llmselect.catalog import user_catalog_file

    return user_catalog_file()


def test_add_is_used_by_show_estimate_license_and_recommend(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    folder = _folder(tmp_path, (CONFIGS / "gpt-oss-20b.json").read_text(encoding="utf-8"))
    result = runner.invoke(app, ["catalog", "add", str(folder), "--license", "apache-2.0",
                                 "--name", "my-gpt-oss"])  # fmt: skip
    assert result.exit_code == 0, result.output
    entry = _json(["catalog", "show", "my-gpt-oss", "--json"])
    sizing = entry["sizing"]
    assert sizing["params_total"] == 20_914_757_184  # OpenAI's card: 20.9B
    assert sizing["config_sha256"] and sizing["config_source"].endswith("config.json")
    assert entry["license_verdict"]["allowed"] == "yes"
    rows = _json(["perf", "estimate", "-m", "my-gpt-oss", "--seq", "4096", "--json"])
    stored = sum(s["bytes"] for s in sizing["stored"])
    assert rows[0]["weights_bytes"] == stored and rows[0]["dtype"] == "stored"
    # 12 full layers x 4096 tokens + 12 sliding layers x 128 tokens, 8 KV heads x 64 x 2, bf16
    assert rows[0]["kv_cache_bytes"] == (12 * 4096 + 12 * 128) * 1024 * 2
    verdicts = _json(["license", "my-gpt-oss", "--json"])
    assert verdicts[0]["license_id"] == "apache-2.0"
    rec = _json(["recommend", "--gpu", "24GB", "--purpose", "commercial", "--top", "500",
                 "--json"])  # fmt: skip
    [ranked] = [r for r in rec["recommendations"] if r["model_id"] == "my-gpt-oss"]
    assert ranked["params_b"] == pytest.approx(20.915, abs=1e-3)
    assert runner.invoke(app, ["catalog", "remove", "my-gpt-oss"]).exit_code == 0
    assert json.loads(_overlay().read_text(encoding="utf-8")) == []


BAD = {
    "malformed JSON": '{"model_type": "llama",',
    "missing size": {"model_type": "qwen3", "num_hidden_layers": 2, "num_attention_heads": 4,
                     "vocab_size": 100},
    "negative size": {"model_type": "qwen3", "hidden_size": 64, "num_hidden_layers": -2,
                      "num_attention_heads": 4, "vocab_size": 100},
    "unknown layer type": {"model_type": "qwen3", "hidden_size": 64, "num_hidden_layers": 2,
                           "num_attention_heads": 4, "num_key_value_heads": 2,
                           "vocab_size": 100, "layer_types": ["foo_attention", "full_attention"]},
    "unknown model_type": {"model_type": "not_a_model", "hidden_size": 64,
                           "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100},
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_bad_config_is_one_error_line_and_writes_nothing(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    pytest.importorskip("transformers")
    folder = _folder(tmp_path, BAD[case])
    assert run_main(["catalog", "add", str(folder)], monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: "), err
    assert not _overlay().exists()


def test_offline_hub_id_and_duplicate_are_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    pytest.importorskip("transformers")
    assert run_main(["catalog", "add", "no-such-org/no-such-model"], monkeypatch) == 2
    assert "hub model" in capsys.readouterr().err and not _overlay().exists()
    cfg = json.loads((CONFIGS / "qwen3-30b-a3b-fp8.json").read_text(encoding="utf-8"))
    folder = _folder(tmp_path, cfg)
    assert run_main(["catalog", "add", str(folder), "--name", "q30"], monkeypatch) == 0
    before = _overlay().read_bytes()
    assert run_main(["catalog", "add", str(folder), "--name", "q30"], monkeypatch) == 2
    assert "already in your catalog" in capsys.readouterr().err
    assert run_main(["catalog", "add", str(folder), "--name", "qwen2.5-7b"], monkeypatch) == 2
    assert "already in the catalog" in capsys.readouterr().err
    assert _overlay().read_bytes() == before
    assert run_main(["catalog", "remove", "qwen2.5-7b"], monkeypatch) == 2
    assert "shipped entry" in capsys.readouterr().err


def test_add_a_hub_id_from_the_local_cache_records_its_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline, a hub id is read from the Hugging Face cache (its layout: refs/main names the
    snapshot); only the config is needed, and the snapshot commit becomes the revision."""
    pytest.importorskip("transformers")
    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf" / "models--someorg--qwen3-30b-fp8"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(sha)
    snap = repo / "snapshots" / sha
    snap.mkdir(parents=True)
    (snap / "config.json").write_bytes((CONFIGS / "qwen3-30b-a3b-fp8.json").read_bytes())
    import huggingface_hub.constants as hc

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hf"))  # read once at import
    assert run_main(["catalog", "add", "someorg/qwen3-30b-fp8"], monkeypatch) == 0
    [entry] = json.loads(_overlay().read_text(encoding="utf-8"))
    assert entry["id"] == "qwen3-30b-fp8" and entry["revision"] == sha
    assert entry["hf_repo"] == "someorg/qwen3-30b-fp8"
    assert entry["sizing"]["stored_dtype"].startswith("fp8_e4m3 (128x128 blocks")


def test_show_says_which_share_is_stored_in_which_format() -> None:
    """An NVFP4 checkpoint whose config keeps every self_attn in bf16: show names each format's
    share, bytes and bits per weight, and which block matrices stay unquantized."""
    import re

    out = runner.invoke(app, ["catalog", "show", "gemma-4-31b-it-nvfp4"]).stdout
    lines = out.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("stored weights ("))
    spec = load_catalog().get("gemma-4-31b-it-nvfp4")
    assert spec.sizing is not None and f"({spec.sizing.stored_bytes:,} bytes)" in lines[i]
    rows = lines[i + 1 : i + 3]
    assert rows[0].startswith("  nvfp4 (16-value groups") and "4.50 bits per weight" in rows[0]
    assert rows[1].startswith("  bfloat16: ") and "16.00 bits per weight" in rows[1]
    assert "left unquantized: self_attn " in rows[1]
    shares = [float(re.search(r"\(([\d.]+) % of the weights\)", r).group(1)) for r in rows]
    assert abs(sum(shares) - 100) < 0.11 and shares[0] > 60


def test_remove_takes_the_name_add_was_given_and_a_blank_name_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """``--name "My Model"`` files ``my-model``; every command finds it as "My Model", so
    ``catalog remove "My Model"`` removes it (it is no shipped entry). A blank ``--name`` would
    file an entry under an empty id: one error line, nothing written."""
    pytest.importorskip("transformers")
    folder = _folder(tmp_path, (CONFIGS / "qwen3-30b-a3b-fp8.json").read_text(encoding="utf-8"))
    for blank in ("", "  "):
        assert run_main(["catalog", "add", str(folder), "--name", blank], monkeypatch) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == ["Error: --name is empty: give the catalog id to file it under, or leave "
                       "the option out"]  # fmt: skip
        assert not _overlay().exists()
    assert run_main(["catalog", "add", str(folder), "--name", "My Q30"], monkeypatch) == 0
    assert [e["id"] for e in json.loads(_overlay().read_text(encoding="utf-8"))] == ["my-q30"]
    assert _json(["license", "My Q30", "--json"])[0]["model_id"] == "my-q30"
    assert run_main(["catalog", "remove", "My Q30"], monkeypatch) == 0
    assert json.loads(_overlay().read_text(encoding="utf-8")) == []
    capsys.readouterr()
    assert run_main(["catalog", "remove", "My Q30"], monkeypatch) == 2
    assert "no such entry" in capsys.readouterr().err


def test_an_unknown_license_id_lists_the_known_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """``--license``'s help promises the ids; the error is where they are listed."""
    folder = _folder(tmp_path, (CONFIGS / "qwen3-30b-a3b-fp8.json").read_text(encoding="utf-8"))
    assert run_main(["catalog", "add", str(folder), "--license", "apache2"], monkeypatch) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    import yaml

    shipped = yaml.safe_load((Path(__file__).resolve().parents[1] / "llmselect" / "data" /
                              "licenses.yaml").read_text(encoding="utf-8"))  # fmt: skip
    ids = sorted(lic["id"] for lic in shipped)
    assert line == f"Error: --license 'apache2': not in the license table; known: {', '.join(ids)}"
    assert not _overlay().exists()
    help_text = runner.invoke(app, ["catalog", "add", "--help"]).output
    assert "license list" not in help_text  # no such command
