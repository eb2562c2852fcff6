"""Runner: failures become records, the run goes on, and resume skips finished units."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from llmselect.errors import ProbeSkipped
from llmselect.probes.base import Probe, RunContext
from llmselect.records import Measurement, RunInfo
from llmselect.runner import execute
from llmselect.store import RunWriter, load_records
from llmselect.units import plan


@dataclass(frozen=True)
class T:
    id: str


class Echo(Probe):
    name = "echo"
    calls: list[str] = []

    def run(self, target: T, ctx: RunContext) -> Iterable[Measurement]:
        Echo.calls.append(target.id)
        if target.id == "broken":
            raise RuntimeError("boom")
        if target.id == "absent":
            raise ProbeSkipped("no tokenizer on disk")
        if target.id == "stop":
            raise KeyboardInterrupt
        yield self.record(ctx, target.id, "len_chars", len(target.id), "chars")


def _writer(tmp_path: Path, run_id: str = "20260101T000000Z-r00001") -> RunWriter:
    return RunWriter(RunInfo(run_id=run_id), root=tmp_path)


def test_errors_and_skips_are_recorded_and_run_continues(tmp_path: Path) -> None:
    Echo.calls = []
    writer = _writer(tmp_path)
    ctx = RunContext(run_id=writer.run_info.run_id)
    units = plan([T("ab"), T("broken"), T("absent"), T("abcd")], [Echo()])
    summary = execute(units, ctx, writer)
    assert (summary.ok, summary.errors, summary.skipped) == (2, 1, 1)
    stored = load_records(tmp_path)
    by_model = {r.model_id: r for r in stored}
    assert by_model["broken"].status == "error" and "boom" in (by_model["broken"].error or "")
    assert by_model["absent"].status == "skipped"
    assert by_model["abcd"].value == 4.0


def test_interrupt_keeps_finished_units_and_resume_skips_them(tmp_path: Path) -> None:
    Echo.calls = []
    writer = _writer(tmp_path)
    ctx = RunContext(run_id=writer.run_info.run_id)
    with pytest.raises(KeyboardInterrupt):
        execute(plan([T("a"), T("stop"), T("abc")], [Echo()]), ctx, writer)
    assert [r.model_id for r in load_records(tmp_path)] == ["a"]

    Echo.calls = []
    resumed = _writer(tmp_path)  # same run id → same shard
    summary = execute(plan([T("a"), T("abc")], [Echo()]), ctx, resumed, resume=True)
    assert Echo.calls == ["abc"]
    assert summary.resumed == 1
    assert sorted(r.model_id for r in load_records(tmp_path)) == ["a", "abc"]


def test_deadline_starts_no_unit_after_it_and_records_the_rest(tmp_path: Path) -> None:
    """The runner checks the deadline between units (no exception from a callback): units
    left get a skipped record without a unit key, and the run ends interrupted."""
    from llmselect.store import read_run_info

    Echo.calls = []
    writer = _writer(tmp_path)
    ctx = RunContext(run_id=writer.run_info.run_id)
    ticks = iter([10.0, 100.0])  # clock before the 2nd and the 3rd unit; the 1st always starts
    units = plan([T("a"), T("bb"), T("ccc")], [Echo()])
    summary = execute(units, ctx, writer, deadline=50.0, clock=lambda: next(ticks))
    writer.close()
    assert Echo.calls == ["a", "bb"]
    assert (summary.ok, summary.out_of_time) == (2, 1)
    (note,) = [r for r in load_records(tmp_path) if r.status == "skipped"]
    assert note.model_id == "ccc" and "_unit" not in note.params
    info = read_run_info(writer.dir)
    assert info is not None and info.state == "interrupted"


def test_unknown_executor_is_a_clear_error(tmp_path: Path) -> None:
    from llmselect.errors import LLMSelectError

    units = plan([T("a")], [Echo()])
    with pytest.raises(LLMSelectError, match="unknown executor 'nope'; known: local"):
        execute(units, RunContext(run_id="r"), None, executor="nope")
