"""``load_tokenizer``: resolve a family's files, pick the loader by ``kind``, cache per process."""

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
    """Load from already-resolved files (no caching)."""
    primary = spec.files[0]
    opts = spec.options
    try:
        if spec.kind == "sentencepiece":
            from llmselect.tokenizers.sentencepiece_fmt import load_sentencepiece

            return load_sentencepiece(spec.id, files, primary)
        if spec.kind == "hf-json":
            from llmselect.tokenizers.hf_json import load_hf_json

            return load_hf_json(spec.id, files, primary)
        if spec.kind == "gpt2-bpe":
            from llmselect.tokenizers.gpt2_bpe import load_gpt2_bpe

            return load_gpt2_bpe(spec.id, files, str(opts.get("pre", "gpt2")))
        if spec.kind == "tiktoken":
            from llmselect.tokenizers.tiktoken_fmt import load_tiktoken

            return load_tiktoken(
                spec.id, files, primary, str(opts["pattern"]), str(opts["specials"])
            )
        if spec.kind == "tekken":
            from llmselect.tokenizers.tiktoken_fmt import load_tekken

            return load_tekken(spec.id, files, primary)
        if spec.kind == "gguf":
            from llmselect.tokenizers.gguf_fmt import load_gguf

            return load_gguf(spec.id, files, primary)
        if spec.kind == "bloom-merges":
            from llmselect.tokenizers.bloom import load_bloom

            return load_bloom(spec.id, files, primary)
    except KeyError as exc:
        raise LLMSelectError(f"tokenizer {spec.id}: missing option or file {exc}") from exc
    raise LLMSelectError(f"tokenizer {spec.id}: unsupported kind {spec.kind!r}")


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
