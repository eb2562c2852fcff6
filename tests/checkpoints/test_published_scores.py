"""The score reproduction (``benchmarks/reproduce_published_scores.py``) against its stored run.

Default tier: ``llmselect eval --limit N`` on the real GGUF files gives, for the first N items,
the accuracy that the committed full run recorded item by item, and the benchmark's own
evaluation gives the same choice log-likelihoods for those items. ``slow``: the whole table is
rerun and agrees with the committed one.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from _fresh import in_fresh_python

from llmselect.cli import main

ROOT = Path(__file__).resolve().parents[2]
STORED = ROOT / "benchmarks" / "results" / "published_scores_reproduction.json"
N = 20  # items rerun (all among the first KEEP_FIRST, stored with log-likelihoods)

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None,
    reason="the stored run used llama.cpp (llama-cpp-python: bash scripts/setup.sh all)",
)


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location(
        "reproduce_published_scores", ROOT / "benchmarks" / "reproduce_published_scores.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> Any:
    return _bench()


@pytest.fixture(scope="module")
def stored() -> dict[str, Any]:
    assert STORED.is_file(), f"{STORED} missing: run benchmarks/reproduce_published_scores.py"
    return json.loads(STORED.read_text(encoding="utf-8"))["runs"]


def _gguf(bench: Any, model: str) -> Path:
    try:
        return bench.MODELS[model].path()
    except (ImportError, importlib.metadata.PackageNotFoundError):
        pytest.fail(f"the {model} checkpoint is not installed: run `bash scripts/setup.sh all`")


# SmolLM2 with its chat template (the card's setting) and Gemma's cheapest whole-split row.
CASES = ["smollm2:piqa:0shot:chat", "smollm2:arc_easy:0shot:chat", "gemma3:winogrande:0shot:plain"]


@pytest.mark.parametrize("key", CASES)
def test_eval_limit_matches_stored_items(
    key: str, bench: Any, stored: dict[str, Any], with_data_root: Path, capsys: Any,
    monkeypatch: Any,
) -> None:  # fmt: skip
    run = stored[key]
    model = key.split(":")[0]
    first = [i for i in run["items"] if i["doc"] < N]
    assert [i["doc"] for i in first] == list(range(N))
    args = ["eval", "--model", str(_gguf(bench, model)), "--tasks", run["task"],
            "--limit", str(N), "--num-fewshot", str(run["shots"]), "--threads", "1", "--json",
            "--chat-template" if run["chat_template"] else "--no-chat-template"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", ["llmselect", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capsys.readouterr()
    assert int(exc.value.code or 0) == 0, captured.err
    payload = json.loads(captured.out)
    got = {r["metric"]: r for r in payload["records"] if r["subset"] == run["task"]}
    assert got["acc"]["params"]["lm_backend"] == "llama.cpp" == run["engine"]
    for metric in [m for m in ("acc", "acc_norm") if m in first[0]]:  # winogrande: acc only
        expected = 100.0 * sum(i[metric] for i in first) / N
        assert got[metric]["n"] == N
        assert got[metric]["value"] == pytest.approx(expected, abs=1e-6), metric


def rescore(key: str, datasets_root: str) -> tuple[str, dict[str, Any]]:
    """In a fresh interpreter: the first 5 items of ``key`` scored again through llama.cpp."""
    bench = _bench()
    spec = next(r for r in bench.PLAN if r.key == key)
    lm, engine = bench.make_lm(bench.MODELS[spec.model], "llama.cpp", threads=1)
    return engine, bench.evaluate(lm, spec, Path(datasets_root), limit=5)


@pytest.mark.parametrize("key", CASES)
def test_loglikelihoods_match_stored_items(
    key: str, stored: dict[str, Any], datasets_root: Path
) -> None:
    run = stored[key]
    engine, again = in_fresh_python("test_published_scores", "rescore", key, datasets_root)
    want = {i["doc"]: i for i in run["items"] if i["doc"] < 5}
    assert engine == "llama.cpp" and len(again["items"]) == 5
    for item in again["items"]:
        ref = want[item["doc"]]
        assert item["ll"] == pytest.approx(ref["ll"], abs=2e-3)
        assert (item["acc"], item.get("acc_norm")) == (ref["acc"], ref.get("acc_norm"))


@pytest.mark.slow
def test_rerun_reproduces_the_table(bench: Any, stored: dict[str, Any], tmp_path: Path) -> None:
    """The whole plan again, into a fresh file: every item both runs scored has the same
    outcome (ties may flip on another CPU's kernels: at most 0.5 %), the same rows are filled,
    and the table is written. Takes about the committed run's summed ``cpu_seconds``."""
    out, md = tmp_path / "rerun.json", tmp_path / "rerun.md"
    assert bench.main(["--out", str(out), "--md", str(md)]) == 0
    rerun = json.loads(out.read_text(encoding="utf-8"))["runs"]
    assert set(stored) <= set(rerun)
    for key, run in stored.items():
        again = {(i["task"], i["doc"]): i for i in rerun[key]["items"]}
        common = [i for i in run["items"] if (i["task"], i["doc"]) in again]
        assert len(common) == min(run["n"], rerun[key]["n"]), key
        same = sum(
            (i["acc"], i.get("acc_norm"))
            == (again[(i["task"], i["doc"])]["acc"], again[(i["task"], i["doc"])].get("acc_norm"))
            for i in common
        )
        assert same >= 0.995 * len(common), key
    text = md.read_text(encoding="utf-8")
    assert "not run" not in text and text.count("\n|") > 15


def test_committed_table_is_the_stored_run(bench: Any) -> None:
    """The committed Markdown table (and the README's copy) is what ``--table`` makes of the
    committed JSON: no figure or gap explanation was edited by hand."""
    store = json.loads(STORED.read_text(encoding="utf-8"))
    table = bench.table(store)
    assert table == (STORED.with_suffix(".md")).read_text(encoding="utf-8")
    assert table in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "not run" not in table


def test_acc_norm_is_lightevals_character_norm(stored: dict[str, Any], datasets_root: Path) -> None:
    """SmolLM2's card uses lighteval's LogProbCharNorm(ignore_first_space=True) on choices
    written " answer": recomputed from the stored log-likelihoods it picks what acc_norm did."""
    from llmselect.eval.tasks import build_task

    run = stored["smollm2:arc_easy:0shot:chat"]
    task = build_task("arc_easy", datasets_root).to_lm_eval()
    docs = list(task.eval_docs)
    items = [i for i in run["items"] if "ll" in i]
    assert len(items) >= 20
    for item in items:
        doc = docs[item["doc"]]
        choices = [" " + c for c in task.doc_to_choice(doc)]  # lighteval's choice strings
        lengths = [len(c) - (1 if c.startswith(" ") else 0) for c in choices]
        scores = [ll / n for ll, n in zip(item["ll"], lengths, strict=True)]
        pick = max(range(len(scores)), key=scores.__getitem__)
        assert int(pick == task.doc_to_target(doc)) == item["acc_norm"], item["doc"]
