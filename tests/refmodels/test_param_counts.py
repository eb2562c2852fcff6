"""count_params: equals torch's count of the built reference model, and the published totals.

Published totals carry their source next to them. Architecture numbers come from the shared
facts file (models.yaml) where it has them, otherwise from the config.json cited inline.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from llmselect.arch.count import count_params
from llmselect.arch.spec import ArchSpec
from llmselect.errors import LLMSelectError

# ---------------------------------------------------------------------------------------------
# 1. Our counter agrees with torch on every family and option


def tiny(family: str, **extra: object) -> ArchSpec:
    numbers: dict[str, object] = dict(
        family=family,
        hidden=48,
        layers=3,
        heads=6,
        kv_heads=6,
        intermediate=80,
        vocab=71,
        max_position=40,
        source="tiny test config",
    )
    numbers.update(extra)
    return ArchSpec(**numbers)  # type: ignore[arg-type]


TINY = {
    "gpt2": tiny("gpt2", tied_embeddings=True, intermediate=192),
    "gpt2-untied": tiny("gpt2"),
    "gpt2-post-ln": tiny("gpt2", tied_embeddings=True, post_ln=True),
    "bloom": tiny("bloom", tied_embeddings=True, intermediate=192),
    "llama-mha": tiny("llama"),
    "llama-gqa-qkv-bias": tiny("llama", kv_heads=2, qkv_bias=True),
    "llama-mqa-mlp-bias-tied": tiny("llama", kv_heads=1, mlp_bias=True, tied_embeddings=True),
    "llama-head-dim": tiny("llama", kv_heads=3, head_dim=16),  # head_dim != hidden / heads
    "glm": tiny("glm", kv_heads=2, qkv_bias=True, rope_fraction=0.5),
}


@pytest.mark.parametrize("name", list(TINY))
def test_count_equals_torch(name: str) -> None:
    from llmselect.refmodels import build_model

    arch = TINY[name]
    model = build_model(arch)
    assert count_params(arch).total == sum(p.numel() for p in model.parameters())
    on_meta = build_model(arch, device="meta")  # shapes only, no storage
    assert sum(p.numel() for p in on_meta.parameters()) == count_params(arch).total


def test_breakdown_parts() -> None:
    arch = TINY["llama-gqa-qkv-bias"]
    count = count_params(arch)
    hd = 8
    assert count.embeddings == 71 * 48 and count.lm_head == 71 * 48
    assert count.norms == 3 * 2 * 48 + 48
    assert count.attention == 3 * (48 * 48 * 2 + 2 * 48 * 2 * hd + 48 + 2 * 2 * hd)
    assert count.mlp == 3 * 3 * 48 * 80
    assert count.as_dict()["total"] == count.total
    assert count.non_embedding == count.total - count.embeddings - count.lm_head


def test_params_module_does_not_import_torch() -> None:
    import subprocess

    code = "import sys, llmselect.arch.params; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_unknown_family_is_an_error() -> None:
    with pytest.raises(LLMSelectError, match="family"):
        count_params(tiny("other"))


# ---------------------------------------------------------------------------------------------
# 2. Real configurations against published totals (tolerance 0.5 %)

TOLERANCE = 0.005


@lru_cache(maxsize=2)
def facts_models(path: Path) -> dict[str, dict]:
    """facts/models.yaml by id, parsed once per session (C loader when available)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    models = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (safe loader)
    return {m["id"]: m for m in models}


def facts_entry(facts_root: Path, model_id: str) -> dict:
    by_id = facts_models(facts_root / "models.yaml")
    assert model_id in by_id, f"{model_id} missing from facts/models.yaml"
    return by_id[model_id]


def arch_from_facts(facts_root: Path, model_id: str, family: str, **extra: object) -> ArchSpec:
    """ArchSpec from the facts file's config.json numbers (names in HF Llama vocabulary)."""
    a = facts_entry(facts_root, model_id)["architecture"]
    numbers: dict[str, object] = dict(
        family=family,
        hidden=a["hidden_size"],
        layers=a["num_hidden_layers"],
        heads=a["num_attention_heads"],
        kv_heads=a["num_key_value_heads"],
        intermediate=a["intermediate_size"] or 4 * a["hidden_size"],  # GPT-2: n_inner null = 4D
        vocab=a["vocab_size"],
        tied_embeddings=bool(a["tie_word_embeddings"]),
        max_position=a["max_position_embeddings"],
        source=a["source"],
    )
    numbers.update(extra)
    return ArchSpec(**numbers)  # type: ignore[arg-type]


# model id -> (family, extra ArchSpec fields, published total, source of the total)
FROM_FACTS: dict[str, tuple[str, dict[str, object], float, str]] = {
    "llama-2-7b": (
        "llama",
        {},
        6.74e9,
        "huggingface.co/meta-llama/Llama-2-7b-hf model page, Model size 6.74B params "
        "(safetensors metadata)",
    ),
    "llama-2-13b": (
        "llama",
        {},
        13.0e9,
        "huggingface.co/meta-llama/Llama-2-13b-hf model page, Model size 13B params",
    ),
    "llama-2-70b": (
        "llama",
        {},
        69.0e9,
        "huggingface.co/meta-llama/Llama-2-70b-hf model page, Model size 69B params",
    ),
    # ChatGLM3: config add_qkv_bias=true, kv_channels 128, rotary on half the head (facts: bias)
    "chatglm3-6b": (
        "glm",
        {"qkv_bias": True, "rope_fraction": 0.5},
        6.24e9,
        "huggingface.co/THUDM/chatglm3-6b model page, Model size 6.24B params",
    ),
    "qwen2.5-7b": (
        "llama",
        {"qkv_bias": True},
        7.61e9,
        "huggingface.co/Qwen/Qwen2.5-7B model card: 'Number of Parameters: 7.61B'",
    ),
    "mistral-7b-v0.1": (
        "llama",
        {"sliding_window": 4096},
        7.24e9,
        "huggingface.co/mistralai/Mistral-7B-v0.1 model page, Model size 7.24B params",
    ),
    "gpt2": (
        "gpt2",
        {},
        124e6,
        "github:openai/gpt-2 download_model.py / README model names 124M, 355M, 774M, 1558M",
    ),
    "gpt2-medium": ("gpt2", {}, 355e6, "github:openai/gpt-2 download_model.py model name 355M"),
}


@pytest.mark.parametrize("model_id", list(FROM_FACTS))
def test_published_totals_from_facts(model_id: str, facts_root: Path) -> None:
    family, extra, published, source = FROM_FACTS[model_id]
    arch = arch_from_facts(facts_root, model_id, family, **extra)
    if "qkv_bias" in extra:  # the facts record this in words; make sure we read them right
        assert "QKV bias" in facts_entry(facts_root, model_id)["architecture"]["bias"]
    total = count_params(arch).total
    assert abs(total - published) / published < TOLERANCE, (model_id, total, published, source)


# Sizes whose config numbers the facts file leaves null: numbers from each checkpoint's
# config.json (bigscience/bloom-*: n_embed, n_layer, n_head; openai-community/gpt2-*: n_embd,
# n_layer, n_head, all with vocab 250880 / 50257). Vocab is cross-checked against the facts file.
# name -> (family, hidden, layers, heads, published total, source of the total)
FROM_CONFIGS: dict[str, tuple[str, int, int, int, float, str]] = {
    "bloom-560m": (
        "bloom", 1024, 24, 16, 559_214_592,
        "huggingface.co/bigscience/bloom-560m model card: '559,214,592 parameters'",
    ),
    "bloom-1b1": (
        "bloom", 1536, 24, 16, 1_065_314_304,
        "huggingface.co/bigscience/bloom-1b1 model card: '1,065,314,304 parameters'",
    ),
    "bloom-1b7": (
        "bloom", 2048, 24, 16, 1_722_408_960,
        "huggingface.co/bigscience/bloom-1b7 model card: '1,722,408,960 parameters'",
    ),
    "bloom-3b": (
        "bloom", 2560, 30, 32, 3_002_557_440,
        "huggingface.co/bigscience/bloom-3b model card: '3,002,557,440 parameters'",
    ),
    "bloom-7b1": (
        "bloom", 4096, 30, 32, 7_069_016_064,
        "huggingface.co/bigscience/bloom-7b1 model card: '7,069,016,064 parameters'",
    ),
    "gpt2-large": (
        "gpt2", 1280, 36, 20, 774e6,
        "github:openai/gpt-2 download_model.py model name 774M",
    ),
    "gpt2-xl": (
        "gpt2", 1600, 48, 25, 1558e6,
        "github:openai/gpt-2 download_model.py model name 1558M",
    ),
}  # fmt: skip


@pytest.mark.parametrize("model_id", list(FROM_CONFIGS))
def test_published_totals_from_configs(model_id: str, facts_root: Path) -> None:
    family, hidden, layers, heads, published, source = FROM_CONFIGS[model_id]
    facts_arch = facts_entry(facts_root, model_id)["architecture"]
    assert facts_arch["tie_word_embeddings"] is True
    arch = ArchSpec(
        family=family,  # type: ignore[arg-type]
        hidden=hidden,
        layers=layers,
        heads=heads,
        kv_heads=heads,
        intermediate=4 * hidden,
        vocab=facts_arch["vocab_size"],
        tied_embeddings=True,
        max_position=facts_arch["max_position_embeddings"],
        source=f"config.json of {model_id}",
    )
    total = count_params(arch).total
    assert abs(total - published) / published < TOLERANCE, (model_id, total, published, source)
