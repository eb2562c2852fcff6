"""Interrupted suites keep finished records and resume; the ``run`` and ``report`` commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from llmselect import registry, suite
from llmselect.cli import app
from llmselect.probes.base import Probe, ProbeConfig, RunContext
from llmselect.records import Measurement
from llmselect.store import iter_records, read_run_info
from llmselect.suite import SuiteInterrupted, build_plan, parse_suite, run_suite


@dataclass(frozen=True)
class Thing:
    id: str


CALLS: list[str] = []
INTERRUPT_ON: set[str] = set()
FAIL_ON: set[str] = set()


class FakeProbe(Probe):
    """Records the target name's length; raises where the test says."""

    name = "fake_len"
    target_kind = "fake"
    Config = ProbeConfig

    def run(self, target: Any, ctx: RunContext) -> Iterable[Measurement]:
        CALLS.append(target.id)
        if target.id in INTERRUPT_ON:
            raise KeyboardInterrupt
        if target.id in FAIL_ON:
            raise RuntimeError(f"cannot measure {target.id}")
        yield self.record(
            ctx, target.id, "name_chars", len(target.id), "char", higher_is_better=None
        )


TARGETS = [Thing("alpha"), Thing("beta"), Thing("gamma")]


def resolve(names):  # type: ignore[no-untyped-def]
    return [t for t in TARGETS if names is None or t.id in names]


@pytest.fixture(autouse=True)
def _fake_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the fake probe and its target kind the way built-ins are registered."""
    monkeypatch.setitem(registry.BUILTIN_PROBES, "fake_len", f"{__name__}:FakeProbe")
    monkeypatch.setitem(suite.DEFAULT_RESOLVERS, "fake", resolve)
    CALLS.clear()
    INTERRUPT_ON.clear()
    FAIL_ON.clear()


SUITE = {"name": "fake", "probes": [{"probe": "fake_len"}]}


def test_interrupted_suite_keeps_records_and_resume_runs_only_the_rest(tmp_path: Path) -> None:
    spec = parse_suite(SUITE, "test")
    INTERRUPT_ON.add("beta")
    with pytest.raises(KeyboardInterrupt) as stopped:
        run_suite(spec, results_root=tmp_path)
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert isinstance(stopped.value, SuiteInterrupted) and stopped.value.run_id == run_dir.name
    kept = list(iter_records(run_dir))
    assert [(r.model_id, r.value) for r in kept] == [("alpha", 5.0)]
    assert read_run_info(run_dir).finished_at is not None  # run.json stamped on the way out

    INTERRUPT_ON.clear()
    CALLS.clear()
    result = run_suite(spec, results_root=tmp_path, resume_run_id=run_dir.name)
    assert CALLS == ["beta", "gamma"]
    assert (result.resumed, result.ok, result.run_dir) == (1, 2, run_dir)
    values = sorted((r.model_id, r.value) for r in iter_records(run_dir))
    assert values == [("alpha", 5.0), ("beta", 4.0), ("gamma", 5.0)]


DRIVER = """
import sys, time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from llmselect.probes.base import Probe, ProbeConfig
from llmselect.suite import SuiteInterrupted, build_plan, parse_suite, run_suite

@dataclass(frozen=True)
class Thing:
    id: str

class SlowProbe(Probe):
    name = "fake_len"
    target_kind = "fake"
    Config = ProbeConfig
    def run(self, target, ctx):
        if target.id != "alpha":
            time.sleep(60)  # killed here
        yield self.record(ctx, target.id, "name_chars", len(target.id), "char",
                          higher_is_better=None)

spec = parse_suite({SUITE!r}, "driver")
targets = [Thing(n) for n in ("alpha", "beta", "gamma")]
plan = build_plan(spec, probe_loader=lambda name: SlowProbe, known_probes={{"fake_len"}},
                  resolvers={{"fake": lambda names: targets}})
run_suite(spec, plan=plan, results_root=Path(sys.argv[1]))
"""


@pytest.mark.integration
def test_killed_run_keeps_finished_units_and_resumes(tmp_path: Path) -> None:
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(DRIVER.format(SUITE=SUITE)))
    store = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, str(driver), str(store)], env=dict(os.environ))
    try:
        deadline = time.monotonic() + 120  # only a hang guard: a busy machine may be slow
        shard = None
        while time.monotonic() < deadline:
            shards = list(store.glob("*/measurements.jsonl"))
            if shards and shards[0].read_text().strip():
                shard = shards[0]
                break
            assert proc.poll() is None, "driver exited early"
            time.sleep(0.05)
        assert shard is not None, "no record written in 120 s"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    run_dir = shard.parent
    assert [r.model_id for r in iter_records(run_dir)] == ["alpha"]
    assert read_run_info(run_dir).finished_at is None  # killed: never stamped

    spec = parse_suite(SUITE, "test")
    result = run_suite(spec, results_root=store, resume_run_id=run_dir.name)
    assert CALLS == ["beta", "gamma"] and result.resumed == 1
    assert sorted(r.model_id for r in iter_records(run_dir)) == ["alpha", "beta", "gamma"]


# --- the commands -------------------------------------------------------------------------


def _suite_file(tmp_path: Path, data: dict | None = None) -> Path:
    path = tmp_path / "fake.yaml"
    path.write_text(yaml.safe_dump(data or SUITE))
    return path


def _store_runs() -> list[Path]:
    home = Path(os.environ["LLMSELECT_HOME"]) / "results"
    return sorted(p for p in home.iterdir() if p.is_dir())


def test_cli_run_dry_run_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--suite", str(_suite_file(tmp_path)), "--dry-run",
                                      "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["suite"] == "fake" and [u["target"] for u in data["units"]] == [
        "alpha", "beta", "gamma",
    ]  # fmt: skip
    assert CALLS == []


def test_cli_run_exit_codes_and_resume(tmp_path: Path) -> None:
    path = str(_suite_file(tmp_path))
    FAIL_ON.add("gamma")
    first = CliRunner().invoke(app, ["run", "--suite", path, "--json"])
    assert first.exit_code == 1, first.output  # finished, but a probe errored
    summary = json.loads(first.stdout)
    assert (summary["ok"], summary["errors"]) == (2, 1)

    FAIL_ON.clear()
    CALLS.clear()
    again = CliRunner().invoke(app, ["run", "--suite", path, "--resume", summary["run_id"],
                                     "--json"])  # fmt: skip
    # gamma's stored outcome is an error: resume runs it again (--keep-failed would not).
    assert again.exit_code == 0, again.output
    healed = json.loads(again.stdout)
    assert (healed["resumed"], healed["retried"]) == (2, 1) and CALLS == ["gamma"]

    bad = CliRunner().invoke(app, ["run", "--suite", path, "--resume", "nope"])
    assert bad.exit_code != 0 and "no run 'nope' to resume" in str(bad.exception)


def test_resume_with_another_limit_or_data_is_refused_in_one_line(
    with_data_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--limit and the data bundle reach units through the run, not their keys: a resume under
    another limit or on other data would mix two meanings in one run, so it is refused (exit
    2), naming the difference."""
    from _cli import run_main

    path = str(_suite_file(tmp_path))
    assert run_main(["run", "--suite", path, "--limit", "5", "--json"], monkeypatch) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    assert read_run_info(_store_runs()[0]).settings["limit"] == 5  # type: ignore[index]
    CALLS.clear()

    resume = ["run", "--suite", path, "--resume", run_id]
    for extra, shown in (["--limit", "6"], "6"), ([], "none"):
        assert run_main([*resume, *extra], monkeypatch) == 2
        err = capsys.readouterr().err.strip()
        assert err == (
            f"Error: run {run_id} was made with --limit 5 (this resume: {shown}): resume it "
            "with the same settings, or start a new run"
        )
    stored = read_run_info(_store_runs()[0]).settings["data"]  # type: ignore[index]
    assert isinstance(stored, str) and len(stored) == 12
    monkeypatch.setenv("LLMSELECT_DATA_ROOT", str(tmp_path))  # a folder without the bundle
    assert run_main([*resume, "--limit", "5"], monkeypatch) == 2
    err = capsys.readouterr().err
    assert f"data bundle (manifests' sha256) {stored} (this resume: none)" in err
    assert CALLS == []
    monkeypatch.setenv("LLMSELECT_DATA_ROOT", str(with_data_root))
    assert run_main([*resume, "--limit", "5", "--json"], monkeypatch) == 0
    assert json.loads(capsys.readouterr().out)["resumed"] == 3


def test_cli_unknown_suite_is_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "llmselect", "run", "--suite", "no-such-suite"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: unknown suite 'no-such-suite'; known:")


def test_cli_report_writes_files_and_compares(tmp_path: Path) -> None:
    path = str(_suite_file(tmp_path))
    assert CliRunner().invoke(app, ["run", "--suite", path]).exit_code == 0
    out = tmp_path / "reports"
    args = ["report", "--out", str(out), "--now", "2026-11-23T03:00:00+00:00", "--json"]
    first = CliRunner().invoke(app, args)  # dated on the run's start day (UTC)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["previous"] is None
    day = json.loads(first.stdout)["date"]
    (run_dir,) = _store_runs()
    assert day == read_run_info(run_dir).started_at.date().isoformat()  # type: ignore[union-attr]
    html = (out / day / "report.html").read_text()  # every number, long-form
    assert '<td>alpha</td><td>name_chars</td><td></td><td class="num">5</td><td>char</td>' in html
    assert "report.html#details" in (out / day / "report.md").read_text()

    # The same run reported a day later compares with the first report.
    next_day = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    second = CliRunner().invoke(app, [*args, "--date", next_day])
    info = json.loads(second.stdout)
    assert info["previous"] == str(out / day / "report.json")
    assert info["flagged"] == 0
    latest = json.loads((out / "latest.json").read_text())
    assert latest["date"] == next_day and latest["deltas"]["unchanged"] == 3

    by_id = CliRunner().invoke(app, ["report", "--run", run_dir.name, "--out", str(out)])
    assert by_id.exit_code == 0
    missing = CliRunner().invoke(app, ["report", "--run", "nope", "--out", str(out)])
    assert missing.exit_code != 0 and "no run 'nope'" in str(missing.exception)
    bad_date = CliRunner().invoke(app, ["report", "--date", "23/11/2026", "--out", str(out)])
    assert "--date must be YYYY-MM-DD" in str(bad_date.exception)


def test_cli_report_without_runs_is_an_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "llmselect", "report", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("Error: no runs in the result store")


def test_plan_uses_registered_probe_and_resolver() -> None:
    plan = build_plan(parse_suite(SUITE, "test"))
    assert [u.target.id for u in plan.units] == ["alpha", "beta", "gamma"]
    assert isinstance(plan.units[0].probe, FakeProbe)


def test_help_says_where_results_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`run --help` and `results --help` name the store as config.results_dir finds it."""
    from llmselect.config import results_dir

    for command in (["run", "--help"], ["results", "--help"]):
        text = " ".join(CliRunner().invoke(app, command, terminal_width=200).stdout.split())
        assert "$LLMSELECT_RESULTS, else $LLMSELECT_HOME/results" in text, command
        assert "~/.llmselect/results" in text, command
    monkeypatch.setenv("LLMSELECT_RESULTS", str(tmp_path / "store"))
    assert results_dir() == tmp_path / "store"
    monkeypatch.delenv("LLMSELECT_RESULTS")
    assert results_dir() == tmp_path / "home" / "results"  # conftest's LLMSELECT_HOME
    monkeypatch.delenv("LLMSELECT_HOME")
    assert results_dir() == Path.home() / ".llmselect" / "results"
