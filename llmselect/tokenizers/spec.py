"""Tokenizer families: ``TokenizerSpec`` and the catalog in ``data/tokenizers.yaml``.

A family is one tokenizer shared by one or more checkpoints (Llama-2 7B/13B/70B all use
``llama2``). Its files live in ``<tokenizer root>/<folder>/`` and load with the library its
``kind`` names; nothing here imports a tokenizer library.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llmselect.config import PACKAGE_DATA
from llmselect.datafiles import read_yaml_cached, validate_entries
from llmselect.errors import LLMSelectError
from llmselect.names import NameIndex, lookup, normalize

TOKENIZERS_FILE = PACKAGE_DATA / "tokenizers.yaml"

COUNTING_CONVENTION = (
    "content tokens only: no BOS/EOS and no model prefix tokens (e.g. ChatGLM's [gMASK]/sop), "
    "add_special_tokens=False; sentencepiece models use their own add_dummy_prefix setting"
)


class TokenizerSpec(BaseModel):
    """One tokenizer family: where its files are and how they load."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="stable family id, e.g. llama2")
    name: str = Field(description="display name")
    kind: str = Field(
        description="file format, picks the loader: a name in llmselect.registry.TOKENIZER_KINDS"
    )
    folder: str = Field(description="folder under the tokenizer root")
    files: list[str] = Field(description="files the loader needs, relative to the folder")
    optional_files: list[str] = Field(
        default_factory=list, description="read when present (special tokens, config)"
    )
    hub_repo: str | None = Field(default=None, description="Hugging Face repo id")
    hub_files: dict[str, str] | None = Field(
        default=None,
        description="local file name → path in the hub repo; None = same names, {} = the hub "
        "has no file in this format (no cache/hub fallback)",
    )
    options: dict[str, str | bool | int] = Field(
        default_factory=dict, description="format options (regex preset, special tokens)"
    )
    aliases: list[str] = Field(default_factory=list)
    vocab_notes: str = ""
    license: str = Field(description="license name of the tokenizer's model")
    source: str = Field(description="where the files come from")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        from llmselect.registry import TOKENIZER_KINDS

        known = TOKENIZER_KINDS.names()
        if value not in known:
            raise ValueError(f"unknown tokenizer kind {value!r} (known: {', '.join(known)})")
        return value

    def hub_path(self, filename: str) -> str | None:
        """Path of ``filename`` in the hub repo, or None when the hub lacks it."""
        if not self.hub_repo:
            return None
        if self.hub_files is None:
            return filename
        return self.hub_files.get(filename)


class TokenizerCatalog(NameIndex[TokenizerSpec]):
    """Families by id, with alias lookup."""

    def __init__(self, specs: list[TokenizerSpec]) -> None:
        super().__init__(specs, "tokenizer", duplicate_ids="tokenizer catalog has duplicate ids")


@lru_cache(maxsize=4)
def load_tokenizer_catalog(path: Path = TOKENIZERS_FILE) -> TokenizerCatalog:
    """The validated tokenizer catalog (cached)."""
    raw = list(read_yaml_cached(Path(path)) or []) + _plugin_families()
    specs = validate_entries(raw, TokenizerSpec, str(path), "tokenizer")
    return TokenizerCatalog(specs)


def _plugin_families() -> list[dict[str, object]]:
    """Tokenizer families brought by tokenizer kinds that are not built in."""
    from llmselect.registry import BUILTIN_TOKENIZER_KINDS, TOKENIZER_KINDS

    out: list[dict[str, object]] = []
    for name in TOKENIZER_KINDS.names():
        if name not in BUILTIN_TOKENIZER_KINDS:
            out.extend(dict(f) for f in TOKENIZER_KINDS.load(name).families)
    return out


def resolve_tokenizer_names(names: list[str]) -> list[tuple[str, TokenizerSpec]]:
    """Map each name (family id/alias, or a checkpoint id from the model catalog) to a family.

    Returns ``(name as given, family)`` pairs, one per distinct family, in the order given.
    Unknown names raise ``LLMSelectError`` with "did you mean" suggestions.
    """
    tokenizers = load_tokenizer_catalog()
    table: dict[str, TokenizerSpec] = dict(tokenizers.index)
    if any(normalize(n) not in table for n in names):
        # Only a name that is no family needs the model catalog (a fifth of the start-up).
        table = {**_model_tokenizer_index(), **table}  # a family name wins over an alias
    out: list[tuple[str, TokenizerSpec]] = []
    seen: set[str] = set()
    for name in names:
        spec = lookup(name, table, "tokenizer or model", see="`llmselect tokenize-bench --list`")
        if spec.id not in seen:
            seen.add(spec.id)
            out.append((name, spec))
    return out


def _model_tokenizer_index() -> dict[str, TokenizerSpec]:
    """Checkpoint ids/aliases → tokenizer family, from the model catalog (may be empty)."""
    from llmselect.catalog import load_catalog

    tokenizers = load_tokenizer_catalog()
    try:
        catalog = load_catalog()
    except LLMSelectError:
        return {}  # no or unreadable model catalog: family names still work
    index: dict[str, TokenizerSpec] = {}
    for model in catalog:
        spec = tokenizers.find(model.tokenizer) if model.tokenizer else None
        if spec is None:
            continue
        for name in (model.id, *model.aliases):
            index[normalize(name)] = spec
    return index
