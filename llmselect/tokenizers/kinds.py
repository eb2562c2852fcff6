"""``TokenizerKind``: one tokenizer file format and its loader, registered in
``llmselect.registry.TOKENIZER_KINDS`` under the name ``TokenizerSpec.kind`` uses.

A kind from a plugin may also bring the tokenizer families stored in its format
(``families``: ``TokenizerSpec`` fields), which join the tokenizer catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmselect.tokenizers.base import LoadedTokenizer
    from llmselect.tokenizers.spec import TokenizerSpec

# (family spec, resolved files by name) → a ready tokenizer
Loader = Callable[["TokenizerSpec", dict[str, Path]], "LoadedTokenizer"]


@dataclass(frozen=True)
class TokenizerKind:
    """A file format: its name, what it reads, and how it loads."""

    name: str
    description: str
    load: Loader
    families: Sequence[Mapping[str, Any]] = ()
