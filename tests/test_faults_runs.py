"""Fault cases of runs and reports: a failed unit is healed by ``--resume``, a run without
results never becomes the report, and a cluster that does not answer fails fast in one line."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from _cli import run_main
from typer.testing import CliRunner

from llmselect import registry, suite
from llmselect.cli import app
from llmselect.probes.base import Probe, ProbeConfig, RunContext
from llmselect.records import Measurement
from llmselect.store import iter_records, iter_run_dirs, resume_state


@dataclass(frozen=True)
class Thing:
    id: str


FAIL_ON: set[str] = set()
CALLS: list[str] = []


class FlakyProbe(Probe):
    """Records the target name's length; fails (as a full disk would) where the test says."""

    name = "flaky_len"
    target_kind = "flaky"
    Config = ProbeConfig

    def run(self, target: Any, ctx: RunContext) -> Iterable[Measurement]:
        CALLS.append(target.id)
        if target.id in FAIL_ON:
            raise OSError(28, "No space left on device")
        yield self.record(
            ctx, target.id, "name_chars", len(target.id), "char", higher_is_better=None
        )


TARGETS = [Thing("alpha"), Thing("beta"), Thing("gamma")]
TARGET_IDS = [t.id for t in TARGETS]
SUITE = {"name": "flaky", "probes": [{"probe": "flaky_len"}]}


def _resolve(names: list[str] | None) -> list[Thing]:
    return [t for t in TARGETS if not names or t.id in names]


@pytest.fixture(autouse=True)
def _flaky_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN_PROBES, "flaky_len", f"{__name__}:FlakyProbe")
    monkeypatch.setitem(
        suite.DEFAULT_RESOLVERS,
        "flaky",
        lambda names: [t for t in TARGETS if not names or t.id in names],
    )
    FAIL_ON.clear()
    CALLS.clear()


@pytest.fixture
def suite_path(tmp_path: Path) -> str:
    path = tmp_path / "flaky.yaml"
    path.write_text(yaml.safe_dump(SUITE))
    return str(path)


def _run(args: list[str]) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(app, ["run", *args, "--json"])
    data = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result.exit_code, data, result.stderr


# --- resume heals failed units ---------------------------------------------------------------


def test_resume_reruns_failed_units_and_says_how_many(suite_path: str) -> None:
    FAIL_ON.add("gamma")
    code, first, _ = _run(["--suite", suite_path])
    assert code == 1 and (first["ok"], first["errors"]) == (2, 1)
    run_dir = Path(first["run_dir"])
    assert resume_state(run_dir).failed == {("gamma", "flaky_len", _unit_key(run_dir, "gamma"))}

    FAIL_ON.clear()  # the disk has space again
    CALLS.clear()
    code, again, err = _run(["--suite", suite_path, "--resume", first["run_id"]])
    assert code == 0, err
    assert CALLS == ["gamma"] and again["retried"] == 1 and again["resumed"] == 2
    assert "1 units whose stored outcome was an error ran again" in err
    # Every reader sees the new attempt only: three ok records, no error left.
    records = list(iter_records(run_dir))
    assert sorted((r.model_id, r.status) for r in records) == [
        ("alpha", "ok"), ("beta", "ok"), ("gamma", "ok"),
    ]  # fmt: skip
    assert {r.params.get("_attempt") for r in records if r.model_id == "gamma"} == {2}

    CALLS.clear()  # healed: nothing left to do
    code, third, _ = _run(["--suite", suite_path, "--resume", first["run_id"]])
    assert code == 0 and CALLS == [] and third["retried"] == 0 and third["resumed"] == 3


def test_keep_failed_keeps_the_stored_error(suite_path: str) -> None:
    FAIL_ON.add("gamma")
    _code, first, _ = _run(["--suite", suite_path])
    FAIL_ON.clear()
    CALLS.clear()
    code, again, _ = _run(["--suite", suite_path, "--resume", first["run_id"], "--keep-failed"])
    assert CALLS == [] and again["retried"] == 0 and again["resumed"] == 3
    assert code == 0
    errors = [r for r in iter_records(Path(first["run_dir"])) if r.status == "error"]
    assert [r.model_id for r in errors] == ["gamma"]
    assert "No space left on device" in (errors[0].error or "")


def test_keep_failed_without_resume_is_refused(
    suite_path: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(["run", "--suite", suite_path, "--keep-failed"], monkeypatch) == 2
    assert capsys.readouterr().err.strip() == "Error: --keep-failed applies to --resume RUN_ID"


@pytest.mark.parametrize("run_id", ["", "  ", "..", "/tmp/elsewhere/20261206T110111Z-1edf30"])
def test_an_empty_or_path_run_id_is_refused_and_starts_nothing(
    run_id: str, suite_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """`--resume "$RUN"` with RUN unset must not start a new run, nor `--run ""` report on the
    newest one; a path would reach outside the result store."""
    _code, first, _ = _run(["--suite", suite_path])
    capsys.readouterr()
    assert run_main(["run", "--suite", suite_path, "--resume", run_id], monkeypatch) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("Error: --resume ") and "run id" in line
    assert [p.name for p in iter_run_dirs()] == [first["run_id"]] and CALLS == TARGET_IDS
    out = tmp_path / "reports"
    assert run_main(["report", "--run", run_id, "--out", str(out), *REPORT], monkeypatch) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("Error: --run ") and "run id" in line and not out.exists()


def test_a_suite_does_not_resume_a_single_command_run(
    suite_path: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tokenize-bench run holds units keyed like a suite's but measured under its own
    --limit: a suite must not take them as done nor add its units to that run."""
    from llmselect.runner import open_run

    run = open_run("llmselect tokenize-bench -m alpha --limit 50", limit=50)
    assert run.writer is not None
    run.writer.close()
    before = (run.writer.dir / "run.json").read_bytes()
    assert run_main(["run", "--suite", suite_path, "--resume", run.run_id], monkeypatch) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (
        f"Error: run {run.run_id} was made by `llmselect tokenize-bench -m alpha --limit 50`, "
        "not by a suite: start a new run instead"
    )
    assert CALLS == [] and (run.writer.dir / "run.json").read_bytes() == before


def _unit_key(run_dir: Path, target: str) -> str:
    (key,) = {r.params["_unit"] for r in iter_records(run_dir) if r.model_id == target}
    return str(key)


# --- an empty run never replaces a good report ----------------------------------------------


REPORT = ["--now", "2026-11-23T03:00:00+00:00"]  # dated by default on the run's start (UTC)


def _start_day(run: dict[str, Any]) -> str:
    """The run's start date (UTC), as its run.json records it: the report's default date."""
    from llmselect.records import RunInfo

    info = RunInfo.model_validate_json((Path(run["run_dir"]) / "run.json").read_text())
    return info.started_at.date().isoformat()


def test_report_passes_over_a_run_without_results(
    suite_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    out = tmp_path / "reports"
    _code, good, _ = _run(["--suite", suite_path])
    assert run_main(["report", "--out", str(out), *REPORT], monkeypatch) == 0
    before = {p.name: p.read_bytes() for p in out.glob("latest.*")}

    FAIL_ON.update(t.id for t in TARGETS)  # every unit fails: a run with 0 ok records
    _code, empty, _ = _run(["--suite", suite_path])
    assert empty["ok"] == 0 and len(iter_run_dirs()) == 2
    capsys.readouterr()
    assert run_main(["report", "--out", str(out), *REPORT], monkeypatch) == 0
    err = capsys.readouterr().err
    assert f"report on run {good['run_id']} (suite flaky)" in err
    assert f"{empty['run_id']} (finished, 0 ok records)" in err  # says what it passed over
    assert {p.name: p.read_bytes() for p in out.glob("latest.*")} == before


def test_report_dated_before_its_run_started_is_refused(
    suite_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """``--date`` before the run's start was accepted and replaced that day's report and
    ``latest.*`` with numbers measured later; the run's start day (the default) and later days
    are dates a report may have."""
    from datetime import date, timedelta

    out = tmp_path / "reports"
    _code, run, _ = _run(["--suite", suite_path])
    day = date.fromisoformat(_start_day(run))
    assert run_main(["report", "--out", str(out), *REPORT], monkeypatch) == 0
    assert (out / day.isoformat() / "report.json").is_file()
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    early = (day - timedelta(days=1)).isoformat()
    args = ["report", "--run", run["run_id"], "--out", str(out), *REPORT, "--date", early]
    assert run_main(args, monkeypatch) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.strip() == (
        f"Error: --date {early} is before run {run['run_id']} started ({day.isoformat()}, "
        "UTC): a report is dated on or after its run's start"
    )
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    later = (day + timedelta(days=1)).isoformat()  # a report made on a later day is allowed
    args = ["report", "--run", run["run_id"], "--out", str(out), *REPORT, "--date", later]
    assert run_main(args, monkeypatch) == 0
    assert json.loads((out / "latest.json").read_text())["date"] == later


def test_report_refuses_to_overwrite_with_an_empty_one(
    suite_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    out = tmp_path / "reports"
    _code, good, _ = _run(["--suite", suite_path])
    assert run_main(["report", "--out", str(out), *REPORT], monkeypatch) == 0
    day = _start_day(good)
    before = (out / day / "report.json").read_bytes()
    FAIL_ON.update(t.id for t in TARGETS)
    _code, empty, _ = _run(["--suite", suite_path])
    capsys.readouterr()
    args = ["report", "--run", empty["run_id"], "--out", str(out), *REPORT]
    assert run_main(args, monkeypatch) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"Error: run {empty['run_id']} has no ok record; not overwriting")
    assert (out / day / "report.json").read_bytes() == before
    # Into an empty folder it may write (nothing is replaced): the report says what failed.
    fresh = tmp_path / "fresh"
    args = ["report", "--run", empty["run_id"], "--out", str(fresh), *REPORT]
    assert run_main(args, monkeypatch) == 0


def test_report_of_a_killed_run_says_first_that_it_did_not_finish(
    suite_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed mid-way (kill -9 leaves run.json `running`, its lock free) reported with
    --run: the units it never reached have no record, and the page says so before anything."""
    from llmselect.records import RunInfo

    _code, good, _ = _run(["--suite", suite_path])
    out = tmp_path / "reports"
    assert (
        run_main(["report", "--run", good["run_id"], "--out", str(out), *REPORT], monkeypatch) == 0
    )
    assert "did not finish" not in (out / "latest.md").read_text()

    _code, killed, _ = _run(["--suite", suite_path])
    info_path = Path(killed["run_dir"]) / "run.json"
    info = RunInfo.model_validate_json(info_path.read_text())
    info_path.write_text(info.model_copy(update={"state": "running", "finished_at": None})
                         .model_dump_json())  # fmt: skip
    run_id = killed["run_id"]
    assert run_main(["report", "--run", run_id, "--out", str(out), *REPORT], monkeypatch) == 0
    page = (out / "latest.md").read_text()
    note = (
        f"Run {run_id} did not finish (interrupted): this report holds only the units it "
        f"completed, and the others have no record here; continue it with "
        f"`llmselect run --suite flaky --resume {run_id}`."
    )
    assert note in page and page.index(note) < page.index("## Recommendations")
    assert "| state | interrupted |" in page and "Nothing was skipped or failed" not in page
    assert json.loads((out / "latest.json").read_text())["run"]["state"] == "interrupted"


def test_report_with_only_runs_without_results_is_an_error(
    suite_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    FAIL_ON.update(t.id for t in TARGETS)
    _run(["--suite", suite_path])
    capsys.readouterr()
    assert run_main(["report", "--out", str(tmp_path / "r"), *REPORT], monkeypatch) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("Error: no suite run in the result store ended with results")
    assert not (tmp_path / "r").exists()


# --- a cluster that does not answer -----------------------------------------------------------


@pytest.mark.parametrize("address", ["127.0.0.1:9", "ray://127.0.0.1:9"])
def test_unreachable_ray_cluster_fails_fast_and_leaves_no_run(
    suite_path: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    address: str,
) -> None:  # fmt: skip
    ray = pytest.importorskip("ray")
    inits: list[object] = []  # Ray itself retries for minutes on a dead address
    monkeypatch.setattr(ray, "init", lambda *a, **kw: inits.append((a, kw)))
    args = ["run", "--suite", suite_path, "--executor", "ray", "--address", address]
    assert run_main(args, monkeypatch) == 2
    # Refused by the TCP check before Ray starts: checked here, not by wall time, which other
    # jobs on a shared machine stretch.
    assert inits == []
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"Error: cannot reach the Ray cluster at {address}: ")
    assert "refused" in line.lower()
    assert CALLS == [] and iter_run_dirs() == []  # no empty run left for a report to pick up
    assert not os.environ.get("RAY_ADDRESS")


def test_ray_extra_installs_the_client() -> None:
    """``--address ray://`` is Ray Client, which needs ``ray[client]`` (grpcio): the extra that
    the README names must bring it."""
    import tomllib

    extras = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    ray_extra = extras["project"]["optional-dependencies"]["ray"]
    assert any(req.replace(" ", "").startswith("ray[client]") for req in ray_extra), ray_extra


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_run_through_the_ray_client_protocol(suite_path: str, tmp_path: Path) -> None:
    """A head started here with its client server, then ``run --address ray://HOST:PORT``: the
    driver connects through Ray Client and the units come back (loopback only)."""
    import shutil
    import signal
    import subprocess
    import sys
    import tempfile

    pytest.importorskip("grpc", reason="ray[client] (grpcio) is not installed")
    ray_cli = shutil.which("ray", path=str(Path(sys.executable).parent))
    assert ray_cli, "the ray command of this environment"
    gcs, client = _free_port(), _free_port()
    tests = str(Path(__file__).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")]),
           "RAY_AUTH_MODE": "disabled"}  # a loopback cluster of this test only  # fmt: skip
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths have a limit
    head = subprocess.Popen(
        [ray_cli, "start", "--head", "--block", f"--port={gcs}", "--num-cpus=2",
         f"--ray-client-server-port={client}", "--node-ip-address=127.0.0.1",
         "--include-dashboard=false", f"--temp-dir={temp}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        suite_file = tmp_path / "builtin.yaml"
        suite_file.write_text(yaml.safe_dump({
            "name": "client", "models": ["llama-2-7b", "qwen2.5-7b-instruct"],
            "probes": [{"probe": "license"}],
        }))  # fmt: skip
        args = [
            sys.executable,
            "-m",
            "llmselect",
            "run",
            "--suite",
            str(suite_file),
            "--executor",
            "ray",
            "--address",
            f"ray://127.0.0.1:{client}",
            "--json",
        ]
        deadline = time.monotonic() + 120
        while True:  # the client server answers once the head is up
            proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
            if proc.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert proc.returncode == 0, proc.stderr[-2000:]
        summary = json.loads(proc.stdout)
        assert summary["ok"] == 2 and summary["errors"] == 0
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        head.wait(60)
        shutil.rmtree(temp, ignore_errors=True)
