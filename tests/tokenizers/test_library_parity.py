"""Our loaders against the tokenizer libraries called directly, on FLORES-200 lines read now.

Each reference is built here from the README's instructions (library calls and published
regexes written out in this file), never through ``llmselect.tokenizers``.
"""

from __future__ import annotations

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


@cache
def _ranks(path: str) -> dict[bytes, int]:
    from tiktoken.load import load_tiktoken_bpe

    return load_tiktoken_bpe(path)


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


@pytest.mark.parametrize(
    ("family", "json_name"),
    [("gpt-neox", "20B_tokenizer.json"), ("deepseek-coder", "tokenizer.json")],
)
def test_tokenizer_json(family, json_name, load_family, flores_lines, tokenizers_root) -> None:
    from tokenizers import Tokenizer

    ref = Tokenizer.from_file(str(tokenizers_root / family / json_name))
    tok = load_family(family)
    for text in _texts(flores_lines):
        assert tok.encode(text) == ref.encode(text, add_special_tokens=False).ids, text


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
