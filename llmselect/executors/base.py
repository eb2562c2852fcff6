"""``Executor``: runs the units the runner hands it and gives back each unit's records.

The runner is the only writer of the store: an executor never writes files, it yields
``(unit, records)`` as units finish (in any order). Units arrive through an iterator that the
runner stops feeding when the run's deadline passes, so an executor needs no clock of its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, ClassVar

from llmselect.units import Unit

if TYPE_CHECKING:
    from llmselect.probes.base import RunContext
    from llmselect.records import Measurement


class Executor(ABC):
    """Base class of every executor (built-in or plugin)."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    @abstractmethod
    def run(
        self, units: Iterable[Unit], ctx: RunContext
    ) -> Iterator[tuple[Unit, list[Measurement]]]:
        """Run ``units`` (pulled lazily) and yield each one's records as it finishes.

        A probe failure is already a status record (``units.run_unit``); anything raised here
        is a fault of the executor itself and stops the run.
        """
