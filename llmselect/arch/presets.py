"""Named architectures (``family:size``) for measuring reference models without a catalog entry.

Each entry copies the published ``config.json`` numbers of one real checkpoint, named in
``source``. Catalog ids are resolved first; these cover the sweep's size classes.
"""

from __future__ import annotations

from typing import Any

from llmselect.arch.spec import ArchSpec
from llmselect.errors import LLMSelectError
from llmselect.names import lookup, normalize
from llmselect.registry import FAMILIES

_HF = "https://huggingface.co/{}/blob/main/config.json"

_PRESETS: dict[str, dict[str, Any]] = {
    # GPT-2: n_embd, n_layer, n_head; n_inner null → 4·n_embd; tied wte/lm_head.
    "gpt2:124m": dict(family="gpt2", hidden=768, layers=12, heads=12, kv_heads=12,
                      intermediate=3072, vocab=50257, tied_embeddings=True, max_position=1024,
                      qkv_bias=True, mlp_bias=True, source=_HF.format("openai-community/gpt2")),
    "gpt2:355m": dict(family="gpt2", hidden=1024, layers=24, heads=16, kv_heads=16,
                      intermediate=4096, vocab=50257, tied_embeddings=True, max_position=1024,
                      qkv_bias=True, mlp_bias=True,
                      source=_HF.format("openai-community/gpt2-medium")),
    "gpt2:1.5b": dict(family="gpt2", hidden=1600, layers=48, heads=25, kv_heads=25,
                      intermediate=6400, vocab=50257, tied_embeddings=True, max_position=1024,
                      qkv_bias=True, mlp_bias=True, source=_HF.format("openai-community/gpt2-xl")),
    # BLOOM: hidden_size, n_layer, n_head; MLP 4·hidden; ALiBi; tied embeddings.
    "bloom:560m": dict(family="bloom", hidden=1024, layers=24, heads=16, kv_heads=16,
                       intermediate=4096, vocab=250880, tied_embeddings=True, qkv_bias=True,
                       mlp_bias=True, source=_HF.format("bigscience/bloom-560m")),
    "bloom:1b1": dict(family="bloom", hidden=1536, layers=24, heads=16, kv_heads=16,
                      intermediate=6144, vocab=250880, tied_embeddings=True, qkv_bias=True,
                      mlp_bias=True, source=_HF.format("bigscience/bloom-1b1")),
    "bloom:7b1": dict(family="bloom", hidden=4096, layers=30, heads=32, kv_heads=32,
                      intermediate=16384, vocab=250880, tied_embeddings=True, qkv_bias=True,
                      mlp_bias=True, source=_HF.format("bigscience/bloom-7b1")),
    # Llama-style (RMSNorm, RoPE, SwiGLU, GQA).
    "llama:0.5b": dict(family="llama", hidden=896, layers=24, heads=14, kv_heads=2,
                       intermediate=4864, vocab=151936, tied_embeddings=True, qkv_bias=True,
                       rope_theta=1000000.0, norm_eps=1e-6, max_position=32768,
                       source=_HF.format("Qwen/Qwen2.5-0.5B")),
    "llama:1.1b": dict(family="llama", hidden=2048, layers=22, heads=32, kv_heads=4,
                       intermediate=5632, vocab=32000, rope_theta=10000.0,
                       source=_HF.format("TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T")),
    "llama:3b": dict(family="llama", hidden=2048, layers=36, heads=16, kv_heads=2,
                     intermediate=11008, vocab=151936, tied_embeddings=True, qkv_bias=True,
                     rope_theta=1000000.0, norm_eps=1e-6, max_position=32768,
                     source=_HF.format("Qwen/Qwen2.5-3B")),
    "llama:7b": dict(family="llama", hidden=4096, layers=32, heads=32, kv_heads=32,
                     intermediate=11008, vocab=32000, rope_theta=10000.0,
                     source=_HF.format("meta-llama/Llama-2-7b-hf")),
    "llama:8b": dict(family="llama", hidden=4096, layers=32, heads=32, kv_heads=8,
                     intermediate=14336, vocab=128256, rope_theta=500000.0, norm_eps=1e-5,
                     max_position=8192, source=_HF.format("meta-llama/Meta-Llama-3-8B")),
    "llama:13b": dict(family="llama", hidden=5120, layers=40, heads=40, kv_heads=40,
                      intermediate=13824, vocab=32000, rope_theta=10000.0,
                      source=_HF.format("meta-llama/Llama-2-13b-hf")),
    # ChatGLM3-6B: multi_query_group_num 2, ffn_hidden_size, padded_vocab_size, half-rotary RoPE.
    "glm:6b": dict(family="glm", hidden=4096, layers=28, heads=32, kv_heads=2,
                   intermediate=13696, vocab=65024, rope_fraction=0.5, qkv_bias=True,
                   max_position=8192, source=_HF.format("THUDM/chatglm3-6b")),
}  # fmt: skip

PRESET_CHECKPOINTS = {
    "gpt2:124m": "GPT-2",
    "gpt2:355m": "GPT-2 medium",
    "gpt2:1.5b": "GPT-2 XL",
    "bloom:560m": "BLOOM-560m",
    "bloom:1b1": "BLOOM-1b1",
    "bloom:7b1": "BLOOM-7b1",
    "llama:0.5b": "Qwen2.5-0.5B (llama-style)",
    "llama:1.1b": "TinyLlama-1.1B",
    "llama:3b": "Qwen2.5-3B (llama-style)",
    "llama:7b": "Llama-2-7B",
    "llama:8b": "Llama-3-8B",
    "llama:13b": "Llama-2-13B",
    "glm:6b": "ChatGLM3-6B",
}


def _family_presets() -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Presets a registered family brings (``Family.presets``: size → arch numbers with
    ``source`` and the ``checkpoint`` they copy), named ``<family>:<size>``."""
    presets: dict[str, dict[str, Any]] = {}
    names: dict[str, str] = {}
    for fam_name in FAMILIES.names():
        for size, fields in FAMILIES.load(fam_name).presets.items():
            key = f"{fam_name}:{size}"
            arch = {k: v for k, v in fields.items() if k != "checkpoint"}
            presets[key] = {"family": fam_name, **arch}
            names[key] = str(fields.get("checkpoint", key))
    return presets, names


def _all_presets() -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    extra, extra_names = _family_presets()
    return {**_PRESETS, **extra}, {**PRESET_CHECKPOINTS, **extra_names}


def preset_names() -> list[str]:
    """All ``family:size`` names."""
    return list(_all_presets()[0])


def preset_arch(name: str) -> Any:
    """The ``ArchSpec`` of a ``family:size`` name (unknown → one-line error with suggestions)."""

    presets = _all_presets()[0]
    fields = lookup(name, {normalize(k): v for k, v in presets.items()}, "architecture preset")
    return ArchSpec(**fields)


def is_preset(name: str) -> bool:
    return normalize(name) in {normalize(k) for k in _all_presets()[0]}


def describe(name: str) -> str:
    """Human name of the checkpoint a preset copies."""
    key = normalize(name)
    for k, v in _all_presets()[1].items():
        if normalize(k) == key:
            return v
    raise LLMSelectError(f"unknown architecture preset {name!r}")


class ArchTarget:
    """A probe target built from an architecture alone: ``id`` and ``arch`` like a ModelSpec."""

    def __init__(self, id: str, arch: Any, name: str | None = None) -> None:  # noqa: A002
        self.id = id
        self.arch = arch
        self.name = name or id
        self.params_b = None

    def __repr__(self) -> str:
        return f"ArchTarget({self.id!r})"
