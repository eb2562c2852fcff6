"""Text fingerprints of known model licenses: short distinctive phrases, never the texts.

A license matches when all of its ``all_of`` phrases occur in the normalized text (lowercase,
whitespace collapsed, curly quotes straightened) and none of its ``none_of`` phrases do. The first
match in table order wins, so narrower fingerprints come before broader ones (Llama 3.1 before
Llama 3, the research agreements before the commercial ones, modified MIT before MIT).
``versions`` pick a revision of a license whose wording changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Fingerprint:
    """Phrases that identify one license (and optionally its revision)."""

    license_id: str
    all_of: tuple[str, ...]
    none_of: tuple[str, ...] = ()
    # (phrase, version label): the first phrase found names the revision.
    versions: tuple[tuple[str, str], ...] = field(default_factory=tuple)


FINGERPRINTS: tuple[Fingerprint, ...] = (
    Fingerprint("llama4-community", ("llama 4 community license agreement",)),
    Fingerprint("llama3.1-community", ("llama 3.1 community license agreement",)),
    Fingerprint("llama3-community", ("meta llama 3 community license agreement",)),
    Fingerprint("llama2-community", ("llama 2 community license agreement",)),
    Fingerprint(
        "chatglm3-6b-license",
        ("the chatglm3-6b license",),
        versions=(
            ("open.bigmodel.cn/mla/form", "2024-05-24 revision (61c56f7)"),
            ("", "initial text (bd5bfb2)"),
        ),
    ),
    Fingerprint(
        "chatglm2-6b-license",
        ("the chatglm2-6b license",),
        versions=(
            ("non-commercial research purposes", "initial text (aec54b3)"),
            ("", "2023-07-14 revision (a256076)"),
        ),
    ),
    Fingerprint(
        "chatglm-6b-license",
        ("the chatglm-6b license",),
        versions=(
            ("non-commercial research purposes", "initial text (2548c99)"),
            ("", "2023-07-08 revision (16fd212)"),
        ),
    ),
    Fingerprint("tongyi-qianwen-research", ("tongyi qianwen research license agreement",)),
    Fingerprint("tongyi-qianwen", ("tongyi qianwen license agreement",)),
    Fingerprint("qwen-research-2024", ("qwen research license agreement",)),
    Fingerprint("qwen-license-2024", ("qwen license agreement", "september 19, 2024")),
    Fingerprint("deepseek-license-1.0", ("deepseek license agreement", "version 1.0")),
    Fingerprint("bigscience-bloom-rail-1.0", ("bigscience rail license",)),
    Fingerprint("yi-license", ("yi series models", "license agreement")),
    Fingerprint("skywork-community", ("skywork community license",)),
    Fingerprint("baai-aquila", ("baai aquila model license",)),
    Fingerprint("tii-falcon-llm-1.0", ("tii falcon llm license",)),
    Fingerprint("gemma-terms", ("gemma terms of use",)),
    Fingerprint("microsoft-research-license", ("microsoft research license",)),
    Fingerprint(
        "apache-2.0",
        (
            "apache license",
            "version 2.0",
            "terms and conditions for use, reproduction, and distribution",
        ),
    ),
    Fingerprint("openai-gpt2-modified-mit", ("modified mit license", "gpt-2")),
    Fingerprint(
        "mit",
        (
            "permission is hereby granted, free of charge, to any person obtaining a copy",
            "the above copyright notice and this permission notice shall be included",
        ),
        none_of=("modified mit license",),
    ),
)


def normalize_text(text: str) -> str:
    """Lowercase, straight quotes, single spaces: wording survives reflowing and re-encoding."""
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'")
    return re.sub(r"\s+", " ", text.lower()).strip()


@dataclass(frozen=True)
class TextMatch:
    """A fingerprint found in a text: the license, its revision, and the phrase at its start."""

    license_id: str
    version: str | None
    evidence: str
    position: int


def match_text(text: str) -> list[TextMatch]:
    """All known licenses in ``text``, in the order they appear (a file may bundle several)."""
    norm = normalize_text(text)
    found: list[TextMatch] = []
    for fp in FINGERPRINTS:
        if not all(p in norm for p in fp.all_of) or any(p in norm for p in fp.none_of):
            continue
        # A broader fingerprint (Llama 3) must not fire on a text a narrower one already claimed.
        position = norm.find(fp.all_of[0])
        if any(m.position == position for m in found):
            continue
        version = next((label for phrase, label in fp.versions if phrase in norm), None)
        found.append(TextMatch(fp.license_id, version, fp.all_of[0], position))
    return sorted(found, key=lambda m: m.position)
