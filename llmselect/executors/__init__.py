"""Executors: where the units of a plan run (``EXECUTORS`` in ``llmselect.registry``)."""

from __future__ import annotations

import inspect
from typing import Any


def build_executor(name: str, address: str | None = None) -> Any:
    """The registered executor ``name``, with ``address`` for those that join a cluster."""
    from llmselect.errors import LLMSelectError
    from llmselect.registry import EXECUTORS

    cls = EXECUTORS.load(name)
    check = getattr(cls, "check_available", None)
    if check is not None:  # e.g. Ray not installed: one line now, before anything runs
        check()
    if address is None:
        return cls()
    if "address" not in inspect.signature(cls).parameters:
        raise LLMSelectError(f"--address applies to cluster executors (ray), not {name!r}")
    return cls(address=address)
