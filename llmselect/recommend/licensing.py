"""The license verdict the recommender needs, from ``llmselect.licenses`` (never guessed)."""

from __future__ import annotations

from dataclasses import dataclass

from llmselect.catalog import Catalog, ModelSpec
from llmselect.errors import LLMSelectError


@dataclass(frozen=True)
class LicenseCheck:
    """Whether a model's license allows a use: yes | no | conditional | unknown."""

    allowed: str
    license_id: str | None
    license_name: str | None
    conditions: tuple[str, ...]
    source: str | None


def check_license(model: ModelSpec, use: str, catalog: Catalog | None = None) -> LicenseCheck:
    """The license table's verdict for ``use``; a model it cannot judge is "unknown"."""
    from llmselect.licenses import verdict

    try:
        v = verdict(model, use, catalog=catalog)
    except LLMSelectError:
        return LicenseCheck("unknown", None, None, (), None)
    return LicenseCheck(
        allowed=str(v.allowed),
        license_id=v.license_id,
        license_name=v.license_name,
        conditions=tuple(v.conditions),
        source=v.source,
    )
