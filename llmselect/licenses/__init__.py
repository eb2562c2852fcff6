"""Model licenses: the license table, verdicts by purpose and date, and local detection.

``verdict(model, purpose, on)`` is the pure function the recommender calls; ``detect(path)``
identifies the license of a local checkpoint folder from its model card and license files.
"""

from __future__ import annotations

from llmselect.licenses.detect import LicenseDetection, detect
from llmselect.licenses.table import License, LicenseTable, load_licenses
from llmselect.licenses.verdict import PURPOSES, LicenseVerdict, verdict

__all__ = [
    "PURPOSES",
    "License",
    "LicenseDetection",
    "LicenseTable",
    "LicenseVerdict",
    "detect",
    "load_licenses",
    "verdict",
]
