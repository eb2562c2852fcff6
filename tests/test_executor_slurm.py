"""The ``slurm`` executor through submitit's local cluster (``cluster=local``): the same jobs
that sbatch would run start as processes on this machine, and their records come back to the
runner, which stores them. Without submitit, ``--executor slurm`` is one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmselect.executors import build_executor, describe_executors
from llmselect.store import iter_records, read_run_info
from llmselect.suite import parse_suite, run_suite

TINY = {
    "name": "tiny-slurm",
    "tokenizers": ["llama2", "qwen2"],
    "corpora": ["default"],
    "limits": {"limit": 5},
    "probes": [{"probe": "tokenizer_efficiency"}],
}


def _comparable(run_dir: Path) -> list[tuple[object, ...]]:
    return sorted(
        (r.model_id, r.probe, r.metric, r.subset, r.unit, r.status, r.value, r.n)
        for r in iter_records(run_dir)
    )


def test_local_cluster_jobs_give_the_in_process_records(
    with_data_root: Path, tmp_path: Path
) -> None:
    pytest.importorskip("submitit")  # the slurm extra; scripts/setup.sh all installs it
    spec = parse_suite(TINY, "test")
    local = run_suite(spec, results_root=tmp_path / "local")
    folder = tmp_path / "jobs"
    slurm = build_executor("slurm", {"cluster": "local", "folder": str(folder), "poll_s": 0.2})
    on_jobs = run_suite(spec, results_root=tmp_path / "slurm", executor=slurm)

    # Real token counts from the real tokenizers, computed in the jobs, stored by the runner.
    assert (on_jobs.ok, on_jobs.errors) == (local.ok, local.errors) == (2, 0)
    assert _comparable(on_jobs.run_dir) == _comparable(local.run_dir)
    assert read_run_info(on_jobs.run_dir).state == "finished"
    # Each unit was its own job: submitit kept one folder (with its log) per job.
    jobs = [p for p in folder.iterdir() if p.name.isdigit()]  # local job ids are pids
    assert len(jobs) == 2 and all(list(p.glob("*_log.out")) for p in jobs)


def test_a_job_that_starts_past_its_units_start_by_runs_nothing(
    with_data_root: Path, tmp_path: Path
) -> None:
    """The deadline holds inside the job: a unit whose start_by has passed when its job starts
    (it waited in the queue) gives back one not-started record and measures nothing."""
    pytest.importorskip("submitit")
    from llmselect.probes.base import RunContext
    from llmselect.registry import PROBES
    from llmselect.suite import resolve_tokenizer_families
    from llmselect.units import Unit, is_not_started

    probe_cls = PROBES.load("tokenizer_efficiency")
    (target,) = resolve_tokenizer_families(["qwen2"])
    probe = probe_cls(probe_cls.Config())
    late = Unit(target, probe, start_by=time.time() - 1)
    in_time = Unit(target, probe, start_by=time.time() + 600)
    slurm = build_executor("slurm", {"cluster": "local", "folder": str(tmp_path), "poll_s": 0.2})
    ctx = RunContext(run_id="r", data_root=with_data_root, limit=5)
    back = {id(u): records for u, records in slurm.run([late, in_time], ctx)}
    assert is_not_started(back[id(late)])
    measured = back[id(in_time)]
    assert measured and all(r.status == "ok" for r in measured) and not is_not_started(measured)


def test_slurm_options_are_typed_and_listed() -> None:
    (row,) = [r for r in describe_executors() if r["name"] == "slurm"]
    names = [o["name"] for o in row["options"]]
    for wanted in ("partition", "time_min", "cpus", "gpus", "mem_gb", "folder"):
        assert wanted in names
    assert all(o["description"] for o in row["options"])
    slurm = build_executor("slurm", {"time_min": "30", "gpus": "2", "partition": "gpu"})
    assert (slurm.options.time_min, slurm.options.gpus, slurm.options.partition) == (
        30,
        2,
        "gpu",
    )


def test_submitit_less_install_says_so_in_one_line() -> None:
    argv = ["llmselect", "run", "--suite", "smoke", "--executor", "slurm"]
    script = (
        "import sys; sys.modules['submitit'] = None\n"
        "from llmselect.cli import main\n"
        f"sys.argv = {argv!r}\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "Error: --executor slurm needs submitit: pip install 'llmselect[slurm]'"
    )
    assert not list((Path(os.environ["LLMSELECT_HOME"]) / "results").glob("*"))
