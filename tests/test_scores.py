"""zh/en aggregate scores (pure) and published catalog scores joined beside measured ones."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from _facts import curated_facts

from llmselect.catalog import load_catalog
from llmselect.records import Measurement
from llmselect.scores import (
    EN_TASKS,
    ZH_TASKS,
    aggregate_records,
    aggregate_scores,
    published_records,
    published_task,
)


def rec(
    subset: str,
    value: float,
    *,
    metric: str = "acc",
    model: str = "m",
    run: str = "r1",
    stderr: float | None = 1.0,
    kind: str = "measured",
    status: str = "ok",
) -> Measurement:
    return Measurement(
        run_id=run, model_id=model, probe="lm_eval_scores", metric=metric, value=value,
        unit="%", kind=kind, subset=subset, stderr=stderr, status=status, n=10,
    )  # fmt: skip


def test_zh_and_en_are_unweighted_task_means() -> None:
    records = [
        rec("ceval", 40.0, stderr=3.0),
        rec("cmmlu", 50.0, stderr=4.0),
        rec("cmmlu/agronomy", 99.0),  # a subject never counts on its own
        rec("ceval", 45.0, metric="acc_norm"),  # not the metric that stands for ceval
        rec("mmlu", 30.0, stderr=2.0),
        rec("gsm8k", 10.0, metric="exact_match_strict_match", stderr=1.0),
        rec("gsm8k", 20.0, metric="exact_match_flexible_extract"),
    ]
    by_lang = {a.lang: a for a in aggregate_scores(records)}
    zh, en = by_lang["zh"], by_lang["en"]
    assert zh.value == pytest.approx(45.0)
    assert zh.tasks == {"ceval": 40.0, "cmmlu": 50.0}
    assert zh.missing == ["xcopa_zh", "cluewsc", "c3", "cmrc2018"]
    assert zh.coverage == pytest.approx(2 / 6)
    assert zh.stderr == pytest.approx(math.sqrt(9 + 16) / 2)
    assert en.value == pytest.approx(20.0) and en.coverage == 1.0
    assert set(ZH_TASKS) == {"ceval", "cmmlu", "xcopa_zh", "cluewsc", "c3", "cmrc2018"}
    assert ZH_TASKS["cmrc2018"] == "exact_match"
    assert set(EN_TASKS) == {"mmlu", "gsm8k"}


def test_newest_run_wins_and_errors_and_published_are_ignored() -> None:
    records = [
        rec("cmmlu", 30.0, run="20261101T000000Z-a"),
        rec("cmmlu", 60.0, run="20261102T000000Z-b"),
        rec("ceval", 90.0, kind="published"),
        rec("xcopa_zh", 0.0, status="error"),
    ]
    (zh,) = aggregate_scores(records)
    assert zh.tasks == {"cmmlu": 60.0} and zh.value == 60.0


def test_missing_stderr_gives_no_aggregate_stderr_and_models_stay_apart() -> None:
    records = [rec("cmmlu", 30.0, stderr=None, model="a"), rec("mmlu", 70.0, model="b")]
    aggs = {(a.model_id, a.lang): a for a in aggregate_scores(records)}
    assert set(aggs) == {("a", "zh"), ("b", "en")}
    assert aggs[("a", "zh")].stderr is None


def test_an_aggregate_without_a_task_stderr_says_which_task_lacks_it() -> None:
    (row,) = aggregate_records(
        aggregate_scores([rec("cmmlu", 0.0, stderr=None), rec("ceval", 50.0, stderr=4.0)]), "r"
    )
    assert row.stderr is None and row.n == 20
    assert row.params["stderr_note"].startswith("not estimable: no standard error for cmmlu")


def test_aggregate_records_are_labelled() -> None:
    aggs = aggregate_scores([rec("cmmlu", 30.0), rec("ceval", 50.0)])
    (row,) = aggregate_records(aggs, run_id="r9")
    assert (row.metric, row.subset, row.unit, row.kind) == (
        "zh_score",
        "aggregate",
        "%",
        "measured",
    )
    # n counts the documents the tasks scored (10 each), the tasks are counted beside it
    assert row.value == pytest.approx(40.0) and row.n == 20 and row.params["task_count"] == 2
    assert row.params["tasks"] == "ceval,cmmlu" and row.params["coverage"] == round(2 / 6, 4)
    assert "stderr_note" not in row.params


def test_benchmark_names_map_to_tasks() -> None:
    assert published_task("C-Eval") == "ceval"
    assert published_task("CMMLU") == "cmmlu"
    assert published_task("MMLU") == "mmlu"
    assert published_task("GSM8K") == "gsm8k"
    assert published_task("HumanEval") is None


def test_published_scores_come_from_the_facts(facts_root: Path) -> None:
    """Every mapped published number of a catalog model equals the one in the facts
    (facts/models.yaml with scripts/catalog_additions.yaml applied)."""
    entries, _ = curated_facts(facts_root)
    catalog = load_catalog()
    checked = 0
    for entry in entries:
        spec = catalog.find(entry["id"])
        if spec is None or not entry.get("benchmarks"):
            continue
        expected = {
            (published_task(b["benchmark"]), float(b["value"]), b["source"])
            for b in entry["benchmarks"]
            if published_task(b["benchmark"]) is not None
        }
        got = published_records(spec)
        assert {(r.subset, r.value, r.source) for r in got} == expected, entry["id"]
        assert all(r.kind == "published" and r.unit == "%" for r in got)
        checked += 1
    assert checked >= 5
