"""Probes for the Ray tests, importable by Ray's worker processes (tests/ is on their path)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import Field

from llmselect.probes.base import Probe, ProbeConfig, RunContext
from llmselect.records import Measurement


class DieOnceConfig(ProbeConfig):
    """Where the probe marks the targets whose first worker it already killed."""

    marker_dir: str = Field(default="", description="Folder of the kill markers.")


class DieOnceProbe(Probe):
    """Kills its own worker process (SIGKILL) the first time it sees ``t001``, then measures."""

    name = "die_once"
    target_kind = "fault"
    Config = DieOnceConfig
    fresh_process = True  # each unit in a new worker, as for probes that time their work

    def run(self, target: Any, ctx: RunContext) -> Iterable[Measurement]:
        marker = Path(self.config.marker_dir) / f"{target.id}.killed"  # type: ignore[attr-defined]
        if target.id == "t001" and not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)  # the worker dies mid-unit, as on a lost node
        yield self.record(ctx, target.id, "pid", os.getpid(), "1")
        yield self.record(ctx, target.id, "name_chars", len(target.id), "char")
