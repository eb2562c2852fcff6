"""License verdicts by purpose: may this model be used for X (on a given day)?

Purposes:

* ``commercial``: use in a product or service that earns money.
* ``research`` and ``learning`` (students, courses, personal study): non-commercial use.
* ``edge``: shipping the weights to end-user devices (on-device apps). That is distribution of
  the model, so the commercial terms apply plus the license's redistribution rules.

Unknown terms give ``allowed="unknown"``, which never passes a commercial filter. A checkpoint
whose catalog entry leaves ``commercial`` null (its license was not verified) is unknown too, even
when the license id is known. Fine-tunes without a license of their own resolve through their
base model. Pure and fast: no torch, no I/O beyond the cached tables.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llmselect.catalog import Catalog, ModelSpec, load_catalog
from llmselect.errors import LLMSelectError
from llmselect.licenses.table import License, LicenseTable, load_licenses

PURPOSES = ("commercial", "research", "learning", "edge")
Verdict = Literal["yes", "no", "conditional", "unknown"]


class LicenseVerdict(BaseModel):
    """The answer for one model, purpose and day, with its reasons and source."""

    model_config = ConfigDict(frozen=True)

    model_id: str
    purpose: str
    allowed: Verdict
    conditions: list[str] = Field(default_factory=list)
    license_id: str | None = None
    license_name: str | None = None
    license_class: str | None = None
    version: str | None = None
    effective_date: date | None = None
    as_of: date | None = Field(default=None, description="day evaluated; None = current terms")
    source: str | None = Field(
        default=None, description="this model's own license file or card (what says it applies)"
    )
    terms_source: str | None = Field(
        default=None, description="where the license's terms were read (the license text)"
    )
    url: str | None = None
    resolved_via: str | None = Field(default=None, description="base model whose license applies")
    notes: list[str] = Field(default_factory=list)

    @property
    def passes_commercial(self) -> bool:
        """Only a yes or conditional verdict passes a commercial filter."""
        return self.allowed in ("yes", "conditional")


def _license_id_on(model: ModelSpec, on: date | None) -> tuple[str | None, str | None]:
    """The license id in force for the checkpoint on ``on`` and the source saying so."""
    ref = model.license
    if ref is None:
        return None, None
    if on is not None:
        for prior in sorted(ref.previous, key=lambda p: p.until):
            if on < prior.until:
                return prior.id, prior.source
    return ref.id, ref.source


def _resolve_model(model: ModelSpec, catalog: Catalog) -> tuple[ModelSpec, str | None]:
    """Walk up base models until one carries a license id (fine-tunes inherit)."""
    seen = {model.id}
    current = model
    while (current.license is None or current.license.id is None) and current.base_model:
        base = catalog.find(current.base_model)
        if base is None or base.id in seen:
            break
        seen.add(base.id)
        current = base
    return current, (current.id if current.id != model.id else None)


def verdict(
    model: ModelSpec | str,
    purpose: str = "commercial",
    on: date | None = None,
    *,
    catalog: Catalog | None = None,
    licenses: LicenseTable | None = None,
) -> LicenseVerdict:
    """Whether ``model`` may be used for ``purpose`` on day ``on`` (None = current terms); the
    purpose is read in any case, as ``recommend --purpose`` reads it."""
    purpose = purpose.strip().lower()
    if purpose not in PURPOSES:
        raise LLMSelectError(f"unknown purpose {purpose!r}; choose one of {', '.join(PURPOSES)}")
    catalog = catalog or load_catalog()
    licenses = licenses or load_licenses()
    spec = catalog.get(model) if isinstance(model, str) else model
    holder, via = _resolve_model(spec, catalog)
    license_id, ref_source = _license_id_on(holder, on)
    base = {"model_id": spec.id, "purpose": purpose, "as_of": on, "resolved_via": via}
    notes = [n for n in [holder.license.note if holder.license else None] if n]
    if via:
        notes.append(f"{spec.id} has no license of its own; the license of {via} applies")
    lic = licenses.find(license_id)
    if lic is None:
        why = "no license recorded" if license_id is None else f"license {license_id!r} unknown"
        return LicenseVerdict(
            **base,
            allowed="unknown",
            conditions=[f"License not verified ({why}); treat as not cleared for use."],
            license_id=license_id,
            source=ref_source,
            notes=notes,
        )
    base["source"] = ref_source  # the model's own evidence, never a text about another model
    return _judge(lic, purpose, on, holder, license_id != (holder.license.id), base, notes)


def _judge(
    lic: License,
    purpose: str,
    on: date | None,
    holder: ModelSpec,
    historical: bool,
    base: dict[str, Any],
    notes: list[str],
) -> LicenseVerdict:
    terms = lic.terms_on(on)
    common = {
        **base,
        "license_id": lic.id,
        "license_name": lic.name,
        "license_class": lic.license_class,
        "url": lic.url,
        "notes": notes,
    }
    if terms is None:
        first = lic.timeline()[0].effective_date
        return LicenseVerdict(
            **common,
            allowed="unknown",
            conditions=[f"{lic.name} was not yet in effect on {on} (first version {first})."],
            terms_source=lic.source,
        )
    common.update(
        version=terms.version, effective_date=terms.effective_date, terms_source=terms.source
    )
    # The catalog's own verdict for the checkpoint counts only for current terms: a null there
    # means this checkpoint's license was never verified.
    unverified = not historical and holder.license is not None and holder.license.commercial is None
    if unverified:
        conditions = ["This checkpoint's license was not verified; treat as not cleared for use."]
        return LicenseVerdict(**common, allowed="unknown", conditions=conditions)
    if purpose in ("research", "learning"):
        conditions = list(lic.research_conditions)
        if lic.use_restrictions:
            conditions.append(f"Use restrictions: {lic.use_restrictions}")
        return LicenseVerdict(**common, allowed=lic.research, conditions=conditions)
    if terms.commercial is None:
        conditions = ["Commercial terms not verified; treat as not cleared for commercial use."]
        return LicenseVerdict(**common, allowed="unknown", conditions=conditions)
    conditions = list(terms.conditions)
    if lic.attribution and terms.commercial != "no":
        conditions.append(f"Attribution: {lic.attribution}")
    if purpose == "edge" and terms.commercial != "no" and lic.redistribution:
        conditions.append(f"Redistribution: {lic.redistribution}")
    return LicenseVerdict(**common, allowed=terms.commercial, conditions=conditions)
