"""The child-process contract of the measurement workers: spec JSON in, result JSON out.

A probe that measures in a fresh process (latency, throughput, llama.cpp) runs
``python -m MODULE SPEC.json RESULT.json`` through ``run_child``; the worker module calls
``serve``, which reads the spec, measures and writes one JSON object (an exception becomes an
``error`` result in one line; the traceback goes to the child's stderr). Native engines
(llama.cpp, torch kernels) run in children so that a crash in their code (a signal: SIGSEGV,
SIGILL, SIGBUS, ...) ends one point, not the whole run.

``run_child`` returns one dict in every case: the child's result, or, when the child wrote
none, ``status: error`` with one line saying why (timed out; died with a signal, named, the
signal's name also under ``signal``; or its exit code and the last line of its output), and
the child's wall time under ``wall_s``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

S = TypeVar("S")

# The pid of the process that started a child (``run_child``), for the child's ``serve``.
PARENT_ENV = "LLMSELECT_CHILD_PARENT"
PR_SET_PDEATHSIG = 1  # linux/prctl.h
EXIT_ORPHANED = 4  # the parent was gone before the child could ask to die with it


def signal_of(returncode: int | None) -> signal.Signals | None:
    """The signal that ended a child (``subprocess`` reports it as ``-N``; a shell as 128+N)."""
    if returncode is None:
        return None
    number = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    try:
        return signal.Signals(number) if number else None
    except ValueError:
        return None


def exit_reason(label: str, returncode: int, output: str = "") -> str:
    """``"llama.cpp child died with SIGSEGV"`` for a signal, else ``"<label> child exited N:
    <last line of its output>"`` (the last line of a traceback names the exception)."""
    sig = signal_of(returncode)
    if sig is not None:
        return f"{label} child died with {sig.name}"
    lines = output.strip().splitlines()
    last = lines[-1].strip()[:500] if lines else "no output"
    return f"{label} child exited {returncode}: {last}"


def child_env() -> dict[str, str]:
    """This process's environment with the folder holding this very ``llmselect`` first on
    PYTHONPATH, so a child runs the same code wherever the parent found it."""
    env = dict(os.environ)
    pkg_root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH")) if p)
    return env


def run_child(
    module: str,
    spec_json: str,
    *,
    timeout_s: float,
    label: str,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``python -m module SPEC.json RESULT.json`` on ``spec_json`` within ``timeout_s``;
    the result the child wrote, or an ``error`` result saying in one line why there is none
    (``label`` names the child in it: ``"llama.cpp child died with SIGSEGV"``)."""
    with tempfile.TemporaryDirectory(prefix="llmselect-child-") as tmp:
        spec_path, result_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(spec_json, encoding="utf-8")
        started = time.perf_counter()
        env = {**(child_env() if env is None else env), PARENT_ENV: str(os.getpid())}
        try:
            proc = subprocess.run(
                [sys.executable, "-m", module, str(spec_path), str(result_path)],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired:  # the child was killed when its time ran out
            error = f"{label} child timed out after {timeout_s:g} s"
            return {"status": "error", "error": error, "wall_s": time.perf_counter() - started}
        wall_s = time.perf_counter() - started
        if result_path.is_file():
            result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
        else:
            output = proc.stderr or proc.stdout or ""
            result = {"status": "error", "error": exit_reason(label, proc.returncode, output)}
            sig = signal_of(proc.returncode)
            if sig is not None:
                result["signal"] = sig.name
    result["wall_s"] = wall_s
    return result


def _one_line(exc: Exception) -> str:
    """``Type: first line``; a validation error (pydantic's ``errors()``) names each field."""
    try:
        problems = exc.errors()  # type: ignore[attr-defined]
        detail = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems)
    except (AttributeError, TypeError, KeyError):
        text = str(exc).strip()
        detail = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {detail}"[:500]


def _die_with_parent() -> None:
    """Linux: have the kernel kill this child when the process that started it dies, by
    ``kill -9`` too; an orphaned measurement (an lm-eval scoring, a latency point) would run on
    and load a shared machine for a run that is gone. Elsewhere, or when not started by
    ``run_child``, nothing happens. The variable is dropped so a grandchild never reads it."""
    parent = os.environ.pop(PARENT_ENV, None)
    if parent is None or not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if str(os.getppid()) != parent:  # the parent died before the request took effect
        os._exit(EXIT_ORPHANED)


def serve(
    argv: list[str],
    parse: Callable[[str], S],
    measure: Callable[[S], dict[str, Any]],
    ok: tuple[str, ...] = ("ok",),
) -> int:
    """The child's side (``argv``: ``[prog, SPEC.json, RESULT.json]``): parse the spec, measure,
    write the result with this process's ``pid``; an exception becomes an ``error`` result of
    one line (the whole traceback goes to stderr). Exit 0 when the result's status is in
    ``ok``, else 3. The child dies with the process that started it (``_die_with_parent``)."""
    _die_with_parent()
    spec_path, result_path = Path(argv[1]), Path(argv[2])
    try:
        result = measure(parse(spec_path.read_text(encoding="utf-8")))
    except Exception as exc:  # noqa: BLE001 - reported to the parent as an error result
        traceback.print_exception(exc, file=sys.stderr)
        result = {"status": "error", "error": _one_line(exc)}
    result["pid"] = os.getpid()
    result_path.write_text(json.dumps(result), encoding="utf-8")
    return 0 if result.get("status") in ok else 3
