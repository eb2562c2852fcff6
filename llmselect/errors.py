"""Exceptions shared by the library; the CLI maps them to exit codes."""

from __future__ import annotations


class LLMSelectError(Exception):
    """A usage, configuration, validation or IO error: the CLI prints one line and exits 2."""


class ProbeSkipped(Exception):  # noqa: N818 - reads as a status, like StopIteration
    """A probe does not apply to this model here (no CUDA, tokenizer not on disk, ...)."""
