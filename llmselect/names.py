"""Name lookup with "did you mean" suggestions, and the id/alias index every catalog uses."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from typing import Generic, Protocol, TypeVar

from llmselect.errors import LLMSelectError


class _Named(Protocol):
    id: str


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
        for name in (entry.id, *getattr(entry, "aliases", ())):
            key = normalize(name)
            if key in index and index[key] is not entry:
                raise LLMSelectError(f"{what} name {name!r} is used twice")
            index[key] = entry
    return index


class NameIndex(Generic[N]):
    """Entries by id, found by id or alias (``normalize``d): the catalog, tokenizer families
    and licenses all look names up this way. A name used by two entries is an error."""

    def __init__(self, entries: Iterable[N], what: str, duplicate_ids: str | None = None) -> None:
        items = list(entries)
        self.what = what
        self.by_id: dict[str, N] = {e.id: e for e in items}
        if len(self.by_id) != len(items):
            raise LLMSelectError(duplicate_ids or f"{what} ids are used twice")
        self._index = build_index(items, what)

    def get(self, name: str) -> N:
        """The entry called ``name``; unknown names raise with "did you mean" suggestions."""
        return lookup(name, self._index, self.what)

    def find(self, name: str | None) -> N | None:
        """The entry called ``name``, or None."""
        return self._index.get(normalize(name)) if name else None

    @property
    def index(self) -> dict[str, N]:
        """Normalized id or alias → entry (a copy)."""
        return dict(self._index)

    def __iter__(self) -> Iterator[N]:
        return iter(self.by_id.values())

    def __len__(self) -> int:
        return len(self.by_id)
