"""llmselect: choose an open LLM for Chinese + English work, by measurement."""

from __future__ import annotations

__version__ = "0.1.0"
