"""C3 and CMRC 2018 as local lm-eval tasks: every labelled row loads, metrics, end to end.

Row counts come from the datasets MANIFEST (verified upstream), not from our loaders. The end-to-end
run scores the tiny random checkpoint (tests/_tiny_lm.py) with ``llmselect eval --limit 2``; the
C3 accuracy is recomputed straight from transformers logits.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from _tiny_lm import tiny_checkpoint

from llmselect.cli import main
from llmselect.eval.tasks import available_tasks, build_task
from llmselect.probes.base import RunContext
from llmselect.probes.lm_eval_scores import EvalModel, LmEvalScoresProbe

pytestmark = pytest.mark.integration


def _manifest(datasets_root: Path, name: str) -> dict:
    manifest = json.loads((datasets_root / "MANIFEST.json").read_text(encoding="utf-8"))
    return next(d for d in manifest["datasets"] if d["name"] == name)


def _docs(name: str, datasets_root: Path, cache: Path) -> tuple[object, list[dict], list[dict]]:
    task = build_task(name, datasets_root, cache_dir=cache).to_lm_eval()
    return task, list(task.eval_docs), list(task.fewshot_docs())


def test_tasks_are_registered_as_zh() -> None:
    tasks = available_tasks()
    assert tasks["c3"].lang == "zh" and not tasks["c3"].grouped
    assert tasks["cmrc2018"].lang == "zh" and not tasks["cmrc2018"].grouped


def test_c3_scores_every_labelled_dev_question(datasets_root: Path, tmp_path: Path) -> None:
    verified = _manifest(datasets_root, "c3")["verified"]
    task, dev, pool = _docs("c3", datasets_root, tmp_path)
    assert len(dev) == verified["dev_total"] == 3816
    assert len(pool) == verified["test_total"]
    by_genre = {g: sum(d["genre"] == g for d in dev) for g in ("d", "m")}
    assert by_genre == {g: verified[f"c3-{g}-dev"]["questions"] for g in ("d", "m")}
    assert len({d["id"] for d in dev}) == len(dev)
    for doc in dev:
        choices = task.doc_to_choice(doc)
        assert 2 <= len(choices) <= 4 and doc["passage"] and doc["question"]
        assert choices[task.doc_to_target(doc)] == doc["answer"]


def test_cmrc2018_scores_every_dev_question(datasets_root: Path, tmp_path: Path) -> None:
    verified = _manifest(datasets_root, "cmrc2018")["verified"]
    task, dev, shots = _docs("cmrc2018", datasets_root, tmp_path)
    assert len(dev) == verified["dev"]["questions"] == 3219
    assert len(shots) == verified["trial"]["questions"]
    assert len({d["id"] for d in dev}) == len(dev)
    for doc in dev:
        assert doc["context"] and doc["question"] and doc["answers"]
        assert task.doc_to_target(doc) == doc["answers"][0]
    # the generation stops at the end of the answer line
    assert "\n" in task.config.generation_kwargs["until"]


def _utils():
    """The task files' utils.py, loaded by path (lm-eval loads it the same way for !function)."""
    import importlib.util

    from llmselect.eval.tasks import tasks_dir

    spec = importlib.util.spec_from_file_location("_task_utils", tasks_dir() / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("prediction", "gold", "em", "f1"),
    [
        ("光荣和ω-force", "光荣和ω-force", 1.0, 1.0),
        ("“光荣和ω force”。", "光荣和ω-force", 1.0, 1.0),  # punctuation and spaces ignored
        ("光荣", "光荣和ω-force", 0.0, 2 * 1.0 * 0.4 / 1.4),  # 2 of 5 gold tokens
        ("1998年", "1998年3月", 0.0, 2 * 1.0 * 0.5 / 1.5),  # "1998" is one token
        ("Force", "force", 1.0, 1.0),  # lower-cased
        ("完全无关", "光荣", 0.0, 0.0),
    ],
)
def test_cmrc_character_level_metrics(prediction: str, gold: str, em: float, f1: float) -> None:
    utils = _utils()
    scores = utils.cmrc2018_process_results({"answers": ["另一个答案", gold]}, [prediction])
    assert scores["exact_match"] == em
    assert scores["f1"] == pytest.approx(f1)


def test_cmrc_f1_uses_the_longest_common_substring() -> None:
    utils = _utils()
    # 甲乙 and 丁 are both in the gold, but only the contiguous 甲乙 counts: P 2/3, R 2/4
    assert utils.cmrc_f1("甲乙丁", "甲乙丙丁") == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, datasets_root: Path) -> Path:
    return tiny_checkpoint(tmp_path_factory.getbasetemp(), datasets_root)


def test_eval_c3_and_cmrc2018_end_to_end(
    tiny_model: Path, with_data_root: Path, datasets_root: Path, capsys, monkeypatch
) -> None:
    args = ["eval", "--model", str(tiny_model), "--tasks", "c3,cmrc2018", "--limit", "2"]
    monkeypatch.setattr(sys, "argv", ["llmselect", *args, "--json"])
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capsys.readouterr()
    assert int(exc.value.code or 0) == 0, captured.err
    payload = json.loads(captured.out)
    rows = {(r["subset"], r["metric"]): r for r in payload["records"]}
    assert set(rows) == {
        ("c3", "acc"),
        ("c3", "acc_norm"),
        ("cmrc2018", "exact_match"),
        ("cmrc2018", "f1"),
    }
    for r in rows.values():
        assert r["unit"] == "%" and r["kind"] == "measured" and r["n"] == 2
        assert 0.0 <= r["value"] <= 100.0 and r["params"]["limit"] == 2
    assert rows[("c3", "acc")]["params"]["num_fewshot"] == 0
    assert rows[("cmrc2018", "f1")]["params"]["num_fewshot"] == 1
    (zh,) = payload["aggregates"]
    assert zh["metric"] == "zh_score" and zh["params"]["tasks"] == "c3,cmrc2018"
    assert rows[("c3", "acc")]["value"] == pytest.approx(_c3_acc(tiny_model, datasets_root, 2))


def test_c3_accuracy_matches_transformers_logits(
    tiny_model: Path, datasets_root: Path, tmp_path: Path
) -> None:
    """8 questions: enough for the random model to get one right (0 == 0 would prove little)."""
    probe = LmEvalScoresProbe(
        LmEvalScoresProbe.Config(tasks=["c3"], limit=8, data_dir=str(datasets_root))
    )
    ctx = RunContext(run_id="t", cache_dir=tmp_path)
    records = {r.metric: r for r in probe.run(EvalModel(id="tiny", source=str(tiny_model)), ctx)}
    expected = _c3_acc(tiny_model, datasets_root, 8)
    assert records["acc"].n == 8 and expected > 0
    assert records["acc"].value == pytest.approx(expected)


def _c3_acc(tiny_model: Path, datasets_root: Path, limit: int) -> float:
    """Accuracy on the first C3 dev questions (d file first), straight from the model's logits."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model, trust_remote_code=False)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, trust_remote_code=False).eval()
    raw = json.loads((datasets_root / "c3" / "c3-d-dev.json").read_text(encoding="utf-8"))
    questions = [(sents, q) for sents, qs, _ in raw for q in qs][:limit]
    correct = 0
    for sentences, q in questions:
        context = "\n".join(sentences) + f"\n问题：{q['question']}\n答案："
        ctx_ids = tok.encode(context, add_special_tokens=False)
        scores = []
        for choice in q["choice"]:
            whole = tok.encode(context + " " + choice, add_special_tokens=False)
            cont = whole[len(ctx_ids) :]
            with torch.no_grad():
                logits = model(torch.tensor([whole[:-1]])).logits[0]
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            start = len(whole) - 1 - len(cont)
            scores.append(sum(float(logprobs[start + i, t]) for i, t in enumerate(cont)))
        best = max(range(len(scores)), key=lambda i: scores[i])
        correct += int(q["choice"][best] == q["answer"])
    return 100.0 * correct / len(questions)
