"""Package data files: cached YAML reading, the strict base of their schemas, and validation of
entry lists with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from llmselect.errors import LLMSelectError, one_line

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of a schema read from a data file or a config: an unknown key is an error (a typo
    never passes silently) and the values, once validated, are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_yaml_cached(path: Path) -> object:
    """Parse a package YAML file, reusing a JSON copy keyed by the file's hash.

    YAML parsing dominates load time (~0.1 s for the catalog even with libyaml); the JSON copy
    in ``<home>/cache`` loads in milliseconds, and any edit to the YAML changes the key. PyYAML
    itself is imported only on a miss: its import alone costs more than reading every copy.
    """
    import contextlib
    import hashlib
    import json
    import os

    from llmselect.config import home_dir

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise LLMSelectError(f"cannot read {path}: {exc}") from exc
    key = hashlib.sha256(data).hexdigest()[:16]
    cache = home_dir() / "cache" / f"{Path(path).stem}-{key}.json"
    try:
        return json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        raw = yaml.load(data.decode("utf-8"), Loader=loader)  # noqa: S506 - safe loader
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise LLMSelectError(f"cannot parse {path}: {one_line(exc)}") from exc
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(raw, default=str), encoding="utf-8")
        tmp.replace(cache)
    except OSError:  # a full or read-only home only costs speed; leave no partial file
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return raw


def validate_entries(raw: object, schema: type[M], origin: str, what: str) -> list[M]:
    """Validate a parsed YAML list entry by entry; the error names the entry and the field."""
    if not isinstance(raw, list):
        raise LLMSelectError(f"{origin}: expected a list of {what} entries")
    out = []
    for i, entry in enumerate(raw):
        try:
            out.append(schema.model_validate(entry))
        except ValidationError as exc:
            ident = entry.get("id", f"#{i}") if isinstance(entry, dict) else f"#{i}"
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise LLMSelectError(f"{origin}: {what} {ident}: {loc}: {first['msg']}") from exc
    return out
