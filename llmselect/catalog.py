"""The model catalog: ``data/catalog.yaml`` validated into ``ModelSpec`` on load.

Facts carry their source; unknown values stay null, nothing is guessed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmselect.config import PACKAGE_DATA
from llmselect.errors import LLMSelectError
from llmselect.names import lookup, normalize

CATALOG_FILE = PACKAGE_DATA / "catalog.yaml"

ArchFamily = Literal["gpt2", "llama", "glm", "bloom", "other"]
Commercial = Literal["yes", "no", "conditional"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArchSpec(_Strict):
    """Architecture numbers as in the checkpoint's config.json."""

    family: ArchFamily = Field(description="Reference implementation that builds this model")
    hidden: int = Field(description="hidden_size")
    layers: int = Field(description="num_hidden_layers")
    heads: int = Field(description="num_attention_heads")
    kv_heads: int = Field(description="num_key_value_heads (MHA = heads, MQA = 1)")
    intermediate: int = Field(description="MLP inner size")
    vocab: int = Field(description="embedding rows (padded vocab)")
    head_dim: int | None = Field(default=None, description="if not hidden / heads")
    tied_embeddings: bool = False
    max_position: int | None = None
    rope_theta: float | None = None
    rope_fraction: float = Field(default=1.0, description="share of head_dim that is rotated")
    qkv_bias: bool = False
    mlp_bias: bool = False
    sliding_window: int | None = None
    source: str = Field(description="where these numbers come from")

    @property
    def head_size(self) -> int:
        return self.head_dim or self.hidden // self.heads


class LicenseRef(_Strict):
    """A model's license: id into the license table, commercial verdict, and the source."""

    id: str | None
    commercial: Commercial | None = None
    source: str | None = None
    note: str | None = None


class PublishedScore(_Strict):
    """A benchmark score as published, with its setting and source (percent)."""

    benchmark: str
    value: float
    setting: str | None = None
    shots: int | None = None
    source: str


class ModelSpec(_Strict):
    """One checkpoint (base or chat)."""

    id: str
    name: str
    family: str = Field(description="model family, e.g. Llama-2, ChatGLM, Qwen2.5")
    variant: str | None = None
    hf_repo: str | None = None
    revision: str | None = None
    base_model: str | None = Field(default=None, description="catalog id of the base model")
    params_b: float | None = Field(default=None, description="parameters, billions (published)")
    params_source: str | None = None
    context_length: int | None = None
    context_source: str | None = None
    arch: ArchSpec | None = None
    tokenizer: str | None = Field(default=None, description="tokenizer family id")
    license: LicenseRef | None = None
    languages: list[str] = Field(default_factory=list)
    scores: list[PublishedScore] = Field(default_factory=list)
    release_date: str | None = None
    aliases: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class Catalog:
    """Models by id, with alias lookup."""

    def __init__(self, models: list[ModelSpec]) -> None:
        self.models = {m.id: m for m in models}
        if len(self.models) != len(models):
            raise LLMSelectError("catalog has duplicate model ids")
        self._index: dict[str, ModelSpec] = {}
        for m in models:
            for name in (m.id, *m.aliases):
                self._index[normalize(name)] = m

    def get(self, name: str) -> ModelSpec:
        return lookup(name, self._index, "model")

    def find(self, name: str) -> ModelSpec | None:
        return self._index.get(normalize(name))

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.models.values())

    def __len__(self) -> int:
        return len(self.models)


def parse_catalog(raw: object, origin: str) -> Catalog:
    """Validate a parsed YAML list into a Catalog; errors name the entry."""
    if not isinstance(raw, list):
        raise LLMSelectError(f"{origin}: expected a list of models")
    models = []
    for i, entry in enumerate(raw):
        try:
            models.append(ModelSpec.model_validate(entry))
        except ValidationError as exc:
            ident = entry.get("id", f"#{i}") if isinstance(entry, dict) else f"#{i}"
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise LLMSelectError(f"{origin}: model {ident}: {loc}: {first['msg']}") from exc
    return Catalog(models)


@lru_cache(maxsize=4)
def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    """The validated catalog (cached)."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LLMSelectError(f"cannot read catalog {path}: {exc}") from exc
    return parse_catalog(raw or [], str(path))
