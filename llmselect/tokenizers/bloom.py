"""BLOOM from its ``merges.txt`` alone (the 14.5 MB ``tokenizer.json`` is not needed).

Rebuild rule: each line is JSON-unescaped (``\\"`` → ``"``, ``\\\\`` → ``\\``); the vocabulary
is ``<unk> <s> </s> <pad>`` (ids 0–3), then the byte-level alphabet sorted by code point (242
characters), then each merge result in merge order (250680 in all). Pre-tokenization is BLOOM's
Split regex then ByteLevel without its own regex; there is no normalizer.

The 22 alphabet characters that never occur in merges are rare control/invalid-UTF-8 bytes:
assuming every byte but 0xC0, 0xC1, 0xF2, 0xF5–0xFF only affects the ids of those single-byte
tokens. Segmentation, counts and all merged-token ids are exact.
"""

from __future__ import annotations

import json
from pathlib import Path

from llmselect.errors import LLMSelectError
from llmselect.tokenizers.base import LoadedTokenizer, gpt2_byte_decoder
from llmselect.tokenizers.hf_json import HFTokenizer

SPECIALS = ("<unk>", "<s>", "</s>", "<pad>")
BLOOM_SPLIT = r" ?[^(\s|[.,!?…。，、।۔،])]+"
MISSING_BYTES = frozenset({0xC0, 0xC1, 0xF2, *range(0xF5, 0x100)})


def bloom_vocab(merges: list[tuple[str, str]]) -> dict[str, int]:
    """Specials, the 242-character byte-level alphabet, then merge results in order."""
    byte_to_char = {b: c for c, b in gpt2_byte_decoder().items()}
    alphabet = sorted((byte_to_char[b] for b in range(256) if b not in MISSING_BYTES), key=ord)
    vocab: dict[str, int] = {}
    for token in (*SPECIALS, *alphabet):
        vocab[token] = len(vocab)
    for left, right in merges:
        merged = left + right
        if merged not in vocab:
            vocab[merged] = len(vocab)
    return vocab


def read_bloom_merges(path: Path) -> list[tuple[str, str]]:
    """Merge pairs, each line JSON-unescaped first."""
    pairs = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#version"):
                continue
            text = line
            if "\\" in line:  # only escaped lines need the (slow) JSON decoder
                try:
                    text = json.loads('"' + line + '"')
                except ValueError as exc:
                    raise LLMSelectError(f"{path}:{lineno}: not a JSON-escaped merge line") from exc
            left, sep, right = text.partition(" ")
            if not sep:
                raise LLMSelectError(f"{path}:{lineno}: malformed merge line")
            pairs.append((left, right))
    return pairs


def load_bloom(family_id: str, files: dict[str, Path], merges_file: str) -> LoadedTokenizer:
    """Build the BLOOM tokenizer with ``tokenizers``."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE

    merges = read_bloom_merges(files[merges_file])
    vocab = bloom_vocab(merges)
    tok = Tokenizer(BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(BLOOM_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    return HFTokenizer(family_id, "bloom-merges", files, tok, byte_level=True)
