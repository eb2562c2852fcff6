"""GPT-2-style ``vocab.json`` + ``merges.txt`` (GPT-2, Aquila, Qwen1.5/2/2.5).

Built with ``tokenizers``: a BPE model plus a byte-level pre-tokenizer. Qwen2 gets Qwen's own
split regex and NFC normalization, as ``transformers.Qwen2Tokenizer`` applies them; plain
GPT-2 splitting agrees on simple sentences but not in general.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from llmselect.errors import LLMSelectError
from llmselect.tokenizers.base import LoadedTokenizer
from llmselect.tokenizers.hf_json import HFTokenizer
from llmselect.tokenizers.kinds import TokenizerKind

if TYPE_CHECKING:
    from llmselect.tokenizers.spec import TokenizerSpec

# Qwen's pre-tokenizer regex (Qwen2Tokenizer / qwen.tiktoken).
QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def byte_level_tokenizer(
    vocab: dict[str, int],
    merges: list[tuple[str, str]],
    split_patterns: list[str] | None = None,
    nfc: bool = False,
):  # type: ignore[no-untyped-def]
    """A ``tokenizers.Tokenizer``: BPE(vocab, merges), optional NFC, regex splits, ByteLevel.

    Without ``split_patterns`` the ByteLevel pre-tokenizer uses GPT-2's own regex.
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE

    tok = Tokenizer(BPE(vocab=vocab, merges=merges, fuse_unk=False))
    if nfc:
        tok.normalizer = normalizers.NFC()
    if split_patterns:
        steps = [pre_tokenizers.Split(Regex(p), behavior="isolated") for p in split_patterns]
        steps.append(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False))
        tok.pre_tokenizer = pre_tokenizers.Sequence(steps)
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return tok


def read_merges(path: Path) -> list[tuple[str, str]]:
    """``merges.txt`` lines → pairs (the ``#version`` header is skipped)."""
    pairs = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line or line.startswith("#version"):
                continue
            left, sep, right = line.partition(" ")
            if not sep:
                raise LLMSelectError(f"{path}: malformed merge line {line!r}")
            pairs.append((left, right))
    return pairs


def added_tokens_from_config(path: Path | None) -> list[tuple[int, str, bool]]:
    """``(id, content, special)`` from a ``tokenizer_config.json``'s ``added_tokens_decoder``."""
    if path is None or not path.is_file():
        return []
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LLMSelectError(f"cannot read {path}: {exc}") from exc
    decoder = config.get("added_tokens_decoder") or {}
    return sorted((int(k), v["content"], bool(v.get("special", True))) for k, v in decoder.items())


def load_gpt2_bpe(family_id: str, files: dict[str, Path], preset: str) -> LoadedTokenizer:
    """Load vocab.json + merges.txt; ``preset`` is ``gpt2`` or ``qwen2``."""
    from tokenizers import AddedToken

    try:
        vocab = json.loads(files["vocab.json"].read_text(encoding="utf-8"))
        merges = read_merges(files["merges.txt"])
    except (OSError, ValueError) as exc:
        raise LLMSelectError(f"cannot read vocab/merges for {family_id}: {exc}") from exc
    if preset == "qwen2":
        tok = byte_level_tokenizer(vocab, merges, [QWEN_PATTERN], nfc=True)
    elif preset == "gpt2":
        tok = byte_level_tokenizer(vocab, merges)
    else:
        raise LLMSelectError(f"tokenizer {family_id}: unknown gpt2-bpe preset {preset!r}")
    added = added_tokens_from_config(files.get("tokenizer_config.json"))
    for token_id, content, special in added:
        if content in vocab:
            continue
        if token_id != tok.get_vocab_size(with_added_tokens=True):
            raise LLMSelectError(f"{family_id}: added token {content!r} has unexpected id")
        tok.add_special_tokens([AddedToken(content, special=special, normalized=False)])
    return HFTokenizer(family_id, "gpt2-bpe", files, tok, byte_level=True)


def _load(spec: TokenizerSpec, files: dict[str, Path]) -> LoadedTokenizer:
    return load_gpt2_bpe(spec.id, files, str(spec.options.get("pre", "gpt2")))


KIND = TokenizerKind(
    name="gpt2-bpe",
    description="GPT-2 ``vocab.json`` + ``merges.txt`` with a named split regex",
    load=_load,
)
