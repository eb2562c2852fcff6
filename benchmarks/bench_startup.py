"""Start-up cost of the CLI and of loading BLOOM's cached build, against ``python -c pass``.

Each command runs in a fresh process, ``--rounds`` times, interleaved (the order rotates per
round); the median CPU time (user + system of the child) and wall time of each are printed with
their ratio to ``python -c pass`` in the same run. CPU time is the cost the command adds; wall
time on a shared machine also holds other processes' load (the 1-minute load average is
printed). Also printed: the modules each command imports beyond ``python -c pass`` that matter
for start-up (rich, pydantic, yaml, the model catalog, torch, transformers), and the CPU time of
``load_bloom`` from its cache inside one process (the library's parse of the cached build).

Usage: ``LLMSELECT_DATA_ROOT=/path/to/data python benchmarks/bench_startup.py [--rounds 5]``
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

PROBE = (
    "import sys, runpy\n"
    "sys.argv = ['llmselect', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('llmselect', run_name='__main__')\n"
    "except SystemExit:\n"
    "    pass\n"
    "heavy = ('rich', 'rich.markdown', 'pydantic', 'yaml', 'llmselect.catalog', 'torch',"
    " 'transformers')\n"
    "print('IMPORTED=' + ','.join(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
)
BLOOM = (
    "import time\n"
    "from pathlib import Path\n"
    "from llmselect.config import data_subdir\n"
    "from llmselect.tokenizers.bloom import cache_path, load_bloom\n"
    "merges = data_subdir('tokenizers') / 'bloom' / 'merges.txt'\n"
    "assert cache_path(merges).is_file(), 'run tokenize-bench -m bloom once first'\n"
    "c, t = time.process_time(), time.perf_counter()\n"
    "load_bloom('bloom', {'merges.txt': merges}, 'merges.txt')\n"
    "print(time.process_time() - c, time.perf_counter() - t)\n"
)
COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "llmselect --help": ["-c", PROBE, "--help"],
    "tokenize-bench --help": ["-c", PROBE, "tokenize-bench", "--help"],
    "tokenize-bench --list": ["-c", PROBE, "tokenize-bench", "--list"],
}


def run(args: list[str]) -> tuple[float, float, str]:
    """(CPU s, wall s, stderr) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=True
    )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, proc.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from llmselect.tokenizers import load_tokenizer, load_tokenizer_catalog

    load_tokenizer(load_tokenizer_catalog().get("bloom"))  # the cache exists before timing
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in COMMANDS}
    imported: dict[str, str] = {}
    bloom: list[tuple[float, float]] = []
    names = list(COMMANDS)
    load = os.getloadavg()[0]
    for i in range(args.rounds):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            cpu, wall, stderr = run(COMMANDS[name])
            results[name].append((cpu, wall))
            for line in stderr.splitlines():
                if line.startswith("IMPORTED="):
                    imported[name] = line.removeprefix("IMPORTED=") or "none of them"
        out = subprocess.run(
            [sys.executable, "-c", BLOOM], capture_output=True, text=True, check=True
        ).stdout.split()
        bloom.append((float(out[0]), float(out[1])))
    med = {k: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v))
           for k, v in results.items()}  # fmt: skip
    base_cpu, base_wall = med["python -c pass"]
    print(f"{args.rounds} rounds, interleaved; CPUs {os.cpu_count()}; 1-min load average "
          f"{load:.1f} at the start")  # fmt: skip
    print(f"{'command':<24}{'CPU s':>8}{'x pass':>8}{'wall s':>8}{'x pass':>8}  imports")
    for name, (cpu, wall) in med.items():
        print(f"{name:<24}{cpu:>8.3f}{cpu / base_cpu:>8.1f}{wall:>8.3f}{wall / base_wall:>8.1f}"
              f"  {imported.get(name, '')}")  # fmt: skip
    cpu, wall = statistics.median(c for c, _ in bloom), statistics.median(w for _, w in bloom)
    print(f"load_bloom from its cached build: CPU {cpu:.3f} s, wall {wall:.3f} s (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
