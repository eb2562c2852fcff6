"""The ``license`` probe: records each model's license verdicts as published catalog facts.

Nothing is measured: the verdict comes from the license table and the catalog (kind
``published``, with the license text's source). One record per purpose; ``value`` is 1 for yes,
0.5 for conditional, 0 for no and None (status skipped) when the terms are unknown, so a report can
tabulate it while the conditions travel in ``params``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from pydantic import Field

from llmselect.errors import ProbeSkipped
from llmselect.metrics import MetricSpec
from llmselect.probes.base import Probe, ProbeConfig, RunContext, Target
from llmselect.records import Measurement

VERDICT_VALUE = {"yes": 1.0, "conditional": 0.5, "no": 0.0}


class LicenseProbeConfig(ProbeConfig):
    """Options of the license probe."""

    purposes: list[str] = Field(
        default_factory=lambda: ["commercial", "research", "learning", "edge"],
        description="purposes to judge: commercial, research, learning, edge",
    )
    on: date | None = Field(default=None, description="evaluate the terms as of this day")


class LicenseProbe(Probe[LicenseProbeConfig, Target]):
    """License verdicts per purpose, from the catalog's published license facts."""

    name = "license"
    version = 1
    description = "License verdict per purpose (published terms, with source)"
    Config = LicenseProbeConfig
    # license_<purpose>_allowed, one per purpose in the license table (verdict: 1, 0.5, 0)
    metrics = (
        MetricSpec(
            "*", "verdict", True, "licenses",
            label="license verdict", description="license_<purpose>_allowed per purpose",
        ),
    )  # fmt: skip

    def run(self, target: Target, ctx: RunContext) -> Iterable[Measurement]:
        from llmselect.catalog import ModelSpec, load_catalog
        from llmselect.licenses import verdict

        spec = target if isinstance(target, ModelSpec) else load_catalog().find(str(target.id))
        if spec is None:
            raise ProbeSkipped("license verdicts exist only for catalog models")
        for purpose in self.config.purposes:
            v = verdict(spec, purpose, self.config.on)
            rec = self.record(
                ctx,
                spec.id,
                f"license_{purpose}_allowed",
                VERDICT_VALUE.get(v.allowed),
                kind="published",
                subset=purpose,
                params={
                    "allowed": v.allowed,
                    "license_id": v.license_id or "",
                    "version": v.version or "",
                    "effective_date": v.effective_date.isoformat() if v.effective_date else "",
                    "as_of": v.as_of.isoformat() if v.as_of else "",
                    "conditions": " | ".join(v.conditions),
                    "resolved_via": v.resolved_via or "",
                },
                source=v.source or "license not verified",
            )
            if v.allowed == "unknown":
                rec = rec.model_copy(update={"status": "skipped", "error": "license terms unknown"})
            yield rec
