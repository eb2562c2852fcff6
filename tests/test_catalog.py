"""The catalog against the research facts: every checkpoint, every number, every source."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from _facts import curated_facts, import_facts_module

from llmselect.catalog import CATALOG_FILE, load_catalog, parse_catalog
from llmselect.errors import LLMSelectError
from llmselect.licenses import load_licenses

ARCH_FIELDS = {
    "hidden": "hidden_size",
    "layers": "num_hidden_layers",
    "heads": "num_attention_heads",
    "kv_heads": "num_key_value_heads",
    "intermediate": "intermediate_size",
    "vocab": "vocab_size",
}


def _read_yaml(text: str) -> object:
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506


@pytest.fixture(scope="module")
def facts(facts_root: Path) -> dict[str, dict]:
    """The research facts with scripts/catalog_additions.yaml applied (what the catalog shows)."""
    entries, _ = curated_facts(facts_root)
    return {e["id"]: e for e in entries}


@pytest.fixture(scope="module")
def catalog():
    """``catalog.yaml`` alone: what the research facts generate (the shipped 2025-26
    additions and the user's overlay join it in ``load_catalog``, tested below on their own)."""
    return parse_catalog(_read_yaml(CATALOG_FILE.read_text(encoding="utf-8")), str(CATALOG_FILE))


def test_every_loaded_entry_keeps_the_cross_field_rules() -> None:
    """The whole catalog as commands load it (additions and overlay included): license and
    tokenizer ids resolve, every number has its source, a missing language list says why."""
    from llmselect.tokenizers.spec import load_tokenizer_catalog

    licenses, tokenizers = load_licenses(), load_tokenizer_catalog()
    for spec in load_catalog():
        assert spec.license is None or spec.license.id is None or licenses.find(spec.license.id)
        assert spec.tokenizer is None or tokenizers.get(spec.tokenizer).id == spec.tokenizer
        assert all(s.source and 0 <= s.value <= 100 for s in spec.scores), spec.id
        for s in spec.scores:
            if s.shots is not None:
                assert f"{s.shots}-shot" in s.setting.replace(" ", "") or "zero" in s.setting
        assert spec.context_length is None or spec.context_source, spec.id
        assert spec.languages_source, spec.id  # a list, or why there is none
        if spec.sizing is not None:
            assert spec.params_exact == spec.sizing.params_total, spec.id
            assert spec.sizing.config_source, spec.id


def test_every_facts_checkpoint_is_in_the_catalog(facts, catalog) -> None:
    assert set(facts) == {m.id for m in catalog}
    for mid, entry in facts.items():
        spec = catalog.get(mid)
        assert spec.hf_repo == entry["hub_repo_id"]
        assert spec.name == entry["name"]


def test_published_scores_match_the_facts(facts, catalog) -> None:
    for mid, entry in facts.items():
        got = [(s.benchmark, s.value, s.setting, s.source) for s in catalog.get(mid).scores]
        want = [
            (b["benchmark"], float(b["value"]), b.get("setting"), b["source"])
            for b in entry["benchmarks"]
        ]
        assert got == want, mid


def test_shots_are_parsed_only_when_stated(catalog) -> None:
    qwen = catalog.get("qwen-7b")
    five = [s for s in qwen.scores if s.setting == "5-shot"]
    assert five and all(s.shots == 5 for s in five)
    for spec in catalog:
        for s in spec.scores:
            if s.setting and "not stated" in s.setting:
                assert s.shots is None
            if s.shots is not None:
                assert f"{s.shots}-shot" in s.setting.replace(" ", "") or "zero" in s.setting


def test_other_vendor_scores_are_flagged(catalog) -> None:
    # Llama-2-7B's MMLU as printed in Qwen's README comes from another vendor's table.
    llama = catalog.get("llama-2-7b")
    from_qwen = [s for s in llama.scores if s.source.startswith("github:QwenLM")]
    assert from_qwen and all(s.comparable_note for s in from_qwen)
    own = [s for s in llama.scores if s.source.startswith("github:meta-llama")]
    assert own and not any(s.comparable_note for s in own)


def test_arch_numbers_match_the_facts_or_are_null(facts, catalog) -> None:
    for mid, entry in facts.items():
        spec = catalog.get(mid)
        a = entry["architecture"]
        if spec.arch is None:
            assert spec.arch_missing, mid
            continue
        for ours, theirs in ARCH_FIELDS.items():
            if a.get(theirs) is None:
                continue
            expected = a[theirs]
            if ours == "intermediate" and "per-branch" in spec.arch.source:
                expected //= 2  # Qwen-1 stores both SwiGLU branches in one number
            assert getattr(spec.arch, ours) == expected, (mid, ours)
        if a["source"]:
            assert spec.arch.source.startswith(a["source"])
        else:  # numbers the facts lack come from a cited public config
            assert "nanoGPT" in spec.arch.source or "arXiv:2211.05100" in spec.arch.source


def test_cross_field_rules_and_sources(catalog) -> None:
    from llmselect.tokenizers.spec import load_tokenizer_catalog

    licenses = load_licenses()
    tokenizers = load_tokenizer_catalog()
    for spec in catalog:
        if spec.arch:
            a = spec.arch
            if a.head_dim is None:
                assert a.hidden % a.heads == 0, spec.id
            assert a.heads % a.kv_heads == 0, spec.id
            assert a.source
        for s in spec.scores:
            assert s.source and 0 <= s.value <= 100, spec.id
        if spec.params_b is not None:
            assert spec.params_source or spec.params_nominal
        if spec.context_length is not None:
            assert spec.context_source, spec.id
        if spec.license and spec.license.id:
            assert licenses.find(spec.license.id) is not None, spec.id
        if spec.base_model:
            assert catalog.find(spec.base_model) is not None, spec.id
        assert spec.tokenizer is None or tokenizers.get(spec.tokenizer).id == spec.tokenizer
        assert spec.languages and spec.languages_source, spec.id


def test_arch_family_rules(catalog) -> None:
    assert catalog.get("gpt2").arch.family == "gpt2"
    assert catalog.get("gpt2").arch.tied_embeddings is True
    assert catalog.get("gpt-j-6b").arch.family == "other"
    assert catalog.get("bloom").arch.family == "bloom"
    assert catalog.get("chatglm-6b").arch.family == "other"
    for mid in ("chatglm2-6b", "chatglm3-6b", "glm-4-9b"):
        arch = catalog.get(mid).arch
        assert arch.family == "glm" and arch.rope_fraction == 0.5 and arch.qkv_bias
        assert arch.kv_heads == 2  # multi_query_group_num
    assert catalog.get("mixtral-8x7b").arch.family == "moe"
    assert catalog.get("baichuan2-13b-base").arch.family == "other"  # ALiBi
    for mid in ("llama-2-7b", "qwen2.5-7b", "yi-6b", "internlm2-7b", "baichuan2-7b-base"):
        assert catalog.get(mid).arch.family == "llama", mid
    assert catalog.get("qwen2.5-7b").arch.qkv_bias is True
    assert catalog.get("mistral-7b").arch.sliding_window == 4096


def test_moe_and_latent_attention_models_name_their_family(catalog) -> None:
    """Latent attention is the deepseek family (estimator only); a softmax top-k MoE with full
    rotary heads is the moe family, whose reference model builds it (logits parity with
    transformers' Mixtral, Qwen2-MoE and Qwen3-MoE). GLM-4.5's sigmoid router and half-rotary
    heads are neither: it stays ``other``, sized by the common layout."""
    from llmselect.arch.family import family

    sparse = [m for m in catalog if m.arch is not None and (m.arch.moe or m.arch.mla)]
    assert {m.id for m in sparse} >= {
        "mixtral-8x7b-v0.1", "qwen3-30b-a3b", "qwen3-235b-a22b", "deepseek-v2-lite",
        "deepseek-v3", "deepseek-r1",
    }  # fmt: skip
    for m in sparse:
        if m.arch.mla is not None:
            assert m.arch.family == "deepseek", m.id
        elif m.arch.model_type == "glm4_moe":
            assert m.arch.family == "other", m.id
        else:
            assert m.arch.family == "moe", m.id
            assert family("moe").build_config(m.arch).experts == m.arch.moe.experts


def test_tokenizer_family_mapping(catalog) -> None:
    expect = {
        "llama-2-7b": "llama2", "meta-llama-3-8b": "llama3", "chatglm3-6b": "chatglm3",
        "chatglm2-6b": "chatglm2", "qwen-7b": "qwen", "qwen2.5-7b": "qwen2",
        "baichuan2-7b-base": "baichuan2", "baichuan-7b": "baichuan", "yi-6b": "yi",
        "internlm-7b": "internlm", "internlm2-7b": "internlm2",
        "chinese-llama-2-7b": "chinese-llama-2", "mistral-7b": "mistral", "gpt2": "gpt2",
        "gpt-neox-20b": "gpt-neox", "glm-4-9b": "glm4", "aquila-7b": "aquila",
        "deepseek-llm-7b-base": "deepseek-llm", "falcon-7b": "falcon", "phi-3-mini": "phi-3",
        "bloom-7b1": "bloom", "gemma-7b": "gemma2", "gemma-2-9b-it": "gemma2",
        "gemma-3-4b-it": "gemma3", "mistral-small-24b-instruct-2501": "mistral-tekken",
        "phi-4": None,
    }  # fmt: skip
    assert {k: catalog.get(k).tokenizer for k in expect} == expect


def test_aliases_resolve(catalog) -> None:
    assert catalog.get("llama2-7b").id == "llama-2-7b"
    assert catalog.get("Llama2-7B-Chat").id == "llama-2-7b-chat"
    assert catalog.get("chatglm3").id == "chatglm3-6b"
    assert catalog.get("meta-llama/Llama-2-7b-hf").id == "llama-2-7b"
    assert catalog.get("qwen2.5-7b-instruct").id == "qwen2.5-7b-instruct"
    assert catalog.get("qwen2.5-7b-instruct").base_model == "qwen2.5-7b"


def test_unknown_model_suggests(catalog) -> None:
    with pytest.raises(LLMSelectError, match="did you mean.*llama2-7b"):
        catalog.get("llama2-7bb")


def test_revisions_pinned_only_from_the_official_repo(facts, catalog) -> None:
    pinned = {m.id: m for m in catalog if m.revision}
    assert {"chatglm3-6b", "yi-34b", "glm-4-9b-chat"} <= set(pinned)
    for mid, spec in pinned.items():
        assert len(spec.revision) == 40
        src = facts[mid]["architecture"]["source"] or ""
        assert f"huggingface.co/{spec.hf_repo}/" in spec.revision_source
        assert spec.revision in src or spec.revision in facts[mid]["context_length"]["source"]
    assert catalog.get("llama-2-7b").revision is None  # not known: stays null


def test_params_and_context(facts, catalog) -> None:
    assert catalog.get("gpt2").params_b == pytest.approx(0.124)
    assert catalog.get("gpt-j-6b").params_exact == facts["gpt-j-6b"]["parameters"]["exact"]
    assert catalog.get("qwen-14b").context_length == 8192  # facts: "8K"
    assert (
        catalog.get("qwen2.5-7b").context_length == facts["qwen2.5-7b"]["context_length"]["value"]
    )


def test_validation_names_the_entry() -> None:
    raw = _read_yaml(CATALOG_FILE.read_text(encoding="utf-8"))
    bad = next(e for e in raw if e["id"] == "llama-2-7b")
    bad["arch"]["heads"] = 31
    with pytest.raises(LLMSelectError, match="llama-2-7b.*heads"):
        parse_catalog([bad], "test")
    with pytest.raises(LLMSelectError, match="expected a list"):
        parse_catalog({"id": "x"}, "test")


def test_second_load_reads_the_json_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loads after the first read the JSON copies (milliseconds), never the YAML again (about
    0.1-0.3 s): with PyYAML made unimportable, catalog and licences still load."""
    load_catalog.cache_clear()
    load_licenses.cache_clear()
    load_catalog()  # the first parse writes the JSON copies
    load_licenses()
    load_catalog.cache_clear()
    load_licenses.cache_clear()
    monkeypatch.setitem(sys.modules, "yaml", None)  # any YAML parse now raises ImportError
    try:
        assert len(load_catalog().by_id) > 200
        assert load_licenses()
    finally:
        load_catalog.cache_clear()
        load_licenses.cache_clear()


def test_import_script_reproduces_the_catalog(facts_root: Path, tmp_path: Path) -> None:
    module = import_facts_module()
    assert module.main(["--facts", str(facts_root), "--out", str(tmp_path)]) == 0
    for name in ("catalog.yaml", "licenses.yaml"):  # the committed files are what it writes
        committed = (CATALOG_FILE.parent / name).read_text(encoding="utf-8")
        assert (tmp_path / name).read_text(encoding="utf-8") == committed, name


def test_yaml_cache_follows_edits(tmp_path: Path) -> None:
    from llmselect.datafiles import read_yaml_cached

    path = tmp_path / "x.yaml"
    path.write_text("- a: 1\n", encoding="utf-8")
    assert read_yaml_cached(path) == [{"a": 1}]
    assert read_yaml_cached(path) == [{"a": 1}]  # served from the JSON copy
    path.write_text("- a: 2\n", encoding="utf-8")
    assert read_yaml_cached(path) == [{"a": 2}]
    path.write_text("- [unclosed\n", encoding="utf-8")
    with pytest.raises(LLMSelectError, match="cannot parse"):
        read_yaml_cached(path)
