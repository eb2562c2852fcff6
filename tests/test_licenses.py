"""License verdicts (each class, each purpose, time rules), detection on real license texts."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import yaml
from _facts import curated_facts

from llmselect.catalog import Catalog, LicenseRef, ModelSpec, load_catalog
from llmselect.errors import LLMSelectError
from llmselect.licenses import load_licenses, verdict
from llmselect.licenses.detect import detect
from llmselect.licenses.table import License, LicenseTerms
from llmselect.probes.base import RunContext
from llmselect.probes.license import LicenseProbe


def _read_yaml(text: str) -> object:
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506


@pytest.fixture(scope="module")
def facts_licenses(facts_root: Path) -> dict[str, dict]:
    _, entries = curated_facts(facts_root)
    return {e["id"]: e for e in entries}


def test_table_carries_every_facts_license(facts_licenses) -> None:
    table = load_licenses()
    assert {lic.id for lic in table} == set(facts_licenses)
    for lic in table:
        fact = facts_licenses[lic.id]
        assert lic.commercial == fact["commercial_use"]
        assert lic.source == fact["source"]
        assert lic.conditions[: len(fact["conditions"])] == fact["conditions"]


@pytest.mark.parametrize(
    ("model", "allowed", "license_id"),
    [
        ("qwen2.5-7b", "yes", "apache-2.0"),
        ("gpt2", "yes", "openai-gpt2-modified-mit"),
        ("qwen2.5-3b", "no", "qwen-research-2024"),
        ("llama-7b", "no", "llama-1-noncommercial"),
        ("llama2-7b", "conditional", "llama2-community"),
        ("chatglm3-6b", "conditional", "chatglm3-6b-license"),
        ("bloom-7b1", "conditional", "bigscience-bloom-rail-1.0"),
        ("glm-4-9b", "conditional", "glm-4-license"),
        ("baichuan-7b", "conditional", "baichuan-7b-license"),
        ("glm-4-32b-0414", "yes", "mit"),
        ("minicpm4-8b", "yes", "apache-2.0"),
        ("phi-3-mini", "yes", "mit"),
        ("qwen1.5-7b-chat", "conditional", "tongyi-qianwen"),
        ("qwen-1.8b", "no", "tongyi-qianwen-research"),
    ],
)
def test_commercial_verdict_per_class(model, allowed, license_id) -> None:
    v = verdict(model, "commercial")
    assert (v.allowed, v.license_id) == (allowed, license_id)
    assert v.passes_commercial is (allowed in ("yes", "conditional"))
    assert v.conditions or allowed == "yes"


def test_use_based_restrictions_make_every_rail_licence_conditional(facts_root: Path) -> None:
    """The facts give their RAIL licences (BLOOM RAIL, DeepSeek's: use-based restrictions)
    a conditional commercial verdict; every rail licence in the table follows them, the
    MiniMax Model License (Prohibited Uses Policy, termination on suit) included."""
    facts = yaml.safe_load((facts_root / "licenses.yaml").read_text(encoding="utf-8"))
    by_id = {f["id"]: f for f in facts}
    for rail in ("bigscience-bloom-rail-1.0", "deepseek-license-1.0"):
        assert by_id[rail]["commercial_use"] == "conditional"
    rails = [lic for lic in load_licenses() if lic.license_class == "rail"]
    assert {"bigscience-bloom-rail-1.0", "minimax-model-license"} <= {lic.id for lic in rails}
    assert all(lic.commercial == "conditional" for lic in rails), [lic.id for lic in rails]
    v = verdict("minimax-m2.5", "commercial")
    assert v.allowed == "conditional" and any("Prohibited Uses" in c for c in v.conditions)


def test_verdicts_follow_the_facts_for_current_terms(facts_root: Path) -> None:
    models, _ = curated_facts(facts_root)
    for entry in models:
        v = verdict(entry["id"], "commercial")
        assert v.allowed == (entry["license"]["commercial_use"] or "unknown"), entry["id"]


def test_conditions_in_plain_words() -> None:
    assert any("700 million" in c for c in verdict("llama2-7b").conditions)
    assert any("open.bigmodel.cn/mla/form" in c for c in verdict("chatglm3-6b").conditions)
    assert any("Attachment A" in c for c in verdict("bloom-7b1").conditions)
    assert any("Built with Meta Llama 3" in c for c in verdict("llama3-8b").conditions)
    assert any("1 million" in c for c in verdict("baichuan2-7b").conditions)
    v = verdict("llama2-7b")
    assert v.version == "2023-07-18" and v.effective_date == date(2023, 7, 18)
    assert v.source and "llama2/LICENSE" in v.source


@pytest.mark.parametrize(
    ("model", "day", "allowed", "license_id"),
    [
        ("chatglm2-6b", date(2023, 7, 1), "no", "chatglm2-6b-license"),
        ("chatglm2-6b", date(2023, 7, 20), "conditional", "chatglm2-6b-license"),
        ("chatglm-6b", date(2023, 5, 1), "no", "chatglm-6b-license"),
        ("chatglm-6b", date(2023, 8, 1), "conditional", "chatglm-6b-license"),
        ("yi-6b", date(2024, 1, 1), "conditional", "yi-license"),
        ("yi-6b", date(2024, 6, 1), "yes", "apache-2.0"),
        ("phi-2", date(2023, 12, 20), "no", "microsoft-research-license"),
        ("phi-2", date(2024, 2, 1), "yes", "mit"),
        ("falcon-40b", date(2023, 5, 28), "conditional", "tii-falcon-llm-1.0"),
        ("falcon-40b", date(2023, 6, 15), "yes", "apache-2.0"),
        ("llama2-7b", date(2023, 1, 1), "unknown", "llama2-community"),
    ],
)
def test_time_dependent_verdicts(model, day, allowed, license_id) -> None:
    v = verdict(model, "commercial", day)
    assert (v.allowed, v.license_id, v.as_of) == (allowed, license_id, day)


def test_revised_terms_change_the_conditions() -> None:
    early = verdict("baichuan2-7b", on=date(2023, 9, 20))
    late = verdict("baichuan2-7b", on=date(2023, 11, 1))
    assert early.effective_date == date(2023, 9, 6) and late.effective_date == date(2023, 10, 7)
    assert not any("1 million" in c for c in early.conditions)
    assert any("1 million" in c for c in late.conditions)
    yi_v2 = verdict("yi-6b", on=date(2023, 11, 10))
    yi_v21 = verdict("yi-6b", on=date(2023, 12, 1))
    assert "v2.0" in yi_v2.version and "v2.1" in yi_v21.version
    assert verdict("internlm2-7b", on=date(2025, 3, 1)).effective_date == date(2025, 1, 15)
    assert verdict("chatglm3-6b", on=date(2024, 1, 1)).effective_date == date(2023, 10, 27)


def test_current_terms_are_the_top_level_values_of_every_terms_field() -> None:
    """``License.current`` reads each ``LicenseTerms`` field by name: none may be missing from
    ``License`` or typed otherwise, and every value arrives."""
    terms_fields = LicenseTerms.model_fields
    assert {name: License.model_fields[name].annotation for name in terms_fields} == {
        name: f.annotation for name, f in terms_fields.items()
    }
    table = load_licenses()
    llama2 = table.get("llama2-community").current
    assert all(getattr(llama2, name) not in (None, []) for name in terms_fields)
    for lic in table.by_id.values():
        current = lic.current
        assert {n: getattr(current, n) for n in terms_fields} == {
            n: getattr(lic, n) for n in terms_fields
        }


def test_other_purposes() -> None:
    assert verdict("qwen2.5-3b", "research").allowed == "yes"
    assert verdict("qwen2.5-3b", "learning").allowed == "yes"
    assert verdict("llama-7b", "research").allowed == "conditional"
    assert verdict(_unverified("glm-4-9b"), "research").allowed == "unknown"
    edge = verdict("bloom-7b1", "edge")
    assert edge.allowed == "conditional"
    assert any(c.startswith("Redistribution:") for c in edge.conditions)
    assert verdict("qwen2.5-3b", "edge").allowed == "no"
    with pytest.raises(LLMSelectError, match="unknown purpose"):
        verdict("gpt2", "military")


def test_fine_tunes_resolve_through_the_base() -> None:
    catalog = load_catalog()
    tune = ModelSpec(
        id="my-llama2-zh",
        name="my fine-tune",
        family="local",
        base_model="llama-2-7b",
        license=LicenseRef(id=None),
    )
    merged = Catalog([*catalog, tune])
    v = verdict(tune, "commercial", catalog=merged)
    assert v.resolved_via == "llama-2-7b" and v.allowed == "conditional"
    assert v.license_id == "llama2-community"
    # A catalog fine-tune with its own license keeps it.
    assert verdict("chinese-alpaca-2-7b").resolved_via is None


def test_verdicts_are_fast_and_torch_free() -> None:
    """A verdict per catalog entry: about 0.013 s for 222 on a 2-core EPYC, timed as this
    thread's CPU time, which other jobs on a busy machine do not add to as they do to wall
    time (loading the catalog again per verdict would cost about 3 s)."""
    catalog = load_catalog()
    start = time.thread_time()
    for spec in catalog:
        verdict(spec, "commercial")
    assert time.thread_time() - start < 0.3
    code = "import sys, llmselect.licenses; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- detection on the real license texts (read at test time, never copied into the project) ---

EXPECTED_TEXTS = {
    "llama2/LICENSE": "llama2-community",
    "llama3/LICENSE": "llama3-community",
    "llama4/LICENSE": "llama4-community",
    "chatglm3/MODEL_LICENSE": "chatglm3-6b-license",
    "chatglm2/MODEL_LICENSE": "chatglm2-6b-license",
    "qwen/Tongyi Qianwen LICENSE AGREEMENT": "tongyi-qianwen",
    "gguf/LICENSE": "mit",
    "yi/LICENSE": "apache-2.0",
    "mistral/LICENSE": "apache-2.0",
    "internlm/LICENSE": "apache-2.0",
    "deepseek-coder/LICENSE-MODEL": "deepseek-license-1.0",
    "gpt2/LICENSE": "openai-gpt2-modified-mit",
    "gpt-neox/LICENSE": "apache-2.0",
}


@pytest.mark.parametrize(("rel", "license_id"), sorted(EXPECTED_TEXTS.items()))
def test_detects_shared_license_texts(tokenizers_root: Path, rel: str, license_id: str) -> None:
    path = tokenizers_root / rel
    assert path.is_file(), f"{path} missing"
    result = detect(path)
    assert result.license_id == license_id
    assert result.evidence[0].method == "text fingerprint"
    # The text's own title names the license we report.
    title = path.read_text(encoding="utf-8").strip().splitlines()[0].lower()
    name = load_licenses().get(license_id).name.lower()
    assert title.split()[0] in name or "apache" in title or "mit" in title


def test_detected_version_and_verdict(tokenizers_root: Path) -> None:
    result = detect(tokenizers_root / "chatglm3")
    assert result.license_id == "chatglm3-6b-license"
    assert result.evidence[0].version == "2024-05-24 revision (61c56f7)"
    assert result.verdict.allowed == "conditional"
    assert result.verdict.source
    llama = detect(tokenizers_root / "llama2" / "LICENSE")
    assert llama.verdict.allowed == "conditional"
    assert any("700 million" in c for c in llama.verdict.conditions)
    # gpt-neox bundles several texts; each is reported.
    neox = detect(tokenizers_root / "gpt-neox" / "LICENSE")
    assert {e.license_id for e in neox.evidence} >= {"apache-2.0", "mit"}
    assert not neox.conflict


def test_pdf_is_reported_unknown(tokenizers_root: Path) -> None:
    result = detect(tokenizers_root / "aquila" / "BAAI_Aquila_Model_License.pdf")
    assert result.license_id is None and result.verdict.allowed == "unknown"


def test_model_card_and_conflicts(tokenizers_root: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "README.md").write_text("---\nlicense: llama2\n---\n# my model\n", encoding="utf-8")
    card_only = detect(ckpt)
    assert card_only.license_id == "llama2-community"
    assert card_only.evidence[0].method == "model card"
    shutil.copy(tokenizers_root / "llama2" / "LICENSE", ckpt / "LICENSE")
    agreed = detect(ckpt)
    assert agreed.license_id == "llama2-community" and not agreed.conflict
    (ckpt / "README.md").write_text("---\nlicense: apache-2.0\n---\n", encoding="utf-8")
    clash = detect(ckpt)
    assert clash.conflict and clash.verdict.allowed == "conditional"
    other = tmp_path / "qwen"
    other.mkdir()
    (other / "README.md").write_text(
        "---\nlicense: other\nlicense_name: tongyi-qianwen\n---\n", encoding="utf-8"
    )
    assert detect(other).license_id == "tongyi-qianwen"


def test_local_fine_tune_resolves_through_its_base(tmp_path: Path) -> None:
    ckpt = tmp_path / "my-qwen-tune"
    ckpt.mkdir()
    card = "---\nbase_model: Qwen/Qwen2.5-7B\ntags: [sft]\n---\n"
    (ckpt / "README.md").write_text(card, encoding="utf-8")
    result = detect(ckpt)
    assert result.license_id == "apache-2.0" and result.verdict.resolved_via == "qwen2.5-7b"
    assert result.evidence[0].method == "base model"
    (ckpt / "README.md").write_text("---\nbase_model: THUDM/chatglm3-6b\n---\n", "utf-8")
    early = detect(ckpt, on=date(2023, 9, 1))
    assert early.verdict.allowed == "unknown"  # ChatGLM3 license not yet published


def test_unknown_text_is_never_permissive(tmp_path: Path) -> None:
    ckpt = tmp_path / "odd"
    ckpt.mkdir()
    (ckpt / "LICENSE").write_text("You may use this model as we see fit.\n", encoding="utf-8")
    result = detect(ckpt)
    assert result.license_id is None and result.verdict.allowed == "unknown"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert detect(empty).verdict.allowed == "unknown"
    with pytest.raises(LLMSelectError, match="no such"):
        detect(tmp_path / "missing")


def test_license_probe_records_published_verdicts() -> None:
    probe = LicenseProbe()
    ctx = RunContext(run_id="t")
    records = list(probe.run(load_catalog().get("llama2-7b"), ctx))
    assert [r.subset for r in records] == ["commercial", "research", "learning", "edge"]
    commercial = records[0]
    assert commercial.kind == "published" and commercial.value == 0.5
    assert commercial.params["license_id"] == "llama2-community"
    assert "700 million" in commercial.params["conditions"]
    assert commercial.source and "llama2/LICENSE" in commercial.source
    unknown = list(
        LicenseProbe(LicenseProbe.Config(purposes=["commercial"])).run(_unverified("glm-4-9b"), ctx)
    )
    assert unknown[0].status == "skipped" and unknown[0].value is None


def _unverified(model_id: str) -> ModelSpec:
    """The catalog entry with its license verdict blanked, as for a checkpoint never checked."""
    spec = load_catalog().get(model_id)
    assert spec.license is not None
    return spec.model_copy(update={"license": spec.license.model_copy(update={"commercial": None})})


def test_unverified_checkpoint_is_unknown_for_every_purpose() -> None:
    for purpose in ("commercial", "research", "learning", "edge"):
        assert verdict(_unverified("glm-4-9b"), purpose).allowed == "unknown"


def test_glm4_and_baichuan7b_terms_as_published() -> None:
    """The terms read from the publishers: registration, attribution and naming for GLM-4's
    glm-4-9b License; registration plus written authorization for Baichuan-7B."""
    glm = verdict("glm-4-9b-chat", "commercial")
    assert any("open.bigmodel.cn/mla/form" in c for c in glm.conditions)
    assert any('"Built with glm-4"' in c for c in glm.conditions)
    assert glm.effective_date == date(2024, 6, 5)
    baichuan = verdict("baichuan-7b", "commercial")
    assert any("written authorization" in c for c in baichuan.conditions)
    assert baichuan.effective_date == date(2023, 6, 15)


def test_llama4_text_detects_as_the_catalogs_llama4_license(tokenizers_root: Path) -> None:
    """The data bundle's Llama 4 text is the license the catalog gives Llama-4 Scout; it was
    reported as text matching no known license."""
    found = detect(tokenizers_root / "llama4", "commercial")
    scout = verdict("llama-4-scout-17b-16e-instruct", "commercial")
    assert found.license_id == scout.license_id == "llama4-community"
    assert found.verdict.allowed == scout.allowed == "conditional"
    assert found.verdict.conditions == scout.conditions


@pytest.mark.parametrize(
    ("card", "model"),
    [("llama3.2", "llama-3.2-3b-instruct"), ("llama3.3", "llama-3.3-70b-instruct"),
     ("llama4", "llama-4-scout-17b-16e-instruct")],
)  # fmt: skip
def test_hub_card_license_tags_of_later_llamas(tmp_path: Path, card: str, model: str) -> None:
    """The Hugging Face card tags of the later Llama licenses resolve to the license the
    catalog gives those models (they were unknown)."""
    (tmp_path / "README.md").write_text(f"---\nlicense: {card}\n---\n# fine-tune\n", "utf-8")
    found = detect(tmp_path, "research")
    assert found.evidence[0].method == "model card"
    assert found.license_id == verdict(model, "research").license_id
    assert found.verdict.allowed == "yes"


def test_a_license_file_given_alone_is_named_once_in_the_source(tokenizers_root: Path) -> None:
    """``license detect FILE`` named the file as its own folder ("LICENSE/LICENSE")."""
    alone = detect(tokenizers_root / "llama2" / "LICENSE").verdict.source
    assert alone == "LICENSE (text fingerprint: contains 'llama 2 community license agreement')"
    in_folder = detect(tokenizers_root / "llama2").verdict.source
    assert in_folder == f"llama2/{alone}"


def test_a_fine_tunes_own_card_never_lifts_its_base_models_terms(tmp_path: Path) -> None:
    """A Llama 2 fine-tune whose card says ``license: apache-2.0`` was "yes" for commercial
    use: Llama 2's terms bind derivatives (the license's own text, section 1.b.i), so the
    base model's verdict is evidence too, and the more restrictive reading wins."""
    ckpt = tmp_path / "llama2-tune"
    ckpt.mkdir()
    card = "---\nbase_model: meta-llama/Llama-2-7b-hf\nlicense: apache-2.0\n---\n"
    (ckpt / "README.md").write_text(card, encoding="utf-8")
    result = detect(ckpt, "commercial")
    base = verdict("llama-2-7b", "commercial")
    assert (result.verdict.allowed, result.license_id) == (base.allowed, base.license_id)
    assert result.verdict.conditions == base.conditions and result.conflict
    assert [e.method for e in result.evidence] == ["model card", "base model"]
    same = tmp_path / "qwen-tune"  # a card that agrees with its base: that license, no conflict
    same.mkdir()
    card = "---\nbase_model: Qwen/Qwen2.5-7B\nlicense: apache-2.0\n---\n"
    (same / "README.md").write_text(card, encoding="utf-8")
    agreed = detect(same, "commercial")
    assert agreed.license_id == "apache-2.0" and not agreed.conflict
    assert agreed.verdict.allowed == verdict("qwen2.5-7b", "commercial").allowed == "yes"
