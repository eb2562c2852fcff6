"""Executors: where the units of a plan run (``EXECUTORS`` in ``llmselect.registry``)."""

from __future__ import annotations
