"""CLI: ``executors list`` (each executor with its options, from the registry) and the
``--executor``/``--executor-option`` options shared by the commands that run units."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer

from llmselect.cli.common import out, print_json
from llmselect.cli.options import JsonOpt

ExecutorOpt = Annotated[
    str | None,
    typer.Option(
        "--executor",
        help="Where units run: local (default: in this process), ray, slurm or a plugin's; "
        "`llmselect executors list` shows each with its options.",
    ),
]
ExecutorOptionOpt = Annotated[
    list[str],
    typer.Option(
        "--executor-option",
        "-X",
        metavar="KEY=VALUE",
        help="An option of the executor, e.g. address=auto (repeatable).",
    ),
]
AddressOpt = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="Ray cluster to join (auto or ray://HOST:10001): --executor-option address=...",
    ),
]


def pick_executor(
    name: str | None,
    pairs: Sequence[str],
    address: str | None = None,
    suite: Mapping[str, Any] | None = None,
) -> Any:
    """The executor a command runs on, built and checked now (a bad option, an unknown
    executor or a missing extra is one line before anything runs)."""
    from llmselect.executors import choose_executor

    return choose_executor(name, [*pairs, *([f"address={address}"] if address else [])], suite)


executors_app = typer.Typer(
    help="Registered executors (where units run) and their options.", no_args_is_help=True
)


def _shown(value: Any) -> str:
    return "none" if value is None else str(value)


@executors_app.command("list")
def list_executors(as_json: JsonOpt = False) -> None:
    """List executors with their options (give them as --executor-option KEY=VALUE, or in a
    suite's executor: block)."""
    from llmselect.executors import describe_executors

    rows = describe_executors()
    if as_json:
        print_json(rows)
        return
    for row in rows:
        out.print(f"{row['name']}\t{row['description']}", highlight=False, markup=False)
        if not row["options"]:
            out.print("    (no options)", highlight=False)
        for opt in row["options"]:
            head = f"{opt['name']} ({opt['type']}, default {_shown(opt['default'])})"
            out.print(f"    {head}: {opt['description']}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Attach ``executors``."""
    app.add_typer(executors_app, name="executors")
