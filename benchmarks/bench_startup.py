"""Start-up cost of the CLI and of loading BLOOM's cached build, against ``python -c pass``.

Each command runs in a fresh process, ``--rounds`` times, interleaved (the order rotates per
round); the median CPU time (user + system of the child) and wall time of each are printed with
their ratio to ``python -c pass`` in the same run. CPU time is the cost the command adds; wall
time on a shared machine also holds other processes' load (the 1-minute load average is
printed). Also printed: the modules each command imports beyond ``python -c pass`` that matter
for start-up (rich, pydantic, yaml, the model catalog, torch, transformers), and the CPU time of
``load_bloom`` from its cache inside one process, beside the library's parse of the same build
in its default serialisation (pretty JSON, ``[left, right]`` merge pairs), each in a fresh
process, alternating.

Usage: ``LLMSELECT_DATA_ROOT=/path/to/data python benchmarks/bench_startup.py [--rounds 5]``
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
    "import sys, time\n"
    "from tokenizers import Tokenizer\n"
    "from llmselect.config import data_subdir\n"
    "from llmselect.tokenizers.bloom import cache_path, load_bloom\n"
    "merges = data_subdir('tokenizers') / 'bloom' / 'merges.txt'\n"
    "assert cache_path(merges).is_file(), 'run tokenize-bench -m bloom once first'\n"
    "c = time.process_time()\n"
    "if sys.argv[1] == 'ours':\n"
    "    load_bloom('bloom', {'merges.txt': merges}, 'merges.txt')\n"
    "else:\n"
    "    Tokenizer.from_file(sys.argv[1])\n"
    "print(time.process_time() - c)\n"
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

    bloom_tok = load_tokenizer(load_tokenizer_catalog().get("bloom"))  # cached before timing
    # The library's default serialisation of the same build (pretty JSON, [left, right] pairs):
    # what the cache held before, parsed in the same child for a ratio the load does not move.
    tmp = tempfile.TemporaryDirectory()
    pretty = str(Path(tmp.name) / "bloom-default.json")
    bloom_tok.tok.save(pretty, pretty=True)
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in COMMANDS}
    imported: dict[str, str] = {}
    bloom: dict[str, list[float]] = {"ours": [], pretty: []}
    names = list(COMMANDS)
    load = os.getloadavg()[0]
    for i in range(args.rounds):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            cpu, wall, stderr = run(COMMANDS[name])
            results[name].append((cpu, wall))
            for line in stderr.splitlines():
                if line.startswith("IMPORTED="):
                    imported[name] = line.removeprefix("IMPORTED=") or "none of them"
        for side in list(bloom)[i % 2 :] + list(bloom)[: i % 2]:  # a fresh process each
            out = subprocess.run(
                [sys.executable, "-c", BLOOM, side], capture_output=True, text=True, check=True
            ).stdout
            bloom[side].append(float(out))
    med = {k: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v))
           for k, v in results.items()}  # fmt: skip
    base_cpu, base_wall = med["python -c pass"]
    print(f"{args.rounds} rounds, interleaved; CPUs {os.cpu_count()}; 1-min load average "
          f"{load:.1f} at the start")  # fmt: skip
    print(f"{'command':<24}{'CPU s':>8}{'x pass':>8}{'wall s':>8}{'x pass':>8}  imports")
    for name, (cpu, wall) in med.items():
        print(f"{name:<24}{cpu:>8.3f}{cpu / base_cpu:>8.1f}{wall:>8.3f}{wall / base_wall:>8.1f}"
              f"  {imported.get(name, '')}")  # fmt: skip
    tmp.cleanup()
    ours, default = statistics.median(bloom["ours"]), statistics.median(bloom[pretty])
    print(
        f"load_bloom from its cached build: CPU {ours:.3f} s (median); the library's default "
        f"serialisation of the same build: CPU {default:.3f} s; ratio {ours / default:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
