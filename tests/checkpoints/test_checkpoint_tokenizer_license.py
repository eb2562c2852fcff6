"""The tokenizer rebuilt from the GGUF vocabulary equals transformers' tokenizer of the same file;
license evidence comes from the file's own metadata and never promises more than the text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _cli import invoke_json

from llmselect.checkpoint.inspect import checkpoint_tokenizer
from llmselect.licenses.detect import detect

MIXED = [
    "你好，世界！今天是2024年12月2日。",
    "Hello world, it's 3.14159 and we're testing   spaces\tand tabs.",
    "混合 text：模型 SmolLM2 的参数量是 134,515,008 个。",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>",
]


def test_gguf_tokenizer_ids_equal_transformers(
    smollm2_source: Any, hf_gguf: dict[str, Any], datasets_root: Path
) -> None:
    from llmselect.corpora import load_corpus

    ours = checkpoint_tokenizer(smollm2_source)
    theirs = hf_gguf["tokenizer"]
    corpus = load_corpus("flores200", limit=150)
    texts = MIXED + [s.text for s in corpus.segments]
    for text in texts:
        assert ours.encode(text) == theirs.encode(text, add_special_tokens=False), text


def test_inspect_measures_tokens_per_char(
    smollm2_gguf: Path, hf_gguf: dict[str, Any], with_data_root: Path
) -> None:
    from llmselect.corpora import load_corpus

    r = invoke_json(["inspect", str(smollm2_gguf), "--json"])
    tok = r["tokenizer"]
    assert tok["tokenizer"] == "gguf" and tok["vocab_size"] == 49152 and tok["kind"] == "measured"
    corpus = load_corpus("flores200")
    enc = hf_gguf["tokenizer"]
    for lang in ("zh", "en"):
        texts = [s.text.strip() for s in corpus.by_lang(lang)]
        n_tok = sum(len(enc.encode(t, add_special_tokens=False)) for t in texts)
        assert tok["tokens_per_char"][lang] == pytest.approx(n_tok / sum(map(len, texts)))


def test_license_from_gguf_metadata(smollm2_gguf: Path) -> None:
    found = detect(smollm2_gguf)
    assert found.license_id == "apache-2.0" and found.verdict.allowed == "yes"
    assert [e.method for e in found.evidence] == ["GGUF metadata"]
    assert found.evidence[0].detail == "general.license: apache-2.0"


def test_added_clauses_never_yes(smollm2_license_text: Path, tmp_path: Path) -> None:
    text = smollm2_license_text.read_text(encoding="utf-8")
    plain, restricted, extra = (tmp_path / n for n in ("plain", "restricted", "extra"))
    for folder, addition in (
        (plain, ""),
        (restricted, "\n\nAdditional terms: this model is NOT for commercial use.\n"),
        (extra, "\n\nThe weights were trained by the Example Lab team in 2024.\n"),
    ):
        folder.mkdir()
        (folder / "LICENSE").write_text(text + addition, encoding="utf-8")
    assert detect(plain).verdict.allowed == "yes"
    v = detect(restricted).verdict
    assert v.allowed == "unknown"
    assert any("not for commercial use" in c for c in v.conditions)
    v = detect(extra).verdict
    assert v.allowed == "conditional"
    assert any("example lab" in c for c in v.conditions)
    # a purpose other than commercial is not promised either
    assert detect(restricted, purpose="research").verdict.allowed != "yes"


def test_tokenize_bench_takes_the_checkpoint(
    smollm2_gguf: Path, smollm2_source: Any, hf_gguf: dict[str, Any], with_data_root: Path
) -> None:
    from llmselect.corpora import load_corpus

    args = ["tokenize-bench", "--models", str(smollm2_gguf), "--corpus", "flores200",
            "--limit", "50", "--no-throughput", "--json"]  # fmt: skip
    payload = invoke_json(args)
    zh = [r for r in payload["records"]
          if r["metric"] == "tokens_per_char" and r["subset"].endswith("zh")]  # fmt: skip
    assert [r["model_id"] for r in zh] == [smollm2_source.id]
    texts = [s.text.strip() for s in load_corpus("flores200", limit=50).by_lang("zh")]
    enc = hf_gguf["tokenizer"]
    n_tok = sum(len(enc.encode(t, add_special_tokens=False)) for t in texts)
    assert zh[0]["value"] == pytest.approx(n_tok / sum(map(len, texts)))


def test_tokenizer_info_looks_the_tokenizer_file_up_once(
    smollm2_source: Any, with_data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmselect.checkpoint import inspect

    calls: list[str] = []
    lookup = inspect.tokenizer_file

    def counted(source: Any) -> tuple[str, str] | None:
        calls.append(source.id)
        return lookup(source)

    monkeypatch.setattr(inspect, "tokenizer_file", counted)
    info = inspect.tokenizer_info(smollm2_source, corpus="default")
    assert calls == [smollm2_source.id]
    assert (info["tokenizer"], info["vocab_size"], info["kind"]) == ("gguf", 49152, "measured")
