"""The model catalog: ``data/catalog.yaml`` validated into ``ModelSpec`` on load.

Facts carry their source; unknown values stay null, nothing is guessed.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llmselect.arch.sizing import Sizing
from llmselect.arch.spec import ArchSpec
from llmselect.config import PACKAGE_DATA
from llmselect.datafiles import read_yaml_cached, validate_entries
from llmselect.names import NameIndex

CATALOG_FILE = PACKAGE_DATA / "catalog.yaml"

Commercial = Literal["yes", "no", "conditional"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriorLicense(_Strict):
    """A license the checkpoint was published under before its current one."""

    id: str = Field(description="license table id")
    until: date = Field(description="first day the current license applies")
    source: str


class LicenseRef(_Strict):
    """A model's license: id into the license table, commercial verdict, and the source."""

    id: str | None
    commercial: Commercial | None = None
    source: str | None = None
    note: str | None = None
    previous: list[PriorLicense] = Field(
        default_factory=list, description="earlier licenses of this checkpoint (time rules)"
    )


class PublishedScore(_Strict):
    """A benchmark score as published, with its setting and source (percent)."""

    benchmark: str
    value: float
    setting: str | None = None
    shots: int | None = None
    source: str
    note: str | None = None
    comparable_note: str | None = Field(
        default=None, description="set when the number comes from another vendor's table"
    )


class ModelSpec(_Strict):
    """One checkpoint (base or chat)."""

    id: str
    name: str
    family: str = Field(description="model family, e.g. Llama-2, ChatGLM, Qwen2.5")
    variant: str | None = None
    hf_repo: str | None = None
    revision: str | None = None
    revision_source: str | None = Field(
        default=None, description="why this revision: the commit the cited config was read at"
    )
    base_model: str | None = Field(default=None, description="catalog id of the base model")
    params_b: float | None = Field(default=None, description="parameters, billions (published)")
    params_exact: int | None = Field(
        default=None,
        description="exact count: published, or computed from the arch (params_source says how)",
    )
    params_nominal: str | None = Field(default=None, description="size as the publisher states it")
    params_source: str | None = None
    context_length: int | None = Field(default=None, description="native context, tokens")
    context_source: str | None = None
    arch: ArchSpec | None = None
    arch_missing: list[str] = Field(
        default_factory=list, description="required arch numbers not published (arch is null)"
    )
    arch_source: str | None = None
    sizing: Sizing | None = Field(
        default=None,
        description="exact counts, cache per layer type and stored bytes, computed from the "
        "config by transformers (llmselect.arch.hf_sizing); what recommend sizes with",
    )
    tokenizer: str | None = Field(default=None, description="tokenizer family id")
    tokenizer_kind: str | None = None
    tokenizer_vocab: int | None = Field(default=None, description="tokenizer's own vocab size")
    tokenizer_source: str | None = None
    license: LicenseRef | None = None
    languages: list[str] = Field(default_factory=list)
    languages_source: str | None = None
    scores: list[PublishedScore] = Field(default_factory=list)
    release_date: str | None = None
    release_date_source: str | None = None
    facts_source: str | None = Field(default=None, description="entry in the research facts")
    aliases: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class Catalog(NameIndex[ModelSpec]):
    """Models by id, with alias lookup."""

    def __init__(self, models: list[ModelSpec]) -> None:
        super().__init__(models, "model", duplicate_ids="catalog has duplicate model ids")

    @property
    def models(self) -> dict[str, ModelSpec]:
        return self.by_id


def parse_catalog(raw: object, origin: str) -> Catalog:
    """Validate a parsed YAML list into a Catalog; errors name the entry."""
    return Catalog(validate_entries(raw, ModelSpec, origin, "model"))


@lru_cache(maxsize=4)
def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    """The validated catalog (cached in memory and, as JSON, on disk)."""
    raw = read_yaml_cached(Path(path))
    return parse_catalog(raw or [], str(path))
