"""The model catalog: ``data/catalog.yaml`` validated into ``ModelSpec`` on load.

Facts carry their source; unknown values stay null, nothing is guessed. Two more files join
it, validated by the same schema: the shipped additions (``data/catalog_additions.yaml``,
generated from reviewed records by ``scripts/build_additions.py``) and the user's overlay
(``<LLMSELECT_HOME>/catalog/user.json``, written by ``llmselect catalog add``).
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field

from llmselect.arch.sizing import Sizing
from llmselect.arch.spec import ArchSpec
from llmselect.config import PACKAGE_DATA, home_dir
from llmselect.datafiles import StrictModel, read_yaml_cached, validate_entries
from llmselect.errors import LLMSelectError
from llmselect.names import NameIndex, normalize

CATALOG_FILE = PACKAGE_DATA / "catalog.yaml"
ADDITIONS_FILE = "catalog_additions.yaml"  # beside the catalog file

Commercial = Literal["yes", "no", "conditional"]


class PriorLicense(StrictModel):
    """A license the checkpoint was published under before its current one."""

    id: str = Field(description="license table id")
    until: date = Field(description="first day the current license applies")
    source: str


class LicenseRef(StrictModel):
    """A model's license: id into the license table, commercial verdict, and the source."""

    id: str | None
    commercial: Commercial | None = None
    source: str | None = None
    note: str | None = None
    previous: list[PriorLicense] = Field(
        default_factory=list, description="earlier licenses of this checkpoint (time rules)"
    )


class PublishedScore(StrictModel):
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


class ModelSpec(StrictModel):
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
    checkpoint: str | None = Field(
        default=None,
        description="a local candidate's path or hub id (what -m takes); None for catalog entries",
    )
    stored_as: str | None = Field(
        default=None,
        description="a local quantized file's own type (GGUF file type, e.g. q4_1): the one "
        "precision it runs at; None when the weights can be loaded at any precision",
    )
    stored_weights_bytes: int | None = Field(
        default=None, ge=1, description="that file's tensor bytes (with stored_as)"
    )


class Catalog(NameIndex[ModelSpec]):
    """Models by id, with alias lookup."""

    def __init__(self, models: list[ModelSpec]) -> None:
        super().__init__(models, "model", duplicate_ids="catalog has duplicate model ids")

    def select(
        self,
        *,
        family: str | None = None,
        min_params: float | None = None,
        max_params: float | None = None,
        lang: str | None = None,
    ) -> list[ModelSpec]:
        """Entries of a model or arch ``family``, a size range in billions (an entry without a
        published size matches no range) and a served language code, in catalog order. A blank
        name or an empty range is an error, not "no filter"."""
        for what, value in (("--family", family), ("--lang", lang)):
            if value is not None and not value.strip():
                raise LLMSelectError(f"{what} is empty: give a value or leave the option out")
        if min_params is not None and max_params is not None and min_params > max_params:
            raise LLMSelectError(
                f"--min-params {min_params:g} is above --max-params {max_params:g}: no size fits"
            )
        lang = lang.strip() if lang else lang
        return [
            m
            for m in self
            if (not family or normalize(family) in {
                normalize(m.family), normalize(m.arch.family) if m.arch else ""})
            and (min_params is None or (m.params_b is not None and m.params_b >= min_params))
            and (max_params is None or (m.params_b is not None and m.params_b <= max_params))
            and (not lang or lang.lower() in m.languages)
        ]  # fmt: skip


def parse_catalog(raw: object, origin: str) -> Catalog:
    """Validate a parsed YAML list into a Catalog; errors name the entry."""
    return Catalog(validate_entries(raw, ModelSpec, origin, "model"))


def user_catalog_file() -> Path:
    """The user's overlay: entries ``llmselect catalog add`` wrote (JSON: loads in ms)."""
    return home_dir() / "catalog" / "user.json"


def _read_user(path: Path) -> list[dict[str, object]]:
    import json

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise LLMSelectError(f"{path}: unreadable user catalog: {exc}") from exc
    if not isinstance(raw, list):
        raise LLMSelectError(f"{path}: the user catalog is not a list of entries")
    return raw


@lru_cache(maxsize=8)
def _load(path: Path, user: Path, user_stamp: int) -> Catalog:
    raw = list(read_yaml_cached(Path(path)) or [])  # type: ignore[call-overload]
    extra = Path(path).with_name(ADDITIONS_FILE)
    if extra.is_file():
        raw += list(read_yaml_cached(extra) or [])  # type: ignore[call-overload]
    entries = validate_entries(raw, ModelSpec, str(path), "model")
    if user_stamp:
        entries += validate_entries(_read_user(user), ModelSpec, str(user), "model")
    return Catalog(entries)


def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    """The validated catalog with the shipped additions and the user's overlay (cached in
    memory per overlay version, and the YAML as JSON on disk)."""
    user = user_catalog_file()
    try:
        stamp = user.stat().st_mtime_ns
    except OSError:
        stamp = 0
    return _load(Path(path), user, stamp)


load_catalog.cache_clear = _load.cache_clear  # type: ignore[attr-defined]


def write_user_entries(entries: list[dict[str, object]]) -> Path:
    """Replace the overlay with ``entries`` (validated first; written atomically)."""
    import json
    import os

    validate_entries(entries, ModelSpec, "user catalog", "model")
    path = user_catalog_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(entries, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def add_user_entry(spec: ModelSpec) -> Path:
    """Append ``spec`` to the overlay; an id or alias the catalog already has is an error."""
    catalog = load_catalog()
    taken = catalog.find(spec.id)
    if taken is not None:
        where = (
            "your catalog"
            if spec.id in {str(e.get("id")) for e in _read_user(user_catalog_file())}
            else "the catalog"
        )
        raise LLMSelectError(f"{spec.id!r} is already in {where} ({taken.id}); "
                             "`llmselect catalog remove` it first or pass --name")  # fmt: skip
    entries = _read_user(user_catalog_file()) + [spec.model_dump(mode="json", exclude_none=True)]
    return write_user_entries(entries)


def remove_user_entry(model_id: str) -> Path:
    """Drop ``model_id`` from the overlay (shipped entries cannot be removed). The name is
    looked up as every other command looks it up (``catalog add --name "My Model"`` files
    ``my-model``, and ``catalog remove "My Model"`` removes it)."""
    entries = _read_user(user_catalog_file())
    found = load_catalog().find(model_id)
    target = found.id if found is not None else model_id
    kept = [e for e in entries if e.get("id") != target]
    if len(kept) == len(entries):
        why = "it is a shipped entry, not one you added" if found else "no such entry"
        raise LLMSelectError(f"cannot remove {model_id!r} from your catalog: {why}")
    return write_user_entries(kept)
