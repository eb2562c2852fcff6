"""The license table (``data/licenses.yaml``): terms, versions, effective dates, earlier terms.

Each license has its current terms (``commercial``, ``conditions``) in force from
``effective_date``; ``history`` holds earlier terms (oldest first) and ``later`` newer statements
that do not change the text itself (e.g. a README re-licensing note). ``terms_on(day)`` picks the
terms in force on a day.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field

from llmselect.config import PACKAGE_DATA
from llmselect.datafiles import StrictModel, read_yaml_cached, validate_entries
from llmselect.names import NameIndex

LICENSES_FILE = PACKAGE_DATA / "licenses.yaml"

Allowed = Literal["yes", "no", "conditional"]
LicenseClass = Literal["permissive", "rail", "conditional", "non-commercial", "unknown"]


class LicenseTerms(StrictModel):
    """The commercial terms of one version of a license."""

    version: str | None = None
    effective_date: date | None = None
    commercial: Allowed | None = None
    conditions: list[str] = Field(default_factory=list)
    source: str | None = None


class License(StrictModel):
    """One license, with its version history."""

    id: str
    name: str
    license_class: LicenseClass = Field(alias="class")
    url: str | None = None
    source: str | None = None
    version: str | None = None
    effective_date: date | None = None
    commercial: Allowed | None = None
    conditions: list[str] = Field(default_factory=list)
    research: Literal["yes", "no", "conditional", "unknown"] = "unknown"
    research_conditions: list[str] = Field(default_factory=list)
    redistribution: str | None = None
    attribution: str | None = None
    use_restrictions: str | None = None
    notes: str | None = None
    history: list[LicenseTerms] = Field(default_factory=list)
    later: list[LicenseTerms] = Field(default_factory=list)

    model_config = ConfigDict(populate_by_name=True)  # "class" in the file, license_class here

    @property
    def current(self) -> LicenseTerms:
        """The terms stated at the top level: every ``LicenseTerms`` field, read by name."""
        return LicenseTerms(**{name: getattr(self, name) for name in LicenseTerms.model_fields})

    def timeline(self) -> list[LicenseTerms]:
        """All terms, oldest first."""
        return [*self.history, self.current, *self.later]

    def terms_on(self, day: date | None) -> LicenseTerms | None:
        """Terms in force on ``day`` (None = latest); None if the license did not exist yet."""
        timeline = self.timeline()
        if day is None:
            return timeline[-1]
        in_force = [t for t in timeline if t.effective_date is None or t.effective_date <= day]
        return in_force[-1] if in_force else None


class LicenseTable(NameIndex[License]):
    """Licenses by id."""

    def __init__(self, licenses: list[License]) -> None:
        super().__init__(licenses, "license")


@lru_cache(maxsize=4)
def load_licenses(path: Path = LICENSES_FILE) -> LicenseTable:
    """The validated license table (cached)."""
    out = validate_entries(read_yaml_cached(Path(path)), License, str(path), "license")
    return LicenseTable(out)
