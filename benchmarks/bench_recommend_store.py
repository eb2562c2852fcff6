#!/usr/bin/env python3
"""``llmselect recommend`` with an empty store against a store of N nightly runs.

With ``--user-entries K`` (default 20) the full side also has K entries in the user's catalog
overlay (``llmselect catalog add``'s file): copies, under distinct ids, of the entries built from
the real configs in ``tests/data/configs`` through ``catalog add``'s code path (sizing blocks
included); the shipped additions file is read when present. The budget is 0.5 s of CPU.

Builds a store of ``--runs`` nights shaped like the nightly suite's records (the generator of
``tests/test_store_index.py``), then times the command in fresh processes, alternating an empty
store and the full one (the full store's index already built, as after the nightly job's first
reader), ``--rounds`` times each. Prints the median CPU time (user + system of the child, less
sensitive to other processes on a shared machine) and wall time of each side, and the ratio
full/empty; also the CPU time of reading the same store by validating every record
(``store.load_records``), the path the index replaces.

Then the first ``recommend`` after a new run, ``--rounds`` times (one more run each time): a run
that ended through the runner (``store_index.index_run`` folded it in, timed too: the writer's
cost), and a run copied in by hand (the reader reads it); and once the first ``recommend`` with no
index at all (a full build over every run). The goal: the first ``recommend`` after a new run
stays under 1 s of CPU with 100 runs stored.

Usage: ``LLMSELECT_DATA_ROOT=/path/to/data python benchmarks/bench_recommend_store.py
[--runs 100] [--rounds 5] [--user-entries 20]``
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_store_index import write_store  # noqa: E402

from llmselect.store_index import INDEX_FILE, index_run  # noqa: E402

GOAL_CPU_S = 1.0

CODE = (
    "from llmselect.cli import app\n"
    "app(['recommend', '--gpu', '24GB', '--purpose', 'commercial', '--json', '--results', {!r}],"
    " standalone_mode=False)\n"
)


def write_user_entries(home: Path, count: int) -> int:
    """``count`` user entries built from the real test configs (catalog add's path)."""
    os.environ["LLMSELECT_HOME"] = str(home)
    from llmselect.catalog import write_user_entries as write
    from llmselect.checkpoint.catalog_entry import entry_from_config, read_config_file

    configs = sorted((Path(__file__).resolve().parents[1] / "tests/data/configs").glob("*.json"))
    built = []
    for path in configs:
        cfg, sha = read_config_file(path)
        built.append(entry_from_config(cfg, sha, str(path), id=path.stem, name=path.stem,
                                       family="user", tags=["user"]))  # fmt: skip
    entries = []
    for i in range(count):
        spec = built[i % len(built)]
        entries.append(spec.model_copy(update={"id": f"user-{i}-{spec.id}"})
                       .model_dump(mode="json", exclude_none=True))  # fmt: skip
    write(entries)
    return len(entries)


def timed(results: Path, home: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one ``recommend`` process."""
    env = {**os.environ, "LLMSELECT_HOME": str(home)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", CODE.format(str(results))],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--user-entries", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        empty, full = home / "empty", home / "full"
        empty.mkdir()
        write_store(full, args.runs)
        users = write_user_entries(home, args.user_entries) if args.user_entries else 0
        timed(full, home)  # builds the index once
        sides: dict[str, list[tuple[float, float]]] = {"empty": [], "full": []}
        for i in range(args.rounds):
            order = ("empty", "full") if i % 2 == 0 else ("full", "empty")
            for side in order:
                sides[side].append(timed(empty if side == "empty" else full, home))
        after_new: dict[str, list[tuple[float, float]]] = {"runner": [], "copied": []}
        writer_cpu = []
        night = args.runs
        for _ in range(args.rounds):
            for how in ("runner", "copied"):
                write_store(full, 1, first=night)
                if how == "runner":
                    c0 = time.process_time()
                    assert index_run(full / f"2026-11-01T00-00-{night:03d}")
                    writer_cpu.append(time.process_time() - c0)
                night += 1
                after_new[how].append(timed(full, home))
        (full / INDEX_FILE).unlink()
        no_index = timed(full, home)
        from llmselect.catalog import ModelSpec, _read_user, load_catalog, user_catalog_file
        from llmselect.datafiles import validate_entries

        catalog_size = len(list(load_catalog()))
        t0 = time.process_time()
        for _ in range(20):  # what the overlay adds to one recommend process
            validate_entries(_read_user(user_catalog_file()), ModelSpec, "user", "model")
        overlay_ms = (time.process_time() - t0) / 20 * 1000
        start = resource.getrusage(resource.RUSAGE_SELF)
        from llmselect.store import load_records

        n = len(load_records(full))
        end = resource.getrusage(resource.RUSAGE_SELF)
        validate_cpu = (end.ru_utime - start.ru_utime) + (end.ru_stime - start.ru_stime)
    med = {s: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v))
           for s, v in sides.items()}  # fmt: skip
    print(
        f"recommend, empty store:        CPU {med['empty'][0]:.3f} s, wall {med['empty'][1]:.3f} s"
    )
    print(
        f"recommend, {args.runs} nightly runs: CPU {med['full'][0]:.3f} s, "
        f"wall {med['full'][1]:.3f} s (index built)"
    )
    print(
        f"catalog: {catalog_size} entries, {users} of them user-added (both sides), "
        f"overlay read + validated in {overlay_ms:.1f} ms CPU; budget 0.5 s CPU: "
        f"{'met' if med['full'][0] < 0.5 else 'NOT met'}"
    )
    print(f"ratio full/empty: CPU {med['full'][0] / med['empty'][0]:.2f}, "
          f"wall {med['full'][1] / med['empty'][1]:.2f}")  # fmt: skip
    print(f"validating every record instead: {n} records, CPU {validate_cpu:.2f} s")
    runner = statistics.median(c for c, _ in after_new["runner"])
    copied = statistics.median(c for c, _ in after_new["copied"])
    print(
        f"first recommend after a new run ended through the runner: CPU {runner:.3f} s "
        f"(median of {args.rounds}; index_run itself {statistics.median(writer_cpu):.3f} s CPU)"
    )
    print(f"first recommend after a new run copied in (read by the reader): CPU {copied:.3f} s")
    print(f"first recommend with no index ({night} runs read): CPU {no_index[0]:.3f} s, "
          f"wall {no_index[1]:.3f} s")  # fmt: skip
    ok = runner < GOAL_CPU_S
    verdict = "OK" if ok else "OVER"
    print(f"goal: first recommend after a new run < {GOAL_CPU_S:.0f} s CPU: {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
