"""BLOOM from its ``merges.txt`` alone (the 14.5 MB ``tokenizer.json`` is not needed).

Rebuild rule: each line is JSON-unescaped (``\\"`` → ``"``, ``\\\\`` → ``\\``); the vocabulary
is ``<unk> <s> </s> <pad>`` (ids 0–3), then the byte-level alphabet sorted by code point (242
characters), then each merge result in merge order (250680 in all). Pre-tokenization is BLOOM's
Split regex then ByteLevel without its own regex; there is no normalizer.

The 22 alphabet characters that never occur in merges are rare control/invalid-UTF-8 bytes:
assuming every byte but 0xC0, 0xC1, 0xF2, 0xF5–0xFF only affects the ids of those single-byte
tokens. Segmentation, counts and all merged-token ids are exact.

The rebuild takes seconds and ~200 MiB in Python, so the built tokenizer is serialised once to
``$LLMSELECT_HOME/cache/tokenizers/bloom-v2-<sha256 of merges.txt>.json`` and later processes
load that file (the library parses it natively). The cached file is compact JSON with each merge
as one ``"left right"`` string, the library's older merge form: it parses in ~0.7 s of CPU on a
2-core EPYC against ~1.0 s for the default pretty-printed ``[left, right]`` pairs (a merge part
with a space would be ambiguous there, so such a build keeps the pairs; BLOOM's byte-level parts
have none). The key is the content hash, so edited or replaced merges never reuse a stale build;
an unreadable or unwritable cache falls back to the rebuild.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from llmselect.config import home_dir
from llmselect.errors import LLMSelectError
from llmselect.tokenizers.base import LoadedTokenizer, gpt2_byte_decoder
from llmselect.tokenizers.hf_json import HFTokenizer
from llmselect.tokenizers.kinds import TokenizerKind

if TYPE_CHECKING:
    from llmselect.tokenizers.spec import TokenizerSpec

SPECIALS = ("<unk>", "<s>", "</s>", "<pad>")
BLOOM_SPLIT = r" ?[^(\s|[.,!?…。，、।۔،])]+"
MISSING_BYTES = frozenset({0xC0, 0xC1, 0xF2, *range(0xF5, 0x100)})
CACHE_FORMAT = 2  # bump when the rebuild rule or the file changes (2: compact, "a b" merges)

log = logging.getLogger(__name__)


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_path(merges: Path) -> Path:
    """Where the built tokenizer of this ``merges.txt`` is cached (keyed by its content)."""
    name = f"bloom-v{CACHE_FORMAT}-{_sha256(merges)}.json"
    return home_dir() / "cache" / "tokenizers" / name


def build_bloom(merges_path: Path):  # type: ignore[no-untyped-def]
    """The ``tokenizers.Tokenizer`` rebuilt from ``merges.txt`` (no cache)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE

    merges = read_bloom_merges(merges_path)
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
    return tok


def fast_json(serialized: str) -> str:
    """The library's JSON with merges as ``"left right"`` strings, compact (see the docstring)."""
    doc = json.loads(serialized)
    merges = doc["model"]["merges"]
    if all(isinstance(m, list) and " " not in m[0] and " " not in m[1] for m in merges):
        doc["model"]["merges"] = [f"{left} {right}" for left, right in merges]
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _cached_bloom(merges_path: Path):  # type: ignore[no-untyped-def]
    """Load the cached build, or rebuild and cache it (write to a temp file, then rename)."""
    from tokenizers import Tokenizer

    path = cache_path(merges_path)
    if path.is_file():
        try:
            return Tokenizer.from_file(str(path))
        except Exception as exc:  # noqa: BLE001 - a corrupt cache entry is rebuilt
            log.warning("ignoring unreadable tokenizer cache %s: %s", path, exc)
    tok = build_bloom(merges_path)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(fast_json(tok.to_str()), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # a full or read-only disk only costs speed
        log.warning("cannot cache the BLOOM tokenizer at %s: %s", path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # no partial file left in the cache
    return tok


def load_bloom(family_id: str, files: dict[str, Path], merges_file: str) -> LoadedTokenizer:
    """The BLOOM tokenizer, from the cache under ``LLMSELECT_HOME`` or rebuilt from merges."""
    tok = _cached_bloom(files[merges_file])
    return HFTokenizer(family_id, "bloom-merges", files, tok, byte_level=True)


def _load(spec: TokenizerSpec, files: dict[str, Path]) -> LoadedTokenizer:
    return load_bloom(spec.id, files, spec.files[0])


KIND = TokenizerKind(
    name="bloom-merges", description="BLOOM rebuilt from its ``merges.txt``", load=_load
)
