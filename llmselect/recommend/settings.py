"""The setting of a benchmark score, read from the catalog's own words.

A published score is only comparable with another one run the same way. ``PublishedScore``
keeps the publisher's description (``setting``, ``shots``, ``source``, ``comparable_note``);
this module reads it into fields the quality model can adjust for:

* ``benchmark``: one of ``BENCHMARKS`` (the catalog's spelling variants folded);
* ``split``: ``val`` | ``test`` | None (not stated);
* ``shots``: an int, or None when the table does not say;
* ``cot``: chain-of-thought prompting named in the setting;
* ``tuned``: ``base`` | ``instruct``, from the setting's words, else the checkpoint's tags;
* ``thinking``: True for a reasoning/thinking-mode run, False otherwise;
* ``runner``: ``publisher`` (the model's own table), ``third-party`` (another vendor's
  comparison table, a re-evaluation, OpenCompass) or ``llmselect`` (measured here);
* ``chat_template``: whether the prompts were wrapped in the checkpoint's chat template, where
  the score's record says (None: not stated, as in every catalog table).

Nothing is guessed beyond the words: a setting that says nothing about shots has ``shots=None``.
A score measured here (``measured_setting``) takes its setting from its own record: the shots
lm-eval ran with, the chat template on or off and the split scored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llmselect.catalog import ModelSpec, PublishedScore
from llmselect.recommend.evidence import Value

BENCHMARKS = ("MMLU", "C-Eval", "CMMLU", "GSM8K", "HumanEval")
RUNNERS = ("publisher", "third-party", "llmselect")
_THIRD_PARTY = ("opencompass", "re-evaluation", "evaluated by", "comparison table", "as reported")
_SHOTS = re.compile(r"(\d+)-shot")
_SPLITS = {"test": "test", "val": "val", "validation": "val", "dev": "val"}  # a task's split


def benchmark_key(name: str) -> str | None:
    """``C-Eval``/``ceval``/``c_eval`` → ``C-Eval``; None for a benchmark outside the model."""
    key = name.lower().replace("-", "").replace("_", "").replace(" ", "")
    for bench in BENCHMARKS:
        if key == bench.lower().replace("-", ""):
            return bench
    return None


@dataclass(frozen=True)
class Setting:
    """How one score was obtained (see the module doc for each field)."""

    benchmark: str
    split: str | None
    shots: int | None
    cot: bool
    tuned: str  # base | instruct | unknown
    thinking: bool
    runner: str  # publisher | third-party | llmselect
    chat_template: bool | None = None

    def describe(self) -> str:
        """``5-shot, base, publisher``: the fields that are known, for labels (a score measured
        here also says whether the chat template was applied, or that its record does not)."""
        parts = [f"{self.shots}-shot" if self.shots is not None else "shots not stated"]
        if self.split:
            parts.append(self.split)
        if self.cot:
            parts.append("CoT")
        parts.append(self.tuned)
        if self.chat_template is not None:
            parts.append("chat template" if self.chat_template else "no chat template")
        elif self.runner == "llmselect":
            parts.append("chat template not stated")
        if self.thinking:
            parts.append("thinking")
        parts.append(f"run by {self.runner}")
        return ", ".join(parts)


def checkpoint_tuning(model: ModelSpec) -> str:
    """``base``, ``instruct`` or ``unknown`` for a checkpoint: its tags, else ``instruct`` when
    it names a base model it was tuned from; an untagged local file stays ``unknown``."""
    tags = {t.lower() for t in model.tags}
    if tags & {"chat", "instruct"}:
        return "instruct"
    if "base" in tags:
        return "base"
    return "instruct" if model.base_model else "unknown"


def read_setting(score: PublishedScore, model: ModelSpec) -> Setting | None:
    """The setting of a catalog score, or None when its benchmark is outside the model."""
    bench = benchmark_key(score.benchmark)
    if bench is None:
        return None
    text = (score.setting or "").lower()
    shots = score.shots
    if shots is None:
        m = _SHOTS.search(text)
        shots = int(m.group(1)) if m else (0 if "zero-shot" in text else None)
    split = (
        "val" if re.search(r"\bval\b", text) else "test" if re.search(r"\btest\b", text) else None
    )
    if "base model" in text or "pre-trained" in text or "base table" in text:
        tuned = "base"
    elif any(w in text for w in ("instruct", "chat", "post-trained", "reasoning")):
        tuned = "instruct"
    else:
        tuned = checkpoint_tuning(model)
    thinking = ("thinking mode" in text and "non-thinking" not in text) or (
        "reasoning" in text and "non-reasoning" not in text
    )
    third = score.comparable_note is not None or any(w in text for w in _THIRD_PARTY)
    return Setting(
        benchmark=bench,
        split=split,
        shots=shots,
        cot="cot" in text,
        tuned=tuned,
        thinking=thinking,
        runner="third-party" if third else "publisher",
    )


def measured_setting(benchmark: str, model: ModelSpec, value: Value) -> Setting:
    """The setting of a score measured here (lm-eval through ``llmselect eval``), as its record
    states it.

    Shots: lm-eval reports the shots each task ran with (its ``n-shot``): the number asked
    (``--num-fewshot``), else the task file's ``num_fewshot`` (5 for C-Eval, CMMLU, MMLU and
    GSM8K here), else 0; a task whose file fixes 0 keeps 0 whatever is asked. The probe stores
    that as ``num_fewshot``, so a run that asked for no number still states its shots. A record
    without it (or with one that is not a count) is "shots not stated", as a table that does not
    say, never a default.

    Tuning stays the checkpoint's (``checkpoint_tuning``): the chat template changes the prompt,
    not the weights, so a base checkpoint scored through a template is still a base one; the
    template is kept in the setting and shown, as is the split scored (C-Eval's labelled val
    split here, where publishers mostly give test). The record carries neither CoT nor thinking
    mode: they stay unset, and neither is a fitted offset here. The exam tasks score answer
    log-likelihoods, where nothing is generated and no mode applies; GSM8K generated through a
    hybrid model's chat template runs in that template's default mode, which the record does
    not say."""
    return Setting(
        benchmark, _SPLITS.get((value.split or "").lower()), value.shots, False,
        checkpoint_tuning(model), False, "llmselect", value.chat_template,
    )  # fmt: skip
