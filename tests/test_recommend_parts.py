"""Each named constraint and score term of the recommender, on its own.

Models are real catalog entries or real config.json architectures (``_real_archs``); expected
values come from the catalog, the license table, the exact parameter count and datasheets.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from _real_archs import REAL

from llmselect.arch.count import count_params
from llmselect.catalog import Catalog, ModelSpec, load_catalog
from llmselect.hardware import parse_gpu
from llmselect.recommend import Evidence, Request
from llmselect.recommend.constraints import (
    Candidate,
    architecture_constraint,
    constraints,
    context_constraint,
    deployment_constraint,
    finetune_constraint,
    license_constraint,
    memory_constraint,
    size_constraint,
    throughput_constraint,
)
from llmselect.recommend.evidence import Value, load_baseline
from llmselect.recommend.pipeline import Query, resolve
from llmselect.recommend.score import score_of
from llmselect.recommend.terms import (
    cost_term,
    quality_term,
    scale_term,
    speed_term,
    tokenizer_term,
)
from llmselect.registry import SCORE_TERMS

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
    assert [c.name for c in constraints()] == [
        "license", "architecture", "deployment", "size", "context", "memory", "finetune",
        "throughput",
    ]  # fmt: skip
    assert SCORE_TERMS.names() == [
        "quality_zh",
        "quality_en",
        "scale",
        "tokenizer",
        "speed",
        "cost",
    ]
    declared = {n: SCORE_TERMS.load(n) for n in SCORE_TERMS.names()}
    assert declared["cost"].direction == "lower" and declared["scale"].direction == "profile"
    assert declared["quality_zh"].reads == ("quality",)


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
    q = query(purpose="student")  # no parameter cap: a budget
    c = candidate("qwen2.5-7b")
    assert c.count is not None and c.count.total == 7_615_616_512  # 7.62B, model card
    assert size_constraint(c, q) is None
    q_cap = query(max_params_b=7.6)
    assert size_constraint(c, q_cap) == "7.62B parameters (exact) > 7.6B --max-params"


def test_deployment_constraint_keeps_base_checkpoints_for_fine_tuning() -> None:
    base = candidate("qwen2.5-7b")  # tagged base in the catalog
    why = deployment_constraint(base, query(purpose="commercial"))
    assert why is not None and "for fine-tuning" in why
    assert deployment_constraint(candidate("qwen2.5-7b"), query(finetune="lora")) is None
    research = candidate("qwen2.5-7b")
    assert deployment_constraint(research, query(purpose="research")) is None
    assert "for fine-tuning" in research.caveats[0]
    assert deployment_constraint(candidate("qwen2.5-7b-instruct"), query()) is None


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
    assert why == (
        f"≤{dense.speed.raw:.1f} tok/s (estimated upper bound: the bandwidth roofline) < "
        "100 tok/s (--min-tokens-per-s)"
    )
    moe = Candidate.of(moe_model("qwen3-30b-a3b"))
    memory_constraint(moe, q)
    assert throughput_constraint(moe, q) is None  # reads ~3.3B active parameters per token
    assert moe.speed.raw > 3 * dense.speed.raw
    assert moe.speed_floor == "not verified"  # only its upper bound clears the floor
    assert any(c.startswith("speed floor 100 tok/s not verified") for c in moe.caveats)


CMMLU_DOCS = 11582  # the CMMLU test split in the data bundle, all 67 subjects


def lm_eval_stderr_pp(pct: float, n: int) -> float:
    """lm-eval's standard error of a mean accuracy (sample sd over √n), in points."""
    p = pct / 100
    return 100 * math.sqrt(p * (1 - p) / (n - 1))


def test_quality_term_measured_first_then_published() -> None:
    full = Value(12.5, "measured", "store: run r1", n=CMMLU_DOCS,
                 stderr=lm_eval_stderr_pp(12.5, CMMLU_DOCS))  # fmt: skip
    ev = Evidence(scores={("yi-6b", "CMMLU"): full})
    c = candidate("yi-6b")
    before = quality_term("zh")(c, query())
    term = quality_term("zh")(c, query(ev=ev))
    assert re.search(r"CMMLU [\d.]+±[\d.]+% measured \(.*12.5 [^)]*run by llmselect", term.detail)
    assert "11582 documents, lm-eval's standard error 0.31 pp; weighted as noise" in term.detail
    assert term.components["CMMLU"] < before.components["CMMLU"]  # pulled toward 12.5
    assert "C-Eval" in term.detail and "% published (" in term.detail
    assert term.kind == "measured+published" and term.coverage == 1.0


def test_a_measured_score_without_a_sampling_error_is_left_out_and_said_so() -> None:
    """No standard error and no interval: nothing says how far to trust it, so it moves
    nothing, the cell keeps its published label, and the detail says why."""
    bare = Value(12.5, "measured", "store: run r1")
    c = candidate("yi-6b")
    before = quality_term("zh")(c, query())
    term = quality_term("zh")(c, query(ev=Evidence(scores={("yi-6b", "CMMLU"): bare})))
    assert term.components == before.components and term.sd == before.sd
    assert term.kind == "published"
    assert re.search(r"CMMLU [\d.]+±[\d.]+% published \(.*12.5 %: .*run by llmselect; left out "
                     r"of the estimate: sampling error unknown, documents not counted; no "
                     r"standard error recorded", term.detail)  # fmt: skip
    # a standard error stored as 0 (all 3 documents alike, no interval kept) claims certainty
    zero = Value(100.0, "measured", "store: run r0", n=3, stderr=0.0)
    term = quality_term("zh")(c, query(ev=Evidence(scores={("yi-6b", "CMMLU"): zero})))
    assert term.components == before.components and term.kind == "published"
    assert (
        "left out of the estimate: sampling error unknown, 3 documents; standard error "
        "recorded as 0" in term.detail
    )


def test_a_measured_score_whose_record_states_no_shots_enters_as_not_stated() -> None:
    """A stored score without a count of shots (or a chat template flag) in its params enters as
    "shots not stated", the setting with that offset, and says the template is not stated: no
    default number of shots is assumed, and text is not read as a count."""
    from llmselect.recommend.evidence import score_value
    from llmselect.records import Measurement

    rec = Measurement(
        run_id="r1", model_id="yi-6b", probe="lm_eval_scores", metric="acc", value=12.5,
        unit="%", subset="cmmlu", n=CMMLU_DOCS, stderr=lm_eval_stderr_pp(12.5, CMMLU_DOCS),
        params={"num_fewshot": "5", "chat_template": "no"},
    )  # fmt: skip
    stated = score_value(rec.model_copy(update={"params": {"num_fewshot": 5}}), "store: run r1")
    unstated = score_value(rec, "store: run r1")
    assert (unstated.shots, unstated.chat_template, stated.shots) == (None, None, 5)
    c = candidate("yi-6b")
    term = quality_term("zh")(c, query(ev=Evidence(scores={("yi-6b", "CMMLU"): unstated})))
    assert "12.5 %: shots not stated, base, chat template not stated, run by llmselect" in (
        term.detail
    )
    other = quality_term("zh")(c, query(ev=Evidence(scores={("yi-6b", "CMMLU"): stated})))
    assert "12.5 %: 5-shot, base, chat template not stated, run by llmselect" in other.detail
    assert other.components["CMMLU"] != term.components["CMMLU"]  # another setting's offset


def test_quality_term_without_scores_is_predicted_with_a_wide_interval() -> None:
    c = Candidate.of(moe_model("qwen3-30b-a3b"))
    term = quality_term("en")(c, query())
    scored = quality_term("en")(candidate("qwen3-30b-a3b-base"), query())
    assert term.kind == "predicted" and term.coverage == 0.0 and term.raw is not None
    assert term.sd > 2 * scored.sd


def test_scale_term_is_the_exact_count_with_active_parameters() -> None:
    c = Candidate.of(moe_model("qwen3-30b-a3b"))
    term = scale_term(c, query())
    count = count_params(REAL["qwen3-30b-a3b"])
    assert term.raw == pytest.approx(math.log10(count.total)) and term.kind == "published"
    assert f"{count.total / 1e9:.2f}B parameters" in term.detail
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


def test_score_is_a_lower_quantile_of_the_weighted_terms() -> None:
    q = query()
    c = candidate("qwen2.5-7b-instruct")
    memory_constraint(c, q)
    terms = [SCORE_TERMS.load(n)(c, q) for n in SCORE_TERMS.names() if n in q.weights]
    for t, norm, sd in zip(terms, (0.9, 0.5, 1.0, 0.25, 0.0, 1.0), (0.1, 0.2, 0, 0, 0, 0),
                           strict=True):  # fmt: skip
        t.norm, t.norm_sd, t.weight = norm, sd, q.weights[t.name]
        t.contribution = norm * t.weight
    score, mean, sd = score_of(terms, risk=0.8)
    assert mean == pytest.approx(sum(t.norm * t.weight for t in terms))
    assert sd == pytest.approx(0.1 * q.weights["quality_zh"] + 0.2 * q.weights["quality_en"])
    assert score == pytest.approx(mean - 1.2815515655446004 * sd)
    assert score_of(terms, risk=0.0)[0] == pytest.approx(mean)


def test_query_resolves_profile_defaults() -> None:
    q = query("cpu:16GB", purpose="student")
    assert isinstance(q, Query)
    assert q.context == 2048 and q.precisions == ("int8", "int4") and q.corpus == "flores200"
    assert isinstance(q.catalog, Catalog)
