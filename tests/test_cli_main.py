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


def test_commands_load_when_asked_and_help_lists_every_one() -> None:
    """The table of top-level commands names exactly what the command modules register, and a
    command runs after importing its own module only."""
    code = (
        "import importlib, sys, typer, typer.main\n"
        "from llmselect.cli import COMMANDS, COMMAND_MODULES, app\n"
        "app(['probes', 'list', '--json'], standalone_mode=False)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('llmselect.cli.'))\n"
        "print('LOADED=' + ','.join(loaded), file=sys.stderr)\n"
        "names = {}\n"
        "for mod in COMMAND_MODULES:\n"
        "    sub = typer.Typer()\n"
        "    importlib.import_module(f'llmselect.cli.{mod}').register(sub)\n"
        "    for name in typer.main.get_group(sub).commands:\n"
        "        names[name] = mod\n"
        "assert names == COMMANDS, (names, COMMANDS)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    # common, numbers and options (the shared output helpers, numeric-option check and option
    # aliases) plus the command's own module: no other command module
    loaded = "llmselect.cli.common,llmselect.cli.numbers,llmselect.cli.options,llmselect.cli.probes"
    assert f"LOADED={loaded}\n" in proc.stderr
    help_text = subprocess.run(
        [sys.executable, "-m", "llmselect", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("tokenize-bench", "recommend", "run", "report", "catalog", "cost", "probes"):
        assert f" {name} " in help_text, name


def test_no_command_shows_usage_without_an_error_line() -> None:
    """``llmselect`` alone prints its usage and exits 2, with no empty "Error:" line after it."""
    proc = subprocess.run(
        [sys.executable, "-m", "llmselect"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "Usage:" in proc.stdout + proc.stderr
    assert "Error" not in proc.stderr, proc.stderr
