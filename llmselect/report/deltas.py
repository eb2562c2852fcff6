"""Deltas against the previous report: which changes are findings, which are noise or method.

Each value is compared by one of four rules:

* ``spread``: both runs kept their repeats (``samples``), and at least one of them measured a
  spread (a run timed in one pass is a point). The change is flagged only when it lies
  outside the measured noise: this run's [min, max] does not overlap the noise range, the
  [min, max] of every repeat of the previous run and of up to ``NOISE_RUNS`` earlier comparable
  runs (``history``: same machine, method, probe version and library versions) on this machine.
  Timings use this rule. A run's repeats come from several fresh processes where the probe runs
  them so (``tokenizer_throughput``), so a run's own spread already holds the between-process
  part of the noise; earlier runs add the between-run part (machine state, frequency, load that
  ``cpu_share`` does not see). With fewer than ``MIN_NOISE_RUNS`` comparable runs the noise is
  the previous run's spread alone, and the summary says for how many timings that was so.
* ``exact``: counted or computed quantities (token counts and everything derived from them,
  estimates from formulas): any change is flagged, since it means a tokenizer, loader, formula or
  input changed.
* ``stderr``: a value estimated from a sample (an lm-eval score over ``n`` documents, a zh/en
  aggregate), known by the standard error it carries, or the ``stderr_note`` saying why it has
  none, in either run. The change is flagged only when it lies outside the noise the standard
  errors measure: |current - previous| > ``Z95`` · sqrt(se_previous² + se_current²) (1.96:
  two-sided 95 %, normal approximation). The runs count as independent samples; two runs on
  the same documents are positively correlated, so the bound is wide rather than narrow: a
  flagged change lies outside the noise, while a real change below the bound can stay
  unflagged. Where either run has no standard error (lm-eval's was 0 because every document
  scored alike, a claim of certainty from a few documents, stored as not estimable or, in an
  older report, as 0; or the run has none at all), the noise is not known: the change is not
  flagged, not judged, and listed with the reason (``Delta.not_judged``, counted in
  ``DeltaSummary.not_judged``), never judged by a threshold in its place.
* ``threshold``: a measured value without repeats and without a sampling error (a peak
  memory): flagged when the relative change exceeds the stated threshold; a signed error in
  percent (an estimate's error against a measurement) by the change of the ratio it stands for
  (1 + error/100).

Values are not compared when how they were measured changed: another probe version, another setting
that decides the number (threads, device, dtype, isolation, clock, quick or precise timing),
another machine, (for measured values that are not exact) other library versions, or a machine that
was loaded differently: timings record the CPU time their process got per wall second
(``cpu_share``); when the two runs' shares differ by more than ``LOAD_TOLERANCE``, the runs
measured the machine's contention, not the code. Those are listed as method changes, with their
count, and never as regressions. Two runs that got the same share of a busy machine are compared:
that load is part of the noise their repeats (and the earlier runs') measured, so a busy machine
widens the noise instead of setting the timings aside; the summary counts the timings compared and
set aside.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import ValidationError

from llmselect.report.model import (
    DEFAULT_THRESHOLD,
    MIN_NOISE_RUNS,
    NOISE_RUNS,
    STDERR_NOTE,
    Z95,
    Delta,
    DeltaRule,
    DeltaSummary,
    HistoryRun,
    MethodChange,
    Report,
    ValueRow,
)

# Params that decide a measured number: a different value means a different method.
METHOD_PARAMS = (
    "threads", "cpu_threads", "device", "device_name", "dtype", "isolation", "clock",
    "prefill_logits", "backend", "mode", "timing",
)  # fmt: skip
# A method param's value where a record predates it (timings before "quick" were all precise).
METHOD_DEFAULTS: dict[str, str] = {"timing": "precise"}
LOAD_TOLERANCE = 1.15  # cpu_share ratio between runs beyond which the machine's load differed
# Run facts that name the machine.
MACHINE_FIELDS = ("platform", "cpu_count", "device", "device_name")
# What a delta repeats from its value row: the number it is (``match_key``) and its unit. The two
# schemas share no other field (a test keeps it so).
DELTA_ROW_FIELDS = ("model_id", "probe", "metric", "subset", "unit")


def _passes(row: ValueRow) -> tuple[float, float] | None:
    """[min, max] of a value's timed passes, one pass included (a single point)."""
    return (min(row.samples), max(row.samples)) if row.samples else None


def _timed(old: ValueRow, row: ValueRow) -> bool:
    """Both runs timed the value in passes and at least one of them measured a spread: the
    change is judged against the measured noise (a run of one pass is a point within it)."""
    return bool(old.samples and row.samples and (old.spread or row.spread))


def _sampled(row: ValueRow) -> bool:
    """A value estimated from a sample, whose noise is its standard error: it carries one or
    says why it has none (``n`` alone does not tell: token counts and timings carry it too)."""
    return row.stderr is not None or STDERR_NOTE in row.params


def rule_of(row: ValueRow) -> DeltaRule:
    """How a change of this value is judged (see the module docstring)."""
    if row.spread is not None:
        return "spread"
    if row.kind == "estimated" or "counting" in row.params:
        return "exact"
    return "stderr" if _sampled(row) else "threshold"


class Verdict(NamedTuple):
    """How a changed value was judged: flagged, by which rule, and for the stderr rule the
    bound its change had to exceed or why it was not judged."""

    flagged: bool
    rule: DeltaRule
    bound: float | None = None
    not_judged: str | None = None


def _measured_se(row: ValueRow) -> float | None:
    """The value's standard error where it measured one (a 0 measured none: see the rule)."""
    return row.stderr if row.stderr is not None and row.stderr > 0 else None


def _no_noise(row: ValueRow, run: str) -> str:
    """Why ``run``'s value has no measured noise."""
    note = row.params.get(STDERR_NOTE)
    if note:
        return f"{run}: {note}"
    if row.stderr is not None:
        return (
            f"{run}: a standard error of {row.stderr:g} (every document scored alike) "
            "measures no noise"
        )
    return f"{run}: no standard error recorded"


def by_stderr(old: ValueRow, row: ValueRow) -> Verdict:
    """The ``stderr`` rule: flagged when |Δ| > Z95 · sqrt(se_old² + se_new²); not judged (not
    flagged, with the reason) where either run's standard error is not known."""
    se_old, se_new = _measured_se(old), _measured_se(row)
    if se_old is None or se_new is None:
        why = [
            _no_noise(r, run)
            for r, se, run in ((old, se_old, "previous"), (row, se_new, "current"))
            if se is None
        ]
        return Verdict(False, "stderr", None, "; ".join(why))
    bound = Z95 * math.hypot(se_old, se_new)
    return Verdict(abs(row.value - old.value) > bound, "stderr", bound)


def _label(row: ValueRow) -> str:
    parts = [row.model_id, row.probe, row.metric, row.subset]
    if row.fingerprint:
        parts.append(f"tokenizer {row.fingerprint}")
    return "/".join(p for p in parts if p)


def _previous(raw: Report | dict[str, Any]) -> tuple[list[ValueRow], dict[str, Any], str | None]:
    data = raw.model_dump() if isinstance(raw, Report) else raw
    values = []
    for item in data.get("values", []):
        try:
            values.append(ValueRow.model_validate(item))
        except ValidationError:
            continue
    return values, data.get("run") or {}, data.get("date")


def pair_rows(
    before: Sequence[ValueRow], now: Sequence[ValueRow]
) -> tuple[list[tuple[ValueRow, ValueRow]], list[ValueRow], list[ValueRow]]:
    """(pairs, new, missing): values of two runs paired by model, probe, metric and subset.

    Where a run holds one value per such key, the two pair even when the tokenizer fingerprint
    or probe version changed (the change is then judged, not lost). Where a run holds several
    (two tokenizer fingerprints of one model), they pair by fingerprint and probe version, and
    what finds no partner is new or missing.
    """
    groups: dict[tuple[str, ...], tuple[list[ValueRow], list[ValueRow]]] = {}
    for row in before:
        groups.setdefault(row.match_key, ([], []))[0].append(row)
    for row in now:
        groups.setdefault(row.match_key, ([], []))[1].append(row)
    pairs, new, missing = [], [], []
    for old_rows, new_rows in groups.values():
        if len(old_rows) == 1 and len(new_rows) == 1:
            pairs.append((old_rows[0], new_rows[0]))
            continue
        olds = {(r.fingerprint, r.probe_version): r for r in old_rows}
        for row in new_rows:
            old = olds.pop((row.fingerprint, row.probe_version), None)
            if old is None:
                new.append(row)
            else:
                pairs.append((old, row))
        missing += olds.values()
    return pairs, new, missing


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
    a_params = {**METHOD_DEFAULTS, **old.params}
    b_params = {**METHOD_DEFAULTS, **row.params}
    diffs = [
        f"{p} {a_params[p]} → {b_params[p]}"
        for p in METHOD_PARAMS
        if p in a_params and p in b_params and a_params[p] != b_params[p]
    ]
    if diffs:
        return "method params", f"{row.probe}: " + ", ".join(diffs)
    a, b = old.params.get("cpu_share"), row.params.get("cpu_share")
    shares = (a, b) if isinstance(a, int | float) and isinstance(b, int | float) else None
    if shares and (min(shares) <= 0 or max(shares) / min(shares) > LOAD_TOLERANCE):
        return "machine load", (
            f"{row.probe}: the timed process got a different share of the CPU in the two "
            f"runs (CPU-s per wall-s differ by more than {LOAD_TOLERANCE - 1:.0%})"
        )
    return None


def noise_range(
    row: ValueRow, old: ValueRow, earlier: Sequence[tuple[dict[str, Any], ValueRow]], run: dict
) -> tuple[tuple[float, float], int]:
    """([min, max] of every repeat of the comparable runs, how many runs): the previous run's
    ``old`` and the earlier runs' values measured like ``row`` on the same machine."""
    lo, hi = _passes(old)  # type: ignore[misc]
    runs = 1
    for info, past in earlier:
        if past.spread is None or past.n != row.n or _method_change(past, row) is not None:
            continue
        if _machine_change(info, run) or _library_change(info, run):
            continue
        lo, hi = min(lo, past.spread[0]), max(hi, past.spread[1])
        runs += 1
    return (lo, hi), runs


def _judge(
    old: ValueRow, row: ValueRow, threshold: float, noise: tuple[float, float] | None
) -> Verdict:
    """How a changed value is judged; ``noise`` is the range a timing must leave (None where
    the two runs' passes measured no spread: then the threshold applies)."""
    if noise is not None:
        (nlo, nhi), (clo, chi) = noise, _passes(row)  # type: ignore[misc]
        return Verdict(chi < nlo or clo > nhi, "spread")
    rule = rule_of(row) if rule_of(row) != "spread" else "threshold"
    if rule == "exact":
        return Verdict(True, rule)
    if rule == "stderr" or _sampled(old):
        return by_stderr(old, row)
    if row.unit == "%" and row.higher_is_better is None:
        # A signed error in percent (an estimate against a measurement): 2.8 % → 3.7 % is the
        # measurement moving by 0.9 %, so the threshold applies to the ratio it stands for.
        before, now = 1 + old.value / 100, 1 + row.value / 100
        return Verdict(before == 0 or abs(now - before) / abs(before) > threshold, rule)
    if old.value == 0:
        return Verdict(True, rule)
    return Verdict(abs(row.value - old.value) / abs(old.value) > threshold, rule)


def _stderr_fields(old: ValueRow, row: ValueRow, verdict: Verdict) -> dict[str, Any]:
    """What a change judged by its standard errors shows: both, and the bound or the reason."""
    if verdict.rule != "stderr":
        return {}
    return {
        "previous_stderr": old.stderr, "current_stderr": row.stderr,
        "noise_bound": verdict.bound, "not_judged": verdict.not_judged,
    }  # fmt: skip


def _earlier(
    history: Sequence[HistoryRun], skip: set[Any]
) -> dict[tuple[str, ...], list[tuple[dict[str, Any], ValueRow]]]:
    """Timed values of the newest ``NOISE_RUNS`` earlier runs (not ``skip``), by match key."""
    runs = [h for h in history if h.run.get("run_id") not in skip]
    runs.sort(key=lambda h: str(h.run.get("run_id") or ""))
    out: dict[tuple[str, ...], list[tuple[dict[str, Any], ValueRow]]] = {}
    for h in runs[-NOISE_RUNS:]:
        for v in h.values:
            if v.spread is not None:
                out.setdefault(v.match_key, []).append((h.run, v))
    return out


def _noise_note(timed: int, with_history: int, most: int) -> str:
    if not timed:
        return ""
    if with_history == timed:
        return (
            f"Every compared timing's noise comes from {MIN_NOISE_RUNS}-{most} comparable runs "
            "on this machine (their repeats, in fresh processes where the probe uses several)."
        )
    return (
        f"{timed - with_history} of {timed} compared timings had fewer than {MIN_NOISE_RUNS} "
        "comparable runs on this machine: their noise is the previous run's repeats alone "
        "(in fresh processes where the probe uses several); "
        f"{with_history} drew it from {MIN_NOISE_RUNS} runs or more (up to {most})."
    )


@dataclass
class _Baseline:
    """What every pair of one comparison is judged against: the previous run and the earlier
    runs' timings."""

    run: dict[str, Any]
    threshold: float
    machine: str | None  # how the machine changed since the previous run
    library: str | None  # how the library versions changed
    earlier: dict[tuple[str, ...], list[tuple[dict[str, Any], ValueRow]]]


# The summary's counts gathered pair by pair (``_Tally.counts``), each a ``DeltaSummary`` field.
TALLIED = ("timed_compared", "timed_set_aside", "timed_with_history", "within_stderr", "not_judged")


@dataclass
class _Tally:
    """Counts gathered pair by pair that the summary reports once all pairs are judged."""

    counts: Counter[str] = field(default_factory=Counter)
    most_runs: int = 0  # the most comparable runs one timing's noise came from
    method_counts: Counter[tuple[str, str]] = field(default_factory=Counter)


def _set_aside_reason(old: ValueRow, row: ValueRow, base: _Baseline) -> tuple[str, str] | None:
    """(what, detail) when the pair is not compared: the value, or (for a measured value that is
    not exact) the machine or the library versions it was measured with, changed."""
    change = _method_change(old, row)
    if change is None and row.kind == "measured" and rule_of(row) != "exact":
        if base.machine:
            return "machine", base.machine
        if base.library:
            return "library", base.library
    return change


def _timing_noise(
    old: ValueRow, row: ValueRow, base: _Baseline, tally: _Tally
) -> tuple[tuple[float, float] | None, int | None]:
    """(noise range, runs) of a compared timing, counted in ``tally``; (None, None) otherwise."""
    if not _timed(old, row):
        return None, None
    noise, runs = noise_range(row, old, base.earlier.get(row.match_key, []), base.run)
    tally.counts["timed_compared"] += 1
    tally.counts["timed_with_history"] += int(runs >= MIN_NOISE_RUNS)
    tally.most_runs = max(tally.most_runs, runs)
    return noise, runs


def _count_verdict(summary: DeltaSummary, tally: _Tally, verdict: Verdict) -> None:
    judged = verdict.not_judged is None
    summary.flagged += int(verdict.flagged)
    summary.within_spread += int(verdict.rule == "spread" and not verdict.flagged)
    tally.counts["within_stderr"] += int(
        verdict.rule == "stderr" and judged and not verdict.flagged
    )
    tally.counts["not_judged"] += int(not judged)


def _delta(
    old: ValueRow,
    row: ValueRow,
    verdict: Verdict,
    noise: tuple[float, float] | None,
    runs: int | None,
) -> Delta:
    return Delta(
        **{name: getattr(row, name) for name in DELTA_ROW_FIELDS},
        previous=old.value,
        current=row.value,
        rel_change=(row.value - old.value) / abs(old.value) if old.value else None,
        flagged=verdict.flagged,
        rule=verdict.rule,
        previous_range=list(old.spread) if old.spread else None,
        current_range=list(row.spread) if row.spread else None,
        noise_range=list(noise) if noise else None,
        noise_runs=runs,
        **_stderr_fields(old, row, verdict),
    )


def _compare_pair(
    old: ValueRow, row: ValueRow, base: _Baseline, summary: DeltaSummary, tally: _Tally
) -> None:
    """Judge one paired value into ``summary`` and ``tally``."""
    if old.n is not None and row.n is not None and old.n != row.n:
        summary.incomparable.append(_label(row))
        return
    change = _set_aside_reason(old, row, base)
    if change is not None:
        tally.method_counts[change] += 1
        tally.counts["timed_set_aside"] += int(_timed(old, row))
        return
    summary.compared += 1
    noise, runs = _timing_noise(old, row, base, tally)
    if old.value == row.value:
        summary.unchanged += 1
        return
    verdict = _judge(old, row, base.threshold, noise)
    _count_verdict(summary, tally, verdict)
    summary.changes.append(_delta(old, row, verdict, noise, runs))


def _close(summary: DeltaSummary, tally: _Tally) -> None:
    """Write the tally into ``summary`` and put its lists in their reading order."""
    summary.method_changes = [
        MethodChange(what=what, detail=detail, values=count)
        for (what, detail), count in sorted(tally.method_counts.items())
    ]
    for name in TALLIED:
        setattr(summary, name, tally.counts[name])
    summary.noise_note = _noise_note(
        tally.counts["timed_compared"], tally.counts["timed_with_history"], tally.most_runs
    )
    summary.incomparable.sort()
    summary.changes.sort(
        key=lambda d: (not d.flagged, -abs(d.rel_change or math.inf), d.probe, d.model_id, d.metric)
    )


def compute_deltas(
    current: Sequence[ValueRow],
    previous: Report | dict[str, Any] | None,
    run: dict[str, Any] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    history: Sequence[HistoryRun] = (),
) -> DeltaSummary | None:
    """Each value against the previous report's (``run`` is this run's ``RunInfo`` dict).

    ``history`` holds earlier runs' timings (any order, any machine; those not comparable are
    left out per value): a timing is flagged only outside the noise they and the previous run
    measured.
    """
    if previous is None:
        return None
    before, prev_run, prev_date = _previous(previous)
    run = run or {}
    base = _Baseline(
        run=run,
        threshold=threshold,
        machine=_machine_change(prev_run, run),
        library=_library_change(prev_run, run),
        earlier=_earlier(history, {prev_run.get("run_id"), run.get("run_id"), None}),
    )
    summary = DeltaSummary(
        previous_date=prev_date, previous_run_id=prev_run.get("run_id"), threshold=threshold
    )
    tally = _Tally()
    pairs, new, missing = pair_rows(before, current)
    summary.new = sorted(_label(r) for r in new)
    summary.missing = sorted(_label(r) for r in missing)
    for old, row in pairs:
        _compare_pair(old, row, base, summary, tally)
    _close(summary, tally)
    return summary
