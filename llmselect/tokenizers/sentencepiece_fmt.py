"""SentencePiece ``.model`` files (Llama-2, Mistral, ChatGLM2/3, Baichuan2, Yi, InternLM, ...).

Counts follow the model's own ``add_dummy_prefix`` setting; BOS/EOS are never added.
ChatGLM loads from its sentencepiece file directly: its prefix tokens ([gMASK], sop) are not
content and its remote tokenizer code is never run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmselect.errors import LLMSelectError
from llmselect.hardware import usable_cpus
from llmselect.tokenizers.base import LoadedTokenizer
from llmselect.tokenizers.kinds import TokenizerKind

if TYPE_CHECKING:
    from llmselect.tokenizers.spec import TokenizerSpec


class SentencePieceTokenizer(LoadedTokenizer):
    """Wraps ``sentencepiece.SentencePieceProcessor``."""

    def __init__(self, family_id: str, kind: str, files: dict[str, Path], processor: Any) -> None:
        super().__init__(family_id, kind, files)
        self.sp = processor
        # Bound C++ call: no Python work per token in the hot path.
        self.encode = processor.EncodeAsIds
        self._unk = processor.unk_id()

    @property
    def vocab_size(self) -> int:
        return int(self.sp.get_piece_size())

    def encode_batch(self, texts: Sequence[str], threads: int = 0) -> list[list[int]]:
        return self.sp.encode(list(texts), num_threads=threads if threads > 0 else usable_cpus())

    def is_unknown(self, token_id: int) -> bool:
        return token_id == self._unk

    def token_bytes(self, token_id: int) -> bytes | None:
        sp = self.sp
        if sp.is_control(token_id) or sp.is_unknown(token_id):
            return None
        piece = sp.id_to_piece(token_id)
        if sp.is_byte(token_id):  # "<0xE8>"
            return bytes([int(piece[3:5], 16)])
        return piece.replace("\u2581", " ").encode("utf-8")

    def add_dummy_prefix(self) -> bool:
        """The model's own normalizer setting (a leading ``▁`` before the text)."""
        from sentencepiece import sentencepiece_model_pb2 as pb

        proto = pb.ModelProto()
        proto.ParseFromString(self.sp.serialized_model_proto())
        return bool(proto.normalizer_spec.add_dummy_prefix)


def load_sentencepiece(family_id: str, files: dict[str, Path], model_file: str) -> LoadedTokenizer:
    """Load a ``.model`` file with sentencepiece."""
    import sentencepiece as spm

    path = files[model_file]
    try:
        with quiet_native_stderr():
            processor = spm.SentencePieceProcessor(model_file=str(path))
    except (OSError, RuntimeError) as exc:
        raise LLMSelectError(f"cannot load sentencepiece model {path}: {exc}") from exc
    return SentencePieceTokenizer(family_id, "sentencepiece", files, processor)


def processor_from_proto(proto_bytes: bytes) -> Any:
    """A SentencePieceProcessor from an in-memory ModelProto (used by the GGUF loader)."""
    import sentencepiece as spm

    with quiet_native_stderr():
        return spm.SentencePieceProcessor(model_proto=proto_bytes)


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence the C++ library's load-time log lines (e.g. InternLM's NUL piece warning).

    Errors still surface: sentencepiece raises them as Python exceptions.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no real fd 2 (embedded interpreters)
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _load(spec: TokenizerSpec, files: dict[str, Path]) -> LoadedTokenizer:
    return load_sentencepiece(spec.id, files, spec.files[0])


KIND = TokenizerKind(
    name="sentencepiece", description="SentencePiece ``.model`` (sentencepiece library)", load=_load
)
