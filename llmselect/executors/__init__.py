"""Executors: where the units of a plan run (``EXECUTORS`` in ``llmselect.registry``)."""
