#!/usr/bin/env python3
"""Wall time of a suite on the local executor and on a 2-worker local Ray cluster, and Ray's
cost per unit.

1. The suite (default ``smoke``) runs in process (``--executor local``), then on a local Ray
   cluster started with 2 CPUs (``ray.init(num_cpus=2)``; its start-up is timed apart). Each
   run writes to its own fresh result store. Printed: both wall times and their ratio.
2. Per-unit overhead: ``--units`` units of a probe that does nothing (one record each) run
   in process and on Ray one at a time; (Ray − local) / units is what scheduling a unit and
   bringing its records back cost, on a reused worker and on a fresh worker process
   (``max_calls=1``, as for units that time or weigh work).

Usage::

    LLMSELECT_DATA_ROOT=/path/to/data python benchmarks/bench_ray_overhead.py [--suite smoke]
        [--units 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class NoTarget:
    id: str


def _noop_probe(fresh: bool) -> type:
    from llmselect.probes.base import Probe, ProbeConfig, RunContext
    from llmselect.records import Measurement

    class NoopProbe(Probe):
        """One constant record: the unit costs only what running a unit costs."""

        name = "noop"
        target_kind = "noop"
        Config = ProbeConfig
        fresh_process = fresh

        def run(self, target: Any, ctx: RunContext) -> Iterable[Measurement]:
            yield self.record(ctx, target.id, "one", 1.0, "1")

    return NoopProbe


def timed_suite(spec: Any, executor: Any, store: Path, plan: Any = None) -> tuple[float, Any]:
    from llmselect.suite import run_suite

    started = time.perf_counter()
    result = run_suite(spec, plan=plan, results_root=store, executor=executor)
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="smoke", help="Suite name or path (default: smoke).")
    parser.add_argument("--units", type=int, default=20, help="No-op units for the overhead.")
    args = parser.parse_args()

    import ray

    from llmselect.executors.ray import RayExecutor
    from llmselect.suite import build_plan, load_suite, parse_suite

    spec = load_suite(args.suite)
    noop_spec = parse_suite({"name": "noop", "probes": [{"probe": "noop"}]}, "bench")
    targets = [NoTarget(f"u{i:03d}") for i in range(args.units)]
    noop_plans = {
        fresh: build_plan(
            noop_spec,
            probe_loader=lambda name, fresh=fresh: _noop_probe(fresh),
            known_probes={"noop"},
            resolvers={"noop": lambda names: targets},
        )
        for fresh in (False, True)
    }

    with tempfile.TemporaryDirectory(prefix="llmselect-bench-ray-") as tmp:
        root = Path(tmp)
        local_s, local = timed_suite(spec, "local", root / "local")
        noop_local_s, _ = timed_suite(noop_spec, "local", root / "noop-local", noop_plans[False])

        started = time.perf_counter()
        env = {"PYTHONPATH": os.pathsep.join(sys.path), "LLMSELECT_PLUGINS": "none"}
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": env})  # fmt: skip
        start_s = time.perf_counter() - started
        try:
            ray_s, on_ray = timed_suite(spec, RayExecutor(), root / "ray")
            noop_ray_s = {
                fresh: timed_suite(
                    noop_spec, RayExecutor(in_flight=1), root / f"noop-ray-{fresh}", plan
                )[0]
                for fresh, plan in noop_plans.items()
            }
        finally:
            ray.shutdown()

    units = local.planned
    print(f"suite {spec.name}: {units} units ({local.ok} ok locally, {on_ray.ok} ok on Ray)")
    print(f"  local executor (in process)      {local_s:8.1f} s")
    print(f"  Ray, local cluster of 2 CPUs     {ray_s:8.1f} s   (start-up {start_s:.1f} s apart)")
    print(f"  Ray / local                      {ray_s / local_s:8.2f}")
    local_ms = noop_local_s / args.units * 1000
    print(f"no-op units, one at a time ({args.units}): local {local_ms:.1f} ms/unit")
    for fresh, label in ((False, "reused worker"), (True, "fresh worker (measured units)")):
        per_unit = (noop_ray_s[fresh] - noop_local_s) / args.units
        print(f"  Ray overhead per unit, {label:30s} {per_unit * 1000:7.0f} ms")
    print(
        f"  ({os.cpu_count()} CPU cores on this machine, load average "
        f"{os.getloadavg()[0]:.1f} at the end)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
