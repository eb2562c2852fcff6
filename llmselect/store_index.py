"""An index of the newest ``ok`` value per key in the result store, kept next to the runs, and
of the most informative score per key and setting.

``store.load_records`` validates every stored record; with a hundred nightly runs that is
seconds and hundreds of MiB for a reader that needs a few hundred numbers (the recommender).
This index keeps, per key (``records.latest_key``, the store's: model, probe and version,
metric, subset and tokenizer files), the newest ok value with what a reader needs to judge it
(unit, run, time, n, the standard error and, where it is not estimable, why and the exact
interval, a score's shots, chat template and split, the tokenizer fingerprint, the device, a
timing's engine), in
``<results>/latest-index.json``. For a value with a sampling error (a score) it also keeps, per
key and setting (``records.best_key``: shots, split, chat template), the one that holds the most
evidence (``records.more_informative``: a known sampling error, then the most documents, then the
newest), as ``store.most_informative`` does over records: the recommender weighs those, so a quick
``eval --limit 2`` after a full run leaves the full one counted. Such a value is written under
``best`` only where it is not the key's newest value, which it mostly is.

It is derived data, never edited by hand: each run folder is remembered with the size and
mtime of its ``measurements.jsonl``, and only new or grown runs are read again (a run that
vanished or shrank, or an index of another format, rebuilds it). A run that ends through the
runner is folded in at once by ``index_run``, which reads that run's records only, so the first
reader after a nightly reads no run at all; runs copied in by hand are read by the next reader.
"Newest" is the store's order, ``records.latest_order``: the run id's time, then the start
instant parsed as the store parses it (``Z`` or ``+00:00``, any fractional digits), never the
text; records are read as plain JSON, and a line that is not a record is skipped, as the store's
readers skip a torn last line.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from llmselect.config import results_dir
from llmselect.records import (
    FINGERPRINT_PARAM,
    SETTING_PARAMS,
    BestKey,
    LatestKey,
    Measurement,
    best_key,
    informative_order,
    instant,
    is_sampled,
    latest_key,
    latest_order,
)
from llmselect.store import MEASUREMENTS, iter_run_dirs

INDEX_FILE = "latest-index.json"
# 10: runs made in one second ordered by start instant, not id suffix; 9: keeps a timing's
# engine; 8: reads n as validation does (a count written 1346.0 is 1346, as
# in the records); 7: keeps the most informative score per key and setting (``best``); 6: keeps
# a score's setting (shots, chat template, split); 5: keeps the standard error and, where it is
# not estimable, the note and exact interval; 4: keeps the device; 3: values ordered by start
# instant (2 compared the text)
FORMAT = 10
# params a reader needs to accept, refuse or weigh a value; the fingerprint is also part of the
# key; the device says where a timing was measured (a CPU timing is no GPU's); a score without a
# standard error says why, with its exact 95 % interval where it sits at 0 or 100 %; a score's
# shots, split and chat template are the setting it is compared in (``best_key`` reads them); a
# timing's engine is part of its setting (its dtype, context and batch are in the subset)
KEPT_PARAMS = (
    FINGERPRINT_PARAM, "device", "device_name", "stderr_note", "ci95_low_pct", "ci95_high_pct",
    *SETTING_PARAMS, "engine",
)  # fmt: skip
Key = LatestKey
_COUNT = TypeAdapter(Measurement.model_fields["n"].annotation)  # n as validated
DEFAULT_PROBE_VERSION = Measurement.model_fields["probe_version"].default  # as validated


@dataclass(frozen=True)
class LatestValue:
    """An ok value of one key, as the index keeps it: the key's newest, or the most informative
    of its setting."""

    model_id: str
    probe: str
    probe_version: int
    metric: str
    subset: str
    value: float
    unit: str
    run_id: str
    started_at: str
    n: int | None = None
    stderr: float | None = None
    params: dict[str, Any] | None = None

    @property
    def key(self) -> Key:
        return latest_key(self)

    @cached_property
    def order(self) -> tuple[str, datetime, str]:
        return latest_order(self)

    @cached_property
    def informative(self) -> tuple[tuple[bool, int], tuple[str, datetime, str]]:
        """``records.informative_order``, computed once per value."""
        return informative_order(self)


@dataclass
class Values:
    """What the index holds: the newest value per key and, for values with a sampling error,
    the most informative per key and setting."""

    latest: dict[Key, LatestValue]
    best: dict[BestKey, LatestValue]

    def add(self, value: LatestValue) -> None:
        old = self.latest.get(value.key)
        if old is None or value.order >= old.order:
            self.latest[value.key] = value
        if is_sampled(value):
            key = best_key(value)
            was = self.best.get(key)
            if was is None or value.informative >= was.informative:
                self.best[key] = value


def _fingerprint(run_dir: Path) -> list[int]:
    st = (run_dir / MEASUREMENTS).stat()
    return [st.st_size, st.st_mtime_ns]


def _finite(value: Any) -> float:
    number = float(value)
    if not math.isfinite(number):  # store.latest's rule: a NaN or inf is never current
        raise ValueError(value)
    return number


def _count(value: Any) -> int | None:
    """A count as validation reads it (``1346.0`` is 1346: the documents decide which score
    counts, so the index and the records must agree); one it would refuse makes the line
    foreign."""
    return _COUNT.validate_python(value)  # its ValidationError is a ValueError


def _stderr(value: Any) -> float | None:
    """A standard error as stored; a non-finite one is unknown (None), never a number."""
    if value is None:
        return None
    number = float(value)  # a non-number makes the line foreign, as validation would
    return number if math.isfinite(number) else None


def _started_at(value: Any) -> str:
    """The start time as stored; one the store would refuse makes the line foreign."""
    instant(value)  # raises ValueError as validation would
    return "" if value is None else str(value)


def _from_line(line: str) -> LatestValue | None:
    try:
        rec = json.loads(line)
        if rec.get("status") != "ok" or rec.get("value") is None:
            return None
        params = {k: rec["params"][k] for k in KEPT_PARAMS if k in (rec.get("params") or {})}
        return LatestValue(
            model_id=str(rec["model_id"]),
            probe=str(rec["probe"]),
            probe_version=int(rec.get("probe_version", DEFAULT_PROBE_VERSION)),
            metric=str(rec["metric"]),
            subset=str(rec.get("subset") or ""),
            value=_finite(rec["value"]),
            unit=str(rec.get("unit") or ""),
            run_id=str(rec["run_id"]),
            started_at=_started_at(rec.get("started_at")),
            n=_count(rec.get("n")),
            stderr=_stderr(rec.get("stderr")),
            params=params or None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # a torn or foreign line


def _read_run(run_dir: Path, values: Values) -> None:
    with (run_dir / MEASUREMENTS).open("rb") as fh:  # any bytes: a bad line is skipped
        for raw in fh:
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                continue
            value = _from_line(line) if line.strip() else None
            if value is not None:
                values.add(value)


def _load_index(path: Path) -> tuple[dict[str, list[int]], Values] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT:
            return None
        latest = {v.key: v for v in (LatestValue(**d) for d in doc["values"])}
        best = {best_key(v): v for v in (LatestValue(**d) for d in doc["best"])}
        for value in latest.values():  # not written: the most informative is the newest
            if is_sampled(value):
                best.setdefault(best_key(value), value)
        return dict(doc["runs"]), Values(latest, best)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _save_index(path: Path, runs: dict[str, list[int]], values: Values) -> bool:
    best = [v for k, v in values.best.items() if values.latest.get(k[0]) != v]
    doc = {
        "format": FORMAT,
        "runs": runs,
        "values": [asdict(v) for v in values.latest.values()],
        "best": [asdict(v) for v in best],
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # a read-only store still answers, from a fresh scan
        tmp.unlink(missing_ok=True)
        return False
    return True


def index_run(run_dir: Path) -> bool:
    """Fold one run's records into the index beside it (``<run_dir>/../latest-index.json``);
    True when the index now covers the run. Reads only that run; the other runs' fingerprints
    are not checked here (the next reader does that). Where no index exists yet, or the run
    shrank since it was indexed (rewritten), nothing is written and the next reader builds or
    rebuilds the index. Two writers at once can lose one update: the run's fingerprint then
    does not match and the next reader reads it again."""
    run_dir = Path(run_dir)
    path = run_dir.parent / INDEX_FILE
    loaded = _load_index(path) if path.is_file() else None
    if loaded is None or not (run_dir / MEASUREMENTS).is_file():
        return False
    runs, values = loaded
    fingerprint = _fingerprint(run_dir)
    old = runs.get(run_dir.name)
    if old == fingerprint:
        return True
    if old is not None and fingerprint[0] < old[0]:
        return False
    _read_run(run_dir, values)
    runs[run_dir.name] = fingerprint
    return _save_index(path, runs, values)


def read_index(root: Path | None = None) -> Values:
    """The index over every run under ``root`` (default: the store), brought up to date."""
    base = Path(root) if root else results_dir()
    run_dirs = {p.name: p for p in iter_run_dirs(base)}
    if not run_dirs:
        return Values({}, {})
    path = base / INDEX_FILE
    fingerprints = {name: _fingerprint(p) for name, p in run_dirs.items()}
    loaded = _load_index(path)
    runs, values = loaded if loaded is not None else ({}, Values({}, {}))
    shrunk = any(name in runs and fingerprints[name][0] < runs[name][0] for name in run_dirs)
    if shrunk or set(runs) - set(run_dirs):  # a run was rewritten or removed: start over
        runs, values = {}, Values({}, {})
    changed = [name for name in sorted(run_dirs) if runs.get(name) != fingerprints[name]]
    for name in changed:
        _read_run(run_dirs[name], values)
        runs[name] = fingerprints[name]
    if changed or loaded is None:
        _save_index(path, runs, values)
    return values


def latest_values(root: Path | None = None) -> list[LatestValue]:
    """The newest ok value per key over every run under ``root`` (default: the store)."""
    return list(read_index(root).latest.values())
