"""Tokenizer families and their loaders (sentencepiece, tokenizers, tiktoken, GGUF, BLOOM).

``load_tokenizer(spec)`` resolves a family's files and returns a cached ``LoadedTokenizer``.
The tokenizer libraries are imported only when a tokenizer is loaded.
"""

from __future__ import annotations

from llmselect.tokenizers.base import LoadedTokenizer
from llmselect.tokenizers.load import load_tokenizer
from llmselect.tokenizers.spec import (
    COUNTING_CONVENTION,
    TokenizerSpec,
    load_tokenizer_catalog,
    resolve_tokenizer_names,
)

__all__ = [
    "COUNTING_CONVENTION",
    "LoadedTokenizer",
    "TokenizerSpec",
    "load_tokenizer",
    "load_tokenizer_catalog",
    "resolve_tokenizer_names",
]
