"""Recommender: scenario tests over the whole catalog, plus the pipeline on small catalogs.

Scenario properties are checked against independent sources: the license verdicts of
``llmselect.licenses``, the exact estimator of ``llmselect.memory.estimate`` (weights + the KV
cache for the requested context), the parameter counts the catalog publishes, the benchmark
scores the catalog records, and release dates.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from llmselect.arch.count import count_model
from llmselect.arch.spec import ArchSpec
from llmselect.catalog import Catalog, ModelSpec, load_catalog
from llmselect.errors import LLMSelectError
from llmselect.hardware import parse_gpu
from llmselect.licenses import verdict
from llmselect.memory.estimate import estimate_memory, kv_cache_bytes
from llmselect.recommend import (
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
from llmselect.recommend.score import quantile_z
from llmselect.recommend.settings import benchmark_key
from llmselect.records import Measurement

GIB = 1024**3
PURPOSES = Path(__file__).resolve().parents[1] / "llmselect" / "data" / "purposes"
LABELS = {"measured", "estimated", "published"}
QUALITY_LABELS = {"measured", "published", "predicted"}
CELL = re.compile(r"([\w-]+) ([\d.]+)±([\d.]+)% (measured|published|predicted)")


def label_ok(term: Any) -> bool:
    """A term's label: measured/estimated/published; quality joins its benchmarks' labels;
    a term without evidence says it was counted at the worst candidate's value."""
    if term.kind.startswith("missing"):
        return "worst candidate" in term.kind
    if term.name.startswith("quality_"):
        return set(term.kind.split("+")) <= QUALITY_LABELS
    return term.kind in LABELS


def run(gpu: str, purpose: str, ram: str | None = None, **kw: Any) -> RecommendResult:
    return recommend(load_catalog(), Request(gpu=parse_gpu(gpu, ram=ram), purpose=purpose, **kw))


def ids(result: RecommendResult, top: int | None = None) -> list[str]:
    return [r.model_id for r in result.recommendations[:top]]


# (gpu, purpose, extra request fields): the budgets users ask about
SCENARIOS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "24gb-commercial": ("24GB", "commercial", {}),
    "80gb-commercial-32k": ("80GB", "commercial", {"context": 32768}),
    "2x24gb-commercial-32k": ("2x24GB", "commercial", {"context": 32768}),
    "2x80gb-commercial": ("2x80GB", "commercial", {}),
    "t4-learning": ("T4", "learning", {}),
    "8gb-edge": ("8GB", "edge", {}),
    "4090-research-8k-zh": ("4090", "research", {"context": 8192, "lang": {"zh": 1.0}}),
    "cpu-student": ("cpu", "student", {}),
}


@pytest.fixture(scope="module", params=list(SCENARIOS))
def scenario(request: pytest.FixtureRequest) -> tuple[str, RecommendResult]:
    gpu, purpose, extra = SCENARIOS[request.param]
    ram = "16GB" if gpu == "cpu" else None
    return request.param, run(gpu, purpose, ram=ram, **extra)


def test_every_shown_model_fits_at_its_precision_and_context(
    scenario: tuple[str, RecommendResult],
) -> None:
    """Every ranked model: the exact estimate (KV cache for the requested context) fits each
    device's usable memory less the headroom, and the reported parts are that estimate's."""
    name, result = scenario
    catalog = load_catalog()
    budget = result.request["budget_gib_each"]
    assert budget == pytest.approx(
        result.request["usable_gib_each"] * (1 - result.request["headroom"]), abs=1e-3
    )
    context = result.request["context"]
    assert result.recommendations, name
    for rec in result.recommendations:
        model = catalog.get(rec.model_id)
        assert model.arch is not None
        count = count_model(model)
        assert rec.params_b == pytest.approx(count.total / 1e9, abs=1e-3)
        gpus = max(result.request["gpu_count"], 1)
        tp = max(t for t in range(1, gpus + 1) if model.arch.heads % t == 0)
        stored = rec.precision.endswith(" (as stored)")  # as perf estimate sizes it, no --dtype
        if stored:
            assert model.sizing is not None and model.sizing.stored_bytes is not None
            assert all(s.format.split(" ")[0] in rec.precision for s in model.sizing.stored
                       if s.format != "bfloat16"), (rec.model_id, rec.precision)  # fmt: skip
        est = estimate_memory(
            model.arch,
            dtype="bf16" if stored else rec.precision,
            weights_bytes=model.sizing.stored_bytes if stored and model.sizing else None,
            seq=context,
            tp=tp,
            device="cpu" if result.request["gpu_count"] == 0 else "cuda",
            params_total=count.total,
            last_token_logits=True,
            sizing=model.sizing,  # an entry read from its config.json: its exact layer types
        )
        assert est.total_bytes / GIB <= budget + 1e-3, (name, rec.model_id)
        assert rec.memory_detail["per_device_gib"] == pytest.approx(est.total_bytes / GIB, abs=0.01)
        kv = kv_cache_bytes(
            model.arch, batch=1, context=context, kv_dtype=est.kv_dtype, tp=tp,
            sizing=model.sizing,
        )  # fmt: skip
        assert rec.memory_detail["kv_cache"] == pytest.approx(kv / GIB, abs=0.002)
        assert model.context_length is not None and model.context_length >= context
        for term in rec.terms:
            assert label_ok(term), term


def test_quality_labels_follow_the_catalog(scenario: tuple[str, RecommendResult]) -> None:
    """Every ranked model has a quality estimate on every benchmark; a benchmark is labelled
    published exactly when the checkpoint has its own score for it in the catalog, else
    predicted (no store here)."""
    _, result = scenario
    catalog = load_catalog()
    for rec in result.recommendations:
        own = {benchmark_key(s.benchmark) for s in catalog.get(rec.model_id).scores}
        for t in rec.terms:
            if not t.name.startswith("quality_"):
                continue
            cells = CELL.findall(t.detail)
            assert len(cells) == 2, t.detail
            for bench, _, half, label in cells:
                assert label == ("published" if bench in own else "predicted"), (rec.model_id, t)
                assert float(half) > 0


def test_license_gate_on_the_whole_catalog() -> None:
    result = run("24GB", "commercial")
    catalog = load_catalog()
    for rec in result.recommendations:
        assert verdict(catalog.get(rec.model_id), "commercial").allowed in {"yes", "conditional"}
    for model in catalog:
        if verdict(model, "commercial").allowed in {"no", "unknown"}:
            exc = next(e for e in result.excluded if e.model_id == model.id)
            assert exc.constraint == "license"


def test_models_without_architecture_are_excluded_as_unknown() -> None:
    result = run("2x80GB", "research")
    excluded = {e.model_id: e for e in result.excluded}
    for model in load_catalog():
        if model.arch is None:
            exc = excluded[model.id]
            reasons = [exc.reason, *exc.other_reasons]
            assert any(r.startswith("architecture unknown") for r in reasons), model.id


def test_issue_example_kv_cache_at_32k_excludes_full_attention_72b() -> None:
    """Qwen-72B (MHA, 80 layers of 64 heads of 128): its KV cache alone at 32k tokens is
    80 GiB in fp16, so neither one 80 GB GPU nor 2x24 GB can hold it at any precision; while
    the catalog has no architecture for it, it is excluded as unknown, never sized by a rule."""
    shapes = ArchSpec(  # huggingface.co/Qwen/Qwen-72B config.json
        family="llama", hidden=8192, layers=80, heads=64, kv_heads=64, intermediate=24576,
        vocab=152064, qkv_bias=True, source="huggingface.co/Qwen/Qwen-72B config.json",
    )  # fmt: skip
    assert kv_cache_bytes(shapes, batch=1, context=32768, kv_dtype="fp16") == 80 * GIB
    for gpu in ("80GB", "2x24GB"):
        result = run(gpu, "commercial", context=32768)
        assert "qwen-72b" not in ids(result)
        exc = next(e for e in result.excluded if e.model_id == "qwen-72b")
        reasons = " ".join([exc.reason, *exc.other_reasons])
        if load_catalog().get("qwen-72b").arch is None:
            assert "architecture unknown" in reasons
        else:
            assert "GiB per device even at int4 (32768 tokens)" in reasons


def _year(rec: Any) -> int:
    return int(str(rec.release_date)[:4]) if rec.release_date else 0


@pytest.mark.parametrize("gpu", ["24GB", "2x80GB"])
def test_commercial_puts_current_models_with_higher_scores_on_top(gpu: str) -> None:
    """The top of the list is 2024+ models, and no older model shown (the top 10) outranks a
    2024+ model whose quality is higher in every language the older one has evidence for.

    Deeper in the list the tokenizer, speed and cost terms can outweigh a small quality gap,
    so the check is on the models a user reads, as the purpose asks ("current models at the
    top")."""
    result = run(gpu, "commercial")
    top = result.recommendations[:3]
    assert _year(top[0]) >= 2024 and sum(_year(r) >= 2024 for r in top) >= 2, [
        (r.model_id, r.release_date) for r in top
    ]

    def quality(rec: Any) -> dict[str, float]:
        return {t.name: t.raw for t in rec.terms if t.name.startswith("quality_") and t.raw}

    recs = result.recommendations
    for i, older in enumerate(recs[:10]):
        if _year(older) >= 2024:
            continue
        for newer in recs[i + 1 :]:
            if _year(newer) < 2024:
                continue
            q_old, q_new = quality(older), quality(newer)
            shared = set(q_old) & set(q_new)
            assert not (shared == set(q_old) and all(q_new[k] > q_old[k] for k in shared)), (
                older.model_id,
                newer.model_id,
            )


def test_2x80gb_commercial_ranks_a_70b_class_model_high() -> None:
    result = run("2x80GB", "commercial")
    assert any(r.params_b >= 65 for r in result.recommendations[:10])
    assert result.request["gpu_count"] == 2


def test_max_params_uses_the_exact_count_and_purposes_have_budgets_not_caps() -> None:
    """--max-params compares the exact count; the device purposes cap nothing: an 8B-class
    model that fits 16 GB at int4 is ranked for a student."""
    capped = run("24GB", "commercial", max_params_b=8.0)
    assert capped.recommendations
    assert all(r.params_b <= 8.0 for r in capped.recommendations)
    over = [e for e in capped.excluded if e.constraint == "size"]
    assert over and all("--max-params" in e.reason for e in over)
    student = run("16GB", "student")
    assert any(r.params_b > 7.9 for r in student.recommendations)


def test_cpu_budget_runs_quantized_in_ram() -> None:
    result = run("cpu", "student", ram="16GB")
    assert result.recommendations
    assert {r.precision for r in result.recommendations} <= {"int8", "int4"}
    assert result.request["precisions"] == ["int8", "int4"]
    edge = run("cpu", "edge", ram="16GB")  # a speed floor it cannot check: no GPU to name
    floor = next(n for n in edge.notes if n.startswith("speed floor"))
    assert "not checked" in floor and "GPU" not in floor
    assert {r.speed_floor for r in edge.recommendations} == {"not checked"}


def test_research_allows_research_only_licenses_commercial_does_not() -> None:
    research = run("24GB", "research", context=2048)
    commercial = run("24GB", "commercial", context=2048)
    assert verdict(load_catalog().get("llama-7b"), "commercial").allowed == "no"
    assert "llama-7b" in ids(research)
    exc = next(e for e in commercial.excluded if e.model_id == "llama-7b")
    assert exc.constraint == "license" and "does not allow commercial" in exc.reason


def test_finetune_uses_the_cost_model_per_gpu() -> None:
    from llmselect.cost.finetune import FinetuneSetup, finetune_memory

    result = run("24GB", "commercial", finetune="full", context=2048)
    catalog = load_catalog()
    for rec in result.recommendations:
        ft = finetune_memory(catalog.get(rec.model_id), FinetuneSetup("full", seq=2048, gpus=1))
        assert rec.finetune and rec.finetune["per_gpu_gib"] == pytest.approx(ft.per_gpu_gib, 0.01)
        assert ft.per_gpu_gib <= 24e9 / GIB
    qlora = run("24GB", "commercial", finetune="qlora", context=2048)
    assert len(qlora.recommendations) > len(result.recommendations)
    assert any(e.constraint == "finetune" for e in result.excluded)


def test_throughput_floor_uses_datasheet_bandwidth_and_active_weights() -> None:
    floor = 60.0
    result = run("H100", "commercial", min_tokens_per_s=floor)
    assert result.recommendations
    for rec in result.recommendations:
        speed = next(t for t in rec.terms if t.name == "speed")
        assert speed.unit == "tok/s" and speed.raw >= floor
    slow = [e for e in result.excluded if e.constraint == "throughput"]
    assert slow and all("tok/s (--min-tokens-per-s)" in e.reason for e in slow)


def test_ranking_is_sorted_and_every_score_is_a_lower_quantile() -> None:
    result = run("A100-80G", "commercial")
    recs = result.recommendations
    keys = [(-r.score, -r.coverage, r.model_id) for r in recs]
    assert keys == sorted(keys)
    assert [r.rank for r in recs] == list(range(1, len(recs) + 1))
    z = quantile_z(0.8)
    assert z == pytest.approx(1.2816, abs=1e-4)  # the 10th percentile of a normal
    for rec in recs:
        mean = sum(t.norm * t.weight for t in rec.terms) / sum(t.weight for t in rec.terms)
        assert rec.score_mean == pytest.approx(mean, abs=1e-3)
        assert rec.score == pytest.approx(rec.score_mean - z * rec.score_sd, abs=1e-3)
        for t in rec.terms:  # value normalisation: 1 is the best candidate
            assert 0 < t.norm <= 1 + 1e-9
        assert 0 < rec.coverage <= 1
        assert rec.why.startswith(f"#{rec.rank} for 'commercial'")
    assert any(r.pareto for r in recs)
    for name in ("quality_zh", "speed", "cost"):
        assert max(next(t for t in r.terms if t.name == name).norm for r in recs) == 1.0


def test_fresh_install_shows_zh_chars_for_every_known_tokenizer() -> None:
    """No measurements in the store: the shipped FLORES-200 baseline still answers."""
    from llmselect.tokenizers.spec import load_tokenizer_catalog

    families = {t.id for t in load_tokenizer_catalog()}
    result = run("2x80GB", "research")
    assert result.recommendations
    for rec in result.recommendations:
        model = load_catalog().get(rec.model_id)
        if model.tokenizer in families:
            assert rec.usable_zh_chars is not None, rec.model_id
            assert "FLORES-200" in rec.usable_zh_chars_note
            assert "llmselect" in rec.usable_zh_chars_note  # dated and versioned
        else:
            assert rec.usable_zh_chars is None


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
    assert excluded["status"] == "excluded"
    with pytest.raises(LLMSelectError, match="unknown model"):
        explain(result, "no-such-model", load_catalog())


def test_measured_lm_eval_overrides_published_score() -> None:
    catalog = load_catalog()
    assert [s.value for s in catalog.get("yi-6b").scores if s.benchmark == "CMMLU"]
    rec = Measurement(
        run_id="r1",
        model_id="yi-6b",
        probe="lm_eval_scores",
        metric="acc",
        value=12.5,
        unit="%",
        subset="cmmlu",
        n=11582,  # every CMMLU test document: lm-eval's standard error of 12.5 % over them
        stderr=100 * math.sqrt(0.125 * 0.875 / 11581),
    )
    subject = rec.model_copy(update={"subset": "cmmlu/agronomy", "value": 99.0})
    ev = evidence_from_records([rec, subject])
    assert ev.scores[("yi-6b", "CMMLU")].value == 12.5  # group row only
    request = Request(gpu=parse_gpu("24GB"), purpose="research")

    def zh(result: RecommendResult) -> Any:
        yi = next(r for r in result.recommendations if r.model_id == "yi-6b")
        return next(t for t in yi.terms if t.name == "quality_zh")

    before, after = zh(recommend(catalog, request)), zh(recommend(catalog, request, ev))
    assert "CMMLU" in after.detail and re.search(r"CMMLU [\d.]+±[\d.]+% measured", after.detail)
    assert after.components["CMMLU"] < before.components["CMMLU"] - 5  # pulled toward 12.5
    assert set(after.kind.split("+")) == {"measured", "published"}  # C-Eval stays published


def lm_eval_group_row(run_id: str, pct: float, n: int, shots: int = 5) -> Measurement:
    """yi-6b's CMMLU group row as ``llmselect eval`` stores it: percent, n documents, and
    lm-eval's standard error (sample sd over √n, 0 where all documents agree) through the
    probe's own rule (a 0 is stored as not estimable, with the exact 95 % interval); the shots
    lm-eval ran with (CMMLU's task file: 5 unless ``--num-fewshot``), no chat template."""
    from llmselect.probes.lm_eval_scores import stderr_and_note

    p = pct / 100
    stderr, note = stderr_and_note(p, math.sqrt(p * (1 - p) / (n - 1)), n)
    return Measurement(
        run_id=run_id, model_id="yi-6b", probe="lm_eval_scores", metric="acc", value=pct,
        unit="%", subset="cmmlu", n=n, stderr=stderr,
        params={"num_fewshot": shots, "chat_template": False, **note},
    )  # fmt: skip


def stored_scores(root: Path, *records: Measurement) -> Evidence:
    """Records through the store and its latest-value index, as ``recommend`` reads them; the
    full-record path (the report's) must read the same sampling evidence."""
    from llmselect.records import RunInfo
    from llmselect.store import RunWriter

    for rec in records:
        with RunWriter(RunInfo(run_id=rec.run_id), root=root) as writer:
            writer.append([rec])
    ev = load_evidence(root)
    assert ev.scores == evidence_from_records(records).scores
    return ev


def test_a_measured_score_weighs_by_its_documents(tmp_path: Path) -> None:
    """A measured score's noise is the model's for one published number plus its own
    sampling error: a perfect score on 3 documents moves yi-6b's CMMLU estimate far less than
    one on 1,000, and narrows its interval no more than a published number would; a full run's
    posterior is the Kalman update of the unmeasured one with variance sigma_e² + stderr²."""
    import numpy as np

    from llmselect.recommend.quality import QualityIndex, load_quality_model

    catalog, qm = load_catalog(), load_quality_model()
    yi, b = catalog.get("yi-6b"), qm.benchmarks.index("CMMLU")
    before = QualityIndex(catalog).estimate(yi)

    def cell(name: str, *records: Measurement) -> Any:
        ev = stored_scores(tmp_path / name, *records)
        return QualityIndex(catalog, ev.scores).estimate(yi).cells["CMMLU"]

    few = cell("few", lm_eval_group_row("20261201T000000Z-few000", 100.0, 3))
    many = cell("many", lm_eval_group_row("20261201T000000Z-many00", 100.0, 1000))
    full = cell("full", lm_eval_group_row("20261201T000000Z-full00", 12.5, 11582))
    cov, h = np.array(before.post.cov), np.array(qm.design(b))

    def kalman_sd(noise_var: float) -> float:
        """The cell's sd after one more observation of variance ``noise_var`` (covariance
        form, independent of the information-form update the estimator runs)."""
        ph = cov @ h
        return float(np.sqrt(h @ (cov - np.outer(ph, ph) / (h @ ph + noise_var)) @ h))

    old = before.cells["CMMLU"]
    assert few.label == many.label == full.label == "measured"
    assert few.estimate - old.estimate < 0.02 * (many.estimate - old.estimate)
    assert few.estimate > old.estimate and many.estimate > old.estimate + 5
    # the published noise alone: what a 3-document score counted for before
    assert few.sd >= kalman_sd(qm.sigma_e[b] ** 2) and few.sd > many.sd
    assert few.sd == pytest.approx(old.sd, rel=0.01)  # 3 documents barely inform
    shown = [f"{c.estimate:.1f} ±{c.half90:.1f}" for c in (old, few, many)]
    assert shown == ["73.7 ±2.0", "73.8 ±2.0", "79.1 ±1.9"]  # the README's figures
    se_full = 100 * math.sqrt(0.125 * 0.875 / 11581)  # lm-eval's, in points as the model is
    assert full.sd == pytest.approx(kalman_sd(qm.sigma_e[b] ** 2 + se_full**2), rel=1e-9)
    assert full.sd > kalman_sd(qm.sigma_e[b] ** 2)


def test_explain_says_how_a_measured_score_was_weighted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--explain`` names the documents, where the sampling error came from (lm-eval's
    standard error, or the exact interval where that is not estimable) and the noise used."""
    import sys

    from llmselect.cli import main
    from llmselect.recommend.quality import load_quality_model

    qm = load_quality_model()
    store = tmp_path / "store"
    stored_scores(store, lm_eval_group_row("20261201T000000Z-few000", 100.0, 3))
    args = ["recommend", "--gpu", "24GB", "--purpose", "research", "--results", str(store)]
    monkeypatch.setattr(sys, "argv", ["llmselect", *args, "--explain", "yi-6b", "--json"])
    with pytest.raises(SystemExit) as info:
        main()
    assert not info.value.code
    terms = json.loads(capsys.readouterr().out)["recommendation"]["terms"]
    detail = next(t["detail"] for t in terms if t["name"] == "quality_zh")
    low = 100 * 0.025 ** (1 / 3)  # Clopper-Pearson: all 3 right has probability p³ = 2.5 %
    sd = (100 - low) / 1.959964  # the normal sd whose 95 % interval reaches that bound
    assert (
        f"100 %: 5-shot, base, no chat template, run by llmselect; 3 documents, standard error not "
        f"estimable: {sd:.1f} pp from the exact 95 % interval {low:.1f}-100.0 %; weighted as "
        f"noise {math.hypot(qm.sigma_e[qm.benchmarks.index('CMMLU')], sd):.1f} pp"
    ) in detail, detail


def test_report_and_index_paths_keep_the_family_own_tokenizer_value(tmp_path: Path) -> None:
    """A later run on other tokenizer files hides the family's own FLORES-200 value on neither
    path: records through ``store.latest`` (the report's) and the store's latest-value index."""
    from llmselect.recommend import load_baseline
    from llmselect.records import RunInfo
    from llmselect.store import RunWriter

    own = load_baseline().fingerprints["chatglm3"]
    assert own
    records = [
        Measurement(
            run_id=run_id,
            model_id="chatglm3",
            probe="tokenizer_efficiency",
            metric="tokens_per_char",
            value=value,
            unit="tok/char",
            subset="flores200/zh",
            params={"tokenizer_sha256": sha},
        )
        for run_id, value, sha in (
            ("20261101T000000Z-own000", 0.5, own),
            ("20261102T000000Z-other0", 3.0, "0" * 64),
        )
    ]
    for rec in records:
        with RunWriter(RunInfo(run_id=rec.run_id), root=tmp_path) as writer:
            writer.append([rec])
    for ev in (evidence_from_records(records), load_evidence(tmp_path)):
        got = ev.tokens_per_char[("chatglm3", "zh")]
        assert got.value == 0.5
        assert got.source == "store: run 20261101T000000Z-own000, tokenizer_efficiency flores200/zh"


def _decode_record(
    run_id: str,
    ms: float,
    device: str,
    device_name: str,
    model_id: str = "qwen2.5-0.5b-instruct",
    point: str = "bs=1,seq=4096,dtype=bf16",
    engine: str = "transformers",
) -> Measurement:
    """A decode timing as ``perf measure`` stores it: the point in the subset (with
    ``,engine=`` for an engine other than the reference one), the engine in the params."""
    subset = point if engine == "reference" else f"{point},engine={engine}"
    return Measurement(
        run_id=run_id, model_id=model_id, probe="reference_latency",
        metric="decode_ms_per_token", value=ms, unit="ms", subset=subset, device=device,
        params={"device": device, "device_name": device_name, "engine": engine},
    )  # fmt: skip


def test_a_language_the_model_does_not_list_is_a_caveat() -> None:
    """For Chinese work, a model whose published list names no Chinese (SmolLM3, Gemma 3's
    card) says so; one that lists zh, or lists nothing, does not; for English only, none."""
    catalog = load_catalog()
    zh = run("24GB", "commercial", lang={"zh": 0.9, "en": 0.1})
    said = "Chinese is not among its listed languages"
    flagged = {r.model_id for r in zh.recommendations if any(said in c for c in r.caveats)}
    assert "smollm3-3b" in flagged and "qwen3-8b" not in flagged
    for r in zh.recommendations:
        langs = catalog.get(r.model_id).languages
        assert (r.model_id in flagged) == bool(langs and "zh" not in langs), r.model_id
    en = run("24GB", "commercial", lang={"en": 1.0})
    assert not any("listed languages" in c for r in en.recommendations for c in r.caveats)


def test_a_decode_timing_counts_only_on_the_device_it_ran_on(tmp_path: Path) -> None:
    """A CPU timing (265 ms/token) neither excludes the model from an H100 floor nor mixes its
    tok/s with the bytes-per-token speed of an unnamed 24GB card; an H100 timing shows on H100,
    labelled measured, beside the bound the model ranks on."""
    from llmselect.records import RunInfo
    from llmselect.store import RunWriter

    mid = "qwen2.5-0.5b-instruct"
    cpu = _decode_record("20261101T000000Z-cpu000", 265.0, "cpu", "AMD EPYC (2 cores)")
    with RunWriter(RunInfo(run_id=cpu.run_id), root=tmp_path) as writer:
        writer.append([cpu])

    def speed(gpu: str, ev: Evidence, **kw: Any) -> Any:
        result = recommend(
            load_catalog(), Request(gpu=parse_gpu(gpu), purpose="commercial", **kw), ev
        )
        assert mid not in {e.model_id for e in result.excluded}
        by_id = {r.model_id: r for r in result.recommendations}
        units = {t.unit for r in by_id.values() for t in r.terms if t.name == "speed"}
        assert len(units) == 1  # one unit per term: like compared with like
        return next(t for t in by_id[mid].terms if t.name == "speed")

    for ev in (evidence_from_records([cpu]), load_evidence(tmp_path)):
        on_h100 = speed("H100", ev, min_tokens_per_s=10)
        assert on_h100.kind == "estimated" and on_h100.raw > 10
        assert "measured on AMD EPYC (2 cores): another device" in on_h100.detail
        assert speed("24GB", ev).unit == "GB/token"
    h100 = _decode_record("20261102T000000Z-h10000", 4.0, "cuda", "NVIDIA H100 80GB HBM3")
    got = speed("H100", evidence_from_records([cpu, h100]))
    assert got.kind == "estimated" and got.raw > 250.0  # ranked on the bound, as every model
    assert got.components["measured tok/s"] == pytest.approx(250.0)  # 1000 / 4.0 ms
    assert "250.0 tok/s measured on NVIDIA H100 80GB HBM3" in got.detail
    assert "20261102T000000Z-h10000" in got.source
    two = speed("2xH100", evidence_from_records([h100]))  # a timing of one GPU, not a 2-way split
    assert "measured" not in two.components and "not this 2-GPU split" in two.detail
    split = recommend(
        load_catalog(),
        Request(gpu=parse_gpu("2xH100"), purpose="commercial", min_tokens_per_s=10),
        evidence_from_records([h100]),
    )
    (ranked,) = [r for r in split.recommendations if r.model_id == mid]
    assert ranked.speed_floor == "not verified"
    assert any("a decode timing of one H100 says nothing of this 2-GPU split" in caveat
               for caveat in ranked.caveats)  # fmt: skip


def _store(root: Path, records: list[Measurement]) -> Evidence:
    """The records written into a real result store at ``root``, read back as ``recommend``
    reads them (the store's latest-value index)."""
    from llmselect.records import RunInfo
    from llmselect.store import RunWriter

    for rec in records:
        with RunWriter(RunInfo(run_id=rec.run_id), root=root) as writer:
            writer.append([rec])
    return load_evidence(root)


@pytest.mark.parametrize("tok_s", [250.0, 50.0])
def test_a_one_gpu_timing_decides_nothing_of_llamacpps_layer_split(
    tmp_path: Path, tok_s: float
) -> None:
    """Under llama.cpp, two H100s split the model's layers (no tensor parallelism): a decode
    timing of one H100 in the very setting ranked (f16, llama.cpp, 4096 tokens) neither
    verifies the floor (250 tok/s) nor excludes the model (50 tok/s); the caveat says why, as
    for a tensor-parallel split. On one H100 the same timing decides."""
    mid = "qwen2.5-0.5b-instruct"
    record = _decode_record("20261106T000000Z-cpp000", 1000 / tok_s, "cuda", H100_NAME, mid,
                            "bs=1,seq=4096,dtype=f16", "llama.cpp")  # fmt: skip
    ev = _store(tmp_path, [record])

    def ranked(gpu: str) -> Any:
        request = Request(gpu=parse_gpu(gpu), purpose="commercial", engine="llama.cpp",
                          min_tokens_per_s=100)  # fmt: skip
        return recommend(load_catalog(), request, ev)

    one = ranked("H100")
    verdict = {r.model_id: r.speed_floor for r in one.recommendations}.get(mid, "excluded")
    assert verdict == ("verified" if tok_s > 100 else "excluded")
    (rec,) = [r for r in ranked("2xH100").recommendations if r.model_id == mid]
    assert rec.precision == "fp16" and rec.speed_floor == "not verified"
    speed = next(t for t in rec.terms if t.name == "speed")
    assert "measured tok/s" not in speed.components
    assert "layers split over 2 GPUs" in next(t for t in rec.terms if t.name == "cost").source
    assert "one GPU, not this 2-GPU split, not compared" in speed.detail
    assert any("a decode timing of one H100 says nothing of this 2-GPU split" in caveat
               for caveat in rec.caveats)  # fmt: skip


H100_NAME = "NVIDIA H100 80GB HBM3"


def test_a_measured_model_is_not_ranked_below_an_unmeasured_one_for_being_measured(
    tmp_path: Path,
) -> None:
    """qwen3-14b timed on an H100 at 30 tok/s (a reference-decoder timing, far under its
    bandwidth roofline) keeps the speed term, score and rank it has with an empty store: every
    candidate ranks on its roofline, the timing is shown beside it. Compared with its own
    measurement, it would lose speed score to every unmeasured model whose upper bound lies
    above 30 tok/s."""
    mid = "qwen3-14b"
    ev = _store(tmp_path, [_decode_record("20261103T000000Z-h10001", 1000 / 30, "cuda",
                                          H100_NAME, mid)])  # fmt: skip
    request = Request(gpu=parse_gpu("H100"), purpose="commercial")
    empty = {r.model_id: r for r in recommend(load_catalog(), request).recommendations}
    timed = {r.model_id: r for r in recommend(load_catalog(), request, ev).recommendations}

    def speed(rec: Any) -> Any:
        return next(t for t in rec.terms if t.name == "speed")

    got = speed(timed[mid])
    # the unmeasured models whose bound lies between the timing and this model's bound
    between = [r for r in timed.values() if 30.0 < speed(r).raw < speed(empty[mid]).raw]
    assert between and all(speed(r).norm < got.norm for r in between)
    for mid2, rec in timed.items():  # the timing moves no score and no rank
        assert (rec.rank, rec.score) == (empty[mid2].rank, empty[mid2].score), mid2
    assert (got.raw, got.norm) == (speed(empty[mid]).raw, speed(empty[mid]).norm)
    assert got.unit == "tok/s" and got.components["measured tok/s"] == pytest.approx(30.0)
    assert "30.0 tok/s measured on NVIDIA H100 80GB HBM3" in got.detail


def test_a_speed_floor_is_verified_by_a_timing_and_only_bounded_by_the_roofline(
    tmp_path: Path,
) -> None:
    """Floor 100 tok/s on an H100 (3.35 TB/s): a timing at or above it verifies it, a timing
    under it excludes the model even where its roofline clears it; an unmeasured model whose
    upper bound clears it is ranked with the floor "not verified" (caveat, ``speed_floor``,
    a note); a bound under the floor still excludes."""
    fast, slow = "qwen2.5-0.5b-instruct", "qwen2.5-1.5b-instruct"
    ev = _store(tmp_path, [
        _decode_record("20261104T000000Z-h10002", 4.0, "cuda", H100_NAME, fast),  # 250 tok/s
        _decode_record("20261104T000000Z-h10003", 20.0, "cuda", H100_NAME, slow),  # 50 tok/s
    ])  # fmt: skip
    request = Request(gpu=parse_gpu("H100"), purpose="commercial", min_tokens_per_s=100)
    result = recommend(load_catalog(), request, ev)
    by_id = {r.model_id: r for r in result.recommendations}
    excluded = {e.model_id: e for e in result.excluded if e.constraint == "throughput"}

    assert by_id[fast].speed_floor == "verified"
    assert not any("not verified" in c for c in by_id[fast].caveats)
    assert excluded[slow].reason == (
        "50.0 tok/s (measured on H100: bf16, transformers engine, 4096 tokens of context, "
        "batch 1) < 100 tok/s (--min-tokens-per-s)"
    )
    assert excluded[slow].kind == "measured"
    unmeasured = [r for mid, r in by_id.items() if mid != fast]
    assert unmeasured
    for rec in unmeasured:
        bound = next(t for t in rec.terms if t.name == "speed").raw
        assert bound >= 100 and rec.speed_floor == "not verified"
        caveat = (
            "speed floor 100 tok/s not verified: no decode timing on H100, and the bandwidth "
            f"roofline (≤{bound:.0f} tok/s estimated) is only an upper bound"
        )
        assert caveat in rec.caveats, rec.model_id
    note = f"speed floor 100 tok/s not verified for {len(unmeasured)} of {len(by_id)} ranked"
    assert any(n.startswith(note) for n in result.notes)
    # a bound under the floor excludes: qwen2.5-32b-instruct fits at fp16 and reads its 32.76B
    # weights (2 bytes each, catalog count) and its KV cache per token: under 3350 GB/s (H100
    # SXM datasheet) ÷ 65.5 GB = 51.1 tok/s, whatever it would measure
    bounded = excluded["qwen2.5-32b-instruct"].reason
    assert "(estimated upper bound: the bandwidth roofline) < 100 tok/s" in bounded
    assert excluded["qwen2.5-32b-instruct"].kind == "estimated"
    weights_gb = 2 * load_catalog().get("qwen2.5-32b-instruct").params_exact / 1e9
    assert float(bounded.split()[0].lstrip("≤")) <= 3350 / weights_gb


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
        "context_length": 4096,
        "arch": LLAMA7_ARCH,
        "license": {"id": "apache-2.0", "commercial": "yes", "source": "test"},
        "tokenizer": "llama2",
    }
    base.update(kw)
    return ModelSpec.model_validate(base)


def _score(bench: str, value: float) -> dict[str, Any]:
    return {"benchmark": bench, "value": value, "source": "test table"}


def test_small_catalog_exclusions_carry_every_reason() -> None:
    cat = Catalog(
        [
            _model("ok", scores=[_score("MMLU", 50), _score("C-Eval", 50)]),
            _model("noncommercial", license={"id": "llama-1-noncommercial", "commercial": "no"}),
            _model("short", context_length=2048),
            _model("huge", arch={**LLAMA7_ARCH, "layers": 80, "hidden": 8192}),
            _model("noarch", arch=None, arch_missing=["num_key_value_heads"], params_b=1.0),
        ]
    )
    result = recommend(cat, Request(gpu=parse_gpu("24GB"), purpose="commercial"))
    assert ids(result) == ["ok"]
    reasons = {e.model_id: e for e in result.excluded}
    assert reasons["noncommercial"].constraint == "license"
    assert reasons["short"].reason == "context window 2048 tokens < 4096 needed"
    assert reasons["huge"].constraint == "memory" and "even at int4" in reasons["huge"].reason
    noarch = reasons["noarch"]
    assert noarch.constraint == "architecture"
    assert noarch.reason == "architecture unknown (num_key_value_heads)"


def test_missing_evidence_widens_the_interval_and_lowers_coverage() -> None:
    """a dominates b on both benchmarks and ranks above it; c has MMLU only, so its GSM8K is
    predicted (wider interval, lower coverage); "none" has no score and is ranked with predicted
    quality, labelled so, with the widest interval."""
    cat = Catalog(
        [
            _model("a", scores=[_score("MMLU", 70), _score("GSM8K", 50)]),
            _model("b", scores=[_score("MMLU", 60), _score("GSM8K", 40)]),
            _model("c", scores=[_score("MMLU", 65)]),
            _model("none"),
        ]
    )
    request = Request(gpu=parse_gpu("A100-80G"), purpose="commercial", lang={"en": 1.0})
    result = recommend(cat, request)
    order = ids(result)
    assert order.index("a") < order.index("b")
    recs = {r.model_id: r for r in result.recommendations}
    qen = {m: next(t for t in r.terms if t.name == "quality_en") for m, r in recs.items()}
    assert qen["c"].coverage == 0.5 and qen["a"].coverage == 1.0
    assert qen["none"].coverage == 0 and qen["none"].kind == "predicted"
    assert qen["a"].sd < qen["c"].sd < qen["none"].sd
    assert recs["c"].coverage < recs["a"].coverage


def test_base_model_scores_inform_the_chat_model_through_its_lineage() -> None:
    """A chat model shares its base's pretrained network: the base's C-Eval 55 informs the chat
    model's C-Eval estimate (labelled predicted, never published) and narrows its interval."""
    cat = Catalog(
        [
            _model("base", tags=["base"], scores=[_score("C-Eval", 55)]),
            _model("chat", base_model="base", tags=["chat"], scores=[_score("MMLU", 45)]),
            _model("alone", tags=["chat"], scores=[_score("MMLU", 45)]),
        ]
    )
    result = recommend(cat, Request(gpu=parse_gpu("A100-80G"), purpose="research"))
    recs = {r.model_id: r for r in result.recommendations}
    zh = {m: next(t for t in r.terms if t.name == "quality_zh") for m, r in recs.items()}
    cells = dict((b, (float(v), label)) for b, v, _, label in CELL.findall(zh["chat"].detail))
    assert cells["C-Eval"][1] == "predicted" and abs(cells["C-Eval"][0] - 55) < 5
    assert zh["chat"].sd < zh["alone"].sd
    assert recs["base"].tuning == "base" and "for fine-tuning" in " ".join(recs["base"].caveats)


def test_no_candidate_gives_empty_list_not_error() -> None:
    result = recommend(load_catalog(), Request(gpu=parse_gpu("100MB"), purpose="commercial"))
    assert result.recommendations == []
    assert {e.constraint for e in result.excluded} <= {
        "memory", "license", "context", "size", "architecture", "deployment",
    }  # fmt: skip


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
    assert get_profile("commercial").precisions == ("fp16", "int8", "int4")
    assert get_profile("edge").precisions == ("int8", "int4")
    # each practice line is the sentence as written, not a mapping YAML made of its ': '
    learning = get_profile("learning").practice[0]
    assert learning == ("Learning on a free GPU (Colab T4 16GB, a 24GB card) means what fits "
                        "it: 7B-8B class, quantized when needed.")  # fmt: skip


def test_a_practice_line_that_yaml_reads_as_a_mapping_is_an_error(tmp_path: Path) -> None:
    text = (PURPOSES / "commercial.yaml").read_text(encoding="utf-8")
    (tmp_path / "commercial.yaml").write_text(
        text + "  - Small budgets mean: quantized models.\n", encoding="utf-8"
    )
    with pytest.raises(LLMSelectError, match="practice item .* is not text"):
        load_profiles(tmp_path)


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
    with pytest.raises(LLMSelectError, match="--max-params"):
        recommend(
            load_catalog(), Request(gpu=parse_gpu("24GB"), purpose="commercial", max_params_b=0)
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


@pytest.mark.parametrize(
    "text",
    ["fr=1", "zh=x", "zh=0,en=0", "zh=-1", "zh=inf", "zh=nan", "zh=1e308,en=1e308", "zh=",
     "", " ", "zh=0.5,zh=0.5"],
)  # fmt: skip
def test_bad_lang_mix(text: str) -> None:
    with pytest.raises(LLMSelectError, match="--lang"):
        parse_lang_mix(text)


def test_empty_evidence_is_default() -> None:
    assert load_evidence(Path("/nonexistent/store")) == Evidence()


# The requests: qwen2.5-0.5b-instruct ranks at fp16 on an H100 (4096 tokens; f16 for
# llama.cpp), qwen3-14b at int4 on a T4 under either engine (q4_k_m for llama.cpp).
REQUESTS = {
    "h100": ("H100", "transformers", "qwen2.5-0.5b-instruct", 100),
    "t4": ("T4", "transformers", "qwen3-14b", 10),
    "t4-cpp": ("T4", "llama.cpp", "qwen3-14b", 10),
    "h100-cpp": ("H100", "llama.cpp", "qwen2.5-0.5b-instruct", 100),
}
# One timing per case, stored at (dtype, context) by an engine at tok/s: the floor's verdict,
# and what the caveat (or the exclusion) says
SETTING_CASES = """
h100     | fp16   | 4096 | transformers | 250 | verified     | -
h100     | bf16   | 4096 | reference    | 250 | not verified | reference engine, not the transformers it is ranked for
h100     | bf16   | 4096 | reference    | 50  | not verified | decides nothing of it
h100     | bf16   | 512  | transformers | 250 | not verified | 512 tokens of context, fewer than 4096: an upper bound
h100     | bf16   | 512  | transformers | 50  | excluded     | < 100 tok/s
h100     | fp32   | 8192 | transformers | 150 | verified     | -
h100     | fp32   | 8192 | transformers | 50  | not verified | fp32, wider than the fp16 it is ranked at: a lower bound
t4       | bf16   | 4096 | transformers | 5   | not verified | bf16, not the int4 it is ranked at
t4-cpp   | f16    | 4096 | llama.cpp    | 12  | verified     | -
t4-cpp   | f16    | 4096 | llama.cpp    | 5   | not verified | f16, wider than the q4_k_m it is ranked at
t4-cpp   | q4_k_m | 4096 | llama.cpp    | 5   | excluded     | 5.0 tok/s (measured on T4: q4_k_m, llama.cpp engine
t4-cpp   | q8_0   | 4096 | llama.cpp    | 12  | not verified | q8_0, not the q4_k_m it is ranked at
h100-cpp | f16    | 4096 | llama.cpp    | 250 | verified     | -
h100-cpp | bf16   | 4096 | llama.cpp    | 250 | not verified | bf16, not the f16 it is ranked at
"""  # noqa: E501
GPU_NAMES = {"H100": H100_NAME, "T4": "Tesla T4"}


@pytest.mark.parametrize("case", SETTING_CASES.strip().splitlines())
def test_a_timing_decides_the_speed_floor_only_in_the_setting_the_model_is_ranked_at(
    tmp_path: Path, case: str
) -> None:
    """A decode timing stored as ``perf measure`` stores it decides the floor both ways only at
    the ranked precision, engine and context; a longer context or a wider float (under
    llama.cpp, a float against the GGUF type ranked) is a lower bound that can verify but never
    exclude, a shorter context an upper bound that can exclude but never verify; another
    engine (our reference decoder included), an int4 ranking against a 16-bit transformers
    timing, or another GGUF type decides nothing. What does not decide is shown with its
    setting and the caveat says why; the model's rank on its bound never moves."""
    name, dtype, seq, timed_by, rate, verdict, says = (f.strip() for f in case.split("|"))
    gpu, engine, mid, floor = REQUESTS[name]
    tok_s = float(rate)
    record = _decode_record("20261105T000000Z-set000", 1000 / tok_s, "cuda", GPU_NAMES[gpu], mid,
                            f"bs=1,seq={seq},dtype={dtype}", timed_by)  # fmt: skip
    ev = _store(tmp_path, [record])
    request = Request(gpu=parse_gpu(gpu), purpose="commercial", engine=engine,
                      min_tokens_per_s=floor)  # fmt: skip
    result = recommend(load_catalog(), request, ev)
    by_id = {r.model_id: r for r in result.recommendations}
    if verdict == "excluded":
        (gone,) = [e for e in result.excluded if e.model_id == mid]
        assert gone.constraint == "throughput" and gone.kind == "measured"
        assert says in gone.reason and ", batch 1) < " in gone.reason
        return
    rec = by_id[mid]
    assert rec.precision == ("fp16" if gpu == "H100" else "int4")
    assert rec.speed_floor == verdict
    speed = next(t for t in rec.terms if t.name == "speed")
    assert speed.components["measured tok/s"] == pytest.approx(tok_s)
    assert f"{tok_s:.1f} tok/s measured on {GPU_NAMES[gpu]} ({dtype}, {timed_by} engine" in (
        speed.detail
    )
    floor_caveats = [c for c in rec.caveats if c.startswith(f"speed floor {floor} tok/s")]
    if verdict == "verified":
        assert not floor_caveats
        return
    (caveat,) = floor_caveats
    assert f"{tok_s:.1f} tok/s at {dtype}, {timed_by} engine" in caveat and says in caveat
    assert caveat.endswith("is only an upper bound")
    empty = recommend(load_catalog(), request).recommendations
    assert [(r.model_id, r.score) for r in empty] == [
        (r.model_id, r.score) for r in result.recommendations
    ]
