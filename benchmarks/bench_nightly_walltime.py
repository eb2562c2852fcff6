#!/usr/bin/env python3
"""Wall time of the nightly suite: an earlier revision of the code against this working tree.

Exports the ``--before`` revision with ``git archive`` into a temporary folder (a separate
checkout; the repository's worktrees are not touched), then runs ``llmselect run --suite
nightly`` from each copy with the same Python environment, each run in a fresh
``LLMSELECT_HOME`` (cold caches, as on a CI runner). Runs alternate ABBA (before, after, after,
before, ...) so a machine whose load drifts hurts both alike. Per run it prints the wall time,
the CPU time of the run's process tree (user + system, less sensitive to other processes on a
shared machine) and the time each probe's units spanned, then the after/before ratios of the
medians.

``--keep DIR`` copies each run's result folder to ``DIR/<side>-<n>/`` so the runs can feed a
report (``LLMSELECT_RESULTS=DIR/after-1 llmselect report``).

Usage::

    LLMSELECT_DATA_ROOT=/path/to/data python benchmarks/bench_nightly_walltime.py \\
        --before <git revision> [--rounds 1] [--suite nightly] [--keep DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def export_revision(revision: str, dest: Path) -> str:
    """Write ``revision``'s files into ``dest``; returns the full commit id."""
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{revision}^{{commit}}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", sha], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return sha


def probe_spans(results: Path) -> dict[str, float]:
    """Seconds between the last record of the previous probe and the last record of each probe
    (units run in suite order, one probe after another)."""
    last: dict[str, datetime] = {}
    first_start: datetime | None = None
    for shard in results.glob("*/measurements.jsonl"):
        for line in shard.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            at = datetime.fromisoformat(rec["started_at"].replace("Z", "+00:00"))
            probe = rec["probe"]
            last[probe] = max(last.get(probe, at), at)
        info = json.loads((shard.parent / "run.json").read_text(encoding="utf-8"))
        first_start = datetime.fromisoformat(info["started_at"].replace("Z", "+00:00"))
    spans: dict[str, float] = {}
    previous = first_start
    for probe, at in sorted(last.items(), key=lambda kv: kv[1]):
        spans[probe] = (at - previous).total_seconds() if previous else 0.0
        previous = at
    return spans


def run_suite(code_root: Path, suite: str, keep: Path | None, label: str) -> dict[str, Any]:
    """One ``llmselect run --suite`` from ``code_root`` in a fresh home; times and spans."""
    with tempfile.TemporaryDirectory(prefix="llmselect-bench-home-") as home:
        env = dict(os.environ)
        env.update(
            LLMSELECT_HOME=home,
            PYTHONPATH=str(code_root),  # this copy's package, ahead of the installed one
            LLMSELECT_PLUGINS="none",
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
        )
        env.pop("LLMSELECT_RESULTS", None)
        env.pop("LLMSELECT_SUITES", None)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "llmselect", "run", "--suite", suite, "--json"],
            cwd=code_root, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        results = Path(home) / "results"
        spans = probe_spans(results) if results.is_dir() else {}
        if keep is not None and results.is_dir():
            shutil.copytree(results, keep / label, dirs_exist_ok=True)
    if proc.returncode not in (0, 1):  # 1 = finished, a probe failed (recorded)
        raise SystemExit(f"{label}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    return {"label": label, "wall_s": wall, "cpu_s": cpu, "exit": proc.returncode, "spans": spans}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision of the 'before' code")
    parser.add_argument(
        "--after", default=None, help="git revision of the 'after' code (default: this tree)"
    )
    parser.add_argument("--suite", default="nightly")
    parser.add_argument("--rounds", type=int, default=1, help="ABBA rounds (2 runs per side each)")
    parser.add_argument("--keep", type=Path, default=None, help="copy result folders here")
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="llmselect-code-") as tmp:
        sha = export_revision(args.before, Path(tmp) / "before")
        after_root, after_name = ROOT, "working tree"
        if args.after:
            after_root = Path(tmp) / "after"
            after_name = export_revision(args.after, after_root)
        sides = {"before": Path(tmp) / "before", "after": after_root}
        count = {"before": 0, "after": 0}
        for _ in range(args.rounds):
            for side in ("before", "after", "after", "before"):
                count[side] += 1
                label = f"{side}-{count[side]}"
                print(f"running {label} ...", file=sys.stderr, flush=True)
                run = run_suite(sides[side], args.suite, args.keep, label)
                run["side"] = side
                runs.append(run)
                print(
                    f"{label}: wall {run['wall_s']:.1f} s, CPU {run['cpu_s']:.1f} s, "
                    + ", ".join(f"{p} {s:.1f} s" for p, s in run["spans"].items()),
                    flush=True,
                )
    summary: dict[str, Any] = {"before": sha, "after": after_name, "suite": args.suite}
    for metric in ("wall_s", "cpu_s"):
        med = {
            side: statistics.median(r[metric] for r in runs if r["side"] == side)
            for side in ("before", "after")
        }
        summary[metric] = {**med, "after_over_before": med["after"] / med["before"]}
    probes = sorted({p for r in runs for p in r["spans"]})
    summary["probe_spans_s"] = {
        p: {
            side: statistics.median(r["spans"].get(p, 0.0) for r in runs if r["side"] == side)
            for side in ("before", "after")
        }
        for p in probes
    }
    print(
        f"\n{args.suite} suite, before {sha[:10]} vs {after_name[:10]}, {len(runs)} runs, "
        f"{os.cpu_count()} CPUs (shared machine: compare the ratios, not the seconds)"
    )
    for metric, name in (("wall_s", "wall time"), ("cpu_s", "CPU time")):
        m = summary[metric]
        print(
            f"{name}: before {m['before']:.1f} s, after {m['after']:.1f} s, "
            f"after/before {m['after_over_before']:.2f}"
        )
    for p, sides in summary["probe_spans_s"].items():
        ratio = sides["after"] / sides["before"] if sides["before"] else float("nan")
        print(f"  {p}: before {sides['before']:.1f} s, after {sides['after']:.1f} s ({ratio:.2f}x)")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "runs": runs}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
