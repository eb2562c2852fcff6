"""Session fixtures for the tokenizer tests: the data bundle's manifest and loaded tokenizers.

Big tokenizers (BLOOM, Qwen) take a second or two to build, so each loads once per session.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmselect.tokenizers.base import LoadedTokenizer
from llmselect.tokenizers.load import build_tokenizer
from llmselect.tokenizers.resolve import resolve_files
from llmselect.tokenizers.spec import TokenizerCatalog, load_tokenizer_catalog

_LOADED: dict[str, LoadedTokenizer] = {}


@pytest.fixture(scope="session")
def manifest(tokenizers_root: Path) -> dict:
    return json.loads((tokenizers_root / "MANIFEST.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def catalog() -> TokenizerCatalog:
    return load_tokenizer_catalog()


@pytest.fixture(scope="session")
def load_family(tokenizers_root: Path, catalog: TokenizerCatalog):
    """``load_family("llama2")`` → the loaded tokenizer from the data root (cached)."""

    def load(family_id: str) -> LoadedTokenizer:
        if family_id not in _LOADED:
            spec = catalog.get(family_id)
            files = resolve_files(spec, tokenizers_root).paths
            _LOADED[family_id] = build_tokenizer(spec, files)
        return _LOADED[family_id]

    return load


@pytest.fixture(scope="session")
def flores_lines(datasets_root: Path) -> dict[str, list[str]]:
    """The first 25 FLORES-200 dev lines in Simplified Chinese and English, read now."""
    base = datasets_root / "flores200" / "dev"
    out = {}
    for lang, name in (("zh", "zho_Hans.dev"), ("en", "eng_Latn.dev")):
        lines = (base / name).read_text(encoding="utf-8").splitlines()
        out[lang] = [line.strip() for line in lines[:25] if line.strip()]
        assert len(out[lang]) == 25
    return out
