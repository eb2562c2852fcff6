"""Exceptions shared by the library; the CLI maps them to exit codes."""

from __future__ import annotations


class LLMSelectError(Exception):
    """A usage, configuration, validation or IO error: the CLI prints one line and exits 2."""


class ProbeSkipped(Exception):  # noqa: N818 - reads as a status, like StopIteration
    """A probe does not apply to this model here (no CUDA, tokenizer not on disk, ...)."""


def one_line(exc: BaseException) -> str:
    """An exception's message on one line. A YAML parse error says where and what
    (``line 3, column 3: expected the node content, but found '-' (while parsing a flow
    node)``): its text's first line alone names only the parser's state."""
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    if mark is not None and problem:
        context = getattr(exc, "context", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        return f"{where}: {problem}" + (f" ({context})" if context else "")
    return " ".join(str(exc).split())
