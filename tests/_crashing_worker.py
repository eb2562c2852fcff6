"""A measurement child that dies by a signal, as a crash in llama.cpp's native code ends one.

Run by the parent in place of ``llmselect.probes._llamacpp_worker``: it follows the real worker
contract (``run_worker``: read and validate the spec, then measure), and its measurement kills
the process with ``CRASH_SIGNAL`` (default SIGSEGV) before any result is written.
``CRASH_AT=start`` kills it before it reads anything (for children with another request format).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from llmselect.probes._latency_worker import run_worker
from llmselect.probes.latency_spec import LatencyPoint


def _die() -> None:
    os.kill(os.getpid(), signal.Signals[os.environ.get("CRASH_SIGNAL", "SIGSEGV")])


def measure(spec: LatencyPoint) -> dict[str, Any]:
    _die()
    raise AssertionError("the signal ends this process before here")


if __name__ == "__main__":
    if os.environ.get("CRASH_AT") == "start":
        _die()
    sys.exit(run_worker(sys.argv, measure))
