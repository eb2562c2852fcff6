"""Typer options that several command modules share, as ``Annotated`` aliases: one flag and
one help text wherever the option recurs, and a command signature of one line per option.

Only options whose flag, help and checks are the same everywhere are here; a command whose
``--json`` says something else keeps its own, and an option used by one module stays there.
"""

from __future__ import annotations

from typing import Annotated

import typer

from llmselect.cli.numbers import check_threads

JsonOpt = Annotated[bool, typer.Option("--json", help="JSON on stdout.")]
MachineJsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV on stdout.")]


def threads_option(help_text: str) -> typer.models.OptionInfo:
    """``--threads`` (at least 1, at most the usable CPUs); the help says what is threaded."""
    return typer.Option("--threads", min=1, callback=check_threads, help=help_text)
