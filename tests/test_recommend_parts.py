"""Each named constraint and score term of the recommender, on its own.

Models are real catalog entries or real config.json architectures (``_real_archs``); expected
values come from the catalog, the license table, the exact parameter count and datasheets.
"""

from __future__ import annotations

from typing import Any

import pytest
from _real_archs import REAL

from llmselect.arch.count import count_params
from llmselect.catalog import Catalog, ModelSpec, load_catalog
from llmselect.hardware import parse_gpu
from llmselect.recommend import Evidence, Request
from llmselect.recommend.constraints import (
    CONSTRAINTS,
    Candidate,
    architecture_constraint,
    context_constraint,
    finetune_constraint,
    license_constraint,
    memory_constraint,
    size_constraint,
    throughput_constraint,
)
from llmselect.recommend.evidence import Value, load_baseline
from llmselect.recommend.pipeline import Query, resolve
from llmselect.recommend.terms import (
    TERMS,
    cost_term,
    quality_term,
    scale_term,
    score_and_coverage,
    speed_term,
    tokenizer_term,
)

GIB = 1024**3


def query(gpu: str = "24GB", purpose: str = "commercial", ev: Evidence | None = None, **kw: Any):
    request = Request(gpu=parse_gpu(gpu), purpose=purpose, **kw)
    return resolve(load_catalog(), request, ev or Evidence())


def candidate(model_id: str) -> Candidate:
    return Candidate.of(load_catalog().get(model_id))


def moe_model(arch_name: str, **kw: Any) -> ModelSpec:
    return ModelSpec.model_validate(
        {
            "id": arch_name,
            "name": arch_name,
            "family": "test",
            "context_length": 32768,
            "arch": REAL[arch_name].model_dump(),
            "license": {"id": "apache-2.0", "commercial": "yes", "source": "test"},
            "tokenizer": "qwen2",
            **kw,
        }
    )


def test_pipeline_order_is_the_documented_one() -> None:
    assert [c.name for c in CONSTRAINTS] == [
        "license", "architecture", "size", "context", "memory", "finetune", "throughput",
    ]  # fmt: skip
    assert list(TERMS) == ["quality_zh", "quality_en", "scale", "tokenizer", "speed", "cost"]


def test_license_constraint_follows_the_license_table() -> None:
    q = query()
    why = license_constraint(candidate("llama-7b"), q)
    assert why is not None and why.endswith("does not allow commercial use")
    apache = candidate("qwen2.5-7b")
    assert license_constraint(apache, q) is None and apache.license.allowed == "yes"
    conditional = candidate("chatglm3-6b")
    assert license_constraint(conditional, q) is None
    assert conditional.caveats and "conditional" in conditional.caveats[0]


def test_architecture_constraint_names_what_is_missing() -> None:
    q = query()
    for model in load_catalog():
        c = Candidate.of(model)
        why = architecture_constraint(c, q)
        if model.arch is None:
            assert why is not None and why.startswith("architecture unknown")
        elif model.arch.family != "other":
            assert why is None and c.count == count_params(model.arch)


def test_size_constraint_uses_the_exact_count() -> None:
    q = query(purpose="student")  # 7.9B cap
    c = candidate("qwen2.5-7b")
    assert c.count is not None and c.count.total == 7_615_616_512  # 7.62B, model card
    assert size_constraint(c, q) is None
    q_cap = query(max_params_b=7.6)
    assert size_constraint(c, q_cap) == "7.62B parameters (exact) > 7.6B --max-params"


def test_context_constraint() -> None:
    q = query(context=32768)
    assert context_constraint(candidate("qwen2.5-7b"), q) is None  # 32768 in config
    why = context_constraint(candidate("llama-2-7b"), q)
    assert why == "context window 4096 tokens < 32768 needed"


def test_memory_constraint_picks_the_first_precision_that_fits() -> None:
    q = query("24GB")
    c = candidate("qwen2.5-14b")  # 14.77B: 29.5 GB of bf16 weights alone
    assert memory_constraint(c, q) is None
    assert [f.precision for f in c.tried] == ["fp16", "int8"]
    assert not c.tried[0].fits and c.fit is c.tried[1]
    assert c.fit.parts_gib["weights"] > 14.77e9 / GIB  # int8 + per-channel scales + fp16 rest
    big = candidate("llama-2-70b")
    why = memory_constraint(big, q)
    assert why is not None and "even at int4 (4096 tokens)" in why


def test_memory_constraint_sizes_moe_by_all_experts() -> None:
    """Qwen3-30B-A3B: 30.5B parameters held in memory though 3.3B are active."""
    c = Candidate.of(moe_model("qwen3-30b-a3b"))
    q = query("24GB")
    assert memory_constraint(c, q) is None and c.fit.precision == "int4"
    assert c.fit.parts_gib["weights"] * GIB > 30.5e9 * 0.5  # every expert, 4 bits and more


def test_finetune_constraint_calls_the_cost_model() -> None:
    from llmselect.cost.finetune import FinetuneSetup, finetune_memory

    q = query("24GB", finetune="full", context=2048)
    c = candidate("qwen2.5-7b")
    expected = finetune_memory(c.model, FinetuneSetup("full", seq=2048, gpus=1))
    why = finetune_constraint(c, q)
    assert c.finetune.per_gpu_gib == pytest.approx(expected.per_gpu_gib)
    assert why is not None and f"{expected.per_gpu_gib:.1f} GiB per GPU" in why
    small = candidate("qwen2.5-0.5b")
    assert finetune_constraint(small, query("24GB", finetune="qlora")) is None


def test_finetune_constraint_sizes_dense_models_of_family_other() -> None:
    """Llama-3.2-3B has no reference family; its common-layout count reproduces the recorded
    total (transformers on the meta device), so fine-tuning memory is estimated, not refused."""
    c = candidate("llama-3.2-3b")
    assert c.model.arch.family == "other"
    assert finetune_constraint(c, query("24GB", finetune="lora", context=2048)) is None
    assert c.finetune is not None and c.finetune.params_total == c.model.params_exact


def test_throughput_constraint_uses_the_roofline_over_active_weights() -> None:
    q = query("H100", min_tokens_per_s=100.0)  # 3.35 TB/s (H100 SXM datasheet)
    dense = candidate("qwen2.5-32b")  # 65.5 GB of bf16 weights read per token: ~50 tok/s
    memory_constraint(dense, q)
    why = throughput_constraint(dense, q)
    assert why is not None and "tok/s (estimated) < 100 tok/s floor" in why
    moe = Candidate.of(moe_model("qwen3-30b-a3b"))
    memory_constraint(moe, q)
    assert throughput_constraint(moe, q) is None  # reads ~3.3B active parameters per token
    assert moe.speed.raw > 3 * dense.speed.raw


def test_quality_term_measured_first_then_published() -> None:
    ev = Evidence(scores={("yi-6b", "CMMLU"): Value(12.5, "measured", "store: run r1")})
    q = query(ev=ev)
    c = candidate("yi-6b")
    term = quality_term("zh")(c, q)
    published_ceval = [s.value for s in c.model.scores if s.benchmark == "C-Eval"]
    assert term.components["CMMLU"] == 12.5
    assert term.components["C-Eval"] == pytest.approx(sum(published_ceval) / len(published_ceval))
    assert term.kind == "measured+published" and term.coverage == 1.0


def test_quality_term_without_scores_is_missing_not_zero() -> None:
    c = Candidate.of(moe_model("qwen3-30b-a3b"))
    term = quality_term("en")(c, query())
    assert term.raw is None and term.kind == "missing" and term.coverage == 0.0


def test_scale_term_is_the_exact_count_with_active_parameters() -> None:
    c = Candidate.of(moe_model("qwen3-30b-a3b"))
    term = scale_term(c, query())
    count = count_params(REAL["qwen3-30b-a3b"])
    assert term.raw == count.total / 1e9 and term.kind == "published"
    assert f"{count.active / 1e9:.2f}B active" in term.detail


def test_tokenizer_term_reads_the_shipped_baseline() -> None:
    baseline = load_baseline()
    q = query(lang={"zh": 0.7, "en": 0.3})
    term = tokenizer_term(candidate("qwen2.5-7b"), q)
    expected = 0.7 * baseline.values[("qwen2", "zh")] + 0.3 * baseline.values[("qwen2", "en")]
    assert term.raw == pytest.approx(expected) and term.kind == "measured"
    assert "FLORES-200" in (term.source or "")
    unknown = Candidate.of(moe_model("qwen3-30b-a3b", tokenizer=None))
    assert tokenizer_term(unknown, q).raw is None


def test_speed_and_cost_terms() -> None:
    q = query("4090")  # 1008 GB/s (Ada whitepaper)
    c = candidate("qwen2.5-7b")
    memory_constraint(c, q)
    speed = speed_term(c, q)
    assert speed.unit == "tok/s" and speed.kind == "estimated"
    assert speed.raw == pytest.approx(q.request.gpu.bandwidth_gbs / c.fit.read_per_token_gb)
    cost = cost_term(c, q)
    assert cost.raw == c.fit.total_gib and cost.kind == "estimated"


def test_score_is_the_weighted_mean_of_terms_with_evidence() -> None:
    q = query()
    c = candidate("qwen2.5-7b")
    memory_constraint(c, q)
    terms = [TERMS[n](c, q) for n in TERMS if n in q.weights]
    for t, norm in zip(terms, (None, 0.5, 1.0, 0.25, 0.0, 1.0), strict=True):
        t.norm, t.weight = norm, q.weights[t.name]
        t.contribution = (norm or 0.0) * t.weight
    score, coverage = score_and_coverage(terms)
    present = [t for t in terms if t.norm is not None]
    assert score == pytest.approx(
        sum(t.norm * t.weight for t in present) / sum(t.weight for t in present)
    )
    # coverage: the weight with evidence, quality counted per benchmark present
    assert coverage == pytest.approx(sum(t.weight * t.coverage for t in present))
    assert coverage <= 1 - q.weights["quality_zh"] + 1e-9


def test_query_resolves_profile_defaults() -> None:
    q = query("cpu:16GB", purpose="student")
    assert isinstance(q, Query)
    assert q.context == 2048 and q.precisions == ("int8", "int4") and q.corpus == "flores200"
    assert isinstance(q.catalog, Catalog)
