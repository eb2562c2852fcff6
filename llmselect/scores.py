"""Aggregate zh / en scores from lm-eval records, and published catalog scores beside them.

Definition (all values in percent):

* **zh score** = unweighted mean of the task-level accuracy (metric ``acc``, subset = task) of
  the Chinese tasks present among ``ceval`` (C-Eval val), ``cmmlu``, ``xcopa_zh``, ``cluewsc``,
  ``c3`` (C3 dev, dialogue + mixed) and ``cmrc2018`` (CMRC 2018 dev; ``exact_match``, the share
  of generated answers equal to a gold span, character-level, is its accuracy).
* **en score** = unweighted mean of the English tasks present among ``mmlu`` (``acc``) and
  ``gsm8k`` (``exact_match_strict_match``: the number after ``####``, lm-eval's headline).

Each task counts once, whatever its size, so a 67-subject exam and a 500-item task weigh the
same; within ceval/cmmlu/mmlu the task value is already the size-weighted subject mean. An
aggregate only compares models that cover the same tasks: it carries ``tasks`` (what went in),
``missing`` and ``coverage`` (= present / defined); its ``n`` is the documents scored, summed
over those tasks (``task_count`` says how many tasks). Its standard error is
``sqrt(sum(se_i^2)) / k`` (tasks treated as independent), and None, with a ``stderr_note``
naming the tasks, when one of them has none (not estimable, see ``lm_eval_scores``): an
unknown part leaves the whole unknown, never counted as 0. When several records exist for one
(model, task), the newest (latest ``run_id``) is used.

Published catalog scores (``ModelSpec.scores``) are mapped to the same task names
(``C-Eval`` → ``ceval``, ...) and returned as ``kind="published"`` records with their source
and setting; they are shown beside measured ones, never mixed into a measured aggregate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from llmselect.names import normalize
from llmselect.records import Measurement, latest_order

PROBE = "lm_eval_scores"
UNIT = "%"

# task → metric that stands for it in an aggregate
ZH_TASKS: dict[str, str] = {
    "ceval": "acc",
    "cmmlu": "acc",
    "xcopa_zh": "acc",
    "cluewsc": "acc",
    "c3": "acc",
    "cmrc2018": "exact_match",
}
EN_TASKS: dict[str, str] = {
    "mmlu": "acc",
    "gsm8k": "exact_match_strict_match",
}
AGGREGATES: dict[str, dict[str, str]] = {"zh": ZH_TASKS, "en": EN_TASKS}

# Published benchmark names (normalized) → our task names.
PUBLISHED_BENCHMARKS: dict[str, str] = {
    "c-eval": "ceval",
    "ceval": "ceval",
    "cmmlu": "cmmlu",
    "mmlu": "mmlu",
    "gsm8k": "gsm8k",
    "xcopa-zh": "xcopa_zh",
    "cluewsc": "cluewsc",
    "cluewsc2020": "cluewsc",
}


@dataclass(frozen=True)
class AggregateScore:
    """One model's zh or en score and what it is made of."""

    model_id: str
    lang: str
    value: float | None
    stderr: float | None
    kind: str
    tasks: dict[str, float] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    documents: int | None = None  # scored over the tasks; None when a task's count is unknown
    no_stderr: list[str] = field(default_factory=list)  # tasks without a standard error

    @property
    def coverage(self) -> float:
        defined = len(AGGREGATES[self.lang])
        return len(self.tasks) / defined if defined else 0.0

    @property
    def metric(self) -> str:
        return f"{self.lang}_score"


def task_scores(
    records: Iterable[Measurement], kind: str = "measured"
) -> dict[str, dict[str, Measurement]]:
    """model_id → task → the task-level record that stands for it (newest run wins)."""
    wanted = {task: metric for table in AGGREGATES.values() for task, metric in table.items()}
    out: dict[str, dict[str, Measurement]] = {}
    for rec in sorted(records, key=latest_order):
        if rec.status != "ok" or rec.value is None or rec.kind != kind:
            continue
        if wanted.get(rec.subset) != rec.metric:
            continue
        out.setdefault(rec.model_id, {})[rec.subset] = rec
    return out


def aggregate_scores(
    records: Iterable[Measurement], kind: str = "measured"
) -> list[AggregateScore]:
    """zh and en scores per model from task-level records of one ``kind``."""
    result = []
    for model_id, by_task in sorted(task_scores(records, kind).items()):
        for lang, table in AGGREGATES.items():
            present = {t: by_task[t] for t in table if t in by_task}
            missing = [t for t in table if t not in by_task]
            if not present:
                continue
            values = [r.value for r in present.values() if r.value is not None]
            errors = [r.stderr for r in present.values()]
            stderr = (
                math.sqrt(sum(e * e for e in errors if e is not None)) / len(errors)
                if all(e is not None for e in errors)
                else None
            )
            counts = [r.n for r in present.values() if r.n is not None]
            result.append(
                AggregateScore(
                    model_id=model_id,
                    lang=lang,
                    value=sum(values) / len(values),
                    stderr=stderr,
                    kind=kind,
                    tasks={t: float(r.value or 0.0) for t, r in present.items()},
                    missing=missing,
                    documents=sum(counts) if len(counts) == len(present) else None,
                    no_stderr=[t for t, r in present.items() if r.stderr is None],
                )
            )
    return result


def _score_record(**fields: Any) -> Measurement:
    """A record of this probe's scores: a percentage, higher is better."""
    return Measurement(probe=PROBE, unit=UNIT, higher_is_better=True, **fields)


def aggregate_records(
    aggregates: Iterable[AggregateScore], run_id: str, probe_version: int = 1
) -> list[Measurement]:
    """Aggregates as records (metric ``zh_score``/``en_score``, subset ``aggregate``)."""
    return [
        _score_record(
            run_id=run_id,
            model_id=agg.model_id,
            probe_version=probe_version,
            metric=agg.metric,
            value=agg.value,
            kind=agg.kind,
            subset="aggregate",
            n=agg.documents,
            stderr=agg.stderr,
            params=_aggregate_params(agg),
        )
        for agg in aggregates
    ]


def _aggregate_params(agg: AggregateScore) -> dict[str, Any]:
    """What an aggregate is made of: its tasks (and how many), those missing, the coverage and,
    when it has no standard error, which tasks have none."""
    params: dict[str, Any] = {
        "tasks": ",".join(agg.tasks),
        "task_count": len(agg.tasks),
        "missing": ",".join(agg.missing),
        "coverage": round(agg.coverage, 4),
    }
    if agg.no_stderr:
        params["stderr_note"] = (
            f"not estimable: no standard error for {', '.join(agg.no_stderr)}; the mean's "
            "is unknown, not counted as 0"
        )
    return params


def published_task(benchmark: str) -> str | None:
    """Our task name for a published benchmark name, or None (HumanEval, LongBench, ...)."""
    return PUBLISHED_BENCHMARKS.get(normalize(benchmark))


def published_records(spec: Any, run_id: str = "catalog") -> list[Measurement]:
    """A catalog model's published scores on our tasks, as ``kind="published"`` records.

    ``spec`` is a ``catalog.ModelSpec``; one record per published number (a benchmark may have
    several, from different sources), with the source and setting kept.
    """
    out = []
    for score in getattr(spec, "scores", None) or []:
        task = published_task(score.benchmark)
        if task is None:
            continue
        metric = (ZH_TASKS | EN_TASKS).get(task, "acc")
        params: dict[str, Any] = {"benchmark": score.benchmark, "setting": score.setting}
        if score.shots is not None:
            params["num_fewshot"] = score.shots
        out.append(
            _score_record(
                run_id=run_id,
                model_id=spec.id,
                metric=metric,
                value=score.value,
                kind="published",
                subset=task,
                params=params,
                source=score.source,
            )
        )
    return out
