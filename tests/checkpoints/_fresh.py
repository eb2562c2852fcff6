"""Run a function of a test module in a fresh interpreter (llama.cpp never loads in pytest)."""

from __future__ import annotations

import json
from typing import Any

import pytest


def in_fresh_python(module: str, function: str, *args: Any) -> Any:
    """``module.function(*args)`` in a fresh interpreter, its JSON result back: llama.cpp never
    loads in the test process, and a crash in it fails the test with the signal named."""
    import signal
    import subprocess
    import sys

    code = (
        "import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
        f"from {module} import {function}; "
        f"print(json.dumps({function}(*json.loads(sys.argv[2]))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(sys.path), json.dumps([str(a) for a in args])],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode < 0:
        pytest.fail(f"{function} died with {signal.Signals(-proc.returncode).name}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
