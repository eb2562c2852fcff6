"""The workers' child-process contract (``llmselect.childproc``) on real child processes: a
result comes back, an exception is one line, a signal is named, a timeout and an exit without
a result are one line each; the throughput probe's spawning call reports a crash the same way."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from llmselect.childproc import child_env, run_child, signal_of
from llmselect.errors import LLMSelectError

# A worker with the same contract as the real ones: the spec says what to do.
WORKER = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from llmselect.childproc import serve

    def measure(spec):
        action = spec["do"]
        if action == "raise":
            raise ValueError("bad spec field 'x'\\nsecond line")
        if action == "signal":
            os.kill(os.getpid(), getattr(signal, spec["signal"]))
        if action == "sleep":
            time.sleep(spec["s"])
        if action == "exit":
            print("Boom in native code", file=sys.stderr)
            os._exit(5)
        return {"status": "ok", "echo": spec["value"] * 2}

    if __name__ == "__main__":
        sys.exit(serve(sys.argv, json.loads, measure))
    """
)


@pytest.fixture()
def worker_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "toy_worker.py").write_text(WORKER, encoding="utf-8")
    env = child_env()
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    return env


def _run(spec: str, env: dict[str, str], timeout_s: float = 60) -> dict:
    return run_child("toy_worker", spec, timeout_s=timeout_s, label="toy", env=env)


def test_result_comes_back_from_another_process(worker_env: dict[str, str]) -> None:
    result = _run('{"do": "ok", "value": 21}', worker_env)
    assert (result["status"], result["echo"]) == ("ok", 42)
    assert result["pid"] != os.getpid() and result["wall_s"] > 0


def test_exception_in_the_child_is_one_line(worker_env: dict[str, str]) -> None:
    result = _run('{"do": "raise"}', worker_env)
    assert result["status"] == "error"
    assert result["error"] == "ValueError: bad spec field 'x'"


@pytest.mark.parametrize("name", ["SIGSEGV", "SIGKILL", "SIGABRT"])
def test_child_killed_by_a_signal_is_one_error_naming_it(
    worker_env: dict[str, str], name: str
) -> None:
    result = _run(f'{{"do": "signal", "signal": "{name}"}}', worker_env)
    assert result["status"] == "error"
    assert result["error"] == f"toy child died with {name}"
    assert result["signal"] == name


def test_timeout_and_exit_without_result_are_one_line(worker_env: dict[str, str]) -> None:
    slow = _run('{"do": "sleep", "s": 30}', worker_env, timeout_s=1)
    assert (slow["status"], slow["error"]) == ("error", "toy child timed out after 1 s")
    assert slow["wall_s"] < 20
    gone = _run('{"do": "exit"}', worker_env)
    assert gone["error"] == "toy child exited 5: Boom in native code"
    assert "signal" not in gone


def _children(pid: int) -> list[int]:
    """Child pids of a live process (Linux ``/proc``)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _alive(pid: int) -> bool:
    """Running or sleeping: not gone and not a zombie waiting for a reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG)")
def test_child_dies_with_a_killed_parent(worker_env: dict[str, str]) -> None:
    """`kill -9` of a run leaves no measurement running on as an orphan (a 60 s one here)."""
    code = (
        "from llmselect.childproc import run_child\n"
        'run_child(\'toy_worker\', \'{"do": "sleep", "s": 60}\', timeout_s=120, '
        "label='toy')\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], env=worker_env)
    child = None
    try:
        deadline = time.monotonic() + 30
        while child is None and time.monotonic() < deadline:
            time.sleep(0.05)
            kids = _children(parent.pid)
            child = kids[0] if kids else None
        assert child is not None, "the parent started no child"
        time.sleep(0.5)  # most often the child is in serve(), past its request to die with the
        parent.kill()  # parent; a child still starting up exits when it finds the parent gone
        parent.wait()
        deadline = time.monotonic() + 60  # a busy machine may start the late child slowly
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the child runs on after its parent was killed"
    finally:
        parent.kill()
        if child is not None and _alive(child):
            os.kill(child, signal.SIGKILL)


def test_signal_of_reads_both_conventions() -> None:
    assert signal_of(-signal.SIGSEGV) == signal.SIGSEGV
    assert signal_of(128 + signal.SIGKILL) == signal.SIGKILL  # as a shell reports it
    assert signal_of(0) is None and signal_of(1) is None and signal_of(None) is None


def test_throughput_worker_crash_fails_the_unit_naming_the_signal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, worker_env: dict[str, str]
) -> None:
    """The throughput probe's spawning call goes through the same contract: a tokenizer
    library that crashes its child (here: a worker that dies with SIGSEGV on any spec) gives
    one error naming the signal."""
    from llmselect.probes import tokenizer_throughput as tt
    from llmselect.probes.throughput_spec import ThroughputSpec

    crash = "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"
    (tmp_path / "crash_worker.py").write_text(crash, encoding="utf-8")
    monkeypatch.setattr(tt, "WORKER_MODULE", "crash_worker")
    monkeypatch.setattr(tt, "worker_env", lambda: worker_env)
    spec = ThroughputSpec(
        tokenizer={}, texts={"zh": ["你好"]}, threads=1, repeats=1, warmup_s=0, min_pass_s=0
    )
    with pytest.raises(LLMSelectError) as exc:
        tt.run_worker(spec, timeout_s=60)
    assert str(exc.value) == "throughput worker failed: tokenizer child died with SIGSEGV"
