"""Deltas of lm-eval scores on real lm-eval records: a score is judged by its standard errors.

lm-eval scores CMMLU subjects from the local data files on two checkpoints that answer every
question with one letter (``_tiny_lm.always_answering``): their accuracy is the share of that
letter among the subject's answers, counted here from the CSV, and lm-eval gives the standard
error of each score. The later run stands for a model whose answers changed since the previous
report. A change within 1.96 standard errors of the difference is noise, one beyond it is a
finding, and a score without a standard error (every document scored alike) is not judged.
"""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from _tiny_lm import always_answering, tiny_checkpoint

from llmselect.probes.base import RunContext
from llmselect.probes.lm_eval_scores import EvalModel, LmEvalScoresProbe
from llmselect.records import Measurement, RunInfo
from llmselect.report import build_report, render_json, render_markdown
from llmselect.report.model import DEFAULT_THRESHOLD, Delta, Report

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=timezone.utc)
# The first 100 answers: college_education has 33 A and 17 D, management 19 A and 27 D.
SUBJECTS = ["college_education", "management"]


def _answers(datasets_root: Path, subject: str, limit: int) -> list[str]:
    with (datasets_root / "cmmlu" / "test" / f"{subject}.csv").open(encoding="utf-8") as fh:
        return [row["Answer"] for row in csv.DictReader(fh)][:limit]


def _scores(model: Path, datasets_root: Path, cache: Path, limit: int) -> list[Measurement]:
    probe = LmEvalScoresProbe(
        LmEvalScoresProbe.Config(
            tasks=["cmmlu"], subjects=SUBJECTS if limit > 2 else SUBJECTS[:1], limit=limit,
            num_fewshot=0, data_dir=str(datasets_root),
        )
    )  # fmt: skip
    target = EvalModel(id="zh-model", source=str(model))
    return list(probe.run(target, RunContext(run_id="t", cache_dir=cache)))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, datasets_root: Path) -> dict[str, Any]:
    """lm-eval records of the A- and D-answering checkpoints on 100 and on 2 documents."""
    base = tmp_path_factory.getbasetemp()
    tiny = tiny_checkpoint(base, datasets_root)
    cache = tmp_path_factory.mktemp("cache")
    out: dict[str, Any] = {}
    for letter in "AD":
        model = always_answering(letter, tiny, base / f"always-{letter}")
        for limit in (100, 2):
            out[f"{letter}{limit}"] = _scores(model, datasets_root, cache, limit)
    return out


def _deltas(before: list[Measurement], after: list[Measurement]) -> tuple[Report, dict]:
    """The later run's report against the previous report's JSON, as ``llmselect report``."""
    previous = build_report(before, RunInfo.collect("r1", command="test"), None, NOW)
    report = build_report(
        after, RunInfo.collect("r2", command="test"), json.loads(render_json(previous)), NOW
    )
    return report, json.loads(render_json(report))


def _change(report: Report, subset: str, metric: str = "acc") -> Delta:
    assert report.deltas is not None
    return next(c for c in report.deltas.changes if (c.subset, c.metric) == (subset, metric))


def _sample_stderr(pct: float, n: int) -> float:
    """lm-eval's standard error of a mean of n scores of 0 or 1, in percentage points."""
    p = pct / 100
    return 100 * math.sqrt(p * (1 - p) / (n - 1))


def test_scores_are_the_share_of_the_answered_letter(runs, datasets_root: Path) -> None:
    for letter in "AD":
        by = {(r.subset, r.metric): r for r in runs[f"{letter}100"]}
        for subject in SUBJECTS:
            answers = _answers(datasets_root, subject, 100)
            rec = by[(f"cmmlu/{subject}", "acc")]
            assert (rec.value, rec.n) == (pytest.approx(answers.count(letter)), 100)
            assert rec.stderr == pytest.approx(_sample_stderr(rec.value, 100))


def test_a_score_change_within_its_standard_errors_is_not_flagged(runs) -> None:
    """management 19 % → 27 % on 100 documents: 42 % more, which the 5 % threshold flagged,
    but within 1.96 standard errors of the difference (±11.7 points): noise."""
    report, data = _deltas(runs["A100"], runs["D100"])
    change = _change(report, "cmmlu/management")
    assert (change.previous, change.current) == (pytest.approx(19.0), pytest.approx(27.0))
    assert change.rel_change is not None and change.rel_change > DEFAULT_THRESHOLD
    bound = 1.96 * math.hypot(_sample_stderr(19.0, 100), _sample_stderr(27.0, 100))
    assert change.noise_bound == pytest.approx(bound) and bound > 8.0
    assert (change.rule, change.flagged, change.not_judged) == ("stderr", False, None)
    assert data["deltas"]["within_stderr"] >= 1 and data["deltas"]["not_judged"] == 0
    md = render_markdown(report)
    assert "values with a standard error (lm-eval scores) when |change| > 1.96" in md
    assert "Not judged" not in md


def test_a_score_change_beyond_its_standard_errors_is_flagged(runs) -> None:
    """college_education 33 % → 17 % on 100 documents: 16 points, beyond ±11.9."""
    report, _ = _deltas(runs["A100"], runs["D100"])
    change = _change(report, "cmmlu/college_education")
    assert (change.previous, change.current) == (pytest.approx(33.0), pytest.approx(17.0))
    bound = 1.96 * math.hypot(_sample_stderr(33.0, 100), _sample_stderr(17.0, 100))
    assert change.noise_bound == pytest.approx(bound) and bound < 16.0
    assert (change.rule, change.flagged) == ("stderr", True)
    assert report.deltas is not None and report.deltas.flagged >= 1
    assert "| FLAG | zh-model | lm_eval_scores | acc | cmmlu/college_education |" in (
        render_markdown(report)
    )


def test_a_score_without_a_standard_error_is_listed_as_not_judged(
    runs, datasets_root: Path
) -> None:
    """The first two answers are A and B: 50 % → 0 % on 2 documents. The 0 % has no standard
    error (lm-eval's is 0): not flagged, listed as not judged with the reason."""
    assert _answers(datasets_root, SUBJECTS[0], 2) == ["A", "B"]
    report, data = _deltas(runs["A2"], runs["D2"])
    change = _change(report, "cmmlu/college_education")
    assert (change.previous, change.current, change.flagged) == (50.0, 0.0, False)
    assert change.rule == "stderr" and change.noise_bound is None
    assert change.current_stderr is None and change.previous_stderr == pytest.approx(50.0)
    assert change.not_judged is not None
    assert change.not_judged.startswith("current: not estimable: all 2 documents scored 0 %")
    d = data["deltas"]
    assert d["not_judged"] == sum(c.get("not_judged") is not None for c in d["changes"]) >= 1
    assert d["flagged"] == 0
    md = render_markdown(report)
    assert "not judged because their noise is not known (listed below)" in md
    assert "Not judged: the noise is not known" in md
    assert "| zh-model | lm_eval_scores | acc | cmmlu/college_education | 50 | 0 | % |" in md


def test_a_stderr_of_0_in_a_previous_report_is_no_measured_noise(runs) -> None:
    """A report made before a 0 was stored as not estimable holds stderr 0 for 0 %: the change
    from it is not judged either, never flagged on a noise of 0."""
    previous = build_report(runs["D2"], RunInfo.collect("r1", command="test"), None, NOW)
    data = json.loads(render_json(previous))
    for value in data["values"]:
        if value["value"] == 0.0:
            value["stderr"] = 0.0
            value["params"].pop("stderr_note", None)
    report = build_report(runs["A2"], RunInfo.collect("r2", command="test"), data, NOW)
    change = _change(report, "cmmlu/college_education")
    assert (change.previous, change.current, change.flagged) == (0.0, 50.0, False)
    assert change.not_judged == (
        "previous: a standard error of 0 (every document scored alike) measures no noise"
    )


def test_a_score_with_a_standard_error_in_one_run_only_is_not_judged(runs) -> None:
    """The previous run measured management's standard error, this one has none recorded (as
    lm-eval gives none for a single document): not judged, rather than by the threshold."""
    after = [
        r.model_copy(update={"stderr": None}) if r.subset == "cmmlu/management" else r
        for r in runs["D100"]
    ]
    report, _ = _deltas(runs["A100"], after)
    change = _change(report, "cmmlu/management")
    assert (change.rule, change.flagged, change.noise_bound) == ("stderr", False, None)
    assert change.not_judged == "current: no standard error recorded"
    assert _change(report, "cmmlu/college_education").flagged  # its errors are known: judged
