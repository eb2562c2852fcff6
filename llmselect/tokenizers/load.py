"""``load_tokenizer``: resolve a family's files, load them with its registered kind, cache them."""

from __future__ import annotations

import threading
from pathlib import Path

from llmselect.errors import LLMSelectError
from llmselect.tokenizers.base import LoadedTokenizer
from llmselect.tokenizers.resolve import resolve_files
from llmselect.tokenizers.spec import TokenizerSpec

_CACHE: dict[tuple[str, tuple[tuple[str, str], ...]], LoadedTokenizer] = {}
_LOCK = threading.Lock()


def build_tokenizer(spec: TokenizerSpec, files: dict[str, Path]) -> LoadedTokenizer:
    """Load from already-resolved files (no caching), with the loader of ``spec.kind``."""
    from llmselect.registry import TOKENIZER_KINDS

    if spec.kind not in TOKENIZER_KINDS:
        raise LLMSelectError(f"tokenizer {spec.id}: unsupported kind {spec.kind!r}")
    kind = TOKENIZER_KINDS.load(spec.kind)
    try:
        return kind.load(spec, files)
    except KeyError as exc:
        raise LLMSelectError(f"tokenizer {spec.id}: missing option or file {exc}") from exc


def load_tokenizer(spec: TokenizerSpec, tokenizer_dir: Path | None = None) -> LoadedTokenizer:
    """The family's tokenizer, loaded once per process per set of files."""
    resolved = resolve_files(spec, tokenizer_dir)
    key = (spec.id, tuple(sorted((k, str(v)) for k, v in resolved.paths.items())))
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = build_tokenizer(spec, resolved.paths)
        return _CACHE[key]


def clear_cache() -> None:
    """Forget loaded tokenizers (tests)."""
    with _LOCK:
        _CACHE.clear()
