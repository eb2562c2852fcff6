"""Helpers for CLI tests: run the real entry point (exit codes) or the Typer app (JSON)."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from llmselect.cli import app, main

runner = CliRunner()


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """Exit code of ``llmselect ARGS`` through ``main()``, as a shell would see it."""
    monkeypatch.setattr(sys, "argv", ["llmselect", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    return int(exc.value.code or 0)


def invoke_json(args: list[str]) -> object:
    """Parsed stdout of a command that must succeed."""
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
