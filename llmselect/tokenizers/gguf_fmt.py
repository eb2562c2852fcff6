"""Vocab-only GGUF files (llama.cpp ``ggml-vocab-*.gguf``), read with the ``gguf`` package.

The GGUF holds tokens, scores, token types and merges but no tokenizer object, so one is
rebuilt in memory:

* ``llama`` (sentencepiece-style BPE): a sentencepiece ``ModelProto`` from tokens/scores/types.
* ``gpt2`` (byte-level BPE): a ``tokenizers`` BPE with the Split regexes llama.cpp uses for the
  file's ``tokenizer.ggml.pre`` name, then ByteLevel.
* ``bert`` (WordPiece): llama.cpp marks word starts with ``▁``; other tokens become ``##`` pieces.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmselect.errors import LLMSelectError
from llmselect.tokenizers.base import LoadedTokenizer
from llmselect.tokenizers.hf_json import HFTokenizer
from llmselect.tokenizers.kinds import TokenizerKind

if TYPE_CHECKING:
    from llmselect.tokenizers.spec import TokenizerSpec

# llama.cpp (src/llama-vocab.cpp, llm_tokenizer_bpe): regexes per pre-tokenizer name.
_GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
# Written with escapes: literal Greek/Letterlike characters would be NFC-normalized by editors.
_DEEPSEEK_LLM_LETTERS = (
    "A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-"
    "\u02af\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-"
    "\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5"
    "\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00"
    "-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-"
    "\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-"
    "\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-"
    "\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149"
    "\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d"
    "\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13"
    "-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3"
    "\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df"
    "\U0001e900-\U0001e943"
)
PRE_REGEXES: dict[str, list[str]] = {
    "default": [_GPT2],
    "gpt-2": [_GPT2],
    "mpt": [_GPT2],
    "deepseek-llm": [
        r"[\r\n]",
        r"\s?[" + _DEEPSEEK_LLM_LETTERS + r"]+",
        r"\s?[!-/:-~！-／：-～‘-‟　-。]+",
        r"\s+$",
        r"[一-龥ࠀ-一가-퟿]+",
        r"\p{N}+",
    ],
    "deepseek-coder": [
        r"[\r\n]",
        r"\s?\p{L}+",
        r"\s?\p{P}+",
        r"[一-龥ࠀ-一가-퟿]+",
        r"\p{N}",
    ],
    "falcon": [r"[\p{P}\$\+<=>\^~\|`]+", _GPT2, r"[0-9][0-9][0-9]"],
    "starcoder": [r"\p{N}", _GPT2],
    "smollm": [r"\p{N}", _GPT2],
    "refact": [r"\p{N}", _GPT2],
}

# llama.cpp token types (same numbering as sentencepiece's ModelProto.SentencePiece.Type).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def read_gguf_vocab(path: Path) -> dict[str, Any]:
    """The ``tokenizer.ggml.*`` fields (and ``general.name``) of a GGUF file as Python values.

    The header is parsed from a memory map (``llmselect.formats.gguf_file``), so a full
    model file costs no more than a vocab-only one; ``GGUFReader``'s per-item numpy views of a
    100k-token vocabulary would take seconds. Tests check both agree.
    """
    from llmselect.formats.gguf_file import read_gguf

    metadata = read_gguf(path).metadata
    fields = {
        key.removeprefix("tokenizer.ggml."): value
        for key, value in metadata.items()
        if key.startswith("tokenizer.ggml.") or key == "general.name"
    }
    if "tokens" not in fields or "model" not in fields:
        raise LLMSelectError(f"{path} holds no tokenizer vocabulary (tokenizer.ggml.tokens)")
    return fields


def _llama_proto(fields: dict[str, Any]) -> bytes:
    """A sentencepiece BPE ModelProto with byte fallback, as llama.cpp's SPM tokenizer behaves."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    tokens: list[str] = fields["tokens"]
    scores = fields.get("scores") or [0.0] * len(tokens)
    types = fields.get("token_type") or [NORMAL] * len(tokens)
    proto = pb.ModelProto()
    unk_candidates = [i for i, t in enumerate(types) if int(t) == UNKNOWN]
    unk_id = int(fields.get("unknown_token_id", unk_candidates[0] if unk_candidates else 0))
    for i, (token, score, ttype) in enumerate(zip(tokens, scores, types, strict=True)):
        piece = proto.pieces.add()
        piece.piece = token
        piece.score = float(score)
        kind = int(ttype) if int(ttype) in (1, 2, 3, 4, 5, 6) else NORMAL
        # sentencepiece allows one unknown piece: Phi-3's extra "unknown" [PAD] slots never
        # match text in llama.cpp either, so they become unused; so does a bare NUL piece.
        if (kind == UNKNOWN and i != unk_id) or (kind == NORMAL and token == "\x00"):
            kind = UNUSED
        piece.type = kind
    trainer = proto.trainer_spec
    trainer.model_type = pb.TrainerSpec.BPE
    trainer.vocab_size = len(tokens)
    trainer.byte_fallback = any(int(t) == BYTE for t in types)
    trainer.unk_id = unk_id
    trainer.bos_id = int(fields.get("bos_token_id", -1))
    trainer.eos_id = int(fields.get("eos_token_id", -1))
    trainer.pad_id = int(fields.get("padding_token_id", -1))
    norm = proto.normalizer_spec
    norm.name = "identity"
    norm.add_dummy_prefix = bool(fields.get("add_space_prefix", True))  # llama.cpp default
    norm.remove_extra_whitespaces = False
    norm.escape_whitespaces = True
    return proto.SerializeToString()


def _gpt2_tokenizer(fields: dict[str, Any], path: Path):  # type: ignore[no-untyped-def]
    from tokenizers import AddedToken

    from llmselect.tokenizers.gpt2_bpe import byte_level_tokenizer

    pre = fields.get("pre") or "default"
    if pre not in PRE_REGEXES:
        raise LLMSelectError(f"{path}: pre-tokenizer {pre!r} is not supported")
    tokens: list[str] = fields["tokens"]
    types = fields.get("token_type") or [NORMAL] * len(tokens)
    merges = [tuple(m.split(" ", 1)) for m in fields.get("merges", [])]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    tok = byte_level_tokenizer(vocab, merges, PRE_REGEXES[pre])  # type: ignore[arg-type]
    # Control and user-defined tokens match as whole strings, as in the upstream tokenizer.
    added = [
        AddedToken(tokens[i], special=int(t) == CONTROL, normalized=False)
        for i, t in enumerate(types)
        if int(t) in (CONTROL, USER_DEFINED)
    ]
    if added:
        tok.add_tokens(added)
    return tok


def _bert_tokenizer(fields: dict[str, Any]):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordPiece

    vocab: dict[str, int] = {}
    for i, token in enumerate(fields["tokens"]):
        if token.startswith("\u2581"):
            vocab[token[1:]] = i
        elif token.startswith("[") and token.endswith("]"):
            vocab[token] = i
        else:
            vocab["##" + token] = i
    tok = Tokenizer(WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


def load_gguf(family_id: str, files: dict[str, Path], gguf_file: str) -> LoadedTokenizer:
    """Rebuild the tokenizer of a vocab-only GGUF file."""
    from llmselect.tokenizers.sentencepiece_fmt import SentencePieceTokenizer, processor_from_proto

    path = files[gguf_file]
    fields = read_gguf_vocab(path)
    model = fields["model"]
    try:
        if model == "llama":
            processor = processor_from_proto(_llama_proto(fields))
            return SentencePieceTokenizer(family_id, "gguf", files, processor)
        if model == "gpt2":
            return HFTokenizer(family_id, "gguf", files, _gpt2_tokenizer(fields, path), True)
        if model == "bert":
            return HFTokenizer(family_id, "gguf", files, _bert_tokenizer(fields), False)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise LLMSelectError(f"cannot rebuild the tokenizer of {path}: {exc}") from exc
    raise LLMSelectError(f"{path}: tokenizer model {model!r} is not supported")


def _load(spec: TokenizerSpec, files: dict[str, Path]) -> LoadedTokenizer:
    return load_gguf(spec.id, files, spec.files[0])


KIND = TokenizerKind(
    name="gguf", description="llama.cpp GGUF vocabulary (vocab-only or full files)", load=_load
)
