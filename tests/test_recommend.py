"""Recommender: scenario tests on the real catalog, plus unit tests on small injected catalogs.

Scenario properties are checked against independent sources: the license verdicts of
``llmselect.licenses``, the memory estimator of ``llmselect.memory.estimate``, published
parameter counts, datasheet bandwidths and the token counts in the tokenizer MANIFEST.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from llmselect.catalog import Catalog, ModelSpec, load_catalog
from llmselect.errors import LLMSelectError
from llmselect.hardware import parse_gpu
from llmselect.licenses import verdict
from llmselect.memory.estimate import estimate_memory
from llmselect.recommend import (
    NOT_MEASURED_ZH,
    Evidence,
    RecommendResult,
    Request,
    evidence_from_records,
    explain,
    get_profile,
    load_evidence,
    load_profiles,
    parse_lang_mix,
    recommend,
)
from llmselect.records import Measurement, RunInfo, new_run_id
from llmselect.store import RunWriter

GIB = 1024**3
LABELS = {"measured", "estimated", "published", "missing", "measured+published"}


def run(gpu: str, purpose: str, ram: str | None = None, **kw: Any) -> RecommendResult:
    return recommend(load_catalog(), Request(gpu=parse_gpu(gpu, ram=ram), purpose=purpose, **kw))


def ids(result: RecommendResult, top: int | None = None) -> list[str]:
    return [r.model_id for r in result.recommendations[:top]]


# --------------------------------------------------------------------------- scenarios


def test_commercial_24gb_respects_license_and_memory() -> None:
    result = run("24GB", "commercial")
    budget = 24e9 / GIB
    assert len(result.recommendations) >= 10
    catalog = load_catalog()
    for rec in result.recommendations:
        # license judged independently by the license module
        assert verdict(catalog.get(rec.model_id), "commercial").allowed in {"yes", "conditional"}
        assert rec.license["allowed"] in {"yes", "conditional"}
        # never a model that needs more than 24GB at the chosen precision
        assert rec.memory_detail["per_device_gib"] <= budget
        model = catalog.get(rec.model_id)
        if model.arch is not None:
            params = int(model.params_b * 1e9)  # published count (nominal; counted ones differ)
            est = estimate_memory(model.arch, dtype=rec.precision, seq=4096, params_total=params)
            assert est.total_bytes / GIB <= budget * 1.05
    # every model the license forbids (or leaves unknown) is excluded, with that reason
    for model in catalog:
        if verdict(model, "commercial").allowed in {"no", "unknown"}:
            assert model.id not in ids(result)
            exc = next(e for e in result.excluded if e.model_id == model.id)
            assert exc.constraint == "license" or "license" in " ".join(exc.other_reasons)


def test_24gb_never_returns_a_70b_model() -> None:
    # 70B weights alone at 4 bits are 35e9 bytes > 24e9: physics, not our estimator
    for purpose in ("commercial", "research"):
        result = run("24GB", purpose)
        for rec in result.recommendations:
            bytes_per_param = {"fp16": 2, "int8": 1, "int4": 0.5}[rec.precision]
            assert rec.params_b * 1e9 * bytes_per_param <= 24e9
        assert all(r.params_b < 60 for r in result.recommendations)


def test_commercial_two_80gb_gpus_picks_70b_class_first() -> None:
    result = run("2x80GB", "commercial")
    top3 = result.recommendations[:3]
    assert any(r.params_b >= 65 for r in top3), [(r.model_id, r.params_b) for r in top3]
    assert result.request["gpu_count"] == 2


def test_learning_on_free_t4_returns_7b_or_smaller_with_2023_picks() -> None:
    result = run("T4", "learning")
    assert result.recommendations
    assert all(r.params_b <= 7.9 for r in result.recommendations)
    assert all(r.memory_detail["per_device_gib"] <= 16 for r in result.recommendations)
    # ChatGLM3-6B, a 2023 pick under 10B for zh+en, ranks near the top
    assert "chatglm3-6b" in ids(result, 5)
    # larger models are excluded by the profile's size rule, with the reason
    size = {e.model_id: e for e in result.excluded if e.constraint == "size"}
    assert "llama-2-13b" in size and "7.9B cap" in size["llama-2-13b"].reason


def test_edge_is_small_and_quantized_and_license_checked_for_shipping() -> None:
    result = run("8GB", "edge")
    assert result.recommendations
    for rec in result.recommendations:
        assert rec.precision in {"int8", "int4"}
        assert rec.params_b <= 7.9
        assert rec.license["allowed"] in {"yes", "conditional"}


def test_tiny_budget_returns_small_models_like_bloom_1b1() -> None:
    result = run("2GB", "learning")
    assert result.recommendations
    assert all(r.params_b <= 2.0 for r in result.recommendations), [
        (r.model_id, r.params_b) for r in result.recommendations
    ]
    assert "bloom-1b1" in ids(result) or "qwen2.5-0.5b" in ids(result)


def test_cpu_budget_runs_quantized_in_ram() -> None:
    result = run("cpu", "student", ram="16GB")
    assert result.recommendations
    assert {r.precision for r in result.recommendations} <= {"int8", "int4"}
    assert all(r.memory_gib <= 16e9 / GIB for r in result.recommendations)
    assert result.request["precisions"] == ["int8", "int4"]


def test_research_long_context_zh_heavy() -> None:
    result = run("4090", "research", lang={"zh": 0.7, "en": 0.3}, context=8192)
    catalog = load_catalog()
    assert result.recommendations
    for rec in result.recommendations:
        assert catalog.get(rec.model_id).context_length >= 8192
    weights = result.request["weights"]
    assert weights["quality_zh"] == pytest.approx(0.55 * 0.7, abs=1e-3)
    assert weights["quality_en"] == pytest.approx(0.55 * 0.3, abs=1e-3)
    short = [e for e in result.excluded if e.constraint == "context"]
    assert short and all(
        "< 8192 needed" in e.reason or "cannot confirm 8192" in e.reason for e in short
    )


def test_research_allows_research_only_licenses_commercial_does_not() -> None:
    research = run("24GB", "research", context=2048)
    commercial = run("24GB", "commercial", context=2048)
    assert verdict(load_catalog().get("llama-7b"), "commercial").allowed == "no"
    assert "llama-7b" in ids(research)
    assert "llama-7b" not in ids(commercial)
    exc = next(e for e in commercial.excluded if e.model_id == "llama-7b")
    assert exc.constraint == "license" and "does not allow commercial" in exc.reason


def test_full_finetune_on_24gb_keeps_only_models_whose_training_fits() -> None:
    result = run("24GB", "commercial", finetune="full", context=2048)
    assert result.recommendations
    for rec in result.recommendations:
        # mixed-precision Adam: at least 16 bytes per parameter (before activations)
        assert rec.params_b * 1e9 * 16 <= 24e9
        assert rec.finetune and rec.finetune["total_gib"] <= 24e9 / GIB
    lora = run("24GB", "commercial", finetune="qlora", context=2048)
    assert len(lora.recommendations) > len(result.recommendations)
    assert any(e.constraint == "finetune" for e in result.excluded)


def test_throughput_floor_uses_datasheet_bandwidth() -> None:
    floor = 60.0  # between the 7-14B models and the 32-70B ones at fp16/bf16 on one H100
    result = run("H100", "commercial", min_tokens_per_s=floor)
    assert result.recommendations
    for rec in result.recommendations:
        speed = next(t for t in rec.terms if t.name == "speed")
        assert speed.unit == "tok/s" and speed.raw >= floor
        # roofline from the H100 SXM datasheet (3.35 TB/s) and the weight bytes alone
        assert 3350e9 / (rec.memory_detail["weights"] * GIB) >= floor
    slow = [e for e in result.excluded if e.constraint == "throughput"]
    assert slow and all("tok/s floor" in e.reason for e in slow)


def test_ranking_is_sorted_and_every_term_is_labelled() -> None:
    result = run("A100-80G", "commercial")
    recs = result.recommendations
    keys = [(-r.score, -r.coverage, r.model_id) for r in recs]
    assert keys == sorted(keys)
    assert [r.rank for r in recs] == list(range(1, len(recs) + 1))
    for rec in recs:
        assert 0 <= rec.score <= 1 and 0 <= rec.coverage <= 1
        assert rec.score == pytest.approx(sum(t.contribution for t in rec.terms), abs=1e-3)
        for term in rec.terms:
            assert term.kind in LABELS, term
            assert term.unit
        assert rec.why.startswith(f"#{rec.rank} for 'commercial'")
    assert any(r.pareto for r in recs)


def test_without_measurements_usable_chars_say_not_measured() -> None:
    result = run("24GB", "commercial")
    for rec in result.recommendations:
        assert rec.usable_zh_chars is None
        assert rec.usable_zh_chars_note == NOT_MEASURED_ZH
        tok = next(t for t in rec.terms if t.name == "tokenizer")
        assert tok.kind == "missing" and tok.norm is None
        assert rec.coverage < 1


def test_json_ready_and_explain() -> None:
    result = run("24GB", "commercial")
    data = json.loads(json.dumps(result.to_dict(top=5)))
    assert len(data["recommendations"]) == 5 and data["candidates"] > 5
    assert data["excluded"] and all(e["reason"] for e in data["excluded"])
    top = data["recommendations"][0]["model_id"]
    ranked = explain(result, top, load_catalog())
    assert ranked["status"] == "ranked" and ranked["recommendation"]["rank"] == 1
    assert {m["precision"] for m in ranked["memory_by_precision"]} == {"fp16", "int8", "int4"}
    excluded = explain(result, "llama-2-70b-chat", load_catalog())
    assert excluded["status"] == "excluded" and excluded["exclusion"]["constraint"] == "memory"
    with pytest.raises(LLMSelectError, match="unknown model"):
        explain(result, "no-such-model", load_catalog())


# --------------------------------------------------------------------------- measured data


def _write_store(root: Path, records: list[dict[str, Any]]) -> None:
    writer = RunWriter(RunInfo(run_id=new_run_id()), root=root)
    writer.append(Measurement(run_id=writer.run_info.run_id, **r) for r in records)
    writer.finish()


def _manifest_tokens_per_char(tokenizers_root: Path) -> dict[str, dict[str, float]]:
    manifest = json.loads((tokenizers_root / "MANIFEST.json").read_text(encoding="utf-8"))
    sentences = manifest["test_sentences"]
    out = {}
    for fam in manifest["families"]:
        v = fam.get("verified") or {}
        if "tokens_zh" in v and "tokens_en" in v:
            out[fam["folder"]] = {
                "zh": v["tokens_zh"] / len(sentences["zh"]),
                "en": v["tokens_en"] / len(sentences["en"]),
            }
    return out


def test_measured_tokenizer_efficiency_gives_usable_chars(
    tokenizers_root: Path, tmp_path: Path
) -> None:
    tpc = _manifest_tokens_per_char(tokenizers_root)
    assert {"llama2", "chatglm3", "qwen"} <= set(tpc)
    records = [
        {
            "model_id": fam,
            "probe": "tokenizer_efficiency",
            "metric": "tokens_per_char",
            "value": value,
            "unit": "tok/char",
            "higher_is_better": False,
            "subset": f"manifest/{lang}",
        }
        for fam, langs in tpc.items()
        for lang, value in langs.items()
    ]
    _write_store(tmp_path / "results", records)
    ev = load_evidence(tmp_path / "results")
    result = recommend(
        load_catalog(),
        Request(gpu=parse_gpu("24GB"), purpose="commercial", lang={"zh": 1.0}),
        evidence=ev,
    )
    recs = {r.model_id: r for r in result.recommendations}
    llama = recs["llama-2-7b-chat"]
    assert llama.usable_zh_chars == int(4096 / (28 / 23))  # 28 tokens for 23 characters
    assert "measured" in llama.usable_zh_chars_note
    glm = recs["chatglm3-6b"]
    assert glm.usable_zh_chars == int(8192 / (14 / 23))
    tok = {mid: next(t for t in r.terms if t.name == "tokenizer") for mid, r in recs.items()}
    assert tok["chatglm3-6b"].kind == "measured"
    assert tok["chatglm3-6b"].norm > tok["llama-2-7b-chat"].norm  # fewer tokens per char wins


def test_measured_lm_eval_overrides_published_score() -> None:
    catalog = load_catalog()
    published = [s.value for s in catalog.get("yi-6b").scores if s.benchmark == "CMMLU"]
    assert published
    rec = Measurement(
        run_id="r1",
        model_id="yi-6b",
        probe="lm_eval_scores",
        metric="acc",
        value=12.5,
        unit="%",
        subset="cmmlu",
    )
    subject = rec.model_copy(update={"subset": "cmmlu/agronomy", "value": 99.0})
    ev = evidence_from_records([rec, subject])
    assert ev.scores[("yi-6b", "CMMLU")][0] == 12.5  # group row only
    result = recommend(catalog, Request(gpu=parse_gpu("24GB"), purpose="commercial"), ev)
    yi = next(r for r in result.recommendations if r.model_id == "yi-6b")
    zh = next(t for t in yi.terms if t.name == "quality_zh")
    assert zh.components["CMMLU"] == 12.5
    assert "measured" in zh.kind and "published" in zh.kind  # C-Eval stays published


# --------------------------------------------------------------------------- small catalogs


LLAMA7_ARCH = {
    "family": "llama",
    "hidden": 4096,
    "layers": 32,
    "heads": 32,
    "kv_heads": 32,
    "intermediate": 11008,
    "vocab": 32000,
    "source": "Llama-2-7b config.json",
}


def _model(mid: str, **kw: Any) -> ModelSpec:
    base: dict[str, Any] = {
        "id": mid,
        "name": mid,
        "family": "test",
        "params_b": 7.0,
        "context_length": 4096,
        "arch": LLAMA7_ARCH,
        "license": {"id": "apache-2.0", "commercial": "yes", "source": "test"},
        "tokenizer": "llama2",
    }
    base.update(kw)
    return ModelSpec.model_validate(base)


def _score(bench: str, value: float) -> dict[str, Any]:
    return {"benchmark": bench, "value": value, "source": "test table"}


def test_small_catalog_exclusions_carry_reasons() -> None:
    cat = Catalog(
        [
            _model("ok", scores=[_score("MMLU", 50), _score("C-Eval", 50)]),
            _model("noncommercial", license={"id": "llama-1-noncommercial", "commercial": "no"}),
            _model("short", context_length=2048),
            _model("huge", params_b=70.0, arch={**LLAMA7_ARCH, "layers": 80, "hidden": 8192}),
        ]
    )
    result = recommend(cat, Request(gpu=parse_gpu("24GB"), purpose="commercial"))
    assert ids(result) == ["ok"]
    reasons = {e.model_id: (e.constraint, e.reason) for e in result.excluded}
    assert reasons["noncommercial"][0] == "license"
    assert reasons["short"] == ("context", "context window 2048 tokens < 4096 needed")
    assert reasons["huge"][0] == "memory" and "even at int4" in reasons["huge"][1]


def test_small_catalog_percentiles_coverage_and_tie_break() -> None:
    cat = Catalog(
        [
            _model("a", scores=[_score("MMLU", 60), _score("C-Eval", 40)]),
            _model("b", scores=[_score("MMLU", 40), _score("C-Eval", 60)]),
            _model("c", scores=[_score("MMLU", 50)]),
            _model("d"),
        ]
    )
    result = recommend(cat, Request(gpu=parse_gpu("A100-80G"), purpose="commercial"))
    recs = {r.model_id: r for r in result.recommendations}
    qen = {m: next(t for t in r.terms if t.name == "quality_en") for m, r in recs.items()}
    assert (qen["a"].norm, qen["c"].norm, qen["b"].norm) == (1.0, 0.5, 0.0)
    assert qen["d"].norm is None and qen["d"].kind == "missing"
    assert recs["d"].coverage < recs["c"].coverage < recs["a"].coverage
    # a and b mirror each other on an even zh/en mix: same score, tie broken by coverage then id
    assert recs["a"].score == pytest.approx(recs["b"].score)
    assert ids(result).index("a") < ids(result).index("b")


def test_base_model_scores_fill_missing_benchmarks_with_a_label() -> None:
    cat = Catalog(
        [
            _model("base", scores=[_score("C-Eval", 55)]),
            _model("chat", base_model="base", scores=[_score("MMLU", 45)]),
        ]
    )
    result = recommend(cat, Request(gpu=parse_gpu("A100-80G"), purpose="commercial"))
    chat = next(r for r in result.recommendations if r.model_id == "chat")
    zh = next(t for t in chat.terms if t.name == "quality_zh")
    assert zh.components == {"C-Eval": 55}
    assert "base model base" in (zh.source or "") and "(base)" in zh.detail


def test_model_without_arch_uses_coarse_estimate_and_says_so() -> None:
    cat = Catalog([_model("noarch", arch=None, params_b=1.0)])
    result = recommend(cat, Request(gpu=parse_gpu("4GB"), purpose="commercial"))
    rec = result.recommendations[0]
    assert rec.precision == "fp16"
    # weights × 1.2 + the estimator's CUDA runtime constant (520 MiB)
    assert rec.memory_gib == pytest.approx(1e9 * 2 * 1.2 / GIB + 520 / 1024, abs=0.01)
    assert any("coarse" in c for c in rec.caveats)


def test_no_candidate_gives_empty_list_not_error() -> None:
    result = recommend(load_catalog(), Request(gpu=parse_gpu("100MB"), purpose="commercial"))
    assert result.recommendations == []
    assert all(
        e.constraint in {"memory", "license", "context", "finetune", "size", "data"}
        for e in result.excluded
    )


# --------------------------------------------------------------------------- inputs


def test_profiles_load_with_practice_and_aliases() -> None:
    profiles = load_profiles()
    assert {p.name for p in profiles.values()} == {
        "commercial",
        "learning",
        "research",
        "edge",
        "student",
    }
    for profile in profiles.values():
        assert sum(profile.weights.values()) == pytest.approx(1.0)
        assert profile.practice
    assert get_profile("on-device").name == "edge"
    assert get_profile("On-Device").name == "edge"
    assert get_profile("commercial").precisions == ("fp16", "int8", "int4")
    assert get_profile("edge").precisions == ("int8", "int4")


def test_unknown_purpose_and_finetune_mode_are_one_line_errors() -> None:
    with pytest.raises(LLMSelectError, match="unknown purpose 'fun'.*commercial"):
        get_profile("fun")
    with pytest.raises(LLMSelectError, match="fine-tuning mode"):
        recommend(
            load_catalog(), Request(gpu=parse_gpu("24GB"), purpose="commercial", finetune="dora")
        )
    with pytest.raises(LLMSelectError, match="needs a GPU"):
        recommend(
            load_catalog(),
            Request(gpu=parse_gpu("cpu:16GB"), purpose="commercial", finetune="lora"),
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zh=0.7,en=0.3", {"zh": 0.7, "en": 0.3}),
        ("zh=7,en=3", {"zh": 0.7, "en": 0.3}),
        ("zh", {"zh": 1.0}),
        ("en=1", {"en": 1.0}),
        (None, {"zh": 0.5, "en": 0.5}),
    ],
)
def test_lang_mix(text: str | None, expected: dict[str, float]) -> None:
    got = parse_lang_mix(text)
    assert set(got) == set(expected)
    for k, v in expected.items():
        assert math.isclose(got[k], v)


@pytest.mark.parametrize("text", ["fr=1", "zh=x", "zh=0,en=0", "zh=-1"])
def test_bad_lang_mix(text: str) -> None:
    with pytest.raises(LLMSelectError, match="--lang"):
        parse_lang_mix(text)


def test_empty_evidence_is_default() -> None:
    assert load_evidence(Path("/nonexistent/store")) == Evidence()
