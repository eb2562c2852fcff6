"""Fault injection on the result store: every case ends with each finished record readable once.

Kills (``kill -9`` at random points, SIGINT, SIGTERM), torn and garbage bytes, two writers of
one run, a read-only and a full disk (a small tmpfs when the tests run as root; a file-size
limit otherwise). The runs are real ``llmselect`` processes (``tests/_fault_driver.py``) with
a fast probe.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from _cli import run_main
from _fault_driver import RECORDS_PER_UNIT, SUITE, targets

from llmselect import registry, suite
from llmselect.records import Measurement, RunInfo
from llmselect.store import (
    MEASUREMENTS,
    RunWriter,
    completed_keys,
    iter_records,
    read_run_info,
    run_state,
    scan_shard,
    stamp_unit,
)

DRIVER = Path(__file__).with_name("_fault_driver.py")


@pytest.fixture()
def fault_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """The driver's probe, registered in this process too."""
    monkeypatch.setitem(registry.BUILTIN_PROBES, "fault_rows", "_fault_driver:FaultRowsProbe")
    monkeypatch.setitem(
        suite.DEFAULT_RESOLVERS,
        "fault",
        lambda names: [t for t in targets() if names is None or t.id in names],
    )


@pytest.fixture()
def suite_file(tmp_path: Path) -> Path:
    path = tmp_path / "faults.yaml"
    path.write_text(yaml.safe_dump(SUITE))
    return path


def _expected(units: int) -> list[tuple[str, str, float]]:
    return sorted(
        (t.id, f"power_{k}", float(int(t.id[1:]) ** k))
        for t in targets(units)
        for k in range(1, RECORDS_PER_UNIT + 1)
    )


def assert_exactly_once(run_dir: Path, units: int) -> None:
    """Every record of every unit is in the shard once, and nothing else is."""
    scan = scan_shard(run_dir / MEASUREMENTS)
    assert scan.skipped == [], scan.describe_skipped()
    got = sorted((r.model_id, r.metric, r.value) for r in scan.records)
    assert got == _expected(units)


def _default_signals() -> None:
    # A test run started in the background by a non-interactive shell inherits SIGINT as
    # ignored, and Python then installs no Ctrl-C handler; the driver stands for a user at a
    # terminal, so it starts with the default disposition.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _driver(args: list[str], store: Path, **env: str) -> subprocess.Popen[str]:
    full_env = {**os.environ, "LLMSELECT_RESULTS": str(store), **env}
    return subprocess.Popen(
        [sys.executable, str(DRIVER), *args],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals,
    )


def _wait_for_records(store: Path, proc: subprocess.Popen[str], more_than: int = 0) -> Path:
    """The run folder, once its shard holds more than ``more_than`` bytes of whole lines."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for shard in store.glob(f"*/{MEASUREMENTS}"):
            data = shard.read_bytes()
            if data.count(b"\n") and len(data) > more_than:
                return shard.parent
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"driver exited {proc.returncode} before writing:\n{err}")
        time.sleep(0.01)
    raise AssertionError("no record within 60 s")


def _one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


# --- bytes on disk ---------------------------------------------------------------------------


def _rec(run_id: str, target: str, metric: str, value: float) -> Measurement:
    return Measurement(
        run_id=run_id, model_id=target, probe="fault_rows", metric=metric, value=value, unit="1"
    )


def test_readers_survive_any_bytes_and_report_what_they_skipped(
    fault_probe: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Path(os.environ["LLMSELECT_HOME"]) / "results"
    with RunWriter(RunInfo(run_id="20260101T000000Z-junk01"), root=store) as writer:
        run_id = writer.run_info.run_id
        good = stamp_unit([_rec(run_id, "t001", "power_1", 1.0)], "u1")
        writer.append(good)
    shard = writer.path
    valid_line = shard.read_bytes()
    junk = [
        b"\xff\xfe not utf-8 \x80\n",
        b"[]\n",
        b"null\n",
        b"42\n",
        b"this is not json\n",
        b'{"run_id": 7, "model_id": []}\n',
        b"\n",  # blank: not a record, not junk
        valid_line,  # the same part of the same unit again
    ]
    with shard.open("ab") as fh:
        fh.writelines(junk)
        fh.write(stamp_unit([_rec(run_id, "t002", "power_1", 2.0)], "u2")[0].model_dump_json()
                 .encode() + b"\n")  # fmt: skip
        fh.write(b'{"run_id": "20260101T000000Z-junk01", "model_id": "t0')  # torn, no newline

    scan = scan_shard(shard)
    assert [(r.model_id, r.value) for r in scan.records] == [("t001", 1.0), ("t002", 2.0)]
    reasons = [s.reason for s in scan.skipped]
    assert reasons == [
        "invalid UTF-8 at byte 0 of the line",
        "not a JSON object (list)",
        "not a JSON object (NoneType)",
        "not a JSON object (int)",
        "not JSON",
        "not a record: run_id: Input should be a valid string",
        "duplicate of line 1",
        "incomplete last line (torn or still being written)",
    ]
    assert scan.skipped[0].line == 2 and scan.skipped[0].offset == len(valid_line)

    # Every command that reads the store keeps working and says what it skipped.
    caplog.clear()
    code = run_main(["results", "list", "--json"], monkeypatch)
    assert code == 0
    assert "8 unreadable line(s) skipped" in caplog.text and "line 2 at byte" in caplog.text
    for args in (
        ["results", "show", "--json"],
        ["report", "--run", run_id, "--out", str(store.parent / "reports")],
        ["recommend", "--gpu", "24GB", "--purpose", "commercial", "--json"],
    ):
        assert run_main(args, monkeypatch) in (0, 1), args


def test_results_list_counts_skipped_lines_and_states(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Path(os.environ["LLMSELECT_HOME"]) / "results"
    with RunWriter(RunInfo(run_id="20260101T000000Z-list01"), root=store) as writer:
        writer.append(stamp_unit([_rec(writer.run_info.run_id, "t001", "power_1", 1.0)], "u"))
    with writer.path.open("ab") as fh:
        fh.write(b"\x00\x01garbage\n")
    assert run_main(["results", "list", "--json"], monkeypatch) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["records"], row["unreadable_lines"], row["state"]) == (1, 1, "finished")


def _make_run(store: Path, fault_probe: None, units: int) -> Path:
    """A finished run of ``units`` units through the real runner."""
    from llmselect.suite import parse_suite, run_suite

    os.environ["FAULT_UNITS"] = str(units)
    try:
        result = run_suite(parse_suite(SUITE, "test"), results_root=store)
    finally:
        del os.environ["FAULT_UNITS"]
    return result.run_dir


def test_torn_write_at_any_byte_is_set_aside_and_resume_stores_each_record_once(
    tmp_path: Path, fault_probe: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Cut the shard at byte offsets across the last two units, as a kill mid-write would."""
    from llmselect.suite import parse_suite, run_suite

    units = 4
    run_dir = _make_run(tmp_path / "origin", fault_probe, units)
    data = (run_dir / MEASUREMENTS).read_bytes()
    line_starts = [0] + [i + 1 for i, b in enumerate(data) if b == ord("\n")][:-1]
    last_two_units = line_starts[-2 * RECORDS_PER_UNIT]
    cuts = sorted({*range(last_two_units, len(data), 97), *line_starts[-6:], len(data) - 1})
    spec = parse_suite(SUITE, "test")
    os.environ["FAULT_UNITS"] = str(units)
    try:
        for cut in cuts:
            store = tmp_path / f"cut{cut}"
            copy = store / run_dir.name
            shutil.copytree(run_dir, copy)
            (copy / MEASUREMENTS).write_bytes(data[:cut])
            info = read_run_info(copy).model_copy(update={"state": "running", "finished_at": None})
            (copy / "run.json").write_text(info.model_dump_json())
            assert run_state(copy) == "interrupted"  # running, but nobody holds the lock

            caplog.clear()
            result = run_suite(spec, results_root=store, resume_run_id=copy.name)
            assert_exactly_once(copy, units)
            assert read_run_info(copy).state == "finished"
            whole_units = len(completed_keys(copy))
            assert whole_units == units and result.resumed + result.ok == units
            aside = sorted(copy.glob("measurements.torn.*"))
            if cut in line_starts and (line_starts.index(cut) % RECORDS_PER_UNIT == 0):
                assert aside == [], cut  # a cut between units leaves nothing to set aside
            else:
                (torn,) = aside
                offset = int(torn.name.rsplit(".", 1)[1])
                assert torn.read_bytes() == data[offset:cut]
                assert f"torn write at byte {offset}" in caplog.text
    finally:
        del os.environ["FAULT_UNITS"]


def test_kill_9_at_random_points_then_resume_stores_each_record_once(
    tmp_path: Path, suite_file: Path
) -> None:
    seed = int(os.environ.get("FAULT_SEED", time.time_ns() % 10_000))
    rng = random.Random(seed)
    store, units = tmp_path / "store", 40
    env = {"FAULT_UNITS": str(units), "FAULT_SLEEP_S": "0.004", "FAULT_PAD": "4000"}
    proc = _driver(["run", "--suite", str(suite_file)], store, **env)
    run_dir = _wait_for_records(store, proc)
    for round_no in range(4):
        time.sleep(rng.uniform(0, 0.08))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        size = (run_dir / MEASUREMENTS).stat().st_size
        assert run_state(run_dir) in {"interrupted", "finished"}, f"seed {seed}"
        proc = _driver(["run", "--suite", str(suite_file), "--resume", run_dir.name], store, **env)
        if round_no < 3:
            try:
                _wait_for_records(store, proc, more_than=size)
            except AssertionError:
                break  # the resume finished before it could be killed again
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, f"seed {seed}: {err}"
    assert_exactly_once(run_dir, units)
    assert run_state(run_dir) == "finished"


# --- writers ---------------------------------------------------------------------------------


def test_second_writer_of_a_run_gets_one_line_and_exit_2(tmp_path: Path, suite_file: Path) -> None:
    store, units = tmp_path / "store", 30
    # 15 s of units: the first writer is still running when the second has started and exited
    # on a slow or busy machine (0.15 s units left about 4 s), and it is killed, not waited for.
    env = {"FAULT_UNITS": str(units), "FAULT_SLEEP_S": "0.5"}
    first = _driver(["run", "--suite", str(suite_file)], store, **env)
    run_dir = _wait_for_records(store, first)
    assert run_state(run_dir) == "running"
    second = _driver(["run", "--suite", str(suite_file), "--resume", run_dir.name], store, **env)
    _out, err = second.communicate(timeout=60)
    assert second.returncode == 2
    line = _one_line_error(err)
    assert f"run {run_dir.name} is being written by another process (pid {first.pid}" in line
    assert first.poll() is None  # the first writer was not disturbed

    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert run_state(run_dir) == "interrupted"
    # Two resumes at once: one writes, the other is turned away; each record lands once.
    env["FAULT_SLEEP_S"] = "0.02"
    args = ["run", "--suite", str(suite_file), "--resume", run_dir.name]
    racers = [_driver(args, store, **env) for _ in range(2)]
    codes = sorted(p.wait(60) for p in racers)
    assert codes in ([0, 0], [0, 2]), codes
    assert_exactly_once(run_dir, units)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stopped_run_is_interrupted_keeps_results_and_resumes(
    tmp_path: Path, suite_file: Path, sig: signal.Signals
) -> None:
    store, units = tmp_path / "store", 12
    # 6 s of units: the signal comes before the run ends on a slow or busy machine (0.1 s
    # units left about 1 s between the first record and the end).
    env = {"FAULT_UNITS": str(units), "FAULT_SLEEP_S": "0.5"}
    proc = _driver(["run", "--suite", str(suite_file)], store, **env)
    run_dir = _wait_for_records(store, proc)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"--resume {run_dir.name}" in err
    info = read_run_info(run_dir)
    assert info.state == "interrupted" and run_state(run_dir) == "interrupted"
    kept = len(list(iter_records(run_dir)))
    assert kept >= RECORDS_PER_UNIT and kept % RECORDS_PER_UNIT == 0

    env["FAULT_SLEEP_S"] = "0"
    proc = _driver(["run", "--suite", str(suite_file), "--resume", run_dir.name], store, **env)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert_exactly_once(run_dir, units)
    assert read_run_info(run_dir).state == "finished"


# --- disks -----------------------------------------------------------------------------------


@pytest.fixture()
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs; needs root (skipped otherwise; the file-size-limit test still runs)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode:
        pytest.skip(f"cannot mount tmpfs: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _remount(mnt: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mnt)], check=True)


def test_full_disk_stops_with_one_line_and_whole_units_then_resumes(
    small_tmpfs: Path, suite_file: Path
) -> None:
    store, units = small_tmpfs / "results", 40  # ~40 × 3 × 700 bytes: more than 64 KiB
    env = {"FAULT_UNITS": str(units), "FAULT_PAD": "400"}
    proc = _driver(["run", "--suite", str(suite_file)], store, **env)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "No space left on device" in _one_line_error(err)
    (run_dir,) = [p for p in store.iterdir() if p.is_dir()]
    scan = scan_shard(run_dir / MEASUREMENTS)
    assert scan.skipped == [] and 0 < len(scan.records) < units * RECORDS_PER_UNIT
    assert len(scan.records) % RECORDS_PER_UNIT == 0  # whole units only
    assert run_state(run_dir) in {"failed", "interrupted"}

    _remount(small_tmpfs, "size=4m")
    proc = _driver(["run", "--suite", str(suite_file), "--resume", run_dir.name], store, **env)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert_exactly_once(run_dir, units)


def test_read_only_disk_gives_one_line_and_keeps_every_record(
    small_tmpfs: Path, suite_file: Path
) -> None:
    store = small_tmpfs / "results"
    proc = _driver(["run", "--suite", str(suite_file)], store, FAULT_UNITS="5")
    assert proc.wait(60) == 0, proc.communicate()[1]
    (run_dir,) = [p for p in store.iterdir() if p.is_dir()]

    _remount(small_tmpfs, "ro")
    for args in (["run", "--suite", str(suite_file)],
                 ["run", "--suite", str(suite_file), "--resume", run_dir.name]):  # fmt: skip
        proc = _driver(args, store, FAULT_UNITS="8")
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 2, err
        assert "Read-only file system" in _one_line_error(err)
    assert_exactly_once(run_dir, 5)  # readers work on a read-only store
    assert run_state(run_dir) == "finished"

    _remount(small_tmpfs, "rw")
    proc = _driver(["run", "--suite", str(suite_file), "--resume", run_dir.name], store,
                   FAULT_UNITS="8")  # fmt: skip
    assert proc.wait(60) == 0, proc.communicate()[1]
    assert_exactly_once(run_dir, 8)


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (24_000, 24_000))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG


def test_file_size_limit_cuts_no_unit_in_half(tmp_path: Path, suite_file: Path) -> None:
    """A full disk without root: the kernel's file-size limit fails a write part way."""
    store, units = tmp_path / "store", 30
    env = {**os.environ, "LLMSELECT_RESULTS": str(store), "FAULT_UNITS": str(units)}
    done = subprocess.run(
        [sys.executable, str(DRIVER), "run", "--suite", str(suite_file)],
        env=env, capture_output=True, text=True, preexec_fn=_limit_file_size, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "File too large" in _one_line_error(done.stderr)
    (run_dir,) = [p for p in store.iterdir() if p.is_dir()]
    scan = scan_shard(run_dir / MEASUREMENTS)
    assert scan.skipped == [] and len(scan.records) % RECORDS_PER_UNIT == 0
    assert 0 < scan.size <= 24_000

    proc = _driver(["run", "--suite", str(suite_file), "--resume", run_dir.name], store,
                   FAULT_UNITS=str(units))  # fmt: skip
    assert proc.wait(60) == 0, proc.communicate()[1]
    assert_exactly_once(run_dir, units)
