"""lm_eval_scores end to end: lm-eval loads a tiny random Llama checkpoint and scores it.

The checkpoint (BPE tokenizer trained on real exam rows + random LlamaForCausalLM saved as
safetensors) is built in the test; the task data are the real local C-Eval/CMMLU/XCOPA files.
One subject accuracy is recomputed independently from transformers logits.
"""

from __future__ import annotations

import csv
from importlib import metadata
from pathlib import Path

import pytest
from _tiny_lm import tiny_checkpoint

from llmselect.errors import LLMSelectError
from llmselect.probes.base import RunContext
from llmselect.probes.lm_eval_scores import EvalModel, LmEvalScoresProbe

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, datasets_root: Path) -> Path:
    return tiny_checkpoint(tmp_path_factory.getbasetemp(), datasets_root)


@pytest.fixture(scope="module")
def exam_records(tiny_model: Path, datasets_root: Path, tmp_path_factory: pytest.TempPathFactory):
    probe = LmEvalScoresProbe(
        LmEvalScoresProbe.Config(
            tasks=["cmmlu", "ceval"],
            limit=4,
            num_fewshot=0,
            max_subjects=2,
            batch_size=3,
            data_dir=str(datasets_root),
        )
    )
    ctx = RunContext(run_id="t", cache_dir=tmp_path_factory.mktemp("cache"))
    return list(probe.run(EvalModel(id="tiny", source=str(tiny_model)), ctx))


def _first_subjects(datasets_root: Path, pattern: str, suffix: str) -> list[str]:
    stems = sorted(p.stem for p in datasets_root.glob(pattern))[:2]
    return [s[: len(s) - len(suffix)] if suffix else s for s in stems]


def test_records_structure(exam_records, datasets_root: Path) -> None:
    cmmlu = _first_subjects(datasets_root, "cmmlu/test/*.csv", "")
    ceval = _first_subjects(datasets_root, "ceval/val/*_val.csv", "_val")
    expected = {"cmmlu", "ceval", *(f"cmmlu/{s}" for s in cmmlu), *(f"ceval/{s}" for s in ceval)}
    assert {r.subset for r in exam_records} == expected
    for rec in exam_records:
        assert rec.probe == "lm_eval_scores" and rec.model_id == "tiny"
        assert rec.metric in {"acc", "acc_norm"}
        assert rec.unit == "%" and rec.kind == "measured" and rec.status == "ok"
        assert rec.higher_is_better is True
        assert 0.0 <= rec.value <= 100.0
        assert rec.stderr is not None and 0.0 <= rec.stderr <= 100.0
        # --limit applies per subject; a group scores the sum of its subjects
        assert rec.n == (8 if "/" not in rec.subset else 4)
        p = rec.params
        assert p["limit"] == 4 and p["num_fewshot"] == 0 and p["batch_size"] == 3
        assert p["chat_template"] is False and p["dtype"] == "float32" and p["device"] == "cpu"
        assert p["lm_eval"] == metadata.version("lm_eval")
        assert p["task_version"] in {"1.0", "2.0"} and len(p["data_sha256"]) == 16
    metrics = {(r.subset, r.metric) for r in exam_records}
    assert ("cmmlu", "acc") in metrics and ("ceval", "acc_norm") in metrics


def test_group_is_size_weighted_mean_of_subjects(exam_records) -> None:
    by_key = {(r.subset, r.metric): r for r in exam_records}
    for group in ("cmmlu", "ceval"):
        subjects = [
            r for r in exam_records if r.subset.startswith(f"{group}/") and r.metric == "acc"
        ]
        mean = sum(r.value * r.n for r in subjects) / sum(r.n for r in subjects)
        assert by_key[(group, "acc")].value == pytest.approx(mean)


def test_subject_accuracy_matches_transformers_logits(
    exam_records, tiny_model: Path, datasets_root: Path
) -> None:
    """Recompute cmmlu/<first subject> acc (0-shot, 4 docs) straight from the model's logits."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model, trust_remote_code=False)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, trust_remote_code=False).eval()
    subject = _first_subjects(datasets_root, "cmmlu/test/*.csv", "")[0]
    with (datasets_root / "cmmlu" / "test" / f"{subject}.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:4]
    correct = 0
    for row in rows:
        context = (
            f"{row['Question'].strip()}\nA. {row['A']}\nB. {row['B']}\nC. {row['C']}\n"
            f"D. {row['D']}\n答案："
        )
        ctx_ids = tok.encode(context, add_special_tokens=False)
        scores = []
        for letter in "ABCD":
            whole = tok.encode(context + " " + letter, add_special_tokens=False)
            cont = whole[len(ctx_ids) :]
            with torch.no_grad():
                logits = model(torch.tensor([whole[:-1]])).logits[0]
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            start = len(whole) - 1 - len(cont)
            scores.append(sum(float(logprobs[start + i, t]) for i, t in enumerate(cont)))
        correct += int(max(range(4), key=lambda i: scores[i]) == "ABCD".index(row["Answer"]))
    rec = next(r for r in exam_records if r.subset == f"cmmlu/{subject}" and r.metric == "acc")
    assert rec.value == pytest.approx(100.0 * correct / len(rows))


def test_adapter_batches_match_single_requests(tiny_model: Path) -> None:
    """Right padding must not change a score: batch of 3 == one at a time."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmselect.eval.hf_lm import TransformersLM

    tok = AutoTokenizer.from_pretrained(tiny_model, trust_remote_code=False)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, trust_remote_code=False)
    pairs = [
        ("下列说法正确的是", " A"),
        ("答案：", " B"),
        ("Which of these is a prime number", " C"),
    ]
    reqs = []
    for context, cont in pairs:
        whole = tok.encode(context + cont, add_special_tokens=False)
        ctx_ids = tok.encode(context, add_special_tokens=False)
        reqs.append(((context, cont), ctx_ids, whole[len(ctx_ids) :]))
    single = TransformersLM(model, tok, batch_size=1)._loglikelihood_tokens(reqs)
    batched = TransformersLM(model, tok, batch_size=3)._loglikelihood_tokens(reqs)
    for (a, ga), (b, gb) in zip(single, batched, strict=True):
        assert a == pytest.approx(b, abs=1e-4) and ga == gb and a < 0


def test_chat_template_is_recorded(tiny_model: Path, datasets_root: Path, tmp_path: Path) -> None:
    probe = LmEvalScoresProbe(
        LmEvalScoresProbe.Config(
            tasks=["xcopa_zh"], limit=3, chat_template=True, data_dir=str(datasets_root)
        )
    )
    ctx = RunContext(run_id="t", cache_dir=tmp_path)
    records = list(probe.run(EvalModel(id="tiny", source=str(tiny_model)), ctx))
    assert [(r.subset, r.metric, r.n) for r in records] == [("xcopa_zh", "acc", 3)]
    assert records[0].params["chat_template"] is True
    assert records[0].params["num_fewshot"] == 0


def test_missing_data_dir_is_a_clear_error(tiny_model: Path, tmp_path: Path) -> None:
    probe = LmEvalScoresProbe(LmEvalScoresProbe.Config(tasks=["cmmlu"], data_dir=str(tmp_path)))
    with pytest.raises(LLMSelectError, match="no files match"):
        list(probe.run(EvalModel(id="tiny", source=str(tiny_model)), RunContext(run_id="t")))


def test_hub_id_not_in_cache_fails_clearly_offline(datasets_root: Path) -> None:
    probe = LmEvalScoresProbe(
        LmEvalScoresProbe.Config(tasks=["xcopa_zh"], data_dir=str(datasets_root))
    )
    target = EvalModel(id="x", source="llmselect-tests/no-such-model")
    with pytest.raises(LLMSelectError, match="cannot load model 'llmselect-tests/no-such-model'"):
        list(probe.run(target, RunContext(run_id="t")))


def test_catalog_model_without_repo_is_skipped() -> None:
    from types import SimpleNamespace

    from llmselect.errors import ProbeSkipped

    probe = LmEvalScoresProbe(LmEvalScoresProbe.Config(tasks=["xcopa_zh"]))
    with pytest.raises(ProbeSkipped, match="no checkpoint folder or hub repo"):
        list(probe.run(SimpleNamespace(id="m", hf_repo=None), RunContext(run_id="t")))


def test_ceval_task_reads_every_local_row_as_text(datasets_root: Path, tmp_path: Path) -> None:
    """All 52 C-Eval subjects load through lm-eval: 1,346 val + 260 dev rows (datasets README)."""
    from llmselect.eval.tasks import build_task

    built = build_task("ceval", datasets_root, cache_dir=tmp_path)
    assert len(built.subjects) == 52
    group = built.to_lm_eval()
    tasks = [group.get(name) for name in built.member_names]
    val = [doc for task in tasks for doc in task.eval_docs]
    dev = [doc for task in tasks for doc in task.fewshot_docs()]
    assert (len(val), len(dev)) == (1346, 260)
    for doc in val:
        assert all(isinstance(doc[k], str) and doc[k] != "" for k in "ABCD"), doc
        assert doc["answer"].strip() in {"A", "B", "C", "D"}


@pytest.mark.parametrize(
    ("task", "broken", "parser_says"),
    [
        # read by `datasets`' JSON builder, which hides the cause under "An error occurred"
        ("xcopa_zh", "xcopa_zh/test.zh.jsonl", "ArrowInvalid: JSON parse error"),
        # read by the task's own custom_dataset reader (json.load)
        ("c3", "c3/c3-d-dev.json", "JSONDecodeError: Expecting value"),
    ],
)
def test_a_data_file_that_does_not_parse_names_task_and_file(
    task: str, broken: str, parser_says: str, datasets_root: Path, tmp_path: Path
) -> None:
    from llmselect.eval.tasks import build_task, find_task

    data = tmp_path / "datasets"
    for rel in find_task(task).data_files.values():
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_bytes((datasets_root / rel).read_bytes())
    (data / broken).write_text('{"premise": cut short\n', encoding="utf-8")
    built = build_task(task, data, cache_dir=tmp_path / "cache")
    with pytest.raises(LLMSelectError) as exc:
        built.to_lm_eval()
    assert str(exc.value).startswith(f"task {task}: cannot read ")
    assert str(data / broken) in str(exc.value) and parser_says in str(exc.value)


def test_stderr_of_documents_that_all_agree_is_not_estimable(
    tiny_model: Path, datasets_root: Path, tmp_path: Path
) -> None:
    """lm-eval's stderr is 0 when every scored document agrees (the tiny model gets all 3
    XCOPA-zh items wrong): stored as not estimable with the exact interval, never as 0, and the
    zh aggregate then has no standard error either; its n counts documents, not tasks."""
    import math

    from scipy.stats import beta

    from llmselect.scores import aggregate_records, aggregate_scores

    probe = LmEvalScoresProbe(
        LmEvalScoresProbe.Config(
            tasks=["xcopa_zh", "cmmlu"], limit=3, num_fewshot=0, max_subjects=1,
            data_dir=str(datasets_root),
        )
    )  # fmt: skip
    records = list(probe.run(EvalModel(id="tiny", source=str(tiny_model)), RunContext(run_id="t")))
    agree = [r for r in records if r.value in (0.0, 100.0)]
    assert agree, "no task whose documents all agree: the case under test did not occur"
    for rec in records:
        p, n = rec.value / 100, rec.n
        if rec in agree:  # all n documents right (p = 1) or all wrong (p = 0)
            assert rec.stderr is None and f"all {n} documents" in rec.params["stderr_note"]
            low = 0.0 if p == 0 else beta.ppf(0.025, n, 1)
            high = 1.0 if p == 1 else beta.ppf(0.975, 1, n)
            assert rec.params["ci95_low_pct"] == pytest.approx(100 * low, abs=1e-3)
            assert rec.params["ci95_high_pct"] == pytest.approx(100 * high, abs=1e-3)
        else:  # the sample standard error of n outcomes of 0 or 1
            assert rec.stderr == pytest.approx(100 * math.sqrt(p * (1 - p) / (n - 1)))
            assert "stderr_note" not in rec.params
    (zh,) = aggregate_records(aggregate_scores(records), run_id="t")
    tasks = [r for r in records if r.subset in ("xcopa_zh", "cmmlu") and r.metric == "acc"]
    assert zh.n == sum(r.n for r in tasks) == 6 and zh.params["task_count"] == 2
    no_stderr = [r.subset for r in tasks if r.stderr is None]
    assert (zh.stderr is None) == bool(no_stderr)
    assert all(t in zh.params["stderr_note"] for t in no_stderr)


def test_a_group_whose_subjects_each_agree_has_no_stderr_of_zero() -> None:
    """lm-eval pools a group's stderr from the spread within each subject: one subject all
    right and one all wrong pool to 0 although the group's documents disagree."""
    from lm_eval.api.metrics import pooled_sample_stderr

    from llmselect.probes.lm_eval_scores import stderr_and_note

    pooled = float(pooled_sample_stderr([0.0, 0.0], [3, 3]))
    assert pooled == 0.0
    stderr, note = stderr_and_note(0.5, pooled, 6)
    assert stderr is None and "alike within each subject" in note["stderr_note"]
    assert "ci95_low_pct" not in note  # an exact interval is given only at 0 % or 100 %
    assert stderr_and_note(0.5, 0.2, 6) == (20.0, {})  # a standard error lm-eval could give


def test_one_document_has_no_stderr_and_says_why(tiny_model: Path, datasets_root: Path) -> None:
    """lm-eval writes "N/A" for the standard error of one document (no spread to take): stored
    as not estimable with the reason and the exact interval for one outcome, as for a 0."""
    from scipy.stats import beta

    probe = LmEvalScoresProbe(
        LmEvalScoresProbe.Config(
            tasks=["xcopa_zh"], limit=1, num_fewshot=0, data_dir=str(datasets_root)
        )
    )
    (rec,) = [
        r for r in probe.run(EvalModel(id="tiny", source=str(tiny_model)), RunContext(run_id="t"))
        if r.metric == "acc"
    ]  # fmt: skip
    assert rec.n == 1 and rec.value in (0.0, 100.0) and rec.stderr is None
    note = rec.params["stderr_note"]
    assert "the one document" in note and "is not given (N/A)" in note
    low = 0.0 if rec.value == 0 else beta.ppf(0.025, 1, 1)
    high = 1.0 if rec.value == 100 else beta.ppf(0.975, 1, 1)
    assert rec.params["ci95_low_pct"] == pytest.approx(100 * low, abs=1e-3)
    assert rec.params["ci95_high_pct"] == pytest.approx(100 * high, abs=1e-3)
