"""A score term written as a third party would, in one file: the native context window.

Registered through the ``llmselect.score_terms`` entry-point group only; a purpose profile may
then weigh ``context`` like a built-in term.
"""

from __future__ import annotations

from typing import Any

from llmselect.recommend.terms import ScoreTerm, Term


def context_window(c: Any, q: Any) -> Term:
    """Tokens the checkpoint reads natively (more = longer documents); none recorded: missing."""
    window = c.model.context_length
    if window is None:
        return Term("context", None, "tokens", "missing", "context window not recorded", None, True)
    return Term(
        "context", float(window), "tokens", "published", f"{window} tokens native context",
        c.model.context_source, True,
    )  # fmt: skip


CONTEXT = ScoreTerm(
    "context", "higher", ("context_length",), "tokens", context_window, "native context window"
)
