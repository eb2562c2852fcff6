"""Runner: failures become records, the run goes on, and resume skips finished units."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from llmselect.errors import LLMSelectError, ProbeSkipped
from llmselect.executors.base import Executor
from llmselect.probes.base import Probe, RunContext
from llmselect.records import Measurement, RunInfo
from llmselect.runner import NOT_GIVEN_BACK, OUT_OF_TIME, execute
from llmselect.store import RunWriter, load_records, read_run_info
from llmselect.units import Unit, is_not_started, plan, run_unit


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
    units = plan([T("a")], [Echo()])
    with pytest.raises(LLMSelectError, match="unknown executor 'nope'; known: local"):
        execute(units, RunContext(run_id="r"), None, executor="nope")


class Sleepy(Probe):
    """Records the target's length; the unit on ``SLOW`` first waits until ``until`` (a
    ``time.monotonic()`` time) has passed."""

    name = "sleepy"
    calls: list[str] = []
    SLOW = "bb"
    until = 0.0

    def run(self, target: T, ctx: RunContext) -> Iterable[Measurement]:
        Sleepy.calls.append(target.id)
        if target.id == Sleepy.SLOW:
            time.sleep(max(0.0, Sleepy.until - time.monotonic()))
        yield self.record(ctx, target.id, "len_chars", len(target.id), "chars")


class Eager(Executor):
    """Takes every unit before running any (as a batch of cluster jobs would), then runs
    them one after another in process."""

    name = "eager"

    def run(self, units: Iterable[Unit], ctx: RunContext) -> Iterator[tuple[Unit, list]]:
        taken = list(units)
        for unit in taken:
            yield unit, run_unit(unit, ctx)


def test_eager_executor_starts_no_unit_after_the_deadline(tmp_path: Path) -> None:
    """The executor pulls all four units at once, before the deadline; the second unit lasts
    until the deadline has passed: the first two start in time, the last two are refused where
    they would run, recorded as not started (no unit key) and run on resume. The deadline is
    2 s away and the first two units start at once, so a slow or busy machine changes nothing
    (units of a fixed 1 s against a 1.5 s deadline left 0.5 s for the second one to start)."""
    Sleepy.calls = []
    writer = _writer(tmp_path)
    ctx = RunContext(run_id=writer.run_info.run_id)
    units = plan([T("a"), T("bb"), T("ccc"), T("dddd")], [Sleepy()])
    deadline = time.monotonic() + 2.0
    Sleepy.until = deadline + 0.05  # past it on the wall clock too, by which units start
    summary = execute(units, ctx, writer, executor=Eager(), deadline=deadline)
    writer.close()
    assert Sleepy.calls == ["a", "bb"]
    assert (summary.ok, summary.out_of_time) == (2, 2)
    notes = [r for r in load_records(tmp_path) if r.status == "skipped"]
    assert sorted(r.model_id for r in notes) == ["ccc", "dddd"]
    assert all("_unit" not in r.params and r.error == OUT_OF_TIME for r in notes)
    assert read_run_info(writer.dir).state == "interrupted"

    Sleepy.calls = []
    resumed = execute(units, ctx, _writer(tmp_path), executor=Eager(), resume=True)
    assert Sleepy.calls == ["ccc", "dddd"] and resumed.resumed == 2


def test_run_unit_refuses_to_start_past_start_by() -> None:
    Echo.calls = []
    ctx = RunContext(run_id="r")
    (unit,) = plan([T("late")], [Echo()])
    late = Unit(unit.target, unit.probe, start_by=time.time() - 1)
    records = run_unit(late, ctx)
    assert Echo.calls == [] and is_not_started(records)
    in_time = Unit(unit.target, unit.probe, start_by=time.time() + 60)
    assert run_unit(in_time, ctx)[0].value == 4.0 and Echo.calls == ["late"]


class DropsUnits(Executor):
    """Takes every unit and gives back only the first."""

    name = "drops"

    def run(self, units: Iterable[Unit], ctx: RunContext) -> Iterator[tuple[Unit, list]]:
        first, *_rest = list(units)
        yield first, run_unit(first, ctx)


class MakesUnits(Executor):
    """Gives back a unit of its own making instead of the one it was handed."""

    name = "makes"

    def run(self, units: Iterable[Unit], ctx: RunContext) -> Iterator[tuple[Unit, list]]:
        (handed,) = list(units)
        made = Unit(T("other"), handed.probe)
        yield made, run_unit(made, ctx)


def test_units_never_given_back_are_recorded_as_not_started(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    ctx = RunContext(run_id=writer.run_info.run_id)
    summary = execute(
        plan([T("a"), T("bb"), T("ccc")], [Echo()]), ctx, writer, executor=DropsUnits()
    )
    writer.close()
    assert (summary.ok, summary.not_given_back) == (1, 2)
    notes = [r for r in load_records(tmp_path) if r.status == "skipped"]
    assert sorted(r.model_id for r in notes) == ["bb", "ccc"]
    assert {r.error for r in notes} == {NOT_GIVEN_BACK}
    assert read_run_info(writer.dir).state == "interrupted"


def test_records_of_a_unit_never_handed_out_are_refused(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    ctx = RunContext(run_id=writer.run_info.run_id)
    with pytest.raises(LLMSelectError, match="gave back a unit it was not handed"):
        execute(plan([T("a")], [Echo()]), ctx, writer, executor=MakesUnits())
    writer.close()
    assert load_records(tmp_path) == []
    assert read_run_info(writer.dir).state == "failed"
