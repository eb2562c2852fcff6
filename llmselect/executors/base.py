"""``Executor``: runs the units the runner hands it and gives back each unit's records.

The runner is the only writer of the store: an executor never writes files, it yields
``(unit, records)`` as units finish (in any order). Units arrive through an iterator that the
runner stops feeding when the run's deadline passes, and each unit carries the latest time it
may start (``Unit.start_by``, checked by ``units.run_unit``), so an executor needs no clock of
its own and one that takes every unit at once still starts none after the deadline.

Each executor declares its settings as a pydantic ``Options`` model (every field with a default
and a description): the CLI's ``--executor-option k=v``, a suite's ``executor:`` block and
``llmselect executors list`` all read it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from llmselect.units import Unit

if TYPE_CHECKING:
    from llmselect.probes.base import RunContext
    from llmselect.records import Measurement


class ExecutorOptions(BaseModel):
    """An executor's settings; unknown names are refused, and so are inf and nan (no option
    means "forever": an infinite wait or size would pass here and fail mid-run)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Executor(ABC):
    """Base class of every executor (built-in or plugin)."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type[ExecutorOptions]] = ExecutorOptions

    def __init__(self, options: ExecutorOptions | None = None, **fields: Any) -> None:
        """``options`` (this executor's ``Options``), or its fields by name."""
        if options is not None and fields:
            raise TypeError("give options or fields, not both")
        self.options = options if options is not None else self.Options(**fields)

    def start(self) -> None:  # noqa: B027 - optional hook, most executors need nothing
        """Get ready before the run is created (join a cluster); raise ``LLMSelectError`` in one
        line when that fails, so a run that could never start leaves nothing in the store."""

    @abstractmethod
    def run(
        self, units: Iterable[Unit], ctx: RunContext
    ) -> Iterator[tuple[Unit, list[Measurement]]]:
        """Run ``units`` (pulled lazily) and yield each one's records as it finishes.

        Every unit runs through ``units.run_unit`` (in process, in a child, on a worker), which
        refuses to start it past its ``start_by``. A probe failure is already a status record;
        anything raised here is a fault of the executor itself and stops the run.
        """
