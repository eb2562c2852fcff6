"""Purpose profiles (``data/purposes/*.yaml``: weights over terms, what is deployed, precision
and speed budgets, license use) and the user's request. The profiles are data, validated
against the score-term registry; nothing here ranks models."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from llmselect.config import PACKAGE_DATA
from llmselect.datafiles import read_yaml_cached
from llmselect.errors import LLMSelectError
from llmselect.hardware import GpuBudget
from llmselect.names import normalize

PURPOSES_DIR = PACKAGE_DATA / "purposes"
LANGS = ("zh", "en")
PRECISIONS = ("fp16", "int8", "int4")
DEPLOYS = ("instruct", "base", "any")
LOGITS = ("last", "all")
ENGINES = ("transformers", "llama.cpp", "vllm")
DEFAULT_RISK = 0.8  # rank by the 10th percentile of the score: (1 - risk) / 2
DEFAULT_HEADROOM = 0.05  # of the usable memory, kept free


def profile_terms() -> set[str]:
    """Names a profile may weigh: ``quality`` (split over --lang) and every registered term."""
    from llmselect.registry import SCORE_TERMS

    return {"quality", *SCORE_TERMS.names()}


@dataclass(frozen=True)
class Profile:
    """A purpose profile: weights over terms, size and precision rules, license use."""

    name: str
    description: str
    license_use: str
    conditional_license: str
    unknown_license: str
    precisions: tuple[str, ...]
    max_params_b: float | None
    default_context: int
    scale_direction: str
    weights: dict[str, float]
    practice: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    deploys: str = "instruct"  # instruct | base | any: which checkpoints rank without --finetune
    min_tokens_per_s: float | None = None  # speed floor of the purpose (decode, batch 1)


@dataclass(frozen=True)
class Request:
    """What the user asked for."""

    gpu: GpuBudget
    purpose: str
    lang: dict[str, float] = field(default_factory=lambda: {"zh": 0.5, "en": 0.5})
    context: int | None = None  # None: the profile's default
    min_tokens_per_s: float | None = None
    finetune: str = "none"
    max_params_b: float | None = None  # --max-params, on the exact count
    corpus: str | None = None  # --corpus: tokenizer evidence from this corpus, not FLORES-200
    risk: float = DEFAULT_RISK  # --risk: rank by the (1 - risk) / 2 quantile of the score
    headroom: float = DEFAULT_HEADROOM  # --headroom: share of usable memory kept free
    logits: str = "last"  # --logits: last position (served) or all (scoring, training)
    engine: str = "transformers"  # --engine


def _sentence(item: Any, origin: str) -> str:
    """A practice line: text, not a mapping that an unquoted ``: `` in YAML makes of it."""
    if not isinstance(item, str):
        raise LLMSelectError(
            f"purpose profile {origin}: practice item {item!r} is not text (quote a line "
            "holding ': ')"
        )
    return " ".join(item.split())


def _profile_from(raw: Mapping[str, Any], origin: str) -> Profile:
    try:
        weights = {str(k): float(v) for k, v in dict(raw["weights"]).items()}
        precisions = tuple(str(p) for p in raw["precisions"])
        profile = Profile(
            name=str(raw["name"]),
            description=" ".join(str(raw.get("description", "")).split()),
            license_use=str(raw["license_use"]),
            conditional_license=str(raw.get("conditional_license", "allow")),
            unknown_license=str(raw.get("unknown_license", "exclude")),
            precisions=precisions,
            max_params_b=raw.get("max_params_b"),
            default_context=int(raw.get("default_context", 4096)),
            scale_direction=str(raw.get("scale_direction", "higher")),
            weights=weights,
            practice=tuple(_sentence(p, origin) for p in raw.get("practice", [])),
            aliases=tuple(str(a) for a in raw.get("aliases", [])),
            deploys=str(raw.get("deploys", "instruct")),
            min_tokens_per_s=raw.get("min_tokens_per_s"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LLMSelectError(f"purpose profile {origin}: bad or missing field {exc}") from exc
    known = profile_terms()
    unknown = set(weights) - known
    bad_prec = set(precisions) - set(PRECISIONS)
    if unknown or bad_prec or not precisions:
        raise LLMSelectError(
            f"purpose profile {origin}: unknown terms {sorted(unknown)} (registered: "
            f"{', '.join(sorted(known))}) or precisions {sorted(bad_prec)}"
        )
    if profile.deploys not in DEPLOYS:
        raise LLMSelectError(
            f"purpose profile {origin}: deploys must be one of {', '.join(DEPLOYS)}"
        )
    return profile


@lru_cache(maxsize=4)
def load_profiles(directory: Path = PURPOSES_DIR) -> dict[str, Profile]:
    """Purpose profiles by name (and alias), from ``data/purposes/*.yaml``."""
    profiles: dict[str, Profile] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            raw = read_yaml_cached(path)
        except LLMSelectError as exc:
            raise LLMSelectError(f"purpose profile: {exc}") from exc
        profile = _profile_from(raw or {}, path.name)
        for key in (profile.name, *profile.aliases):
            profiles[normalize(key)] = profile
    return profiles


def get_profile(purpose: str, profiles: Mapping[str, Profile] | None = None) -> Profile:
    """The profile for ``purpose`` (``edge``/``on-device`` alike) or a one-line error."""
    table = profiles if profiles is not None else load_profiles()
    key = normalize(purpose).replace("/", "-")
    if key in table:
        return table[key]
    names = sorted({p.name for p in table.values()})
    raise LLMSelectError(f"unknown purpose {purpose!r}; choose one of: {', '.join(names)}")


def parse_lang_mix(text: str | None) -> dict[str, float]:
    """``zh=0.7,en=0.3`` → shares summing to 1 (``zh=7,en=3`` alike); ``zh`` alone →
    ``{zh: 1.0}``; None → half and half. A blank text, a share that is not a finite number
    ``>= 0`` and a language given twice are errors."""
    if text is None:
        return {"zh": 0.5, "en": 0.5}
    if not text.strip():
        raise LLMSelectError("--lang is empty: give e.g. zh=0.7,en=0.3, or zh")
    shares: dict[str, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lang, eq, value = part.partition("=")
        lang = lang.strip().lower()
        if lang not in LANGS:
            raise LLMSelectError(f"--lang: unknown language {lang!r}; use zh and/or en")
        if lang in shares:
            raise LLMSelectError(f"--lang: {lang} is given twice")
        try:
            share = float(value) if eq else 1.0  # ``zh`` alone is all of it; ``zh=`` is not
        except ValueError:
            raise LLMSelectError(f"--lang: {part!r} is not LANG=SHARE (e.g. zh=0.7)") from None
        if not math.isfinite(share) or share < 0:
            raise LLMSelectError(f"--lang: share for {lang} must be a finite number >= 0")
        shares[lang] = share
    total = sum(shares.values())
    if total <= 0:
        raise LLMSelectError("--lang: the shares add up to 0")
    if not math.isfinite(total):
        raise LLMSelectError("--lang: the shares are too large to add up")
    return {lang: shares[lang] / total for lang in LANGS if shares.get(lang, 0.0) > 0}


def term_weights(profile: Profile, mix: Mapping[str, float]) -> dict[str, float]:
    """Profile weights with quality split over the language mix, normalized to sum 1."""
    w = dict(profile.weights)
    quality = w.pop("quality", 0.0)
    for lang in LANGS:
        w[f"quality_{lang}"] = quality * mix.get(lang, 0.0)
    total = sum(w.values())
    return {k: v / total for k, v in w.items() if v > 0} if total > 0 else {}
