"""Exact parameter counts and the sources of the curated catalog entries.

Every ``params_exact`` computed by scripts/count_params.py is rebuilt here: the transformers class
of the entry's ``model_type`` is instantiated on the meta device from the catalog's architecture
numbers and must hold exactly that many parameters. Where the publisher prints a total with
decimals (a model card's "8.2B"), the count must agree to that precision.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from llmselect.catalog import load_catalog

ADDITIONS = Path(__file__).resolve().parents[1] / "scripts" / "catalog_additions.yaml"

# One of each layout in the default tier; the whole catalog in the slow tier.
REPRESENTATIVE = [
    "qwen2.5-7b",  # Qwen2: q/k/v bias
    "qwen3-0.6b",  # Qwen3: QK-norm, head_dim != hidden/heads, tied
    "qwen3-30b-a3b",  # Qwen3-MoE: 128 routed experts
    "llama-2-7b",
    "meta-llama-3-8b",
    "gemma-7b",  # tied, head_dim 256
    "chatglm3-6b",  # GLM: multi-query groups, half-rotary
    "mixtral-8x7b",
    "internlm2-7b",  # remote code with Llama's tensors
    "gpt2",
    "bloom-560m",
    "baichuan-7b",  # a published exact count
    "deepseek-v3",  # latent attention + 256 experts, 3 dense layers
    "deepseek-v2-lite",  # latent attention without a query latent
    "glm-4.5-air",  # GLM MoE: shared expert, half-rotary, q/k/v bias
    "internlm3-8b-instruct",  # remote code with Llama's tensors
    "llama-3.2-1b",  # tied, head_dim 64
    "gemma-2-2b",  # post-norms, alternating sliding windows
    "gemma-3-4b-it",  # QK-norm, post-norms, 262208 embedding rows
    "phi-4",  # Phi-3 layout (fused q/k/v and gate/up), 10 KV heads
    "mistral-small-24b-base-2501",  # head_dim 128 apart from hidden / heads
    "minicpm3-4b",  # dense latent attention (MiniCPM3 class), tied
    "glm-4-9b-0414",  # GLM-4-0414: post-norms, q/k/v bias, half-rotary
]


def _computed(catalog) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.id for m in catalog if m.params_source and m.params_source.startswith("computed:")]


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return load_catalog()


def _check(spec) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("transformers")
    from llmselect.arch.hf_layout import count_hf_params

    got = count_hf_params(spec.arch)
    assert got.total == spec.params_exact, spec.id
    assert got.model_class in spec.params_source or "published" in spec.params_source


@pytest.mark.parametrize("mid", REPRESENTATIVE)
def test_params_exact_rebuilt_on_meta(catalog, mid: str) -> None:
    spec = catalog.get(mid)
    assert spec.arch is not None and spec.params_exact is not None
    _check(spec)


@pytest.mark.slow
def test_every_params_exact_rebuilt_on_meta(catalog) -> None:
    for mid in _computed(catalog):
        _check(catalog.get(mid))


def test_representatives_cover_every_layout(catalog) -> None:
    computed = [catalog.get(m) for m in _computed(catalog)]
    assert {m.id for m in computed} >= {catalog.get(m).id for m in REPRESENTATIVE}
    assert len(computed) > 100


def test_counts_round_to_the_published_totals(catalog) -> None:
    """A model card's total with decimals ("8.2B") is the computed count to that precision."""
    checked = 0
    for spec in catalog:
        src = spec.params_source or ""
        m = re.search(r"publisher's total: (\d+\.\d+)B", src)
        if not m or spec.params_exact is None:
            continue
        stated = m.group(1)
        unit = 10.0 ** -len(stated.split(".")[1])  # publishers round or truncate the last digit
        assert abs(spec.params_exact / 1e9 - float(stated)) < unit, spec.id
        checked += 1
    assert checked >= 1


def test_published_exact_counts_agree(catalog) -> None:
    # Baichuan's README prints exact totals: the computed count is the same number.
    assert catalog.get("baichuan-7b").params_exact == 7_000_559_616
    assert catalog.get("baichuan-13b-base").params_exact == 13_264_901_120
    # Gemma-7B is 8.54B (tied 256k-row embeddings), not its nominal 7B.
    assert catalog.get("gemma-7b").params_b == pytest.approx(8.538, abs=1e-3)
    # Google's keras-hub presets (gemma_presets.py, gemma3_presets.py) print exact totals.
    assert catalog.get("gemma-2-2b").params_exact == 2_614_341_888
    assert catalog.get("gemma-2-9b-it").params_exact == 9_241_705_984
    assert catalog.get("gemma-2-27b").params_exact == 27_227_128_320
    assert catalog.get("gemma-3-1b-it").params_exact == 999_885_952
    # keras-hub's Gemma 3 text presets keep 262144 embedding rows, the Hugging Face
    # checkpoints 262208 (64 more rows of hidden size 5376, tied).
    assert catalog.get("gemma-3-27b-pt").params_exact == 27_009_002_240 + 64 * 5376
    # Mistral-Small-24B's model.safetensors.index.json: total_size 47,144,806,400 bf16 bytes.
    assert catalog.get("mistral-small-24b-instruct-2501").params_exact == 47_144_806_400 // 2


def _additions() -> dict:
    return yaml.safe_load(ADDITIONS.read_text(encoding="utf-8"))


def test_new_entries_carry_their_sources(catalog) -> None:
    from llmselect.licenses import load_licenses
    from llmselect.tokenizers.spec import load_tokenizer_catalog

    licenses = load_licenses()
    tokenizers = load_tokenizer_catalog()
    added = [e["id"] for e in _additions()["models"]]
    assert added
    for mid in added:
        spec = catalog.get(mid)
        assert spec.facts_source == f"scripts/catalog_additions.yaml#{mid}"
        assert spec.arch is not None and spec.arch.source, mid
        assert spec.arch.model_type, mid
        assert spec.params_exact and spec.params_source.startswith("computed:"), mid
        assert spec.license and spec.license.id and spec.license.source, mid
        assert licenses.find(spec.license.id) is not None, mid
        assert spec.release_date and spec.release_date_source, mid
        assert spec.context_length and spec.context_source, mid
        assert spec.languages and spec.languages_source, mid
        for s in spec.scores:
            assert s.source and s.setting and 0 <= s.value <= 100, (mid, s.benchmark)
        if spec.tokenizer is not None:
            assert tokenizers.get(spec.tokenizer).id == spec.tokenizer, mid
        else:
            assert any("tokenizer" in n for n in spec.notes), mid


def test_corrections_say_where_each_value_was_read(catalog) -> None:
    for fix in _additions()["corrections"]:
        assert fix["source"] and fix["why"], fix["id"]
        spec = catalog.get(fix["id"])
        assert f"curated: {fix['why']}" in spec.notes
        patch = fix.get("set") or {}
        if "architecture" in patch and "source" not in patch["architecture"]:
            assert fix["source"] in spec.arch.source, fix["id"]
        for score in fix.get("add_benchmarks") or []:
            got = [(s.benchmark, s.value, s.source) for s in spec.scores]
            assert (score["benchmark"], score["value"], score["source"]) in got, fix["id"]


def test_dropped_entries_are_gone(catalog) -> None:
    for d in _additions()["drop"]:
        assert catalog.find(d["id"]) is None


def test_moe_and_qk_norm_fields(catalog) -> None:
    moe = catalog.get("qwen3-235b-a22b").arch
    assert moe.moe.experts == 128 and moe.moe.experts_per_token == 8
    assert moe.moe.expert_intermediate == 1536 and moe.qk_norm and not moe.qkv_bias
    assert catalog.get("mixtral-8x7b").arch.moe.experts == 8
    assert catalog.get("qwen3-8b").arch.head_dim == 128
    assert catalog.get("qwen2.5-32b").arch.norm_eps == 1e-5  # official config, not 1e-6
    assert catalog.get("qwen2.5-7b").arch.norm_eps == 1e-6


def test_license_corrections_carry_their_source() -> None:
    from llmselect.licenses import load_licenses

    table = load_licenses()
    for fix in _additions()["license_corrections"]:
        lic = table.find(fix["id"])
        assert lic is not None and fix["source"] in lic.source, fix["id"]
        assert lic.commercial == fix["set"]["commercial_use"], fix["id"]
    for lic in _additions()["licenses"]:
        assert table.find(lic["id"]) is not None and lic["source"], lic["id"]


@pytest.mark.parametrize(("preset", "model_id"), [("llama:0.5b", "qwen2.5-0.5b"),
                                                  ("llama:3b", "qwen2.5-3b"),
                                                  ("llama:7b", "llama-2-7b")])  # fmt: skip
def test_preset_has_the_numbers_of_the_config_it_cites(catalog, preset: str, model_id: str) -> None:
    """A preset copies one checkpoint's config.json; the catalog holds the cited copy of the
    same file. Every number agrees (Qwen2.5's rms_norm_eps is 1e-6, not the schema's 1e-5)."""
    from llmselect.arch.presets import preset_arch

    ours, theirs = preset_arch(preset), catalog.get(model_id).arch
    same = ("hidden", "layers", "heads", "kv_heads", "intermediate", "vocab", "rope_theta",
            "qkv_bias", "tied_embeddings", "norm_eps")  # fmt: skip
    assert {k: getattr(ours, k) for k in same} == {k: getattr(theirs, k) for k in same}
