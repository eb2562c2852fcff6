"""Executors chosen with typed options: ``--executor NAME --executor-option KEY=VALUE`` on every
command that runs units, a suite's ``executor:`` block, and ``llmselect executors list``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from _cli import invoke_json, run_main

from llmselect.executors import choose_executor
from llmselect.store import iter_records, iter_run_dirs

COMMANDS = {
    "run": ["run", "--suite", "smoke"],
    "perf-sweep": ["perf", "sweep", "-m", "gpt2:124m", "--points", "1x16"],
    "eval": ["eval", "--model", "foo/bar", "--tasks", "gsm8k"],
}


def test_executors_list_shows_every_executor_with_described_options() -> None:
    rows = {r["name"]: r for r in invoke_json(["executors", "list", "--json"])}  # type: ignore[union-attr]
    assert {"local", "ray", "slurm"} <= set(rows)
    assert rows["local"]["options"] == []
    ray = {o["name"]: o for o in rows["ray"]["options"]}
    assert set(ray) == {"address", "max_retries", "in_flight"}
    assert (ray["address"]["default"], ray["max_retries"]["default"]) == (None, 3)
    assert all(o["description"] for r in rows.values() for o in r["options"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--executor", "ray", "-X", "adress=auto"],
         "Error: executor 'ray' has no option 'adress' (its options: address, max_retries, "
         "in_flight; see `llmselect executors list`)"),
        (["--executor", "ray", "--executor-option", "max_retries=many"],
         "Error: executor 'ray' option max_retries='many': Input should be a valid integer, "
         "unable to parse string as an integer"),
        (["--executor", "ray", "-X", "in_flight=0"],
         "Error: executor 'ray' option in_flight='0': Input should be greater than or equal to 1"),
        (["-X", "retries"], "Error: --executor-option takes KEY=VALUE, got 'retries'"),
        (["--address", "auto"],
         "Error: executor 'local' has no option 'address' (its options: none; see "
         "`llmselect executors list`)"),
        (["--executor", "nope"], "Error: unknown executor 'nope'; known: local, ray, slurm"),
        (["--executor", "slurm", "-X", "poll_s=inf"],
         "Error: executor 'slurm' option poll_s='inf': Input should be a finite number"),
        (["--executor", "slurm", "-X", "mem_gb=nan"],
         "Error: executor 'slurm' option mem_gb='nan': Input should be a finite number"),
        (["--executor", "slurm", "-X", "poll_s=1e10"],
         "Error: executor 'slurm' option poll_s='1e10': Input should be less than or equal to "
         "3600"),
    ],
    ids=["unknown-name", "bad-int", "out-of-range", "no-equals", "address-on-local", "unknown",
         "inf", "nan", "beyond-sleep"],
)  # fmt: skip
@pytest.mark.parametrize("command", list(COMMANDS.values()), ids=list(COMMANDS))
def test_bad_executor_options_are_one_line_exit_2(
    command: list[str],
    options: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    assert run_main([*command, *options], monkeypatch) == 2
    assert capfd.readouterr().err.strip() == message
    assert not list(iter_run_dirs())  # refused before a run exists (inf once failed mid-run)


def test_command_line_wins_over_the_suite_block_and_adds_to_its_options() -> None:
    block = {"name": "slurm", "cluster": "local", "time_min": 5, "partition": "cpu"}
    suite_only = choose_executor(None, [], block)
    assert (suite_only.name, suite_only.options.time_min) == ("slurm", 5)
    added = choose_executor(None, ["cpus=4", "time_min=9"], block)
    assert (added.options.cpus, added.options.time_min, added.options.partition) == (4, 9, "cpu")
    assert choose_executor("local", [], block).name == "local"
    assert choose_executor(None, [], None).name == "local"


def test_suite_executor_block_runs_its_units_there(
    with_data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A suite naming the slurm executor (submitit's local cluster) runs each unit as a job,
    without --executor on the command line."""
    pytest.importorskip("submitit")
    jobs = tmp_path / "jobs"
    suite = {
        "name": "on-jobs",
        "tokenizers": ["qwen2"],
        "corpora": ["default"],
        "limits": {"limit": 5},
        "executor": {"name": "slurm", "cluster": "local", "folder": str(jobs), "poll_s": 0.2},
        "probes": [{"probe": "tokenizer_efficiency"}],
    }
    path = tmp_path / "on-jobs.yaml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    assert run_main(["run", "--suite", str(path)], monkeypatch) == 0
    assert len([p for p in jobs.iterdir() if p.name.isdigit()]) == 1  # one job, one unit
    results = tmp_path / "home" / "results"
    (run_dir,) = [p for p in results.iterdir() if p.is_dir()]
    records = list(iter_records(run_dir))
    assert records and {r.model_id for r in records} == {"qwen2"}
    assert all(r.status == "ok" for r in records)
