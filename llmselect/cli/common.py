"""Output helpers shared by the command modules: stderr console, JSON/CSV output, errors."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from datetime import date
from typing import TYPE_CHECKING, Any, NoReturn

from llmselect.errors import LLMSelectError

if TYPE_CHECKING:
    from rich.console import Console


class LazyConsole:
    """A rich ``Console`` made on first use: a command that prints only JSON or plain lines
    never imports rich (a fifth of ``recommend --json``'s start-up)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        """The real console (for rich objects that take one: progress bars, log handlers)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


# Results go to stdout; logs, progress and errors go to stderr. Piped output (files, CI logs)
# gets a wide fixed width so tables keep every column instead of folding to 80 characters.
_PIPED_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 180
out = LazyConsole(soft_wrap=False, width=_PIPED_WIDTH)
err = LazyConsole(stderr=True)


def print_text(text: str) -> None:
    """One line of data on stdout as written: never read as markup (a ``[published]`` label is
    text) and never folded at the console width."""
    out.print(text, highlight=False, markup=False, soft_wrap=True)


EXIT_OK = 0
EXIT_PROBE_FAILED = 1
EXIT_USAGE = 2


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``Error: message`` (one line) to stderr and exit."""
    first_line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    print(f"Error: {first_line}", file=sys.stderr)
    raise SystemExit(code)


def _default(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    return str(obj)


def command_line() -> str:
    """The command as the user typed it (shell-quoted where needed), stored in a run's
    ``run.json`` for ``results list``: the command that reproduces the run."""
    import shlex

    return shlex.join(["llmselect", *sys.argv[1:]])


def print_json(data: Any) -> None:
    """Plain JSON on stdout (no markup, no colour)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_default) + "\n")


def emit(data: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """A command's result: ``data`` as JSON with ``--json``, else ``render(data)`` for people."""
    if as_json:
        print_json(data)
    else:
        render(data)


def one_format(as_json: bool, as_csv: bool) -> None:
    """``--json`` or ``--csv``, never both (one of them would be dropped without a word)."""
    if as_json and as_csv:
        raise LLMSelectError("--json and --csv exclude each other")


def print_csv(rows: Iterable[dict[str, Any]], columns: Iterable[str] = ()) -> None:
    """CSV on stdout with ``columns`` and then the rest of the rows' keys as header (so an
    answer without rows still has its header)."""
    import csv

    rows = list(rows)
    fields: list[str] = list(columns)
    for row in rows:
        fields.extend(k for k in row if k not in fields)
    writer = csv.DictWriter(sys.stdout, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)


def setup_logging(verbose: bool = False) -> None:
    """Library logs to stderr via rich."""
    import logging

    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err.console, show_path=False)],
        force=True,
    )


def require_device_here(device: str, instead: str) -> None:
    """A GPU named for work on this machine (``cuda``, ``cuda:N``, ``mps``) must be one it has:
    asked for and absent, it is a usage error before anything loads, not a skipped run.
    ``instead`` says what to pass instead (``use --device cpu``)."""
    if not device.startswith(("cuda", "mps")):
        return
    import torch

    version = f"torch {torch.__version__}"
    if device == "mps":
        if not torch.backends.mps.is_available():
            raise LLMSelectError(f"--device mps: MPS is not available here ({version}); {instead}")
        return
    if not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else "no visible GPU"
        raise LLMSelectError(
            f"--device {device}: CUDA is not available here ({version}, {build}); {instead}"
        )
    index, count = int(device.partition(":")[2] or 0), torch.cuda.device_count()
    if index >= count:
        raise LLMSelectError(
            f"--device {device}: this machine has {count} CUDA device(s), cuda:0 to "
            f"cuda:{count - 1}"
        )


def parse_date(text: str | None, option: str = "--date") -> date | None:
    """``YYYY-MM-DD`` → date (None stays None); anything else is a one-line usage error."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise LLMSelectError(f"{option} must be YYYY-MM-DD, got {text!r}") from exc
