"""The entry point: usage errors and library errors are one ``Error:`` line and exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["perf", "estimate", "-m", "llama-2-7b", "--seq", "0"], "Invalid value for '--seq'"),
        (["recommend", "--gpu", "24GB"], "Missing option '--purpose'"),
        (["catalog", "list", "--bogus"], "No such option: --bogus"),
        (["nosuchcommand"], "No such command"),
        (["catalog", "show", "zzz-unknown"], "unknown model 'zzz-unknown'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "llmselect", *args], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
