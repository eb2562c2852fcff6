"""Prompt functions for the local lm-eval tasks (referenced from the YAML files as !function)."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Any

XCOPA_ZH_CONNECTOR = {"cause": "因为", "effect": "所以"}


def xcopa_zh_doc_to_text(doc: dict) -> str:
    """Premise without its final full stop, then 因为 (cause) or 所以 (effect); as lm-eval."""
    return doc["premise"].strip()[:-1] + f" {XCOPA_ZH_CONNECTOR[doc['question']]}"


def xcopa_doc_to_choice(doc: dict) -> list[str]:
    """The two alternatives, first letter lower-cased (a no-op for Chinese), as lm-eval."""
    return [c[0].lower() + c[1:] for c in (doc["choice1"], doc["choice2"])]


def cluewsc_doc_to_text(doc: dict) -> str:
    """The passage, then a yes/no question on whether span2 (pronoun) refers to span1."""
    target = doc["target"]
    return (
        f"{doc['text']}\n"
        f"问题：上文中的“{target['span2_text']}”指的是“{target['span1_text']}”吗？\n答案："
    )


def cluewsc_doc_to_target(doc: dict) -> int:
    """Index into ["否", "是"]: labels are the strings "true" / "false"."""
    return 1 if str(doc["label"]).strip().lower() == "true" else 0


# ---------------------------------------------------------------- local JSON loaders
# lm-eval calls a task's ``custom_dataset`` with its metadata and ``dataset_kwargs``;
# ``data_files`` maps "<split>" or "<split>_<part>" to a file (parts are concatenated).


def _split_files(data_files: dict[str, str]) -> dict[str, list[tuple[str, Path]]]:
    splits: dict[str, list[tuple[str, Path]]] = {}
    for key, path in sorted(data_files.items()):
        split, _, part = key.partition("_")
        splits.setdefault(split, []).append((part, Path(path)))
    return splits


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def c3_rows(path: Path, genre: str = "") -> list[dict[str, Any]]:
    """One row per question of a C3 file: ``[[sentences], [{question, choice, answer}], id]``."""
    rows = []
    for sentences, questions, doc_id in _read_json(path):
        for i, q in enumerate(questions):
            rows.append(
                {
                    "id": f"{genre}:{doc_id}/{i}",  # ids repeat across the d and m files
                    "genre": genre,
                    "passage": "\n".join(sentences),
                    "question": q["question"],
                    "choice": list(q["choice"]),
                    "answer": q["answer"],
                }
            )
    return rows


def c3_dataset(data_files: dict[str, str], **_: Any) -> Any:
    """C3 as a ``DatasetDict``: the d (dialogue) and m (mixed) files of a split in one split."""
    import datasets

    return datasets.DatasetDict(
        {
            split: datasets.Dataset.from_list(
                [row for genre, path in parts for row in c3_rows(path, genre)]
            )
            for split, parts in _split_files(data_files).items()
        }
    )


def c3_doc_to_text(doc: dict) -> str:
    """Passage (one sentence or dialogue turn a line), question, then 答案：."""
    return f"{doc['passage']}\n问题：{doc['question']}\n答案："


def c3_doc_to_target(doc: dict) -> int:
    """Index of the answer text among the choices (every answer is one of them)."""
    return doc["choice"].index(doc["answer"])


def squad_rows(path: Path) -> list[dict[str, Any]]:
    """One row per question of a SQuAD v1.1-style file; ``answers`` = the gold answer texts."""
    return [
        {
            "id": qa["id"],
            "title": article.get("title", ""),
            "context": paragraph["context"],
            "question": qa["question"],
            "answers": [a["text"] for a in qa["answers"]],
        }
        for article in _read_json(path)["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]


def squad_dataset(data_files: dict[str, str], **_: Any) -> Any:
    """A SQuAD-style file per split as a ``DatasetDict`` of flat question rows."""
    import datasets

    return datasets.DatasetDict(
        {
            split: datasets.Dataset.from_list(
                [row for _, path in parts for row in squad_rows(path)]
            )
            for split, parts in _split_files(data_files).items()
        }
    )


def cmrc2018_doc_to_text(doc: dict) -> str:
    return f"文章：{doc['context']}\n问题：{doc['question']}\n答案："


def cmrc2018_doc_to_target(doc: dict) -> str:
    return doc["answers"][0]


# ---------------------------------------------------------------- CMRC 2018 metrics
# Following the official CMRC 2018 evaluation script (cmrc2018_evaluate.py): text lower-cased,
# cut into tokens where each CJK character is one token and a run of Latin letters/digits is
# one (a regex stands in for the script's NLTK word split), punctuation and spaces dropped.
# EM = same text without punctuation/spaces; F1 from the longest common substring of the
# token lists (precision = LCS / predicted tokens, recall = LCS / gold tokens); each is the
# best over the gold answers. Character-level, as is standard for Chinese span extraction.

# ASCII punctuation plus the full-width / CJK punctuation the official script removes.
_PUNCTUATION = frozenset(
    string.punctuation
    + "－：￥“，。：？！《》【】”‘’［］、…（）—·～「」『』〈〉﹏＿〔〕＜＞｛｝｀＂＇／＼＾￣｜"
)
_LATIN_RUN = re.compile(r"[A-Za-z0-9]+|\S")


def cmrc_tokens(text: str) -> list[str]:
    """Lower-cased tokens without punctuation or spaces: one per CJK char, one per a-z0-9 run."""
    return [t for t in _LATIN_RUN.findall(text.lower()) if t not in _PUNCTUATION]


def _longest_common_substring(a: list[str], b: list[str]) -> int:
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def cmrc_f1(prediction: str, gold: str) -> float:
    pred, ref = cmrc_tokens(prediction), cmrc_tokens(gold)
    common = _longest_common_substring(pred, ref)
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def cmrc_em(prediction: str, gold: str) -> float:
    return float("".join(cmrc_tokens(prediction)) == "".join(cmrc_tokens(gold)))


def cmrc2018_process_results(doc: dict, results: list[str]) -> dict[str, float]:
    """EM and F1 (0-1) of the first generated line against the best-matching gold answer."""
    prediction = results[0].strip().split("\n")[0].strip()
    return {
        "exact_match": max(cmrc_em(prediction, gold) for gold in doc["answers"]),
        "f1": max(cmrc_f1(prediction, gold) for gold in doc["answers"]),
    }


# ---------------------------------------------------------------- English tasks (lm-eval names)


def _read_lines(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh if line.strip()]


def piqa_rows(questions: Path, labels: Path) -> list[dict[str, Any]]:
    """PIQA questions (JSONL ``{goal, sol1, sol2}``) joined line by line with their 0/1 labels."""
    docs = [json.loads(line) for line in _read_lines(questions)]
    gold = _read_lines(labels)
    if len(docs) != len(gold):
        raise ValueError(
            f"{labels.name} has {len(gold)} labels for {len(docs)} questions in {questions.name}"
        )
    return [doc | {"label": int(g)} for doc, g in zip(docs, gold, strict=True)]


def piqa_dataset(data_files: dict[str, str], **_: Any) -> Any:
    """PIQA as a ``DatasetDict``: ``<split>`` questions with ``<split>_labels`` labels."""
    import datasets

    out = {}
    for split, parts in _split_files(data_files).items():
        files = dict(parts)
        out[split] = datasets.Dataset.from_list(piqa_rows(files[""], files["labels"]))
    return datasets.DatasetDict(out)


def hellaswag_preprocess(text: str) -> str:
    """lm-eval's hellaswag ``preprocess``: WikiHow ``[title]`` and ``[...]`` artefacts removed."""
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def hellaswag_rows(path: Path) -> list[dict[str, Any]]:
    """Items of llama.cpp's HellaSwag text file (bz2): 6 lines each, context, gold, 4 endings."""
    import bz2

    with bz2.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) % 6:
        raise ValueError(f"{path.name}: {len(lines)} lines, not 6 per item")
    return [
        {
            "query": hellaswag_preprocess(lines[i]),
            "choices": [hellaswag_preprocess(e) for e in lines[i + 2 : i + 6]],
            "label": int(lines[i + 1]),
        }
        for i in range(0, len(lines), 6)
    ]


def hellaswag_dataset(data_files: dict[str, str], **_: Any) -> Any:
    import datasets

    return datasets.DatasetDict(
        {
            split: datasets.Dataset.from_list(
                [row for _, path in parts for row in hellaswag_rows(path)]
            )
            for split, parts in _split_files(data_files).items()
        }
    )


def winogrande_doc_to_text(doc: dict) -> int:
    """Index of the right context (lm-eval's partial scoring: the contexts are the choices)."""
    return {"1": 0, "2": 1}[doc["answer"]]


def winogrande_doc_to_target(doc: dict) -> str:
    """The sentence after the blank (the continuation scored after each context)."""
    idx = doc["sentence"].index("_") + 1
    return doc["sentence"][idx:].strip()


def winogrande_doc_to_choice(doc: dict) -> list[str]:
    """The sentence up to the blank with each option filled in."""
    idx = doc["sentence"].index("_")
    return [doc["sentence"][:idx] + opt for opt in (doc["option1"], doc["option2"])]


def boolq_dataset(data_files: dict[str, str], **_: Any) -> Any:
    """BoolQ's original release (``answer`` true/false) with lm-eval's ``label`` = int(answer)."""
    import datasets

    return datasets.DatasetDict(
        {
            split: datasets.Dataset.from_list(
                [
                    json.loads(line) | {"label": int(json.loads(line)["answer"])}
                    for _, path in parts
                    for line in _read_lines(path)
                ]
            )
            for split, parts in _split_files(data_files).items()
        }
    )
