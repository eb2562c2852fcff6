"""Deltas of timings against measured noise, on the value shapes a nightly run stores.

The rows come from the committed example report (``reports/latest.json``, a real nightly run
on a 2-core machine); the changed repeats are the ones two quiet nightly runs measured for
baichuan2's single-call Chinese tokens/s (3.34M vs 2.22M tokens/s, each run's own passes within
[3.33M, 3.72M] and [2.15M, 2.49M]).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from llmselect.report import compute_deltas
from llmselect.report.model import MIN_NOISE_RUNS, HistoryRun, ValueRow

EXAMPLE = Path(__file__).resolve().parents[1] / "reports" / "latest.json"
KEY = ("baichuan2", "tokenizer_throughput", "single_tokens_per_s", "flores200/zh")
FAST = [3.33e6, 3.34e6, 3.52e6, 3.72e6, 3.41e6]  # the earlier run's passes
SLOW = [2.15e6, 2.22e6, 2.49e6, 2.30e6, 2.19e6]  # the later run's passes


@pytest.fixture(scope="module")
def stored() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def _timed_run(stored: dict[str, Any], run_id: str, passes: list[float], **run: Any) -> dict:
    """The example run's timed values, as run ``run_id``, with ``passes`` for KEY."""
    data = copy.deepcopy(stored)
    data["run"].update(run_id=run_id, **run)
    values = []
    for item in data["values"]:
        row = ValueRow.model_validate(item)
        if row.spread is None:
            continue
        if row.match_key == KEY:
            item = dict(item, samples=passes, value=sorted(passes)[len(passes) // 2])
        values.append(item)
    data["values"] = values
    return data


def _rows(data: dict[str, Any]) -> list[ValueRow]:
    return [ValueRow.model_validate(v) for v in data["values"]]


def _history(*runs: dict[str, Any]) -> list[HistoryRun]:
    return [HistoryRun(run=r["run"], values=_rows(r)) for r in runs]


def _delta(summary, key=KEY):  # type: ignore[no-untyped-def]
    return next(c for c in summary.changes if (c.model_id, c.probe, c.metric, c.subset) == key)


def test_outside_the_previous_runs_repeats_is_flagged_when_there_is_no_history(stored) -> None:
    before = _timed_run(stored, "r1", FAST)
    now = _timed_run(stored, "r2", SLOW)
    d = compute_deltas(_rows(now), before, now["run"])
    assert d is not None
    change = _delta(d)
    assert change.flagged and change.rule == "spread"
    assert change.noise_range == [min(FAST), max(FAST)] and change.noise_runs == 1
    # Every timed value was compared (same machine, method and libraries), none set aside; only
    # the one whose passes moved changed.
    timed = len(now["values"])
    assert (d.timed_compared, d.timed_set_aside, d.timed_with_history) == (timed, 0, 0)
    assert d.flagged == 1 and d.compared == timed and d.unchanged == timed - 1
    assert f"{timed} of {timed} compared timings had fewer than {MIN_NOISE_RUNS}" in d.noise_note


def test_earlier_runs_on_this_machine_are_the_noise_a_change_must_leave(stored) -> None:
    """Two earlier runs measured the same value both fast and slow: the later run's slow passes
    lie inside what this machine measured with this code, so they are noise, not a finding."""
    earlier = [_timed_run(stored, "r0a", [2.1e6, 2.3e6, 2.4e6]), _timed_run(stored, "r0b", FAST)]
    before = _timed_run(stored, "r1", FAST)
    now = _timed_run(stored, "r2", SLOW)
    d = compute_deltas(_rows(now), before, now["run"], history=_history(*earlier, before, now))
    assert d is not None and d.flagged == 0
    change = _delta(d)
    assert not change.flagged and change.noise_runs == 3  # r1 (previous), r0a, r0b
    assert change.noise_range == [2.1e6, max(FAST)]
    assert d.timed_with_history == d.timed_compared == len(now["values"])
    assert d.within_spread == 1
    # A slowdown beyond everything this machine measured is still a finding.
    slower = _timed_run(stored, "r3", [1.5e6, 1.6e6, 1.7e6])
    d = compute_deltas(_rows(slower), now, slower["run"], history=_history(*earlier, before, now))
    assert d is not None and d.flagged == 1 and _delta(d).flagged


@pytest.mark.parametrize(
    "other",
    [
        {"run": {"cpu_count": 64}},  # another machine
        {"run": {"versions": {"tokenizers": "0.20.0"}}},  # other library versions
        {"probe_version": 1},  # the probe measured another way
        {"params": {"threads": 2}},  # another method param
        {"params": {"cpu_share": 0.3}},  # a starved process: the machine's load, not the code
        {"n": 100},  # other texts (a shorter corpus)
    ],
)
def test_runs_measured_another_way_are_not_noise(stored, other: dict[str, Any]) -> None:
    slow_elsewhere = _timed_run(stored, "r0", [2.0e6, 2.2e6, 2.5e6])
    if "run" in other:
        for field, value in other["run"].items():
            if field == "versions":
                slow_elsewhere["run"]["versions"] = {**slow_elsewhere["run"]["versions"], **value}
            else:
                slow_elsewhere["run"][field] = value
    for item in slow_elsewhere["values"]:
        if ValueRow.model_validate(item).match_key == KEY:
            for field in ("probe_version", "n"):
                if field in other:
                    item[field] = other[field]
            item["params"] = {**item["params"], **other.get("params", {})}
    before = _timed_run(stored, "r1", FAST)
    now = _timed_run(stored, "r2", SLOW)
    d = compute_deltas(_rows(now), before, now["run"], history=_history(slow_elsewhere))
    assert d is not None
    change = _delta(d)
    assert change.flagged and change.noise_runs == 1


def test_timings_measured_under_other_load_are_counted_as_set_aside(stored) -> None:
    before = _timed_run(stored, "r1", FAST)
    now = _timed_run(stored, "r2", SLOW)
    busy = 0
    for item in now["values"]:
        if item["probe"] == "tokenizer_throughput" and item["params"].get("mode") == "batch":
            # Half the CPU the same passes got before: another process took the other half.
            item["params"] = {**item["params"], "cpu_share": item["params"]["cpu_share"] / 2}
            busy += 1
    assert busy
    d = compute_deltas(_rows(now), before, now["run"])
    assert d is not None
    assert d.timed_set_aside == busy and d.timed_compared == len(now["values"]) - busy
    assert sum(m.values for m in d.method_changes if m.what == "machine load") == busy


def _token_row(fingerprint: str, value: float) -> dict[str, Any]:
    return {
        "model_id": "qwen2", "probe": "tokenizer_efficiency", "metric": "tokens_per_char",
        "subset": "flores200/zh", "value": value, "unit": "tok/char", "n": 1012,
        "params": {"counting": "content tokens", "tokenizer_sha256": fingerprint},
    }  # fmt: skip


def test_two_tokenizer_fingerprints_in_one_run_are_two_values() -> None:
    """One model measured with its catalog tokenizer and with a checkpoint's own: both rows
    survive and each is compared with its own earlier value (no overwrite)."""
    rows = [ValueRow.model_validate(_token_row(f, v)) for f, v in (("aaa", 0.61), ("bbb", 0.7))]
    assert rows[0].key != rows[1].key and rows[0].match_key == rows[1].match_key
    before = {"run": {"run_id": "r1"}, "values": [_token_row("aaa", 0.61), _token_row("bbb", 0.7)]}
    now = [ValueRow.model_validate(_token_row("bbb", 0.7)),
           ValueRow.model_validate(_token_row("aaa", 0.62))]  # fmt: skip
    d = compute_deltas(now, before)
    assert d is not None and d.compared == 2 and d.unchanged == 1 and d.new == d.missing == []
    assert [(c.previous, c.current, c.flagged, c.rule) for c in d.changes] == [
        (0.61, 0.62, True, "exact")
    ]
    # A third fingerprint has no partner among several: new, and the unmatched one missing.
    d = compute_deltas([now[0], ValueRow.model_validate(_token_row("ccc", 0.6))], before)
    assert d is not None
    assert d.new == ["qwen2/tokenizer_efficiency/tokens_per_char/flores200/zh/tokenizer ccc"]
    assert d.missing == ["qwen2/tokenizer_efficiency/tokens_per_char/flores200/zh/tokenizer aaa"]


def test_a_changed_tokenizer_is_paired_and_its_token_counts_flagged() -> None:
    before = {"run": {"run_id": "r1"}, "values": [_token_row("aaa", 0.61)]}
    d = compute_deltas([ValueRow.model_validate(_token_row("fff", 0.66))], before)
    assert d is not None and d.new == [] and d.flagged == 1 and d.changes[0].rule == "exact"


def test_earlier_runs_come_from_the_store_before_this_run_on_this_machine(tmp_path: Path) -> None:
    from llmselect.records import Measurement, RunInfo
    from llmselect.report.history import earlier_runs
    from llmselect.store import RunWriter

    def run(run_id: str, **info: Any) -> None:
        writer = RunWriter(RunInfo(run_id=run_id, cpu_count=2, **info), root=tmp_path)
        timed = Measurement(
            run_id=run_id, model_id="qwen2", probe="tokenizer_throughput",
            metric="single_chars_per_s", value=2.0e6, unit="chars/s", subset="flores200/zh",
            samples=[1.9e6, 2.0e6, 2.2e6],
        )  # fmt: skip
        once = timed.model_copy(update={"metric": "tokens_per_char", "samples": None})
        writer.append([timed, once])
        writer.finish()

    run("20261201T000000Z-aaaaaa")
    run("20261201T010000Z-bbbbbb", platform="Linux-aarch64")  # another machine
    run("20261201T020000Z-cccccc")
    run("20261203T000000Z-dddddd")  # after the run being reported
    current = RunInfo(run_id="20261202T000000Z-eeeeee", cpu_count=2)
    history = earlier_runs(current, root=tmp_path)
    assert [h.run["run_id"] for h in history] == [
        "20261201T000000Z-aaaaaa",
        "20261201T020000Z-cccccc",
    ]
    assert all([v.metric for v in h.values] == ["single_chars_per_s"] for h in history)
    assert [h.run["run_id"] for h in earlier_runs(current, root=tmp_path, limit=1)] == [
        "20261201T020000Z-cccccc"
    ]


def test_an_estimates_error_in_percent_is_judged_by_the_measurement_it_stands_for() -> None:
    """gpt2-medium's estimate error moved 2.814 % → 3.73 % between two quiet nightly runs: the
    measured peak moved by 0.9 %, under the 5 % threshold; 2.8 % → 12 % is a finding."""

    def row(value: float) -> dict[str, Any]:
        return {
            "model_id": "gpt2-medium", "probe": "reference_latency", "metric": "est_error_pct",
            "subset": "bs=1,seq=128,dtype=fp32", "value": value, "unit": "%",
            "higher_is_better": None,
        }  # fmt: skip

    before = {"run": {"run_id": "r1"}, "values": [row(2.814)]}
    d = compute_deltas([ValueRow.model_validate(row(3.73))], before)
    assert d is not None and d.flagged == 0 and d.changes[0].rule == "threshold"
    d = compute_deltas([ValueRow.model_validate(row(12.0))], before)
    assert d is not None and d.flagged == 1


def test_quick_timings_are_never_compared_with_precise_ones(stored) -> None:
    """``tokenize-bench``'s default quick timing (one process) against a nightly's precise one
    (records from before the label count as precise): a method change, never a finding."""
    before = _timed_run(stored, "r1", FAST)
    now = _timed_run(stored, "r2", SLOW)
    for item in now["values"]:
        if item["probe"] == "tokenizer_throughput":
            item["params"] = dict(item["params"], timing="quick", processes=1)
    d = compute_deltas(_rows(now), before, now["run"])
    assert d is not None and d.flagged == 0
    assert not any(c.probe == "tokenizer_throughput" for c in d.changes)
    timing = [m for m in d.method_changes if "timing precise → quick" in m.detail]
    assert timing and sum(m.values for m in timing) == sum(
        v["probe"] == "tokenizer_throughput" for v in now["values"]
    )


def test_a_sample_size_alone_does_not_make_a_value_a_score_with_unknown_noise() -> None:
    """``n`` is carried by counts and timings too: only a standard error (or the note saying
    why there is none) marks a score judged by its standard errors. A plugin's token count over
    n texts stays under the threshold, a score without a standard error is not judged."""

    def row(value: float, **extra: Any) -> dict[str, Any]:
        return {
            "model_id": "m", "probe": "p", "metric": "x", "subset": "s", "value": value,
            "unit": "tok/char", "n": 997, **extra,
        }  # fmt: skip

    before = {"run": {"run_id": "r1"}, "values": [row(0.60)]}
    d = compute_deltas([ValueRow.model_validate(row(0.70))], before)
    assert d is not None and (d.changes[0].rule, d.changes[0].flagged) == ("threshold", True)
    assert d.not_judged == 0 and d.within_stderr == 0
    # A score over the same 997 documents: 60 % → 100 %, where lm-eval's standard error of the
    # 100 % is 0 and stored as not estimable; the 60 % (from a run that recorded none) has none.
    score = {"unit": "%", "metric": "acc", "higher_is_better": True}
    before = {"run": {"run_id": "r1"}, "values": [row(60.0, **score)]}
    note = {"stderr_note": "not estimable: all 997 documents scored 100 %"}
    d = compute_deltas([ValueRow.model_validate(row(100.0, **score, params=note))], before)
    assert d is not None and (d.changes[0].rule, d.changes[0].flagged) == ("stderr", False)
    assert d.not_judged == 1
    assert d.changes[0].not_judged == (
        "previous: no standard error recorded; current: not estimable: all 997 documents "
        "scored 100 %"
    )
