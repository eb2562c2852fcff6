"""Model licenses: the license table, verdicts by purpose and date, and local detection.

``verdict(model, purpose, on)`` is the pure function the recommender calls; ``detect(path)``
identifies the license of a local checkpoint folder from its model card and license files
(``llmselect.licenses.detect``, imported where a folder is read: ``recommend`` never needs it).
"""

from __future__ import annotations

from llmselect.licenses.table import License, LicenseTable, load_licenses
from llmselect.licenses.verdict import PURPOSES, LicenseVerdict, verdict

__all__ = [
    "PURPOSES",
    "License",
    "LicenseTable",
    "LicenseVerdict",
    "load_licenses",
    "verdict",
]
