"""The ``local`` executor: units run one after another in this process.

Probes that need isolation (``reference_latency``, ``tokenizer_throughput``) start their own
child process per point (``llmselect.childproc``), so running the unit itself in process is
enough here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from llmselect.executors.base import Executor
from llmselect.units import Unit, run_unit

if TYPE_CHECKING:
    from llmselect.probes.base import RunContext
    from llmselect.records import Measurement


class LocalExecutor(Executor):
    """In process, in plan order (no options)."""

    name = "local"
    description = "in this process, one unit after another, in plan order"

    def run(
        self, units: Iterable[Unit], ctx: RunContext
    ) -> Iterator[tuple[Unit, list[Measurement]]]:
        for unit in units:
            yield unit, run_unit(unit, ctx)
