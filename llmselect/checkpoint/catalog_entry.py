"""A catalog entry from a config: the one path behind ``llmselect catalog add`` and the shipped
additions (``scripts/additions/<id>.yaml`` records, built by ``scripts/build_additions.py``).

The config gives every number (``llmselect.arch.hf_sizing``: exact counts, cache per layer type,
stored bytes) and its sha256; the record (or the command's options) gives what only a publisher
can say, each with its source. The result is validated by ``ModelSpec`` before anything is
written; a defect is one ``LLMSelectError`` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from llmselect.arch.readers import config_context
from llmselect.catalog import LicenseRef, ModelSpec, PublishedScore
from llmselect.datafiles import StrictModel
from llmselect.errors import LLMSelectError, one_line


class RecordConfig(StrictModel):
    file: str = Field(description="the copied config, relative to the record")
    sha256: str = Field(description="sha256 of the copied file's bytes")
    source: str = Field(description="owner/repo@commit:path the bytes were copied from")
    model_type: str
    note: str | None = None


class RecordLicense(StrictModel):
    id: str | None
    commercial: str | None = None
    source: str | None = None
    note: str | None = None


class RecordTokenizer(StrictModel):
    family: str | None
    source: str | None = None


class RecordScore(StrictModel):
    benchmark: str
    value: float
    setting: str | None = None
    shots: int | None = None
    split: str | None = None
    model: str | None = None
    thinking: bool | str | None = None
    source: str


class AdditionRecord(StrictModel):
    """One reviewed data record: a model's facts with their sources (no computed numbers)."""

    id: str
    name: str
    family: str
    variant: str | None = None
    tuning: Literal["instruct", "base"] = Field(
        description="what the checkpoint is, as its card states: instruction/chat-tuned or base"
    )
    hf_repo: str | None = None
    revision: str | None = None
    revision_note: str | None = None
    config: RecordConfig
    license: RecordLicense
    release_date: str | None = None
    release_date_source: str | None = None
    context_length: int | None = Field(default=None, ge=1)
    context_source: str | None = None
    tokenizer: RecordTokenizer
    languages: list[str] | None = None
    languages_source: str | None = None
    params_published: dict[str, Any] | None = None
    scores: list[RecordScore] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


def read_config_file(path: Path) -> tuple[dict[str, Any], str]:
    """(config, sha256 of its bytes); malformed JSON is one error line."""
    import hashlib
    import json

    try:
        data = path.read_bytes()
        cfg = json.loads(data)
    except (OSError, ValueError) as exc:
        raise LLMSelectError(f"{path}: unreadable config.json: {exc}".splitlines()[0]) from exc
    if not isinstance(cfg, dict):
        raise LLMSelectError(f"{path}: config.json is not a JSON object")
    return cfg, hashlib.sha256(data).hexdigest()


def entry_from_config(
    cfg: dict[str, Any], config_sha256: str, config_source: str, **facts: Any
) -> ModelSpec:
    """A validated ``ModelSpec``: numbers from ``cfg``, everything else from ``facts``."""
    from llmselect.arch.hf_sizing import sizing_from_config

    arch, sizing = sizing_from_config(cfg, config_source, source=config_source)
    sizing = sizing.model_copy(update={"config_sha256": config_sha256})
    total = sizing.params_total
    notes = list(facts.pop("notes", []))
    notes.append(
        f"counts: {sizing.model_class}, {sizing.counted_with}: {total:,} parameters, "
        f"{sizing.params_active:,} active per token ({sizing.active_convention})"
    )
    notes += [f"not in the text decoder: {p.name} "
              f"{'(no count)' if p.params is None else format(p.params, ',')} ({p.kind})"
              for p in sizing.other_parts]  # fmt: skip
    context = facts.pop("context_length", None)
    context_source = facts.pop("context_source", None)
    if context is None:
        context, where = config_context(cfg)
        context_source = f"{where} ({config_source})" if context else None
    try:
        return ModelSpec(
            params_b=round(total / 1e9, 3), params_exact=total,
            params_source=f"sizing: {sizing.model_class}, {sizing.counted_with}",
            arch=arch, arch_source=config_source, sizing=sizing, context_length=context,
            context_source=context_source, notes=notes, **facts,
        )  # fmt: skip
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise LLMSelectError(f"{config_source}: entry does not validate: {where}: "
                             f"{first['msg']}") from exc  # fmt: skip


def entry_from_record(record_path: Path) -> ModelSpec:
    """The catalog entry of a ``scripts/additions/<id>.yaml`` record and its copied config."""
    import yaml

    try:
        raw = yaml.safe_load(record_path.read_text(encoding="utf-8"))
        rec = AdditionRecord.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise LLMSelectError(f"{record_path}: unreadable record: {one_line(exc)}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        raise LLMSelectError(f"{record_path}: {'.'.join(str(p) for p in first['loc'])}: "
                             f"{first['msg']}") from exc  # fmt: skip
    cfg, sha = read_config_file(record_path.parent / rec.config.file)
    if sha != rec.config.sha256:
        raise LLMSelectError(f"{record_path}: {rec.config.file} sha256 {sha[:12]}… is not the "
                             f"recorded {rec.config.sha256[:12]}…")  # fmt: skip
    if cfg.get("model_type") != rec.config.model_type:
        raise LLMSelectError(f"{record_path}: config model_type {cfg.get('model_type')!r} is "
                             f"not the recorded {rec.config.model_type!r}")  # fmt: skip
    lic = rec.license
    scores = [
        PublishedScore(benchmark=s.benchmark, value=s.value, shots=s.shots, source=s.source,
                       setting="; ".join(str(x) for x in (
                           s.setting, s.shots is not None and f"{s.shots}-shot",
                           s.split and f"split {s.split}", s.model,
                           s.thinking is not None and f"thinking {s.thinking}") if x) or None)
        for s in rec.scores
    ]  # fmt: skip
    notes = list(rec.notes)
    if rec.revision_note:
        notes.append(f"revision: {rec.revision_note}")
    if rec.params_published:
        notes.append(f"published size: {rec.params_published}")
    return entry_from_config(
        cfg, sha, rec.config.source, id=rec.id, name=rec.name, family=rec.family,
        variant=rec.variant, hf_repo=rec.hf_repo, revision=rec.revision,
        license=LicenseRef(id=lic.id, commercial=lic.commercial, source=lic.source,
                           note=lic.note),
        release_date=rec.release_date, release_date_source=rec.release_date_source,
        context_length=rec.context_length, context_source=rec.context_source,
        tokenizer=rec.tokenizer.family, tokenizer_source=rec.tokenizer.source,
        languages=rec.languages or [], languages_source=rec.languages_source, scores=scores,
        notes=notes, tags=["2025-26 addition", rec.tuning],
    )  # fmt: skip


def entry_from_name(text: str, *, license_id: str | None, name: str | None) -> ModelSpec:
    """``catalog add``'s argument: a local folder or config.json, or a hub id (only its config,
    card and license are fetched; its snapshot commit becomes the entry's revision)."""
    from llmselect.checkpoint.source import (
        HUB_ID,
        looks_like_path,
        source_from_hub,
        source_from_path,
    )

    if name is not None and not name.strip():
        raise LLMSelectError("--name is empty: give the catalog id to file it under, or leave "
                             "the option out")  # fmt: skip
    text = text.strip()
    if looks_like_path(text):
        return entry_from_source(source_from_path(text), license_id=license_id, name=name)
    if not HUB_ID.match(text):
        raise LLMSelectError(f"{text!r}: not a checkpoint folder, config.json or hub id (org/name)")
    source = source_from_hub(text, config_only=True)
    return entry_from_source(source, license_id=license_id, name=name)


def entry_from_source(source: Any, *, license_id: str | None, name: str | None) -> ModelSpec:
    """``catalog add``: the entry of a checkpoint folder, config.json or hub id."""
    if source.kind == "gguf" or not source.config:
        raise LLMSelectError(f"{source.checkpoint_ref}: catalog add reads a config.json "
                             "(a folder, the file itself or a hub id)")  # fmt: skip
    path = source.folder / "config.json"
    _, sha = read_config_file(path)
    cfg = source.config  # with a side hf_quant_config.json merged in
    ref = source.hub_id or str(path)
    model_id = (name or (source.hub_id or source.folder.name).split("/")[-1]).strip().lower()
    lic = None
    if license_id is not None:
        from llmselect.licenses import load_licenses

        table = load_licenses()
        known = table.find(license_id)
        if known is None:
            raise LLMSelectError(f"--license {license_id!r}: not in the license table; known: "
                                 f"{', '.join(sorted(table.by_id))}")  # fmt: skip
        terms = known.terms_on(None)  # the current terms of the license the user names
        lic = LicenseRef(id=known.id, commercial=terms.commercial if terms else None,
                         source="stated by the user (catalog add --license); terms from the "
                         "license table")  # fmt: skip
    revision = source.folder.name if source.hub_id else None  # the hub cache's snapshot commit
    return entry_from_config(
        cfg, sha, ref, id=model_id.replace(" ", "-"), name=name or source.name,
        family="user", hf_repo=source.hub_id, license=lic, tags=["user"], revision=revision,
        languages_source="not stated: a config names no languages (catalog add)",
        revision_source="the hub snapshot `catalog add` read" if revision else None,
        notes=[f"added by `llmselect catalog add` from {ref} (config sha256 {sha[:16]})"],
    )  # fmt: skip
