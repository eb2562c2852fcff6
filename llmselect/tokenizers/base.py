"""``LoadedTokenizer``: the one interface every format's loader returns.

``encode`` is the hot path: each subclass binds it straight to the library call, so timing it
measures the library, not this wrapper. Per-token classification (byte-fallback pieces,
single-character tokens) is done afterwards, on distinct ids only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path

from llmselect.hardware import usable_cpus

HAN_RANGES = (
    (0x3400, 0x4DBF),  # CJK Unified Ideographs Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0x20000, 0x323AF),  # Extensions B–H
)


def is_han(char: str) -> bool:
    """True for a Chinese (Han) ideograph code point."""
    cp = ord(char)
    return any(lo <= cp <= hi for lo, hi in HAN_RANGES)


def gpt2_byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, character → byte (inverse of ``bytes_to_unicode``)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


class LoadedTokenizer(ABC):
    """A ready tokenizer: ``encode`` counts content tokens only (no BOS/EOS/prefix tokens)."""

    #: ``text -> ids``; bound to the library call in ``__init__`` of each subclass.
    encode: Callable[[str], list[int]]

    def __init__(self, family_id: str, kind: str, files: dict[str, Path]) -> None:
        self.id = family_id
        self.kind = kind
        self.files = files

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Base vocabulary size (pieces / ranks / model vocab, without added special tokens)."""

    @abstractmethod
    def encode_batch(self, texts: Sequence[str], threads: int = 0) -> list[list[int]]:
        """Encode many texts, in parallel where the library supports it (0 = all cores)."""

    def batch_threads(self, threads: int) -> int:
        """Threads ``encode_batch`` really uses for a requested count (0 = all cores)."""
        return threads if threads > 0 else usable_cpus()

    @abstractmethod
    def token_bytes(self, token_id: int) -> bytes | None:
        """The bytes a token stands for (a leading word-boundary marker becomes a space);
        None for control/unknown tokens."""

    def is_unknown(self, token_id: int) -> bool:
        """True for the unknown token."""
        return False

    @cached_property
    def fingerprint(self) -> str:
        """First 12 hex digits of each loaded file's sha256 (sorted by file name, comma-joined),
        so a record names the exact files it was measured with."""
        import hashlib

        parts = []
        for name in sorted(self.files):
            digest = hashlib.sha256()
            with open(self.files[name], "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
            parts.append(digest.hexdigest()[:12])
        return ",".join(parts)

    def is_fallback(self, token_id: int) -> bool:
        """True when a token does not stand for whole characters: the unknown token, or a
        token whose bytes alone are not complete UTF-8 (byte-fallback pieces like ``<0xE8>``,
        byte-level pieces that split a character)."""
        if self.is_unknown(token_id):
            return True
        data = self.token_bytes(token_id)
        if data is None:
            return False
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False

    def single_han(self, token_id: int) -> bool:
        """True when a token is exactly one Han character (a leading space/``▁`` aside)."""
        data = self.token_bytes(token_id)
        if not data:
            return False
        try:
            text = data.decode("utf-8").lstrip(" ")
        except UnicodeDecodeError:
            return False
        return len(text) == 1 and is_han(text)

    def describe(self) -> dict[str, str | int]:
        """Params stamped on every record of this tokenizer."""
        return {
            "tokenizer": self.id,
            "tokenizer_kind": self.kind,
            "tokenizer_files": ",".join(sorted(self.files)),
            "tokenizer_sha256": self.fingerprint,
        }
