"""``Unit``: one probe with one config on one target, and ``run_unit``, which runs it.

The layer between the runner and the executors: an executor calls ``run_unit`` wherever it runs
a unit (in process, in a child, on a Ray worker); the runner plans units and writes their
records. A probe's skip or failure becomes one status record here, never an exception, and
every record is stamped with the unit key and with the host and device it ran on. A unit
handed out with a ``start_by`` time does not start after it, wherever it runs: the runner's
deadline holds even for an executor that takes every unit at once (a batch of cluster jobs).
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from llmselect.errors import LLMSelectError, ProbeSkipped
from llmselect.probes.base import Probe, RunContext
from llmselect.records import Measurement, utcnow

log = logging.getLogger(__name__)


# The note of a unit refused by its ``start_by``; the runner replaces it with its own note.
PAST_START_BY = "the run's deadline passed before this unit started"


@dataclass
class Unit:
    """One probe with one config on one target.

    ``start_by``: the latest wall-clock time (``time.time()``, so it holds on another machine
    with a synchronised clock) at which the unit may start; set by the runner when the run has
    a deadline, None otherwise.
    """

    target: Any
    probe: Probe[Any, Any]
    start_by: float | None = None

    @property
    def key(self) -> str:
        """Hash of the probe's name and config: the same unit has the same key in every run."""
        cfg = self.probe.config.model_dump_json()
        return hashlib.sha1(f"{self.probe.name}|{cfg}".encode()).hexdigest()[:12]

    @property
    def id(self) -> tuple[str, str, str]:
        """``(target id, probe name, key)``: what resuming matches on."""
        return (self.target.id, self.probe.name, self.key)


def _stamp(rec: Measurement, unit: Unit) -> Measurement:
    params = dict(rec.params)
    params["_unit"] = unit.key
    return rec.model_copy(update={"params": params})


def _status_record(
    unit: Unit, ctx: RunContext, status: str, message: str, started: float
) -> Measurement:
    return Measurement(
        run_id=ctx.run_id,
        model_id=unit.target.id,
        probe=unit.probe.name,
        probe_version=unit.probe.version,
        metric="probe_status",
        value=None,
        status=status,  # type: ignore[arg-type]
        error=message,
        params={"config": json.dumps(unit.probe.config.model_dump(), sort_keys=True)},
        started_at=utcnow(),
        duration_s=time.perf_counter() - started,
    )


def not_started_record(unit: Unit, run_id: str, message: str) -> Measurement:
    """A ``skipped`` record for a unit that never started, without a unit key (resume runs it)."""
    return Measurement(
        run_id=run_id,
        model_id=unit.target.id,
        probe=unit.probe.name,
        probe_version=unit.probe.version,
        metric="probe_status",
        status="skipped",
        error=message,
        started_at=utcnow(),
    )


def unit_error_record(unit: Unit, ctx: RunContext, message: str) -> Measurement:
    """The error record of a unit that could not run here (its node lacks its data), stamped
    with the host and device like every unit's records."""
    return _where(unit, ctx, [_status_record(unit, ctx, "error", message, time.perf_counter())])[0]


def lost_unit_record(unit: Unit, ctx: RunContext, message: str) -> Measurement:
    """The error record of a unit whose worker was lost (killed, node gone) on every try."""
    return _status_record(unit, ctx, "error", message, time.perf_counter())


def _device_of(unit: Unit, ctx: RunContext, records: list[Measurement]) -> str:
    """Where the unit computed: ``cpu``, or the probe's device with the GPU name it reported."""
    if not getattr(unit.probe, "uses_device", False):
        return "cpu"
    device = str(getattr(unit.probe.config, "device", None) or ctx.device or "cpu")
    for rec in records:  # a probe that resolved "auto" or read the GPU's name says so
        device = str(rec.params.get("device") or device)
        name = rec.params.get("device_name")
        if name and device.startswith("cuda"):
            return f"{device} ({name})"
    return device


def _where(unit: Unit, ctx: RunContext, records: list[Measurement]) -> list[Measurement]:
    """Stamp the host and device onto records (on a cluster, the worker's own)."""
    host, device = socket.gethostname(), _device_of(unit, ctx, records)
    return [
        r.model_copy(update={"host": r.host or host, "device": r.device or device}) for r in records
    ]


def run_unit(unit: Unit, ctx: RunContext) -> list[Measurement]:
    """Run one unit; a skip or failure becomes one status record instead of an exception.

    Every record names the host and device the unit ran on. Past its ``start_by`` the unit
    does not start: it gives back one not-started record (``is_not_started``).
    """
    if unit.start_by is not None and time.time() > unit.start_by:
        return [not_started_record(unit, ctx.run_id, PAST_START_BY)]
    return _where(unit, ctx, _run_unit(unit, ctx))


def is_not_started(records: list[Measurement]) -> bool:
    """True for what ``run_unit`` gives back for a unit refused by its ``start_by``."""
    return (
        len(records) == 1
        and records[0].status == "skipped"
        and records[0].error == PAST_START_BY
        and "_unit" not in records[0].params
    )


def _run_unit(unit: Unit, ctx: RunContext) -> list[Measurement]:
    started = time.perf_counter()
    try:
        records = list(unit.probe.run(unit.target, ctx))
    except ProbeSkipped as exc:
        return [_status_record(unit, ctx, "skipped", str(exc), started)]
    except (KeyboardInterrupt, SystemExit):
        raise
    except LLMSelectError as exc:
        return [_status_record(unit, ctx, "error", str(exc), started)]
    except Exception as exc:  # noqa: BLE001 - one bad model must not stop the run
        tail = "".join(traceback.format_exception(exc)[-3:]).strip()
        log.warning("probe %s failed on %s: %s", unit.probe.name, unit.target.id, exc)
        return [_status_record(unit, ctx, "error", tail[-2000:], started)]
    return [_stamp(r, unit) for r in records]


def plan(targets: Iterable[Any], probes: Iterable[Probe[Any, Any]]) -> list[Unit]:
    """The cross product, target-major (all probes of one model run together)."""
    probe_list = list(probes)
    return [Unit(target=t, probe=p) for t in targets for p in probe_list]
