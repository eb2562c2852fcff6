"""A real ``llmselect`` process with a fast in-test probe, for the fault-injection tests.

``python tests/_fault_driver.py run --suite SUITE.yaml [--resume RUN_ID]`` runs the CLI's own
``main()`` after registering ``fault_rows`` (one unit per target ``t000``, ``t001``, ...; three
records per unit, each padded so a unit's write spans many bytes). Environment:
``FAULT_UNITS`` (targets, default 40), ``FAULT_SLEEP_S`` (seconds per unit, default 0),
``FAULT_PAD`` (padding characters per record, default 300).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from llmselect.probes.base import Probe, ProbeConfig, RunContext
from llmselect.records import Measurement

RECORDS_PER_UNIT = 3


@dataclass(frozen=True)
class Target:
    id: str


def targets(count: int | None = None) -> list[Target]:
    n = count if count is not None else int(os.environ.get("FAULT_UNITS", "40"))
    return [Target(f"t{i:03d}") for i in range(n)]


class FaultRowsProbe(Probe):
    """Three records per target: the target's number, its square and its cube."""

    name = "fault_rows"
    target_kind = "fault"
    Config = ProbeConfig

    def run(self, target: Any, ctx: RunContext) -> Iterable[Measurement]:
        delay = float(os.environ.get("FAULT_SLEEP_S", "0"))
        if delay:
            time.sleep(delay)
        pad = "x" * int(os.environ.get("FAULT_PAD", "300"))
        i = int(target.id[1:])
        for power in range(1, RECORDS_PER_UNIT + 1):
            yield self.record(
                ctx, target.id, f"power_{power}", float(i**power), "1", params={"pad": pad}
            )


def install() -> None:
    """Register the probe and its target kind the way built-ins are registered."""
    from llmselect import registry, suite

    registry.BUILTIN_PROBES["fault_rows"] = "_fault_driver:FaultRowsProbe"
    suite.DEFAULT_RESOLVERS["fault"] = lambda names: [
        t for t in targets() if names is None or t.id in names
    ]


SUITE = {"name": "faults", "probes": [{"probe": "fault_rows"}]}


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    install()
    from llmselect.cli import main

    sys.argv = ["llmselect", *sys.argv[1:]]
    main()
