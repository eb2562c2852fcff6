"""``llmselect license``: verdicts with conditions and sources, dates, purposes, detection."""

from __future__ import annotations

from pathlib import Path

from _cli import invoke_json as _json
from _cli import run_main, runner

from llmselect.cli import app


def test_the_four_models() -> None:
    rows = _json(["license", "llama2-7b", "chatglm3-6b", "bloom-7b1", "qwen2.5-7b", "--json"])
    got = {r["model_id"]: r for r in rows}
    assert {k: v["allowed"] for k, v in got.items()} == {
        "llama-2-7b": "conditional",
        "chatglm3-6b": "conditional",
        "bloom-7b1": "conditional",
        "qwen2.5-7b": "yes",
    }
    assert all(r["source"] and r["license_id"] for r in rows)
    assert any("700 million" in c for c in got["llama-2-7b"]["conditions"])
    assert any("register" in c for c in got["chatglm3-6b"]["conditions"])
    assert any("Attachment A" in c for c in got["bloom-7b1"]["conditions"])
    assert got["chatglm3-6b"]["effective_date"] == "2024-05-24"


def test_date_and_purpose() -> None:
    (early,) = _json(["license", "chatglm2-6b", "--date", "2023-07-01", "--json"])
    assert early["allowed"] == "no" and early["as_of"] == "2023-07-01"
    (research,) = _json(["license", "qwen2.5-3b", "--purpose", "research", "--json"])
    assert research["allowed"] == "yes" and research["purpose"] == "research"


def test_text_output() -> None:
    result = runner.invoke(app, ["license", "yi-6b", "--date", "2024-01-01"])
    assert result.exit_code == 0
    assert "yi-6b: commercial as of 2024-01-01: conditional" in result.stdout
    # the model's own evidence (its README's license history), then the license's text
    assert "  source: facts licenses.yaml yi-license notes" in result.stdout
    assert "  license text: https://github.com/01-ai/Yi/" in result.stdout


def test_detect(tokenizers_root: Path) -> None:
    data = _json(["license", "detect", str(tokenizers_root / "chatglm3"), "--json"])
    assert data["license_id"] == "chatglm3-6b-license"
    assert data["verdict"]["allowed"] == "conditional"
    via_path = _json(["license", "--path", str(tokenizers_root / "gguf" / "LICENSE"), "--json"])
    assert via_path["license_id"] == "mit" and via_path["verdict"]["allowed"] == "yes"
    result = runner.invoke(app, ["license", "detect", str(tokenizers_root / "llama2")])
    assert result.exit_code == 0 and "llama2-community" in result.stdout


def test_errors_exit_2(monkeypatch, capsys) -> None:
    assert run_main(["license", "llama2-7bb"], monkeypatch) == 2
    assert "did you mean" in capsys.readouterr().err
    assert run_main(["license", "gpt2", "--date", "2023-13-01"], monkeypatch) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert run_main(["license", "gpt2", "--purpose", "fun"], monkeypatch) == 2
    assert "unknown purpose" in capsys.readouterr().err
    assert run_main(["license"], monkeypatch) == 2
    capsys.readouterr()
    for args in (["license", "detect", ""], ["license", "--path", " "]):
        assert run_main(args, monkeypatch) == 2
        err = capsys.readouterr().err  # not "name at least one model"
        assert err.startswith("Error: license detect: the path is empty"), err


def test_purpose_is_read_in_any_case_as_recommend_reads_it() -> None:
    """``recommend --purpose Commercial`` works; ``license --purpose Commercial`` said
    "unknown purpose". Both read the same words."""
    from llmselect.recommend.profiles import get_profile

    assert get_profile("Commercial").name == "commercial"
    for model in ("llama2-7b", "chatglm2-6b"):
        lower = _json(["license", model, "--purpose", "research", "--json"])
        assert _json(["license", model, "--purpose", "Research", "--json"]) == lower
