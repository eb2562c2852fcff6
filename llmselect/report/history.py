"""Earlier runs' timings from the result store: what a timing's between-run noise is measured
from (``deltas.noise_range``).

A run's repeats hold the noise within it (between its passes, and between its processes where
the probe uses several); they cannot hold what moves from one run to the next on the same
machine. The runs the store already holds for this machine measured that.
"""

from __future__ import annotations

from pathlib import Path

from llmselect.records import RunInfo
from llmselect.report.model import NOISE_RUNS, HistoryRun


def earlier_runs(
    current: RunInfo | None, root: Path | None = None, limit: int = NOISE_RUNS
) -> list[HistoryRun]:
    """The newest ``limit`` runs stored before ``current`` on the same kind of machine (platform
    and CPU count), each with its ok values that kept repeats, oldest first."""
    from llmselect.report.build import value_row
    from llmselect.store import iter_records, iter_run_dirs, latest, read_run_info

    if current is None:
        return []
    picked: list[tuple[Path, RunInfo]] = []
    for run_dir in reversed(iter_run_dirs(root)):
        if len(picked) >= limit:
            break
        if run_dir.name >= current.run_id:  # run ids sort by start time
            continue
        info = read_run_info(run_dir)
        if info is None or (info.platform, info.cpu_count) != (current.platform, current.cpu_count):
            continue
        picked.append((run_dir, info))
    out = []
    for run_dir, info in reversed(picked):
        timed = [r for r in iter_records(run_dir) if r.samples and len(r.samples) > 1]
        values = [value_row(r) for r in latest(timed)]
        if values:
            out.append(HistoryRun(run=info.model_dump(mode="json"), values=values))
    return out
