"""``llmselect catalog list|show``: filters, JSON output, sources, exit codes."""

from __future__ import annotations

from _cli import invoke_json as _json
from _cli import run_main, runner

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


def test_unknown_model_exits_2(monkeypatch, capsys) -> None:
    assert run_main(["catalog", "show", "qwen2.5-7bx"], monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: unknown model") and "did you mean" in err


def test_bad_license_class_exits_2(monkeypatch, capsys) -> None:
    assert run_main(["catalog", "list", "--license-class", "maybe"], monkeypatch) == 2
    assert "--license-class" in capsys.readouterr().err
