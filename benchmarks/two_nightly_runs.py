#!/usr/bin/env python3
"""Two consecutive nightly runs with no code change between them: how many deltas are flagged.

Runs ``llmselect run --suite nightly`` twice into one result store, reports the first run, then
reports the second against the first (``llmselect report --previous``), and prints what the
second report's deltas found: values compared, timings compared and set aside (a timing is set
aside only when how it was measured changed, e.g. the machine's load moved the CPU share its
process got), flagged values by probe, and each run's wall and CPU time. With no code change a
flag is noise the model did not account for, so the expected count of flagged timings is zero;
token counts and estimates cannot move without a code or data change.

The runs' store is a fresh folder unless ``--results`` names one: the default store of this
machine (``~/.llmselect/results``) holds its earlier nightly runs, from which the report draws
each timing's between-run noise. ``--kept A B`` reports two result folders already made (e.g.
two consecutive runs kept by ``bench_nightly_walltime.py --keep``) instead of running.
``--reports DIR`` writes the second report there (``--reports reports`` regenerates the
committed example report from the second run).

Usage::

    LLMSELECT_DATA_ROOT=/path/to/data python benchmarks/two_nightly_runs.py \\
        [--suite nightly] [--results DIR | --kept A B] [--reports DIR] [--json OUT]

Exit status: 0 when no timing was flagged, 1 otherwise, 2 on a failed run or report.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _env(results: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LLMSELECT_RESULTS=str(results), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
        PYTHONPATH=str(ROOT),
    )  # fmt: skip
    return env


def _llmselect(args: list[str], results: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmselect", *args],
        cwd=ROOT, env=_env(results), capture_output=True, text=True, check=False,
    )  # fmt: skip


def run_suite(suite: str, results: Path) -> dict[str, Any]:
    """One suite run into ``results``: its run id, wall and CPU time (its process tree)."""
    before = set(p.name for p in results.iterdir()) if results.is_dir() else set()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = _llmselect(["run", "--suite", suite, "--json"], results)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):  # 1: finished, a probe failed (recorded)
        raise SystemExit(f"run exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    new = sorted(p.name for p in results.iterdir() if p.is_dir() and p.name not in before)
    if not new:
        raise SystemExit("the run stored nothing")
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return {"run_id": new[-1], "wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}


def report(run_id: str, results: Path, out: Path, previous: Path | None) -> Path:
    """``llmselect report`` of ``run_id`` into ``out``; the report.json written."""
    args = ["report", "--run", run_id, "--out", str(out), "--json"]
    if previous is not None:
        args += ["--previous", str(previous)]
    proc = _llmselect(args, results)
    if proc.returncode != 0:
        raise SystemExit(f"report of {run_id} failed: {proc.stderr.strip()[-2000:]}")
    files = json.loads(proc.stdout)["files"]
    return Path(next(f for f in files if f.endswith("/report.json")))


def summarize(report_json: Path) -> dict[str, Any]:
    """What the second report's deltas found."""
    data = json.loads(report_json.read_text(encoding="utf-8"))
    d = data.get("deltas") or {}
    changes = d.get("changes", [])
    flagged = [c for c in changes if c.get("flagged")]
    return {
        "compared": d.get("compared", 0),
        "timed_compared": d.get("timed_compared", 0),
        "timed_set_aside": d.get("timed_set_aside", 0),
        "timed_with_history": d.get("timed_with_history", 0),
        "flagged": d.get("flagged", 0),
        "flagged_timings": sum(1 for c in flagged if c.get("rule") == "spread"),
        "flagged_by_probe": dict(Counter(c["probe"] for c in flagged)),
        "within_noise": d.get("within_spread", 0),
        "set_aside": [
            {"what": m["what"], "detail": m["detail"], "values": m["values"]}
            for m in d.get("method_changes", [])
        ],
        "noise_note": d.get("noise_note", ""),
        "flagged_values": [
            f"{c['model_id']}/{c['metric']}/{c['subset']}: {c['previous']:.4g} -> "
            f"{c['current']:.4g} {c['unit']} (noise {c.get('noise_range')}, current "
            f"{c.get('current_range')})"
            for c in flagged
        ],
        "new": len(d.get("new", [])),
        "missing": len(d.get("missing", [])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="nightly")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--results", type=Path, default=None, help="result store to run into")
    where.add_argument(
        "--kept", type=Path, nargs=2, metavar=("FIRST", "SECOND"), default=None,
        help="two result folders holding one run each (in order) instead of running",
    )  # fmt: skip
    parser.add_argument("--reports", type=Path, default=None, help="write the second report here")
    parser.add_argument("--json", type=Path, default=None, help="write the summary here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="llmselect-two-runs-") as tmp:
        tmp_path = Path(tmp)
        store = args.results or tmp_path / "results"
        store.mkdir(parents=True, exist_ok=True)
        runs: list[dict[str, Any]] = []
        if args.kept:
            for folder in args.kept:
                run_dirs = sorted(p for p in folder.iterdir() if (p / "run.json").is_file())
                if len(run_dirs) != 1:
                    raise SystemExit(f"{folder}: expected one run folder, found {len(run_dirs)}")
                shutil.copytree(run_dirs[0], store / run_dirs[0].name)
                runs.append({"run_id": run_dirs[0].name})
        else:
            for n in (1, 2):
                print(f"nightly run {n} ...", file=sys.stderr, flush=True)
                runs.append(run_suite(args.suite, store))
                print(f"run {n}: {runs[-1]}", file=sys.stderr, flush=True)
        first = report(runs[0]["run_id"], store, tmp_path / "first", None)
        second = report(runs[1]["run_id"], store, args.reports or tmp_path / "second", first)
        summary = {"suite": args.suite, "cpus": os.cpu_count(), "runs": runs, **summarize(second)}
    try:
        load = os.getloadavg()
        summary["load_average_after"] = [round(x, 2) for x in load]
    except OSError:
        pass
    print(json.dumps(summary, indent=1))
    s = summary
    print(
        f"\n{s['suite']}: {s['compared']} values compared; timings {s['timed_compared']} "
        f"compared ({s['timed_with_history']} with noise from earlier runs), "
        f"{s['timed_set_aside']} set aside as measured another way; "
        f"{s['flagged']} flagged ({s['flagged_timings']} timings): {s['flagged_by_probe']}"
    )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return 0 if s["flagged_timings"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
