"""Name lookup with "did you mean" suggestions, shared by every catalog."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Protocol, TypeVar

from llmselect.errors import LLMSelectError


class _Named(Protocol):
    id: str
    aliases: list[str]


T = TypeVar("T")
N = TypeVar("N", bound=_Named)


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


def build_index(entries: Iterable[N], what: str) -> dict[str, N]:
    """``normalize(id or alias)`` → entry; a name used by two entries is an error."""
    index: dict[str, N] = {}
    for entry in entries:
        for name in (entry.id, *entry.aliases):
            key = normalize(name)
            if key in index and index[key] is not entry:
                raise LLMSelectError(f"{what} name {name!r} is used twice")
            index[key] = entry
    return index
