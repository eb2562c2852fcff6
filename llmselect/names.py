"""Name lookup with "did you mean" suggestions, shared by every catalog."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TypeVar

from llmselect.errors import LLMSelectError

T = TypeVar("T")


def normalize(name: str) -> str:
    """Case- and separator-insensitive key: ``Llama-2_7B`` → ``llama-2-7b``."""
    return name.strip().lower().replace("_", "-").replace(" ", "-")


def lookup(
    name: str,
    table: Mapping[str, T],
    what: str,
    extra_names: Iterable[str] = (),
    *,
    see: str = "`llmselect catalog list`",
) -> T:
    """``table[normalize(name)]`` or an ``LLMSelectError`` with close matches.

    ``see`` tells where the valid names are listed, for the error message.
    """
    key = normalize(name)
    if key in table:
        return table[key]
    candidates = sorted(set(table) | set(extra_names))
    close = difflib.get_close_matches(key, candidates, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise LLMSelectError(f"unknown {what} {name!r}{hint} (see {see})")


def split_csv(values: Iterable[str]) -> list[str]:
    """Flatten repeatable, comma-separated options: ``["a,b", "c"]`` → ``["a", "b", "c"]``."""
    out: list[str] = []
    for v in values:
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return out
