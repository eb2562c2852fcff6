"""Prompt functions for the local lm-eval tasks (referenced from the YAML files as !function)."""

from __future__ import annotations

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
