"""The JSONL result store: append, torn lines, latest-ok selection, resume keys."""

from __future__ import annotations

from pathlib import Path

from llmselect.records import Measurement, RunInfo
from llmselect.store import RunWriter, completed_keys, iter_run_dirs, load, load_records


def _rec(run_id: str, value: float | None, status: str = "ok", metric: str = "tokens_per_char"):
    return Measurement(
        run_id=run_id,
        model_id="llama2",
        probe="tokenizer_efficiency",
        metric=metric,
        value=value,
        unit="tok/char",
        subset="default/zh",
        status=status,  # type: ignore[arg-type]
        params={"_unit": "abc"},
    )


def test_append_and_reload(tmp_path: Path) -> None:
    writer = RunWriter(RunInfo(run_id="20260101T000000Z-aaaaaa"), root=tmp_path)
    run_id = writer.run_info.run_id
    assert writer.append([_rec(run_id, 1.2), _rec(run_id, 1.3)]) == 2
    writer.finish()
    records = load_records(tmp_path)
    assert [r.value for r in records] == [1.2, 1.3]
    assert (tmp_path / writer.run_info.run_id / "run.json").is_file()


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    writer = RunWriter(RunInfo(run_id="20260101T000000Z-bbbbbb"), root=tmp_path)
    writer.append([_rec(writer.run_info.run_id, 0.5)])
    with writer.path.open("a", encoding="utf-8") as fh:
        fh.write('{"run_id": "20260101T000000Z-bbbbbb", "model_id": "ll')  # killed mid-write
    assert [r.value for r in load_records(tmp_path)] == [0.5]


def test_latest_ok_keeps_newest_successful_row(tmp_path: Path) -> None:
    old = RunWriter(RunInfo(run_id="20260101T000000Z-000001"), root=tmp_path)
    old.append([_rec(old.run_info.run_id, 1.0)])
    new = RunWriter(RunInfo(run_id="20260102T000000Z-000002"), root=tmp_path)
    new.append([_rec(new.run_info.run_id, 2.0), _rec(new.run_info.run_id, None, status="error")])
    frame = load(tmp_path)
    assert len(frame) == 1
    assert frame.iloc[0]["value"] == 2.0
    everything = load(tmp_path, latest_only=False)
    assert len(everything) == 3
    assert [p.name for p in iter_run_dirs(tmp_path)] == [old.run_info.run_id, new.run_info.run_id]


def test_completed_keys_for_resume(tmp_path: Path) -> None:
    writer = RunWriter(RunInfo(run_id="20260101T000000Z-cccccc"), root=tmp_path)
    writer.append([_rec(writer.run_info.run_id, 1.0)])
    assert completed_keys(writer.dir) == {("llama2", "tokenizer_efficiency", "abc")}


def test_empty_store_loads_empty_frame(tmp_path: Path) -> None:
    frame = load(tmp_path / "nothing-here")
    assert frame.empty


def test_latest_is_the_newest_ok_finite_record_per_key() -> None:
    from datetime import datetime, timezone

    from llmselect.store import latest

    def rec(run: str, value: float | None, subset: str = "a", status: str = "ok"):  # type: ignore[no-untyped-def]
        return Measurement(
            run_id=run, model_id="m", probe="p", probe_version=1, metric="x", value=value,
            unit="ms", subset=subset, status=status,  # type: ignore[arg-type]
            started_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        )  # fmt: skip

    got = latest(
        [
            rec("r2", 2.0),
            rec("r1", 1.0),
            rec("r3", None, status="error"),
            rec("r4", float("nan")),
            rec("r1", 5.0, subset="b"),
        ]
    )
    assert [(r.subset, r.value) for r in got] == [("a", 2.0), ("b", 5.0)]
