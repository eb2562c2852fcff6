"""JSONL result store: ``<results>/<run_id>/measurements.jsonl`` plus ``run.json``.

Append-and-flush per record, so an interrupted run keeps every finished result; shards from
other machines merge by copying run folders side by side.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from llmselect.config import results_dir
from llmselect.errors import LLMSelectError
from llmselect.records import Measurement, RunInfo

if TYPE_CHECKING:
    import pandas as pd

MEASUREMENTS = "measurements.jsonl"
RUN_INFO = "run.json"
KEY_COLUMNS = ["model_id", "probe", "probe_version", "metric", "subset"]


class RunWriter:
    """Appends one run's records; each write is flushed and fsync'd."""

    def __init__(self, run_info: RunInfo, root: Path | None = None) -> None:
        self.root = Path(root) if root else results_dir()
        self.run_info = run_info
        self.dir = self.root / run_info.run_id
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LLMSelectError(f"cannot create results folder {self.dir}: {exc}") from exc
        self.path = self.dir / MEASUREMENTS
        self.write_run_info()

    def write_run_info(self) -> None:
        """(Re)write ``run.json``; called at start and at finish."""
        (self.dir / RUN_INFO).write_text(self.run_info.model_dump_json(indent=2), encoding="utf-8")

    def append(self, records: Iterable[Measurement]) -> int:
        """Append records; returns how many were written."""
        count = 0
        with self.path.open("a", encoding="utf-8") as fh:
            for rec in records:
                fh.write(rec.model_dump_json() + "\n")
                count += 1
            fh.flush()
            os.fsync(fh.fileno())
        return count

    def finish(self) -> None:
        """Stamp the finish time into ``run.json``."""
        from llmselect.records import utcnow

        self.run_info = self.run_info.model_copy(update={"finished_at": utcnow()})
        self.write_run_info()


def iter_run_dirs(root: Path | None = None) -> list[Path]:
    """Run folders, oldest first (run ids sort by time)."""
    base = Path(root) if root else results_dir()
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if (p / MEASUREMENTS).is_file())


def iter_records(run_dir: Path) -> Iterator[Measurement]:
    """Records of one run; a torn last line (killed mid-write) is ignored."""
    with (run_dir / MEASUREMENTS).open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                yield Measurement.model_validate_json(line)
            except ValueError:
                continue


def read_run_info(run_dir: Path) -> RunInfo | None:
    """The run's ``run.json``, or None if missing/corrupt."""
    path = run_dir / RUN_INFO
    try:
        return RunInfo.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load_records(
    root: Path | None = None, run_ids: Iterable[str] | None = None
) -> list[Measurement]:
    """All records of the selected runs (all runs when ``run_ids`` is None)."""
    wanted = set(run_ids) if run_ids is not None else None
    out: list[Measurement] = []
    for run_dir in iter_run_dirs(root):
        if wanted is None or run_dir.name in wanted:
            out.extend(iter_records(run_dir))
    return out


def records_frame(records: Iterable[Measurement]) -> pd.DataFrame:
    """Records as a flat DataFrame (params stay a dict column)."""
    import pandas as pd

    rows = [json.loads(r.model_dump_json()) for r in records]
    columns = list(Measurement.model_fields)
    return pd.DataFrame(rows, columns=columns)


def latest_ok(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the newest ``ok`` row per (model, probe, version, metric, subset)."""
    if frame.empty:
        return frame
    ok = frame[frame["status"] == "ok"].sort_values(["run_id", "started_at"])
    return ok.drop_duplicates(KEY_COLUMNS, keep="last").reset_index(drop=True)


def load(
    root: Path | None = None, latest_only: bool = True, run_ids: Iterable[str] | None = None
) -> pd.DataFrame:
    """The store as a DataFrame; with ``latest_only`` the newest ok row per key."""
    frame = records_frame(load_records(root, run_ids))
    return latest_ok(frame) if latest_only else frame


def completed_keys(run_dir: Path) -> set[tuple[str, str, str]]:
    """(model_id, probe, params-hash) units already finished in a run, for resuming."""
    done: set[tuple[str, str, str]] = set()
    if not (run_dir / MEASUREMENTS).is_file():
        return done
    for rec in iter_records(run_dir):
        unit = rec.params.get("_unit")
        if isinstance(unit, str):
            done.add((rec.model_id, rec.probe, unit))
    return done
