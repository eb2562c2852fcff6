"""One resolver for every name a user types: what a command, a suite or a probe runs on.

Accepted, in this order, with one set of errors:

1. a local path: a ``.gguf`` file, a ``.safetensors`` file, a ``config.json`` or a checkpoint
   folder (``llmselect.checkpoint.source.source_from_path``);
2. a catalog id or alias (``qwen2.5-7b``);
3. a ``family:size`` preset (``llama:7b``);
4. a hub id (``org/name``), through the local cache when offline;
5. for tokenizer commands, also a tokenizer family (``llama2``) and a catalog model's tokenizer.

Anything else is one ``LLMSelectError`` line that suggests the closest known names.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from llmselect.arch.presets import ArchTarget, describe, is_preset, preset_arch, preset_names
from llmselect.catalog import CATALOG_FILE, ModelSpec, load_catalog
from llmselect.checkpoint.candidate import candidate_spec
from llmselect.checkpoint.inspect import tokenizer_spec
from llmselect.checkpoint.source import (
    HUB_ID,
    ModelSource,
    looks_like_path,
    source_from_hub,
    source_from_path,
)
from llmselect.errors import LLMSelectError
from llmselect.names import lookup, normalize
from llmselect.tokenizers.spec import TokenizerSpec, resolve_tokenizer_names


def _catalog_model(text: str) -> ModelSpec | None:
    return load_catalog().find(text) if CATALOG_FILE.is_file() else None


def _preset_key(text: str) -> str | None:
    if not is_preset(text):
        return None
    return next(k for k in preset_names() if normalize(k) == normalize(text))


def _unknown(text: str) -> Any:
    known = preset_names() + ([m.id for m in load_catalog()] if CATALOG_FILE.is_file() else [])
    return lookup(text, {}, "model, checkpoint path or preset", extra_names=known)


def resolve_model(text: str, *, hub: bool = True) -> ModelSource:
    """What ``text`` names, as a ``ModelSource`` (catalog and preset entries included)."""
    text = text.strip()
    if not text:
        raise LLMSelectError("empty model name")
    if looks_like_path(text):
        return source_from_path(text)
    spec = _catalog_model(text)
    if spec is not None:
        return ModelSource(kind="catalog", id=spec.id, name=spec.name, arch=spec.arch,
                           spec=spec, params_b=spec.params_b, sizing=spec.sizing)  # fmt: skip
    key = _preset_key(text)
    if key is not None:
        return ModelSource(kind="preset", id=key, name=describe(key), arch=preset_arch(key))
    if hub and HUB_ID.match(text):
        return source_from_hub(text)
    return _unknown(text)  # type: ignore[no-any-return]


def resolve_target(text: str) -> ModelSpec | ArchTarget | ModelSource:
    """A probe target: the catalog ``ModelSpec`` itself (its recorded totals and scores go with
    it), an ``ArchTarget`` for a preset, or the ``ModelSource`` of a checkpoint."""
    text = text.strip()
    if not looks_like_path(text):
        spec = _catalog_model(text)
        if spec is not None:
            return spec
        key = _preset_key(text)
        if key is not None:
            return ArchTarget(key, preset_arch(key), describe(key))
    return resolve_model(text)


def resolve_tokenizers(names: list[str]) -> list[tuple[str, TokenizerSpec]]:
    """``(name as asked, tokenizer)`` for tokenizer families, catalog ids and checkpoint paths
    (a checkpoint's own tokenizer file); one entry per distinct tokenizer."""
    out: list[tuple[str, TokenizerSpec]] = []
    for name in names:
        if looks_like_path(name):
            out.append((name, tokenizer_spec(source_from_path(name))))
        else:
            out += resolve_tokenizer_names([name])
    return list({spec.id: (asked, spec) for asked, spec in out}.values())


def stored_ids(text: str) -> set[str]:
    """The ids under which the records of what ``text`` names are stored: ``text`` itself and,
    where it resolves, the catalog id, the preset key and the tokenizer family id (tokenizer
    probes store under the family: ``qwen2.5-7b`` also names ``qwen2``). A checkpoint path adds
    the checkpoint's id and its tokenizer's. A name that resolves to nothing names itself only."""
    text = text.strip()
    ids = {text}
    if looks_like_path(text):
        with suppress(LLMSelectError):  # not a readable checkpoint: the name as typed matches
            ids.add(source_from_path(text).id)
    else:
        spec = _catalog_model(text)
        ids |= {spec.id} if spec is not None else set()
        key = _preset_key(text)
        ids |= {key} if key is not None else set()
    with suppress(LLMSelectError):  # no tokenizer of that name: its model ids are all it names
        ids |= {tok.id for _asked, tok in resolve_tokenizers([text])}
    return ids


def resolve_candidates(names: list[str]) -> list[ModelSpec]:
    """``recommend --candidates`` entries (checkpoint paths or hub ids) as catalog-like specs."""
    out = []
    for name in names:
        source = resolve_model(name)
        if not source.is_checkpoint:
            raise LLMSelectError(f"--candidates {name!r}: not a checkpoint file, folder or hub id")
        out.append(candidate_spec(source))
    return out
