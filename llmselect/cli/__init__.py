"""The ``llmselect`` command line: a thin Typer app (parse → call library → render).

Each noun lives in its own module with a ``register(app)`` function. Importing this package
must not import torch, transformers or lm_eval: command modules import them inside commands.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

from llmselect.cli.common import EXIT_USAGE, fail
from llmselect.cli.numbers import require_finite
from llmselect.errors import LLMSelectError

# Typer may bundle its own click; its usage errors derive from the ClickException it uses.
_CLICK_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

# Top-level command → the module whose ``register(app)`` defines it, in ``--help`` order.
COMMANDS = {
    "tokenize-bench": "tokenize",
    "inspect": "inspect",
    "license": "license",
    "eval": "eval",
    "recommend": "recommend",
    "run": "runs",
    "report": "report",
    "catalog": "catalog",
    "perf": "perf",
    "cost": "cost",
    "results": "results",
    "probes": "probes",
    "executors": "executors",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))


class LazyCommands(TyperGroup):
    """The top-level group: a command's module is imported, and its click command built, when
    the command is asked for, so ``recommend`` does not pay for the eleven others (a tenth of
    its start-up); ``--help`` lists them all."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            sub = typer.Typer(
                add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None
            )
            importlib.import_module(f"llmselect.cli.{COMMANDS[cmd_name]}").register(sub)
            built = typer.main.get_group(sub).commands
            for command in built.values():
                require_finite(command)  # no float option takes nan or inf
            self.commands.update(built)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    name="llmselect",
    cls=LazyCommands,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help text: typer's rich help imports rich's Markdown, traceback and layout modules,
    # about half of ``--help``'s CPU time, for boxes around the same text.
    rich_markup_mode=None,
)


@app.callback()
def _main() -> None:
    """Choose an open LLM for Chinese + English work, by measurement."""


def _stop_on_sigterm() -> None:
    """SIGTERM (a CI timeout, ``kill``) stops a run like Ctrl-C: finished results are kept."""
    import contextlib
    import signal

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Outside the main thread (embedded use) signal() raises ValueError: keep the default.
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, interrupt)


def main() -> None:
    """Console entry point: library errors become one line on stderr and exit code 2."""
    _stop_on_sigterm()
    try:
        # standalone_mode=False returns a command's typer.Exit code instead of exiting
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except LLMSelectError as exc:
        fail(str(exc))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("Aborted.", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("Interrupted; finished results are kept in the store.", file=sys.stderr)
        sys.exit(130)
    except _CLICK_ERROR as exc:  # bad option values, missing options: one line, exit 2
        if type(exc).__name__ == "NoArgsIsHelpError":
            # no command given: the help was just printed (rich renders it itself), no error line
            message = exc.format_message().strip()
            if message:
                print(message, file=sys.stderr)
            sys.exit(EXIT_USAGE)
        fail(exc.format_message())
    sys.exit(0)
