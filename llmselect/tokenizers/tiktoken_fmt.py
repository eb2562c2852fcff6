"""tiktoken BPE files (Qwen 1.0 ``qwen.tiktoken``, Llama 3/4 and GLM-4 ``tokenizer.model``,
Qwen3.5 ``qwen3_6.tiktoken``, gpt-oss ``o200k_base.tiktoken``) and Mistral's Tekken JSON (the
same BPE, ranks stored as base64 in JSON behind 1000 control ids).

The files hold ``base64(token bytes) rank`` lines only. The split regex and the special tokens
come from the family's options: a named preset written from the model's published tokenizer
code (``pattern``, ``specials``), or a key of a JSON file shipped beside the ranks
(``pattern_from``/``specials_from``: ``file.json#key``). ``normalize`` (``NFC``...) is applied
to the text before encoding, for models whose tokenizer does so. Text is encoded with
``encode_ordinary``: special-token strings in the text are treated as text, and no special
tokens are added.
"""

from __future__ import annotations

import base64
import json
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmselect.errors import LLMSelectError
from llmselect.hardware import usable_cpus
from llmselect.tokenizers.base import LoadedTokenizer
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
NORMAL_FORMS = ("NFC", "NFD", "NFKC", "NFKD")


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
        if "tokenizer_config.json" not in files:
            return {}
        return special_token_ids(json_value(files, "tokenizer_config.json#added_tokens_decoder"))
    else:
        raise LLMSelectError(f"unknown tiktoken special-token preset {preset!r}")
    return {name: base + i for i, name in enumerate(names)}


def json_value(files: dict[str, Path], ref: str) -> Any:
    """The value that ``file.json#key`` names, from one of the family's resolved files."""
    name, sep, key = ref.partition("#")
    if not sep or not key:
        raise LLMSelectError(f"option {ref!r} must name a JSON file and a key: file.json#key")
    if name not in files:
        raise LLMSelectError(f"option {ref!r}: {name} is not one of the family's files")
    path = files[name]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LLMSelectError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or key not in data:
        raise LLMSelectError(f"{path} has no key {key!r}")
    return data[key]


def special_token_ids(table: Any) -> dict[str, int]:
    """Special tokens → ids from either layout: Hugging Face ``added_tokens_decoder``
    (``{"id": {"content": ...}}``) or tiktoken's ``special_tokens`` (``{"content": id}``)."""
    if not isinstance(table, dict):
        raise LLMSelectError(f"special tokens must be a JSON object, not {type(table).__name__}")
    try:
        return {
            (v["content"] if isinstance(v, dict) else k): int(k if isinstance(v, dict) else v)
            for k, v in table.items()
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise LLMSelectError(f"malformed special-token table: {exc}") from exc


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
        normalize: str | None = None,
    ) -> None:
        super().__init__(family_id, kind, files)
        self.enc = encoding
        self._base = base
        self._offset = id_offset  # Tekken: BPE ranks start after the control tokens
        self._normal_form = normalize  # e.g. Qwen3.5 NFC-normalizes before splitting
        raw = encoding.encode_ordinary
        if normalize:
            plain = raw
            raw = lambda text: plain(unicodedata.normalize(normalize, text))  # noqa: E731
        self.encode = (lambda text: [i + id_offset for i in raw(text)]) if id_offset else raw

    @property
    def vocab_size(self) -> int:
        return self._base + self._offset

    def encode_batch(self, texts: Sequence[str], threads: int = 0) -> list[list[int]]:
        form = self._normal_form
        items = [unicodedata.normalize(form, t) for t in texts] if form else list(texts)
        batches = self.enc.encode_ordinary_batch(
            items, num_threads=threads if threads > 0 else usable_cpus()
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
    family_id: str,
    files: dict[str, Path],
    ranks_file: str,
    pattern: str,
    specials: str | dict[str, int],
    normalize: str | None = None,
) -> LoadedTokenizer:
    """Build a ``tiktoken.Encoding`` from a ranks file and the model's split regex.

    ``specials`` is a preset name (see ``special_tokens``) or the table itself; ``normalize``
    a Unicode normal form applied to the text before encoding.
    """
    import tiktoken

    path = files[ranks_file]
    if normalize is not None and normalize not in NORMAL_FORMS:
        raise LLMSelectError(f"tokenizer {family_id}: unknown normal form {normalize!r}")
    try:
        ranks = read_tiktoken_ranks(path)
    except (OSError, ValueError) as exc:
        raise LLMSelectError(f"cannot read tiktoken ranks {path}: {exc}") from exc
    base = len(ranks)
    table = specials if isinstance(specials, dict) else special_tokens(specials, base, files)
    clash = sorted(i for i in table.values() if i < base)
    if clash:  # a special-token table from another vocabulary
        raise LLMSelectError(
            f"tokenizer {family_id}: special token id {clash[0]} is inside the {base} BPE ranks"
        )
    try:
        enc = tiktoken.Encoding(
            name=f"llmselect-{family_id}",
            pat_str=pattern,
            mergeable_ranks=ranks,
            special_tokens=table,
        )
    except ValueError as exc:
        raise LLMSelectError(f"cannot build tiktoken encoding from {path}: {exc}") from exc
    return TiktokenTokenizer(family_id, files, enc, base, normalize=normalize)


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


def split_pattern(spec: TokenizerSpec, files: dict[str, Path]) -> str:
    """The family's split regex: ``pattern_from`` (a JSON file's key) or a ``pattern`` preset."""
    if "pattern_from" in spec.options:
        value = json_value(files, str(spec.options["pattern_from"]))
        if not isinstance(value, str) or not value:
            raise LLMSelectError(f"tokenizer {spec.id}: {spec.options['pattern_from']} is no regex")
        return value
    name = str(spec.options["pattern"])
    if name not in PATTERNS:
        raise LLMSelectError(f"tokenizer {spec.id}: unknown tiktoken pattern {name!r}")
    return PATTERNS[name]


def _load(spec: TokenizerSpec, files: dict[str, Path]) -> LoadedTokenizer:
    opts = spec.options
    specials: str | dict[str, int] = (
        special_token_ids(json_value(files, str(opts["specials_from"])))
        if "specials_from" in opts
        else str(opts["specials"])
    )
    form = opts.get("normalize")
    return load_tiktoken(
        spec.id,
        files,
        spec.files[0],
        split_pattern(spec, files),
        specials,
        normalize=str(form) if form else None,
    )


def _load_tekken(spec: TokenizerSpec, files: dict[str, Path]) -> LoadedTokenizer:
    return load_tekken(spec.id, files, spec.files[0])


TEKKEN = TokenizerKind(
    name="tekken", description="Mistral Tekken JSON (ranks and split pattern)", load=_load_tekken
)
KIND = TokenizerKind(
    name="tiktoken", description="tiktoken BPE ranks with the published split pattern", load=_load
)
