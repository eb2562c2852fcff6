"""tiktoken BPE files (Qwen 1.0 ``qwen.tiktoken``, Llama 3/4 and GLM-4 ``tokenizer.model``) and
Mistral's Tekken JSON (the same BPE, ranks stored as base64 in JSON behind 1000 control ids).

The files hold ``base64(token bytes) rank`` lines only; the split regex comes from each
model's published tokenizer code. Text is encoded with ``encode_ordinary``: special-token
strings in the text are treated as text, and no special tokens are added.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmselect.errors import LLMSelectError
from llmselect.tokenizers.base import LoadedTokenizer, cpu_threads
from llmselect.tokenizers.gpt2_bpe import QWEN_PATTERN
from llmselect.tokenizers.kinds import TokenizerKind

if TYPE_CHECKING:
    from llmselect.tokenizers.spec import TokenizerSpec

# Llama 3 and GLM-4: Qwen's regex with numbers split in runs of up to three digits.
LLAMA3_PATTERN = QWEN_PATTERN.replace(r"|\p{N}|", r"|\p{N}{1,3}|")
# Llama 4: ``Tokenizer.O200K_PATTERN`` in llama-models' models/llama4/tokenizer.py.
O200K_PATTERN = "|".join(
    [
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"\p{N}{1,3}",
        r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
        r"\s*[\r\n]+",
        r"\s+(?!\S)",
        r"\s+",
    ]
)
PATTERNS = {"qwen": QWEN_PATTERN, "llama3": LLAMA3_PATTERN, "o200k": O200K_PATTERN}


def read_tiktoken_ranks(path: Path) -> dict[bytes, int]:
    """Parse ``base64 rank`` lines (the format ``tiktoken.load.load_tiktoken_bpe`` reads)."""
    ranks: dict[bytes, int] = {}
    with open(path, "rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def special_tokens(preset: str, base: int, files: dict[str, Path]) -> dict[str, int]:
    """Special tokens above the base ranks, as each model's tokenizer code defines them."""
    if preset == "qwen":  # tokenization_qwen.py: endoftext, im_start, im_end, 205 extras
        names = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        names += [f"<|extra_{i}|>" for i in range(205)]
    elif preset == "llama3":  # llama3 tokenizer.py: 256 reserved specials
        names = [
            "<|begin_of_text|>", "<|end_of_text|>",
            "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
            "<|reserved_special_token_2|>", "<|reserved_special_token_3|>",
            "<|start_header_id|>", "<|end_header_id|>",
            "<|reserved_special_token_4|>", "<|eot_id|>",
        ]  # fmt: skip
        names += [f"<|reserved_special_token_{i}|>" for i in range(5, 256 - 5)]
    elif preset == "none":  # content tokens only; the specials never occur in encode_ordinary
        names = []
    elif preset == "tokenizer_config":  # GLM-4 lists them in tokenizer_config.json
        path = files.get("tokenizer_config.json")
        if path is None:
            return {}
        try:
            decoder = json.loads(path.read_text(encoding="utf-8")).get("added_tokens_decoder", {})
        except (OSError, ValueError) as exc:
            raise LLMSelectError(f"cannot read {path}: {exc}") from exc
        return {v["content"]: int(k) for k, v in decoder.items()}
    else:
        raise LLMSelectError(f"unknown tiktoken special-token preset {preset!r}")
    return {name: base + i for i, name in enumerate(names)}


class TiktokenTokenizer(LoadedTokenizer):
    """Wraps ``tiktoken.Encoding``."""

    def __init__(
        self,
        family_id: str,
        files: dict[str, Path],
        encoding: Any,
        base: int,
        kind: str = "tiktoken",
        id_offset: int = 0,
    ) -> None:
        super().__init__(family_id, kind, files)
        self.enc = encoding
        self._base = base
        self._offset = id_offset  # Tekken: BPE ranks start after the control tokens
        if id_offset:
            raw = encoding.encode_ordinary
            self.encode = lambda text: [i + id_offset for i in raw(text)]
        else:
            self.encode = encoding.encode_ordinary

    @property
    def vocab_size(self) -> int:
        return self._base + self._offset

    def encode_batch(self, texts: Sequence[str], threads: int = 0) -> list[list[int]]:
        batches = self.enc.encode_ordinary_batch(
            list(texts), num_threads=threads if threads > 0 else cpu_threads()
        )
        if self._offset:
            return [[i + self._offset for i in ids] for ids in batches]
        return batches

    def token_bytes(self, token_id: int) -> bytes | None:
        rank = token_id - self._offset
        if rank < 0 or rank >= self._base:
            return None
        return self.enc.decode_single_token_bytes(rank)


def load_tiktoken(
    family_id: str, files: dict[str, Path], ranks_file: str, pattern: str, specials: str
) -> LoadedTokenizer:
    """Build a ``tiktoken.Encoding`` from a ranks file and the model's published regex."""
    import tiktoken

    path = files[ranks_file]
    if pattern not in PATTERNS:
        raise LLMSelectError(f"tokenizer {family_id}: unknown tiktoken pattern {pattern!r}")
    try:
        ranks = read_tiktoken_ranks(path)
    except (OSError, ValueError) as exc:
        raise LLMSelectError(f"cannot read tiktoken ranks {path}: {exc}") from exc
    base = len(ranks)
    try:
        enc = tiktoken.Encoding(
            name=f"llmselect-{family_id}",
            pat_str=PATTERNS[pattern],
            mergeable_ranks=ranks,
            special_tokens=special_tokens(specials, base, files),
        )
    except ValueError as exc:
        raise LLMSelectError(f"cannot build tiktoken encoding from {path}: {exc}") from exc
    return TiktokenTokenizer(family_id, files, enc, base)


def load_tekken(family_id: str, files: dict[str, Path], primary: str) -> LoadedTokenizer:
    """Mistral Tekken: the split regex from the file's config, the first
    ``default_vocab_size - default_num_special_tokens`` ranks, ids shifted past the controls
    (mistral_common's ``Tekkenizer`` does the same)."""
    import tiktoken

    path = files[primary]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        config = data["config"]
        n_special = int(config["default_num_special_tokens"])
        n_ranks = int(config["default_vocab_size"]) - n_special
        ranks = {
            base64.b64decode(entry["token_bytes"]): int(entry["rank"])
            for entry in data["vocab"][:n_ranks]
        }
        enc = tiktoken.Encoding(
            name=f"llmselect-{family_id}",
            pat_str=config["pattern"],
            mergeable_ranks=ranks,
            special_tokens={},
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LLMSelectError(f"cannot read Tekken file {path}: {exc}") from exc
    return TiktokenTokenizer(family_id, files, enc, len(ranks), kind="tekken", id_offset=n_special)


def _load(spec: TokenizerSpec, files: dict[str, Path]) -> LoadedTokenizer:
    return load_tiktoken(
        spec.id, files, spec.files[0], str(spec.options["pattern"]), str(spec.options["specials"])
    )


def _load_tekken(spec: TokenizerSpec, files: dict[str, Path]) -> LoadedTokenizer:
    return load_tekken(spec.id, files, spec.files[0])


TEKKEN = TokenizerKind(
    name="tekken", description="Mistral Tekken JSON (ranks and split pattern)", load=_load_tekken
)
KIND = TokenizerKind(
    name="tiktoken", description="tiktoken BPE ranks with the published split pattern", load=_load
)
