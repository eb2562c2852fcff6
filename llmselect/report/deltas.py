"""Deltas against the previous report: which changes are findings, which are noise or method.

Each value is compared by one of three rules:

* ``spread``: both runs kept their repeats (``samples``). The change is flagged only when it lies
  outside the run-to-run spread of *both* runs: the two runs' [min, max] ranges do not overlap
  (every repeat of one run is faster than every repeat of the other). Timings use this rule.
* ``exact``: counted or computed quantities (token counts and everything derived from them,
  estimates from formulas): any change is flagged, since it means a tokenizer, loader, formula or
  input changed.
* ``threshold``: a measured value without repeats (a peak memory): flagged when the relative
  change exceeds the stated threshold.

Values are not compared when how they were measured changed: another probe version, another
setting that decides the number (threads, device, dtype, isolation, clock), another machine,
(for measured values that are not exact) other library versions, or a machine that was loaded
differently: timings record the CPU time their process got per wall second (``cpu_share``); when
either run got less than ``STARVED_SHARE`` of a CPU, or the two runs' shares differ by more than
``LOAD_TOLERANCE``, the runs measured the machine's contention, not the code. Those are listed
as method changes, with their count, and never as regressions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from llmselect.report.model import (
    DEFAULT_THRESHOLD,
    Delta,
    DeltaRule,
    DeltaSummary,
    MethodChange,
    Report,
    ValueRow,
)

# Params that decide a measured number: a different value means a different method.
METHOD_PARAMS = (
    "threads", "cpu_threads", "device", "device_name", "dtype", "isolation", "clock",
    "prefill_logits", "backend", "mode",
)  # fmt: skip
LOAD_TOLERANCE = 1.15  # cpu_share ratio between runs beyond which the machine's load differed
STARVED_SHARE = 0.8  # CPU-s per wall-s below which a timing measured a busy machine
# Run facts that name the machine.
MACHINE_FIELDS = ("platform", "cpu_count", "device", "device_name")


def rule_of(row: ValueRow) -> DeltaRule:
    """How a change of this value is judged (see the module docstring)."""
    if row.spread is not None:
        return "spread"
    if row.kind == "estimated" or "counting" in row.params:
        return "exact"
    return "threshold"


def _label(key: tuple[str, ...]) -> str:
    return "/".join(p for p in key if p)


def _previous(raw: Report | dict[str, Any]) -> tuple[dict, dict[str, Any], str | None]:
    data = raw.model_dump() if isinstance(raw, Report) else raw
    values = {}
    for item in data.get("values", []):
        try:
            row = ValueRow.model_validate(item)
        except ValidationError:
            continue
        values[row.key] = row
    return values, data.get("run") or {}, data.get("date")


def _machine_change(before: dict[str, Any], now: dict[str, Any]) -> str | None:
    diffs = [
        f"{f} {before.get(f)} → {now.get(f)}"
        for f in MACHINE_FIELDS
        if before.get(f) is not None and now.get(f) is not None and before.get(f) != now.get(f)
    ]
    return "; ".join(diffs) or None


def _library_change(before: dict[str, Any], now: dict[str, Any]) -> str | None:
    old, new = before.get("versions") or {}, now.get("versions") or {}
    diffs = [
        f"{d} {old[d]} → {new[d]}"
        for d in sorted(set(old) & set(new))
        if d != "llmselect" and old[d] and new[d] and old[d] != new[d]
    ]
    return "; ".join(diffs) or None


def _method_change(old: ValueRow, row: ValueRow) -> tuple[str, str] | None:
    """(what, detail) when the value was measured another way, else None."""
    if old.probe_version != row.probe_version:
        return "probe version", f"{row.probe} {old.probe_version} → {row.probe_version}"
    if old.unit != row.unit:
        return "unit", f"{row.metric} {old.unit} → {row.unit}"
    diffs = [
        f"{p} {old.params[p]} → {row.params[p]}"
        for p in METHOD_PARAMS
        if p in old.params and p in row.params and old.params[p] != row.params[p]
    ]
    if diffs:
        return "method params", f"{row.probe}: " + ", ".join(diffs)
    a, b = old.params.get("cpu_share"), row.params.get("cpu_share")
    if isinstance(a, int | float) and isinstance(b, int | float):
        if min(a, b) < STARVED_SHARE:
            return "machine load", (
                f"{row.probe}: the timed process got less than {STARVED_SHARE:g} CPU-s per "
                "wall-s in a run (the machine was busy with other work)"
            )
        if max(a, b) / min(a, b) > LOAD_TOLERANCE:
            return "machine load", (
                f"{row.probe}: the timed process got a different share of the CPU in the two "
                f"runs (CPU-s per wall-s differ by more than {LOAD_TOLERANCE - 1:.0%})"
            )
    return None


def _judge(old: ValueRow, row: ValueRow, threshold: float) -> tuple[bool, DeltaRule]:
    """(flagged, rule) of a changed value."""
    rule = rule_of(row) if rule_of(row) != "spread" or old.spread else "threshold"
    if rule == "spread":
        (plo, phi), (clo, chi) = old.spread, row.spread  # type: ignore[misc]
        return chi < plo or clo > phi, rule
    if rule == "exact":
        return True, rule
    if old.value == 0:
        return True, rule
    return abs(row.value - old.value) / abs(old.value) > threshold, rule


def compute_deltas(
    current: Sequence[ValueRow],
    previous: Report | dict[str, Any] | None,
    run: dict[str, Any] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> DeltaSummary | None:
    """Each value against the previous report's (``run`` is this run's ``RunInfo`` dict)."""
    if previous is None:
        return None
    before, prev_run, prev_date = _previous(previous)
    run = run or {}
    summary = DeltaSummary(
        previous_date=prev_date, previous_run_id=prev_run.get("run_id"), threshold=threshold
    )
    machine = _machine_change(prev_run, run)
    library = _library_change(prev_run, run)
    method_counts: dict[tuple[str, str], int] = {}
    now_keys = set()
    for row in current:
        now_keys.add(row.key)
        old = before.get(row.key)
        if old is None:
            summary.new.append(_label(row.key))
            continue
        if old.n is not None and row.n is not None and old.n != row.n:
            summary.incomparable.append(_label(row.key))
            continue
        change = _method_change(old, row)
        if change is None and row.kind == "measured" and rule_of(row) != "exact":
            if machine:
                change = ("machine", machine)
            elif library:
                change = ("library", library)
        if change is not None:
            method_counts[change] = method_counts.get(change, 0) + 1
            continue
        summary.compared += 1
        if old.value == row.value:
            summary.unchanged += 1
            continue
        flagged, rule = _judge(old, row, threshold)
        summary.flagged += int(flagged)
        summary.within_spread += int(rule == "spread" and not flagged)
        summary.changes.append(
            Delta(
                model_id=row.model_id,
                probe=row.probe,
                metric=row.metric,
                subset=row.subset,
                unit=row.unit,
                previous=old.value,
                current=row.value,
                rel_change=(row.value - old.value) / abs(old.value) if old.value else None,
                flagged=flagged,
                rule=rule,
                previous_range=list(old.spread) if old.spread else None,
                current_range=list(row.spread) if row.spread else None,
            )
        )
    summary.method_changes = [
        MethodChange(what=what, detail=detail, values=count)
        for (what, detail), count in sorted(method_counts.items())
    ]
    summary.missing = sorted(_label(k) for k in set(before) - now_keys)
    summary.new.sort()
    summary.incomparable.sort()
    summary.changes.sort(
        key=lambda d: (not d.flagged, -abs(d.rel_change or math.inf), d.probe, d.model_id, d.metric)
    )
    return summary
