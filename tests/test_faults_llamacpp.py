"""Fault cases of the llama.cpp engine: a crash in native code (a signal) ends one child process,
becomes one failed point naming the signal, and the run goes on; llama.cpp never runs in the
calling process."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from _cli import run_main
from checkpoints.conftest import smollm2_path

import llmselect.checkpoint.llamacpp as llamacpp
import llmselect.probes.reference_latency as rl
from llmselect.childproc import exit_reason, signal_of
from llmselect.errors import LLMSelectError
from llmselect.probes.latency_spec import LatencyPoint
from llmselect.store import iter_records, iter_run_dirs

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def crashing_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """The llama.cpp children replaced by ``_crashing_worker`` (found through PYTHONPATH, as the
    real children find llmselect); llama-cpp-python need not be installed for it."""
    monkeypatch.setattr(rl, "LLAMACPP_WORKER_MODULE", "_crashing_worker")
    monkeypatch.setattr(llamacpp, "LOGITS_CHILD", "_crashing_worker")
    monkeypatch.setattr(llamacpp, "installed_version", lambda: "0.3.36")
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)
    monkeypatch.setenv("PYTHONPATH", path)


@pytest.mark.parametrize("sig", ["SIGSEGV", "SIGILL", "SIGBUS", "SIGABRT"])
def test_worker_killed_by_a_signal_is_an_error_naming_it(
    crashing_child: None, monkeypatch: pytest.MonkeyPatch, sig: str
) -> None:
    monkeypatch.setenv("CRASH_SIGNAL", sig)
    spec = LatencyPoint(batch=1, seq=8, new_tokens=1, engine="llama.cpp", checkpoint="x.gguf")
    result = rl.run_worker(spec, timeout_s=60)
    assert result["status"] == "error"
    assert result["error"] == f"llama.cpp child died with {sig}"


def test_perf_measure_records_each_crashed_point_and_goes_on(
    crashing_child: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["perf", "measure", "-m", str(smollm2_path()), "--engine", "llama.cpp",
            "--seq", "8", "--seq", "16", "--new-tokens", "1", "--warmup", "0",
            "--iterations", "1", "--threads", "1", "--device", "cpu"]  # fmt: skip
    assert run_main(args, monkeypatch) == 1  # finished, with failed points
    (run_dir,) = iter_run_dirs()
    failed = [r for r in iter_records(run_dir) if r.status == "error"]
    assert sorted({r.subset for r in failed}) == [
        "bs=1,seq=16,dtype=q4_1,engine=llama.cpp",
        "bs=1,seq=8,dtype=q4_1,engine=llama.cpp",
    ]
    assert {r.error for r in failed} == {"llama.cpp child died with SIGSEGV"}
    assert "llama.cpp child died with SIGSEGV" in capsys.readouterr().err


def test_logits_child_crash_is_one_line_error(
    crashing_child: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRASH_AT", "start")
    with pytest.raises(LLMSelectError, match=r"^llama\.cpp child died with SIGSEGV$"):
        llamacpp.logits_in_child("x.gguf", ["hello"])


def test_exit_status_names_the_signal() -> None:
    assert signal_of(-signal.SIGSEGV) == signal.SIGSEGV
    assert signal_of(128 + signal.SIGILL) == signal.SIGILL  # as a shell reports it
    assert signal_of(0) is None and signal_of(3) is None
    assert exit_reason("llama.cpp", 3, "Traceback\nValueError: bad") == (
        "llama.cpp child exited 3: ValueError: bad"
    )


def test_installed_llama_cpp_has_no_avx512_or_amx_code() -> None:
    """The build is portable (scripts/install-llamacpp.sh): ggml's CPU backend holds no AVX-512
    (zmm registers) and no AMX (tile) instruction, which a CPU or VM may list and still refuse.
    Read from the machine code itself, without loading the library."""
    spec = importlib.util.find_spec("llama_cpp")  # finds the package without importing it
    if spec is None or spec.origin is None:
        pytest.skip("llama-cpp-python (the llamacpp extra) is not installed")
    if shutil.which("objdump") is None:
        pytest.skip("objdump (binutils) is not installed")
    libs = sorted((Path(spec.origin).parent / "lib").glob("libggml-cpu*.so*"))
    assert libs, "no libggml-cpu in the llama_cpp package"
    for lib in libs:
        code = subprocess.run(["objdump", "-d", str(lib)], capture_output=True, text=True,
                              check=True).stdout  # fmt: skip
        assert "%ymm" in code  # AVX2 kernels are there (x86-64-v3)
        assert "%zmm" not in code, f"{lib} holds AVX-512 code: rebuild with install-llamacpp.sh"
        assert "ldtilecfg" not in code and "tdpb" not in code, f"{lib} holds AMX code"
    assert "llama_cpp" not in sys.modules
