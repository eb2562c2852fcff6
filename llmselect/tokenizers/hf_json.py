"""Hugging Face ``tokenizer.json`` files, loaded with the ``tokenizers`` library.

Also holds ``HFTokenizer``, the wrapper the GPT-2-style, GGUF (byte-level) and BLOOM loaders
share: they all build a ``tokenizers.Tokenizer`` in memory.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmselect.errors import LLMSelectError
from llmselect.hardware import usable_cpus
from llmselect.tokenizers.base import LoadedTokenizer, gpt2_byte_decoder
from llmselect.tokenizers.kinds import TokenizerKind

if TYPE_CHECKING:
    from llmselect.tokenizers.spec import TokenizerSpec


class HFTokenizer(LoadedTokenizer):
    """Wraps ``tokenizers.Tokenizer``; ``encode`` never adds special tokens."""

    def __init__(
        self,
        family_id: str,
        kind: str,
        files: dict[str, Path],
        tokenizer: Any,
        byte_level: bool | None = None,
    ) -> None:
        super().__init__(family_id, kind, files)
        self.tok = tokenizer
        raw_encode = tokenizer.encode
        # One attribute read on top of the library call (it returns an Encoding object).
        self.encode = lambda text: raw_encode(text, add_special_tokens=False).ids
        self._byte_level = (
            byte_level if byte_level is not None else _decoder_is_byte_level(tokenizer)
        )
        unk = getattr(tokenizer.model, "unk_token", None)
        self._unk = tokenizer.token_to_id(unk) if unk else None

    @property
    def vocab_size(self) -> int:
        return int(self.tok.get_vocab_size(with_added_tokens=False))

    def encode_batch(self, texts: Sequence[str], threads: int = 0) -> list[list[int]]:
        return [e.ids for e in self.tok.encode_batch(list(texts), add_special_tokens=False)]

    def batch_threads(self, threads: int) -> int:
        # The library's thread pool is sized once per process (RAYON_NUM_THREADS) and turned off
        # by TOKENIZERS_PARALLELISM=false; report what it really uses.
        if os.environ.get("TOKENIZERS_PARALLELISM", "").strip().lower() in {"0", "false", "no"}:
            return 1
        env = os.environ.get("RAYON_NUM_THREADS", "").strip()
        return int(env) if env.isdigit() and int(env) > 0 else usable_cpus()

    def is_unknown(self, token_id: int) -> bool:
        return self._unk is not None and token_id == self._unk

    @cached_property
    def _byte_decoder(self) -> dict[str, int]:
        return gpt2_byte_decoder()

    def token_bytes(self, token_id: int) -> bytes | None:
        piece = self.tok.id_to_token(token_id)
        if piece is None or self.is_unknown(token_id):
            return None
        if self._byte_level:
            dec = self._byte_decoder
            if all(ch in dec for ch in piece):
                return bytes(dec[ch] for ch in piece)
            return piece.encode("utf-8")  # an added token stored as plain text
        if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
            return bytes([int(piece[3:5], 16)])
        return piece.replace("\u2581", " ").encode("utf-8")


def _decoder_is_byte_level(tokenizer: Any) -> bool:
    from tokenizers import decoders

    return isinstance(tokenizer.decoder, decoders.ByteLevel)


def load_hf_json(family_id: str, files: dict[str, Path], json_file: str) -> LoadedTokenizer:
    """Load a ``tokenizer.json`` with ``tokenizers.Tokenizer.from_file``."""
    from tokenizers import Tokenizer

    path = files[json_file]
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # noqa: BLE001 - the library raises plain Exception on bad JSON
        raise LLMSelectError(f"cannot load tokenizer.json {path}: {exc}") from exc
    return HFTokenizer(family_id, "hf-json", files, tokenizer)


def _load(spec: TokenizerSpec, files: dict[str, Path]) -> LoadedTokenizer:
    return load_hf_json(spec.id, files, spec.files[0])


KIND = TokenizerKind(
    name="hf-json", description="Hugging Face ``tokenizer.json`` (tokenizers library)", load=_load
)
