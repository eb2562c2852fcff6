"""Executors: where the units of a plan run (``EXECUTORS`` in ``llmselect.registry``).

An executor is chosen by name with typed options (its ``Options`` model): from the command line
(``--executor NAME --executor-option KEY=VALUE``), from a suite's ``executor:`` block, or both
(the command line wins; its options add to the suite's when it names the same executor).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from llmselect.errors import LLMSelectError
from llmselect.executors.base import Executor, ExecutorOptions
from llmselect.registry import EXECUTORS

DEFAULT = "local"


def parse_option_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """``["address=auto", "max_retries=1"]`` → a dict; the values stay text (the executor's
    ``Options`` model converts them)."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise LLMSelectError(f"--executor-option takes KEY=VALUE, got {pair!r}")
        if key in options:
            raise LLMSelectError(f"executor option {key!r} is given twice")
        options[key] = value.strip()
    return options


def validate_options(name: str, options: Mapping[str, Any]) -> ExecutorOptions:
    """The options of executor ``name``, checked against its ``Options`` model."""
    cls = EXECUTORS.load(name)
    fields = cls.Options.model_fields
    for key in options:
        if key not in fields:
            known = ", ".join(fields) or "none"
            raise LLMSelectError(
                f"executor {name!r} has no option {key!r} (its options: {known}; "
                "see `llmselect executors list`)"
            )
    try:
        return cls.Options.model_validate(dict(options))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else "?"
        raise LLMSelectError(
            f"executor {name!r} option {key}={options.get(key)!r}: {first['msg']}"
        ) from exc


def build_executor(name: str = DEFAULT, options: Mapping[str, Any] | None = None) -> Executor:
    """The registered executor ``name`` with ``options`` (checked against its ``Options``)."""
    checked = validate_options(name, options or {})
    cls = EXECUTORS.load(name)
    check = getattr(cls, "check_available", None)
    if check is not None:  # e.g. Ray not installed: one line now, before anything runs
        check()
    return cls(checked)  # type: ignore[no-any-return]


def split_block(block: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A suite's ``executor:`` block (``name`` and the executor's options) → (name, options),
    both checked."""
    name = block.get("name", DEFAULT)
    if not isinstance(name, str):
        raise LLMSelectError(f"executor name must be text, got {name!r}")
    options = {k: v for k, v in block.items() if k != "name"}
    validate_options(name, options)
    return name, options


def choose_executor(
    name: str | None, pairs: Sequence[str] = (), suite: Mapping[str, Any] | None = None
) -> Executor:
    """The executor a command runs on: ``name`` (None: the suite's, else ``local``) with the
    suite block's options when it names the same executor, then ``pairs`` (``KEY=VALUE``)."""
    base_name, base_options = split_block(suite) if suite else (DEFAULT, {})
    chosen = name or base_name
    options = dict(base_options) if chosen == base_name else {}
    options.update(parse_option_pairs(pairs))
    return build_executor(chosen, options)


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return " | ".join(_type_name(a) for a in typing.get_args(annotation))
    if typing.get_origin(annotation) is typing.Literal:
        return "|".join(str(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "none"
    return getattr(annotation, "__name__", str(annotation))


def describe_executors() -> list[dict[str, Any]]:
    """Every registered executor with its options (name, type, default, description), from
    the executors' own ``Options`` models: what ``llmselect executors list`` prints."""
    rows = []
    for name, path in EXECUTORS.paths().items():
        cls = EXECUTORS.load(name)
        options = [
            {
                "name": key,
                "type": _type_name(field.annotation),
                "default": field.get_default(call_default_factory=True),
                "description": field.description or "",
            }
            for key, field in cls.Options.model_fields.items()
        ]
        rows.append(
            {"name": name, "path": path, "description": cls.description, "options": options}
        )
    return rows
