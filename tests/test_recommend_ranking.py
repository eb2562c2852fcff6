"""The ranking compares like with like: one quality scale with an interval, no reward for
missing evidence, fits a user can reproduce with ``perf estimate``.

Models are the real catalog's; published figures are the catalog's (with their sources).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _cli import invoke_json, run_main, runner

from llmselect.catalog import Catalog, ModelSpec, load_catalog
from llmselect.cli import app
from llmselect.hardware import parse_gpu
from llmselect.recommend import Request, recommend
from llmselect.recommend.quality import QualityIndex, load_quality_model
from llmselect.recommend.settings import read_setting

BACKTEST = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "quality_backtest.txt"


def rank(gpu: str, purpose: str, catalog: Catalog | None = None, **kw):
    return recommend(catalog or load_catalog(), Request(gpu=parse_gpu(gpu), purpose=purpose, **kw))


def test_settings_are_read_from_the_catalog_words() -> None:
    cat = load_catalog()
    m = cat.get("qwen3-0.6b")
    settings = [read_setting(s, m) for s in m.scores]
    assert {(s.benchmark, s.thinking, s.tuned) for s in settings} == {
        ("C-Eval", True, "instruct"), ("C-Eval", False, "instruct"),
    }  # fmt: skip
    base = cat.get("qwen3-0.6b-base")
    gsm = next(read_setting(s, base) for s in base.scores if s.benchmark == "GSM8K")
    assert (gsm.shots, gsm.cot, gsm.tuned, gsm.runner) == (4, True, "base", "publisher")


def test_every_model_gets_an_estimate_and_published_ones_are_labelled() -> None:
    cat = load_catalog()
    idx = QualityIndex(cat)
    own = idx.estimate(cat.get("qwen3-0.6b")).cells["C-Eval"]
    assert own.label == "published"
    # the published 50.4 (thinking) and 42.6 (non-thinking) rows (Qwen3 report, Tables 19/20)
    assert sorted(v for v, _, _ in own.observed) == [42.6, 50.4]
    glm = idx.estimate(cat.get("glm-4-32b-0414"))
    assert {c.label for c in glm.cells.values()} == {"predicted"}
    assert all(c.sd > own.sd for c in glm.cells.values())  # no evidence: a wider interval


def _copy(model: ModelSpec, new_id: str, extra: list[dict]) -> ModelSpec:
    raw = model.model_dump()
    raw.update(id=new_id, name=new_id, aliases=[], base_model=None)
    raw["scores"] = [*raw["scores"], *extra]
    return ModelSpec.model_validate(raw)


@pytest.mark.parametrize("risk", [0.0, 0.5, 0.8, 0.95])
def test_extra_evidence_at_the_estimate_keeps_the_order(risk: float) -> None:
    """Two checkpoints that differ only by one more published score, equal to the estimate,
    keep their order: the one with less evidence never gains."""
    cat = load_catalog()
    model = cat.get("qwen2.5-7b-instruct")
    less = _copy(model, "a-less", [])
    est = QualityIndex(Catalog([*cat, less])).estimate(less).cells["CMMLU"]
    assert est.label == "predicted"
    # in the estimate's own setting: the checkpoint's tuning, shots stated, its publisher
    extra = {"benchmark": "CMMLU", "value": est.estimate, "setting": "5-shot",
             "source": "test: the estimate itself"}  # fmt: skip
    more = _copy(model, "b-more", [extra])
    result = rank("24GB", "commercial", Catalog([*cat, less, more]), risk=risk)
    by_id = {r.model_id: r for r in result.recommendations}
    assert by_id["b-more"].score_mean == pytest.approx(by_id["a-less"].score_mean, abs=1e-4)
    assert by_id["b-more"].score_sd < by_id["a-less"].score_sd
    assert by_id["b-more"].score >= by_id["a-less"].score
    assert by_id["b-more"].rank < by_id["a-less"].rank or risk == 0.0


def test_sibling_with_more_evidence_is_not_ranked_below() -> None:
    """Qwen3-0.6B (C-Eval 46.5 on average) must not rank below Qwen3-0.6B-Base (no C-Eval)."""
    for finetune in ("none", "lora"):
        gpu = "8GB" if finetune == "none" else "24GB"
        result = rank(gpu, "edge", finetune=finetune)
        ranks = {r.model_id: r.rank for r in result.recommendations}
        assert "qwen3-0.6b" in ranks
        if "qwen3-0.6b-base" in ranks:
            assert ranks["qwen3-0.6b"] < ranks["qwen3-0.6b-base"]
        else:
            why = {e.model_id: e for e in result.excluded}["qwen3-0.6b-base"]
            assert why.constraint == "deployment" and "for fine-tuning" in why.reason


@pytest.mark.parametrize(
    "gpu,purpose", [("24GB", "commercial"), ("T4", "learning"), ("16GB", "student"),
                    ("8GB", "edge"), ("cpu:16GB", "edge"), ("2x80GB", "commercial")],
)  # fmt: skip
def test_no_base_checkpoint_at_the_top_and_every_fit_keeps_the_headroom(
    gpu: str, purpose: str
) -> None:
    result = rank(gpu, purpose)
    assert result.recommendations and result.recommendations[0].tuning == "instruct"
    budget = result.request["budget_gib_each"]
    assert budget == pytest.approx(result.request["usable_gib_each"] * 0.95, abs=1e-3)
    for r in result.recommendations:
        assert r.memory_detail["per_device_gib"] <= budget + 1e-9


def test_strong_models_without_scores_are_ranked_with_predicted_quality() -> None:
    result = rank("2x80GB", "research")
    shown = {r.model_id: r for r in result.recommendations}
    excluded = {e.model_id: e for e in result.excluded}
    for mid in ("glm-4-32b-0414", "mistral-small-24b-instruct-2501", "glm-4.5-air"):
        if mid in shown:
            kinds = {t.kind for t in shown[mid].terms if t.name.startswith("quality")}
            assert any("predicted" in k for k in kinds)
        else:
            assert excluded[mid].reason


def test_quality_term_is_the_mean_of_the_estimates_it_shows() -> None:
    """A prediction past a benchmark's ceiling (Qwen3-32B's GSM8K: no score, predicted above
    100 %) is shown at 100 % and ranks at 100 %, not at the impossible figure behind it."""
    result = rank("24GB", "commercial")
    qwen = next(r for r in result.recommendations if r.model_id == "qwen3-32b")
    en = next(t for t in qwen.terms if t.name == "quality_en")
    assert en.components["GSM8K"] == 100.0 and en.kind == "predicted"
    for rec in result.recommendations:
        for t in rec.terms:
            if t.name.startswith("quality_"):
                shown = sum(t.components.values()) / len(t.components)
                assert t.raw == pytest.approx(shown, abs=1e-9), (rec.model_id, t.name)


def test_a_published_value_reads_apart_from_its_setting() -> None:
    """ "87.3 shots not stated" read as 87.3 shots: each catalog value is printed as a percent
    before its setting, the values apart from each other."""
    result = rank("24GB", "commercial")
    qwen = next(r for r in result.recommendations if r.model_id == "qwen3-32b")
    zh = next(t for t in qwen.terms if t.name == "quality_zh")
    values = [s.value for s in load_catalog().get("qwen3-32b").scores if s.benchmark == "C-Eval"]
    assert len(values) == 2
    for v in values:
        assert f"{v:g} %: shots not stated" in zh.detail, zh.detail
    assert "; 83.3 %: " in zh.detail or "; 87.3 %: " in zh.detail


def test_a_fit_over_several_gpus_says_what_each_holds() -> None:
    """The total over two GPUs alone read as if one device held it (the table shows GiB/dev)."""
    result = rank("2x80GB", "commercial")
    split = [r for r in result.recommendations if r.memory_gib > r.memory_detail["per_device_gib"]]
    assert split
    for r in split:
        each = r.memory_detail["per_device_gib"]
        assert f"in {r.memory_gib:.1f} GiB in all, {each:.1f} GiB per device" in r.why


def test_budgets_not_caps_let_8b_models_fit_a_16gb_machine() -> None:
    result = rank("cpu:16GB", "edge")
    shown = {r.model_id: r for r in result.recommendations}
    assert any(mid in shown for mid in ("minicpm4-8b", "qwen3-8b"))
    assert all(r.precision in ("int8", "int4") for r in shown.values())


def test_t4_uses_its_visible_memory_and_24gb_names_the_card() -> None:
    t4 = parse_gpu("T4")
    assert (t4.memory_gib_each, t4.usable_gib_each) == (16, 15)
    assert parse_gpu("24GB").memory_gib_each == 24


@pytest.mark.parametrize("context", [4096, 32768])
@pytest.mark.parametrize("gpu,engine", [("2x80GB", "transformers"), ("24GB", "llama.cpp")])
def test_perf_estimate_reproduces_the_recommended_fit(context: int, gpu: str, engine: str) -> None:
    result = rank(gpu, "commercial", context=context, engine=engine)
    for rec in result.recommendations[:3]:
        cmd = rec.perf_estimate.split()[1:]
        rows = invoke_json([*cmd, "--json"])
        assert rows[0]["peak_mib"] / 1024 == pytest.approx(rec.memory_detail["per_device_gib"],
                                                           abs=0.006)  # fmt: skip


def test_explain_prints_the_perf_estimate_command() -> None:
    res = runner.invoke(app, ["recommend", "--gpu", "24GB", "--purpose", "commercial",
                              "--explain", "qwen3-14b"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert re.search(r"llmselect perf estimate -m qwen3-14b --dtype \w+ --seq 4096", res.output)


@pytest.mark.parametrize(
    "args",
    [["--risk", "2"], ["--headroom", "-1"], ["--engine", "tensorrt"],
     ["--engine", "vllm", "--gpu", "cpu:16GB"], ["--logits", "some"], ["--engine", "vllm"],
     ["--engine", "llama.cpp", "--finetune", "lora"]],
)  # fmt: skip
def test_bad_input_is_one_error_line(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["recommend", "--purpose", "commercial"]
    if "--gpu" not in args:
        base += ["--gpu", "24GB"]
    assert run_main([*base, *args], monkeypatch) == 2
    captured = capsys.readouterr()
    lines = [ln for ln in (captured.out + captured.err).splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), lines


def test_backtest_runs_and_is_not_worse_than_the_committed_figure() -> None:
    from llmselect.recommend.quality_fit import backtest

    committed = re.search(r"all: n=(\d+) MAE=([\d.]+)", BACKTEST.read_text())
    assert committed is not None
    bt = backtest(load_catalog(), load_quality_model())
    assert bt.n == int(committed.group(1))
    assert bt.mae <= float(committed.group(2)) + 0.005
    assert bt.coverage90 >= 0.80


def test_shipped_quality_model_is_the_one_the_catalog_fits() -> None:
    doc = json.loads((Path(__file__).resolve().parents[1] / "llmselect" / "data" /
                      "quality_model.json").read_text())  # fmt: skip
    qm = load_quality_model()
    assert doc["meta"]["n_observations"] == sum(
        1 for m in load_catalog() for s in m.scores if read_setting(s, m) is not None
    )
    assert qm.rank == doc["rank"] == 2


def test_base_checkpoints_rank_for_fine_tuning_with_their_label() -> None:
    res = runner.invoke(
        app, ["recommend", "--gpu", "24GB", "--purpose", "commercial", "--finetune", "qlora",
              "-n", "10"], env={"COLUMNS": "250"},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert re.search(r"-base \([\d.]+B\) · base, for fine-tuning", res.output)


@pytest.mark.parametrize("gpu,purpose", [("16GB", "student"), ("T4", "learning")])
def test_tight_fit_caveat_within_ten_percent_of_usable_memory(gpu: str, purpose: str) -> None:
    result = rank(gpu, purpose)
    usable = result.request["usable_gib_each"]
    tight = 0
    for r in result.recommendations:
        share = r.memory_detail["per_device_gib"] / usable
        has = any(c.startswith("tight fit") for c in r.caveats)
        assert has == (share > 0.9), (r.model_id, share)
        tight += has
    assert tight  # the budgets above have models between 90 % and 95 % of usable memory


@pytest.mark.slow
def test_shipped_parameters_are_what_the_fit_script_gives() -> None:
    """``benchmarks/fit_quality_model.py`` on the current catalog reproduces the shipped file
    (re-run it after the catalog's scores change)."""
    from llmselect.recommend.quality_fit import fit

    refit, shipped = fit(load_catalog()), load_quality_model()
    for a, b in zip(refit.mu + refit.sigma_e, shipped.mu + shipped.sigma_e, strict=True):
        assert a == pytest.approx(b, abs=0.01)
    for ra, rb in zip(refit.offsets, shipped.offsets, strict=True):
        assert ra == pytest.approx(rb, abs=0.01)


def test_llama_cpp_fit_is_gguf_weights_kv_and_compute_buffer() -> None:
    """The same model is smaller at llama.cpp's Q4_K_M than at our int4 (weights + scales,
    fp16 embeddings and head); an MoE model in a layout the GGUF recipe models (Qwen3-MoE) is
    sized at Q4_K_M, latent attention and other MoE layouts are excluded with the reason."""
    t = {r.model_id: r for r in rank("24GB", "commercial").recommendations}
    g = {r.model_id: r for r in rank("24GB", "commercial", engine="llama.cpp").recommendations}
    assert g["qwen3-14b"].perf_estimate.startswith("llmselect perf estimate -m qwen3-14b --engine")
    both = [m for m in t if m in g and t[m].precision == g[m].precision == "int4"]
    assert both
    result = rank("24GB", "commercial", engine="llama.cpp")
    ranked = {r.model_id: r for r in result.recommendations}
    assert ranked["qwen3-30b-a3b"].precision == "int4"  # q4_k_m: about 18 GB on a 24 GB card
    excluded = {e.model_id: e for e in result.excluded}
    for model, why in (("deepseek-v2-lite-chat", "latent-attention"), ("glm-4.5-air", "glm4_moe")):
        assert excluded[model].constraint == "memory" and why in excluded[model].reason
