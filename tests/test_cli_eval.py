"""``llmselect eval`` end to end on a tiny random checkpoint: exit codes, output, stored records."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from _tiny_lm import tiny_checkpoint

from llmselect.catalog import load_catalog
from llmselect.cli import main
from llmselect.store import load

pytestmark = pytest.mark.integration

FAST = ["--limit", "2", "--num-fewshot", "0", "--max-subjects", "1"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, datasets_root: Path) -> Path:
    return tiny_checkpoint(tmp_path_factory.getbasetemp(), datasets_root)


def run_cli(args: list[str], capsys, monkeypatch) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["llmselect", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capsys.readouterr()
    return int(exc.value.code or 0), captured.out, captured.err


def test_eval_scores_and_stores_records(tiny_model, with_data_root, capsys, monkeypatch) -> None:
    args = ["eval", "--model", str(tiny_model), "--tasks", "cmmlu,ceval", *FAST, "--json"]
    code, out, err = run_cli(args, capsys, monkeypatch)
    assert code == 0, err
    payload = json.loads(out)
    assert payload["model_id"] == "tiny-llama" and payload["failures"] == []
    assert payload["published"] == []
    subsets = {r["subset"] for r in payload["records"]}
    assert {"cmmlu", "ceval"} <= subsets and len(subsets) == 4  # two groups + one subject each
    for r in payload["records"]:
        assert r["unit"] == "%" and r["kind"] == "measured" and 0 <= r["value"] <= 100
        assert r["params"]["chat_template"] is False and r["params"]["limit"] == 2
    (zh,) = payload["aggregates"]
    assert zh["metric"] == "zh_score" and zh["params"]["tasks"] == "ceval,cmmlu"

    stored = load()
    assert set(stored["probe"]) == {"lm_eval_scores"}
    assert set(stored["model_id"]) == {"tiny-llama"}
    group = stored[(stored["subset"] == "cmmlu") & (stored["metric"] == "acc")].iloc[0]
    assert group["n"] == 2
    if group["value"] in (0.0, 100.0):  # both documents agree: no stderr, never one of 0
        assert math.isnan(group["stderr"])
    else:
        assert group["stderr"] > 0
    assert "zh_score" in set(stored["metric"])
    assert "stored" in err


def test_catalog_model_id_shows_published_scores(
    tiny_model, with_data_root, capsys, monkeypatch
) -> None:
    spec = next(
        (m for m in load_catalog() if {s.benchmark for s in m.scores} >= {"C-Eval", "CMMLU"}),
        None,
    )
    assert spec is not None, "catalog has no model with published C-Eval and CMMLU scores"
    args = ["eval", "-m", str(tiny_model), "--model-id", spec.id, "-t", "ceval", *FAST]
    code, out, err = run_cli(args, capsys, monkeypatch)
    assert code == 0, err
    assert "measured" in out and "published" in out and spec.id in out
    code, out, _ = run_cli([*args, "--json"], capsys, monkeypatch)
    payload = json.loads(out)
    published = {(r["subset"], r["value"]) for r in payload["published"]}
    # only the measured task's published numbers (CMMLU was not run), each one from the catalog
    assert published == {("ceval", s.value) for s in spec.scores if s.benchmark == "C-Eval"}
    assert all(r["kind"] == "published" and r["source"] for r in payload["published"])
    assert {r["model_id"] for r in payload["records"]} == {spec.id}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tasks", "cmmlx"], "unknown lm-eval task 'cmmlx'"),
        (["--dtype", "float8"], "--dtype"),
        (["--data-dir", "/nonexistent/datasets"], "is not a folder"),
        (["--tasks", "piqa", "--engine", "llama.cpp"], "needs a GGUF file"),
        (["--tasks", "piqa", "--engine", "vllm"], "--engine"),
        # one misspelt subject among good ones was left out without a word
        (["-t", "ceval", "--subjects", "accountant,acountant"],
         "--subjects acountant: no such subject in ceval"),
        # a subject lives in one of the grouped tasks asked for (accountant: C-Eval only)
        (["-t", "ceval,cmmlu,c3", "--subjects", "accountant,agronomy,nosuch"],
         "--subjects nosuch: no such subject in ceval, cmmlu"),
        (["-t", "c3", "--subjects", "accountant"],
         "no task asked for has subjects (c3); these do: ceval, cmmlu, mmlu"),
    ],
)  # fmt: skip
def test_bad_input_exits_2(tiny_model, with_data_root, capsys, monkeypatch, args, message) -> None:
    code, _, err = run_cli(["eval", "--model", str(tiny_model), *args], capsys, monkeypatch)
    assert code == 2
    assert err.startswith("Error: ") and message in err and "Traceback" not in err


def test_missing_model_exits_2(with_data_root, tmp_path, capsys, monkeypatch) -> None:
    code, _, err = run_cli(["eval", "--model", str(tmp_path / "nope")], capsys, monkeypatch)
    assert code == 2 and "no such folder" in err
    code, _, err = run_cli(["eval", "--tasks", "cmmlu"], capsys, monkeypatch)
    assert code == 2 and "--model is required" in err


def test_list_tasks(capsys, monkeypatch) -> None:
    code, out, _ = run_cli(["eval", "--list-tasks", "--json"], capsys, monkeypatch)
    assert code == 0
    tasks = {t["task"]: t["lang"] for t in json.loads(out)}
    assert tasks["cmmlu"] == "zh" and tasks["ceval"] == "zh" and tasks["mmlu"] == "en"
    assert {"gsm8k", "xcopa_zh", "cluewsc"} <= set(tasks)


def test_ctrl_c_during_eval_keeps_the_finished_tasks(
    tiny_model, with_data_root, capsys, monkeypatch
) -> None:
    """Ctrl-C while the second task is being prepared: the first task's scores stay stored."""
    from llmselect.eval import tasks
    from llmselect.store import iter_run_dirs, read_run_info, run_state

    real_build = tasks.build_task

    def build_or_stop(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "ceval":
            raise KeyboardInterrupt
        return real_build(name, *args, **kwargs)

    monkeypatch.setattr(tasks, "build_task", build_or_stop)
    args = ["eval", "--model", str(tiny_model), "--tasks", "cmmlu,ceval", *FAST]
    code, _out, err = run_cli(args, capsys, monkeypatch)
    assert code == 130 and "Traceback" not in err
    stored = load()
    assert set(stored["subset"].str.split("/").str[0]) == {"cmmlu"}
    (run_dir,) = iter_run_dirs()
    assert read_run_info(run_dir).state == "interrupted" and run_state(run_dir) == "interrupted"


def _bad_data_dir(datasets_root: Path, tmp_path: Path, files: dict[str, str | None]) -> Path:
    """A datasets folder holding copies of some real files (None = the file left out);
    a string value replaces the file's text."""
    root = tmp_path / "datasets"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is not None:
            path.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("task", "files", "message"),
    [
        # a task that is not shipped
        ("piqa_mc", {}, "unknown lm-eval task 'piqa_mc'"),
        # the few-shot split (train) of arc_challenge is missing
        ("arc_challenge", {"arc/ARC-Challenge-test.jsonl": "copy"}, "ARC-Challenge-train.jsonl"),
        # a PIQA label file one line short of its questions
        (
            "piqa",
            {"piqa/valid.jsonl": "copy", "piqa/valid-labels.lst": "drop-last"},
            "has 1837 labels for 1838 questions",
        ),
    ],
)
def test_bad_task_data_exits_2(
    task, files, message, datasets_root, tmp_path, capsys, monkeypatch
) -> None:
    """Refused with one Error line before any model is loaded (the model folder is empty)."""
    made = {}
    for rel, how in files.items():
        text = (datasets_root / rel).read_text(encoding="utf-8")
        made[rel] = text if how == "copy" else "".join(text.splitlines(keepends=True)[:-1])
    data = _bad_data_dir(datasets_root, tmp_path, made)
    (tmp_path / "model").mkdir()
    args = ["eval", "--model", str(tmp_path / "model"), "--tasks", task, "--data-dir", str(data)]
    code, out, err = run_cli(args, capsys, monkeypatch)
    assert code == 2 and out == ""
    assert err.startswith("Error: ") and err.count("Error") == 1 and "Traceback" not in err
    assert message in " ".join(err.split())  # a long path may wrap the line on a narrow terminal


def test_a_task_whose_data_does_not_parse_fails_alone_and_is_named(
    tiny_model, datasets_root, tmp_path, capsys, monkeypatch
) -> None:
    """The broken task is one recorded failure naming its task and file; the next task scores."""
    from llmselect.eval.tasks import find_task

    files = {
        rel: "copy" for t in ("xcopa_zh", "cluewsc") for rel in find_task(t).data_files.values()
    }
    made = {rel: (datasets_root / rel).read_text(encoding="utf-8") for rel in files}
    made["xcopa_zh/test.zh.jsonl"] = '{"premise": cut short\n'
    data = _bad_data_dir(datasets_root, tmp_path, made)
    # `datasets` logs the parse error through a handler it made on the stderr of whichever test
    # imported it first (closed by now): point it at this test's stderr, as a real run has it
    import logging

    for handler in logging.getLogger("datasets").handlers:
        if isinstance(handler, logging.StreamHandler):
            monkeypatch.setattr(handler, "stream", sys.stderr)
    args = ["eval", "-m", str(tiny_model), "-t", "xcopa_zh,cluewsc", "--data-dir", str(data),
            *FAST, "--json"]  # fmt: skip
    code, out, err = run_cli(args, capsys, monkeypatch)
    assert code == 1 and "Traceback" not in err
    payload = json.loads(out)
    assert {r["subset"] for r in payload["records"]} == {"cluewsc"}
    (failure,) = payload["failures"]
    assert failure["status"] == "error" and "ArrowInvalid: JSON parse error" in failure["error"]
    said = f"xcopa_zh: error: task xcopa_zh: cannot read {data}/xcopa_zh/val.zh.jsonl"
    assert "".join(said.split()) in "".join(err.split())  # a narrow terminal wraps long paths


@pytest.mark.parametrize("device", ["cuda", "cuda:1", "mps"])
def test_a_gpu_this_machine_lacks_is_refused_before_a_run(
    device, tiny_model, with_data_root, capsys, monkeypatch
) -> None:
    """It was a run whose every task was "skipped", an empty table and exit 1."""
    import torch

    from llmselect.store import iter_run_dirs

    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("this machine has a GPU")
    args = ["eval", "-m", str(tiny_model), "-t", "xcopa_zh", "--device", device, *FAST]
    code, out, err = run_cli(args, capsys, monkeypatch)
    assert code == 2 and out == "" and "Traceback" not in err
    what = "MPS" if device == "mps" else "CUDA"
    assert err.startswith(f"Error: --device {device}: {what} is not available here (torch ")
    assert not list(iter_run_dirs())


def test_tasks_asked_at_the_terminal_are_checked_like_given_ones(
    tiny_model, datasets_root, tmp_path, capsys, monkeypatch
) -> None:
    """A task typed at the prompt with a missing data file, or with --subjects it lacks, was
    run anyway (a failed unit after the model loaded, or the subjects ignored)."""
    from llmselect.store import iter_run_dirs

    answers = iter(["arc_challenge", "c3"])
    monkeypatch.setattr("typer.prompt", lambda text: next(answers))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    rel = "arc/ARC-Challenge-test.jsonl"  # its train split (the shots) left out
    data = _bad_data_dir(datasets_root, tmp_path, {rel: (datasets_root / rel).read_text()})
    args = ["eval", "-m", str(tiny_model), "--data-dir", str(data), *FAST]
    code, out, err = run_cli(args, capsys, monkeypatch)
    assert code == 2 and out == "" and "ARC-Challenge-train.jsonl" in "".join(err.split())
    code, out, err = run_cli(
        ["eval", "-m", str(tiny_model), "--subjects", "accountant", *FAST], capsys, monkeypatch
    )
    assert code == 2 and out == ""
    assert err.startswith("Error: --subjects accountant: no task asked for has subjects (c3)")
    assert not list(iter_run_dirs())


def test_documents_that_all_agree_give_no_stderr_of_zero(
    tiny_model, with_data_root, capsys, monkeypatch
) -> None:
    """The tiny model gets all 3 XCOPA-zh items wrong: lm-eval's stderr is 0.0 there, which
    was stored and shown as certainty; the aggregate's n counted tasks, not documents."""
    args = ["eval", "--model", str(tiny_model), "--tasks", "xcopa_zh", *FAST[:4], "--limit", "3"]
    code, out, err = run_cli([*args, "--json"], capsys, monkeypatch)
    assert code == 0, err
    payload = json.loads(out)
    (acc,) = [r for r in payload["records"] if r["metric"] == "acc"]
    assert (acc["value"], acc["n"], acc["stderr"]) == (0.0, 3, None)
    assert acc["params"]["stderr_note"].startswith("not estimable: all 3 documents scored 0 %")
    assert acc["params"]["ci95_low_pct"] == 0.0 and acc["params"]["ci95_high_pct"] > 50
    (zh,) = payload["aggregates"]
    assert (zh["n"], zh["stderr"], zh["params"]["task_count"]) == (3, None, 1)
    code, out, err = run_cli(args, capsys, monkeypatch)
    assert code == 0, err
    shown = " ".join(err.split())  # the console folds long lines
    assert "xcopa_zh acc: not estimable: all 3 documents scored 0 %" in shown
    assert "aggregate zh_score: not estimable: no standard error for xcopa_zh" in shown


def test_a_few_documents_scored_under_a_catalog_id_barely_move_its_estimate(
    tiny_model, with_data_root, capsys, monkeypatch
) -> None:
    """``eval --limit 3`` under yi-6b's id, then ``recommend --explain yi-6b``: the stored
    score enters with its own sampling error (3 documents: at least 33 points, whichever way
    they scored) on top of the model's noise, so the CMMLU estimate moves a small fraction of
    the way to it, and the detail says how it was weighted."""
    import re

    base = ["recommend", "--gpu", "24GB", "--purpose", "research", "--explain", "yi-6b"]

    def cmmlu() -> tuple[float, str]:
        code, out, err = run_cli([*base, "--json"], capsys, monkeypatch)
        assert code == 0, err
        terms = json.loads(out)["recommendation"]["terms"]
        zh = next(t for t in terms if t["name"] == "quality_zh")
        return zh["components"]["CMMLU"], zh["detail"]

    before, _ = cmmlu()
    args = ["eval", "-m", str(tiny_model), "--model-id", "yi-6b", "-t", "cmmlu", *FAST[:4]]
    code, _, err = run_cli([*args, "--max-subjects", "1", "--limit", "3"], capsys, monkeypatch)
    assert code == 0, err
    (row,) = [r for r in load().itertuples() if r.subset == "cmmlu" and r.metric == "acc"]
    after, detail = cmmlu()
    assert re.search(rf"CMMLU [\d.]+±[\d.]+% measured \(.*{row.value:g} %: .*run by llmselect; "
                     r"3 documents, ", detail), detail  # fmt: skip
    noise = re.search(r"weighted as noise ([\d.]+) pp", detail)
    assert noise and float(noise.group(1)) >= 33.0
    assert abs(after - before) < 0.1 * abs(row.value - before)


def test_a_measured_score_enters_in_the_setting_lm_eval_ran(
    tiny_model, with_data_root, capsys, monkeypatch
) -> None:
    """CMMLU at ``--num-fewshot 0`` and C-Eval at its task file's own shots, under yi-6b's id:
    each stored score states the shots lm-eval ran with, and enters the quality model in that
    setting (the 0-shot one with the fitted zero-shot offset, the other as few-shot with its
    shots stated) with the split scored, as ``--explain`` says. They entered as "shots not
    stated" before."""
    import re

    import numpy as np

    from llmselect.recommend import load_evidence
    from llmselect.recommend.quality import MODEL_FILE, QualityIndex, load_quality_model

    common = ["eval", "-m", str(tiny_model), "--model-id", "yi-6b", "--limit", "2"]
    for task, more in (("cmmlu", ["--num-fewshot", "0"]), ("ceval", [])):
        code, _, err = run_cli([*common, "-t", task, "--max-subjects", "1", *more], capsys,
                               monkeypatch)  # fmt: skip
        assert code == 0, err
    tasks = Path(__file__).parents[1] / "benchmarks" / "lm_eval_tasks"

    def task_file(task: str, key: str) -> str:
        return re.search(rf"^{key}: (\w+)", (tasks / f"{task}.yaml").read_text(), re.M).group(1)

    ceval_shots = int(task_file("ceval", "num_fewshot"))
    rows = {r.subset: r.params for r in load().itertuples() if r.metric == "acc"}
    assert (rows["cmmlu"]["num_fewshot"], rows["ceval"]["num_fewshot"]) == (0, ceval_shots)
    assert rows["cmmlu"]["chat_template"] is False
    # the split lm-eval scored: the task file's test split (C-Eval's is its labelled val split)
    splits = {task: task_file(task, "test_split") for task in ("cmmlu", "ceval")}
    assert splits == {"cmmlu": "test", "ceval": "val"}
    assert {task: rows[task]["split"] for task in splits} == splits

    # the estimate after both scores, each with the offsets of its own setting from the
    # fitted file: run by llmselect (third party), 0-shot for CMMLU; yi-6b is a base model
    catalog, qm = load_catalog(), load_quality_model()
    fitted = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    offsets = dict(zip(fitted["benchmarks"], fitted["offsets"], strict=True))
    col = {name: i for i, name in enumerate(fitted["features"])}
    yi = catalog.get("yi-6b")
    before = QualityIndex(catalog).estimate(yi)
    index = QualityIndex(catalog, load_evidence().scores)
    after = index.estimate(yi)
    measured = {qm.benchmarks[o.bench]: o for o in index.observations(yi) if o.label == "measured"}
    mean, cov = np.array(before.post.mean), np.array(before.post.cov)
    for bench, features in (("CMMLU", ("third_party", "zero_shot")), ("C-Eval", ("third_party",))):
        b, ob = qm.benchmarks.index(bench), measured[bench]
        h = np.array(qm.design(b))
        offset = sum(offsets[bench][col[f]] for f in features)
        predicted = before.cells[bench].estimate - h @ before.post.mean + h @ mean + offset
        gain = cov @ h / (h @ cov @ h + fitted["sigma_e"][b] ** 2 + ob.sampling_var)
        mean, cov = mean + gain * (ob.value - predicted), cov - np.outer(gain, h @ cov)
    for bench in ("CMMLU", "C-Eval"):
        h = np.array(qm.design(qm.benchmarks.index(bench)))
        expected = before.cells[bench].estimate + h @ (mean - np.array(before.post.mean))
        assert after.cells[bench].estimate == pytest.approx(expected, rel=1e-9, abs=1e-9)

    args = ["recommend", "--gpu", "24GB", "--purpose", "research", "--explain", "yi-6b"]
    code, out, err = run_cli([*args, "--json"], capsys, monkeypatch)
    assert code == 0, err
    zh = next(t for t in json.loads(out)["recommendation"]["terms"] if t["name"] == "quality_zh")
    for bench, task, shots in (("CMMLU", "cmmlu", 0), ("C-Eval", "ceval", ceval_shots)):
        said = f"{measured[bench].value:g} %: {shots}-shot, {splits[task]}, base, no chat template"
        assert f"{said}, run by llmselect; 2 documents" in zh["detail"], zh["detail"]


def test_a_quick_run_after_a_fuller_one_leaves_the_fuller_one_in_the_estimate(
    tiny_model, with_data_root, capsys, monkeypatch
) -> None:
    """C-Eval under yi-6b's id on 6 documents at its task file's shots, then a quick
    ``--limit 2`` run and a 0-shot one: each newer run had the same key and replaced the fuller
    score in the ranking, widening its interval or changing its setting. Now ``results`` still
    shows the newest, while the estimate stays what the fuller run gave, and ``--explain`` names
    that run and the newer one it passed over."""
    base = ["recommend", "--gpu", "24GB", "--purpose", "research", "--explain", "yi-6b", "--json"]

    def ceval() -> tuple[float, str]:
        code, out, err = run_cli(base, capsys, monkeypatch)
        assert code == 0, err
        terms = json.loads(out)["recommendation"]["terms"]
        zh = next(t for t in terms if t["name"] == "quality_zh")
        return zh["components"]["C-Eval"], " ".join(zh["detail"].split())

    def newest() -> tuple[str, float, int]:
        (row,) = [r for r in load().itertuples() if r.subset == "ceval" and r.metric == "acc"]
        return row.run_id, row.value, row.n

    args = ["eval", "-m", str(tiny_model), "--model-id", "yi-6b", "-t", "ceval"]
    code, _, err = run_cli([*args, "--max-subjects", "1", "--limit", "6"], capsys, monkeypatch)
    assert code == 0, err
    full_run, full_value, full_n = newest()
    assert full_n == 6
    estimate, detail = ceval()
    assert f"{full_value:g} %: " in detail and f"run {full_run}" in detail, detail
    for more in ([], ["--num-fewshot", "0"]):
        code, _, err = run_cli([*args, "--max-subjects", "1", "--limit", "2", *more], capsys,
                               monkeypatch)  # fmt: skip
        assert code == 0, err
    quick_run, _, quick_n = newest()  # what results shows: the last run
    assert quick_run != full_run and quick_n == 2
    after, detail = ceval()
    assert after == estimate
    assert f"{full_value:g} %: " in detail and "6 documents" in detail, detail
    assert f"run {full_run}; newer, not used: run {quick_run} (2 documents, 0-shot, val): " \
        "fewer documents than the 6 used" in detail, detail  # fmt: skip
