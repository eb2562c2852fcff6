"""Progress of a command's units on stderr, for a person and for a log alike.

On a terminal: rich's transient bar. Otherwise (CI logs, ``2> file``, a pipe) a bar cannot be
drawn, and silence for a minute looks like a hang: a plain line every ``every_s`` seconds says
how many units are done, which one finished last and how long the command has run, written
from a timer thread so a long unit still shows the command is alive. Lines go to stderr only;
stdout keeps the results.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

from llmselect.cli.common import err

PLAIN_EVERY_S = 10.0  # seconds between plain lines (the first comes after this long too)


class UnitProgress:
    """``with UnitProgress("tokenize-bench", n) as p: execute(..., on_unit_done=p.done)``."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        every_s: float | None = None,
        terminal: bool | None = None,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self.total, self.clock = label, total, clock
        self.every_s = PLAIN_EVERY_S if every_s is None else every_s
        # sys.stderr, not err.is_terminal: asking rich would build a console (start-up time)
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self.stream = stream
        self.done_units = 0
        self.last = ""
        self._started = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> UnitProgress:
        self._started = self.clock()
        if self.terminal:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(),
                TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                console=err.console, transient=True,
            )  # fmt: skip
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total)
        else:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar is not None:
            self._bar.__exit__(kind, exc, tb)

    def done(self, unit: Any, _records: Any = None) -> None:
        """One unit finished (the runner's ``on_unit_done``)."""
        self.done_units += 1
        self.last = f"{unit.target.id} {unit.probe.name}"
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=self.last)

    def line(self) -> str:
        """The plain progress line as it reads now."""
        last = f"; last: {self.last}" if self.last else ""
        elapsed = self.clock() - self._started
        return f"{self.label}: {self.done_units}/{self.total} units done{last} ({elapsed:.0f} s)"

    def _tick(self) -> None:
        while not self._stop.wait(self.every_s):
            out = self.stream or sys.stderr
            print(self.line(), file=out, flush=True)
