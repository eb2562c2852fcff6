"""One ``llmselect`` command in a fresh interpreter: its CPU time and what it touched.

The child records, through an audit hook, the files it opened (data files only: no Python
sources or bytecode), any process it started and any network call, and which heavy modules it
imported. These are what make a command fast or slow on any machine; the CPU time (user +
system of the child, waited for here) is for a ratio against a reference command measured in
the same test, never for a bound in seconds (a slower or busier CPU moves that).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass

HEAVY = ("torch", "transformers", "lm_eval", "pandas", "numpy", "matplotlib", "rich", "yaml")

CHILD = """
import json, os, sys
seen = {"opened": [], "written": [], "spawned": [], "network": []}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
CODE = (".py", ".pyc", ".so", ".pth", "entry_points.txt")
def hook(event, args):
    if event == "open":
        path, mode, flags = str(args[0]), args[1] or "", args[2] or 0
        if not path.endswith(CODE) and "__pycache__" not in path:
            seen["opened"].append(path)
            if any(c in mode for c in "wxa+") or flags & WRITE_FLAGS:
                seen["written"].append(path)
    elif event in ("subprocess.Popen", "os.system", "os.posix_spawn", "os.fork", "os.exec"):
        seen["spawned"].append(event)
    elif event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
        seen["network"].append(event)
sys.addaudithook(hook)
from llmselect.cli import app
app(sys.argv[1:], standalone_mode=False)
seen["heavy"] = [m for m in HEAVY if m in sys.modules]
print("TOUCHED=" + json.dumps(seen), file=sys.stderr)
"""


@dataclass
class CommandRun:
    """What one command cost and touched."""

    cpu_s: float  # user + system CPU seconds of the child
    stdout: str
    heavy: list[str]  # heavy modules it imported (of HEAVY)
    opened: list[str]  # data files it opened
    written: list[str]  # files it opened for writing
    spawned: list[str]  # audit events of processes it started
    network: list[str]  # audit events of network calls


def command_env(**extra: str) -> dict[str, str]:
    """This environment, writing bytecode: the first call leaves compiled bytecode, as an
    installed package has, so later calls cost the command and not compiling its sources."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, **extra}


def run_command(args: list[str], env: dict[str, str]) -> CommandRun:
    """``llmselect ARGS`` in a fresh interpreter (must exit 0; 300 s only stops a hang)."""
    code = f"HEAVY = {HEAVY!r}\n{CHILD}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, timeout=300, check=False, env=env,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert proc.returncode == 0, proc.stderr
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("TOUCHED=")][-1]
    seen = json.loads(line.removeprefix("TOUCHED="))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return CommandRun(cpu_s=cpu, stdout=proc.stdout, **seen)
