"""Training and fine-tuning cost: checked against published runs, tables and exact counts."""

from __future__ import annotations

import pytest

from llmselect.arch.count import count_params
from llmselect.catalog import load_catalog
from llmselect.cost.compute import (
    DEFAULT_MFU,
    estimate_training,
    parse_count,
    peak_tflops,
    require_arch,
    train_compute,
)
from llmselect.cost.finetune import (
    FinetuneSetup,
    finetune_flops_per_token,
    finetune_memory,
    finetune_time,
    lora_params,
)
from llmselect.cost.published import load_published, memory_rows, training_rows
from llmselect.errors import LLMSelectError
from llmselect.hardware import find_gpu, load_gpus, parse_gpu

GIB = 1024**3


def arch_of(model_id: str):  # type: ignore[no-untyped-def]
    return require_arch(load_catalog().get(model_id))


def model_of(model_id: str):  # type: ignore[no-untyped-def]
    return load_catalog().get(model_id)


# --------------------------------------------------------------------------- GPU table


@pytest.mark.parametrize(
    ("name", "bf16", "fp8"),
    [
        # dense figures as printed in each cited datasheet (sparse figures halved)
        ("A100-80G", 312, None),
        ("H100", 989, 1979),
        ("H800", 989, 1979),
        ("H20", 148, 296),
        ("L40S", 362.05, 733),
        ("4090", 165.2, 330.3),
        ("MI300X", 1307.4, 2614.9),
    ],
)
def test_gpu_table_has_dense_peaks_with_sources(name: str, bf16: float, fp8: float | None) -> None:
    gpu = find_gpu(name)
    assert gpu is not None
    assert gpu.bf16_tflops == bf16 and gpu.fp8_tflops == fp8
    assert any(word in gpu.source for word in ("datasheet", "data sheet", "whitepaper"))


def test_every_gpu_cites_a_source_and_910b_says_its_figure_is_secondary() -> None:
    for gpu in set(load_gpus().values()):
        assert gpu.source.strip(), gpu.name
        assert gpu.bf16_tflops or gpu.fp16_tflops, gpu.name
    ascend = find_gpu("910B")
    assert ascend is not None and ascend.fp16_tflops == 320 and ascend.bf16_tflops is None
    assert "secondary" in (ascend.note or "")
    with pytest.raises(LLMSelectError, match="no published dense bf16 peak; it has fp16"):
        peak_tflops(ascend, "bf16")
    assert parse_gpu("910B").name == "Ascend-910B"  # a GPU name, not "910 bytes"
    # auto: bf16 where the GPU has it, fp16 on T4/V100/910B; the result says which
    model = load_catalog().get("llama-2-7b")
    assert estimate_training(model, ascend, 1e12).dtype == "fp16"
    assert estimate_training(model, find_gpu("T4"), 1e12).peak_tflops == 65
    assert estimate_training(model, find_gpu("H20"), 1e12).dtype == "bf16"


# --------------------------------------------------------------------------- compute


def test_exact_parameter_counts_of_the_published_llama_rows() -> None:
    # totals of the released checkpoints (safetensors index metadata / model cards)
    assert count_params(arch_of("llama-2-70b")).total == 68_976_648_192
    assert count_params(arch_of("llama-3.1-70b")).total == 70_553_706_496
    assert count_params(arch_of("meta-llama-3-70b")).total == 70_553_706_496
    assert abs(count_params(arch_of("llama-65b")).total / 65.2e9 - 1) < 0.005  # paper: 65.2B
    assert abs(count_params(arch_of("llama-3.1-405b")).total / 405e9 - 1) < 0.005


def test_six_n_d_matches_the_llama3_papers_flop_budget() -> None:
    # Llama 3 paper §3.2.1: the 405B flagship was trained with 3.8 × 10^25 FLOPs on 15.6T tokens
    comp = train_compute(model_of("llama-3.1-405b"), 15.6e12, 8192, "total", attention=False)
    assert comp.total_flops == pytest.approx(3.8e25, rel=0.01)
    non_emb = train_compute(model_of("llama-3.1-405b"), 15.6e12, 8192, "non-embedding")
    assert non_emb.params_counted < comp.params_counted
    # the attention term is what long sequences add: +8 % at 8k tokens for 405B
    full = train_compute(model_of("llama-3.1-405b"), 15.6e12, 8192, "total")
    assert full.attention_flops_per_token / full.dense_flops_per_token == pytest.approx(
        12 * 126 * 8192 * 16384 / (6 * comp.params_counted)
    )


def test_published_gpu_hours_are_reproduced_within_5_percent() -> None:
    rows = {r.model_id: r for r in training_rows()}
    assert set(rows) == {
        "llama-65b", "llama-2-70b", "meta-llama-3-70b", "llama-3.1-70b", "llama-3.1-405b",
        "deepseek-v3-base",
    }  # fmt: skip
    for row in rows.values():
        assert abs(row.rel_diff) < 0.05, (row.label, row.rel_diff, row.mfu_basis)
        assert 0.2 < row.implied_mfu < 0.6, row.label  # a factor-2 slip would leave this band
    # LLaMA-1: the MFU comes from the paper's own 380 tokens/s/GPU, not from the GPU-hours
    assert "380 tokens/s/GPU" in rows["llama-65b"].mfu_basis
    # Llama-3.1-405B: the paper's reported MFU (38-43 %), low end
    assert rows["llama-3.1-405b"].mfu_used == 0.38


def test_deepseek_v3s_published_hours_need_its_active_parameters() -> None:
    """DeepSeek-V3 report, Table 1: 2,664K H800 GPU-hours for 14.8T pre-training tokens (FP8
    GEMMs). 6·N with N = the 37B active parameters gives an MFU a real cluster reaches; with the
    671B total the same hours would need more than the GPU's peak."""
    (row,) = [r for r in training_rows() if r.model_id == "deepseek-v3-base"]
    assert row.published_gpu_hours == 2.664e6 and "2412.19437" in row.source
    comp = train_compute(model_of("deepseek-v3-base"), 14.8e12, 4096)
    assert comp.params_counted == pytest.approx(37e9, rel=0.03)  # "37B activated"
    assert comp.params_total == pytest.approx(671e9, rel=0.005)  # "671B total"
    assert comp.total_flops == row.total_flops
    assert 0.15 < row.implied_mfu < 0.6
    h800 = find_gpu("H800")
    assert h800 is not None
    with_total = 6 * comp.params_total * 14.8e12
    assert with_total / (h800.fp8_tflops * 1e12 * row.published_gpu_hours * 3600) > 1


def test_stated_mfus_are_what_the_published_hours_imply() -> None:
    implied = {r.model_id: r.implied_mfu for r in training_rows()}
    for run in load_published()["training_runs"]:
        if "stated_mfu" in run:
            assert run["stated_mfu"] == round(implied[run["model"]], 2), run["model"]


def test_llama2_70b_training_estimate_wall_clock_energy_and_cost() -> None:
    gpu = find_gpu("A100-80G")
    assert gpu is not None
    est = estimate_training(
        load_catalog().get("llama-2-70b"), gpu, parse_count("2T"), seq=4096, gpus=2048,
        mfu=0.46, power_w=400, price_per_gpu_hour=1.5,
    )  # fmt: skip
    assert est.gpu_hours == pytest.approx(1_720_320, rel=0.05)  # Llama 2 paper, Table 2
    assert est.wall_clock_days == pytest.approx(est.gpu_hours / 2048 / 24)
    assert est.energy_mwh == pytest.approx(est.gpu_hours * 400 / 1e6)
    assert est.cost == pytest.approx(est.gpu_hours * 1.5)
    default = estimate_training(load_catalog().get("llama-2-70b"), gpu, 2e12)
    assert default.mfu == DEFAULT_MFU and "Table 4" in default.mfu_source


@pytest.mark.parametrize(
    ("text", "value"),
    [("2T", 2e12), ("1.4t", 1.4e12), ("500B", 5e11), ("3e9", 3e9), ("20_000", 2e4)],
)
def test_token_counts(text: str, value: float) -> None:
    assert parse_count(text) == value


@pytest.mark.parametrize("text", ["-2T", "0", "two", "2X", ""])
def test_bad_token_counts(text: str) -> None:
    with pytest.raises(LLMSelectError):
        parse_count(text)


def test_bad_training_inputs_are_one_line_errors() -> None:
    model, gpu = load_catalog().get("llama-2-7b"), find_gpu("H100")
    assert gpu is not None
    with pytest.raises(LLMSelectError, match="--mfu"):
        estimate_training(model, gpu, 1e12, mfu=0)
    with pytest.raises(LLMSelectError, match="--mfu"):
        estimate_training(model, gpu, 1e12, mfu=1.5)
    with pytest.raises(LLMSelectError, match="fp8"):
        estimate_training(model, find_gpu("A100-80G"), 1e12, dtype="fp8")  # Ampere: no FP8
    with pytest.raises(LLMSelectError, match="--params"):
        estimate_training(model, gpu, 1e12, basis="active")
    unknown = next(m for m in load_catalog() if m.arch is None)
    with pytest.raises(LLMSelectError, match="architecture unknown"):
        estimate_training(unknown, gpu, 1e12)


# --------------------------------------------------------------------------- fine-tuning memory


def test_lora_adapter_count_matches_peft_for_llama2_7b() -> None:
    # PEFT print_trainable_parameters for Llama-2-7b, r=16 on q,k,v,o,gate,up,down:
    # "trainable params: 39,976,960"
    assert lora_params(arch_of("llama-2-7b"), rank=16) == 39_976_960


def test_memory_is_within_15_percent_of_llama_factory_for_7b_8b_and_70b() -> None:
    rows = memory_rows()
    checked = 0
    for row in rows:
        per_b_rule = "x (" in row.size
        if per_b_rule and row.setup["method"] != "full":
            # the per-billion column counts weights only; for a 128k-vocabulary 8B model the
            # unquantized embeddings and fp32 logits it leaves out are several GB
            assert row.estimated_gb > row.published_gb
            continue
        assert abs(row.rel_diff) < 0.15, (row.method_label, row.size, row.model_id, row.rel_diff)
        checked += 1
    sizes = {(r.model_id, r.method_label) for r in rows}
    assert ("llama-2-7b", "QLoRA, 4-bit") in sizes and ("llama-2-70b", "QLoRA, 4-bit") in sizes
    assert checked >= 17


def test_parts_and_order_of_methods() -> None:
    model = model_of("llama-2-7b")
    full = finetune_memory(model, FinetuneSetup("full"))
    lora = finetune_memory(model, FinetuneSetup("lora"))
    qlora = finetune_memory(model, FinetuneSetup("qlora"))
    params = count_params(model.arch).total
    assert full.parts_gib["weights"] == pytest.approx(params * 6 / GIB, abs=1e-3)  # fp32 + bf16
    assert full.parts_gib["optimizer states"] == pytest.approx(params * 8 / GIB, abs=1e-3)
    assert lora.parts_gib["weights"] == pytest.approx(params * 2 / GIB, abs=1e-3)
    assert qlora.total_gib < lora.total_gib < full.total_gib
    assert qlora.per_gpu_gib < 15  # QLoRA of a 7B model fits a 16 GB T4
    assert lora.trainable_params == 39_976_960 and full.trainable_params == params


def test_zero_stages_shard_what_they_promise() -> None:
    model = model_of("llama-2-70b")
    one = finetune_memory(model, FinetuneSetup("full", gpus=8, zero=0)).parts_gib
    for stage, sharded in ((1, {"optimizer states"}), (2, {"optimizer states", "gradients"}),
                           (3, {"optimizer states", "gradients", "weights"})):  # fmt: skip
        parts = finetune_memory(model, FinetuneSetup("full", gpus=8, zero=stage)).parts_gib
        for name in ("weights", "gradients", "optimizer states"):
            expected = one[name] / 8 if name in sharded else one[name]
            assert parts[name] == pytest.approx(expected, rel=1e-3), (stage, name)
        assert parts["activations"] == one["activations"]  # per GPU, never sharded
    assert finetune_memory(model, FinetuneSetup("full", gpus=8)).setup["zero"] == 3  # FSDP default


def test_checkpointing_trades_memory_for_a_recomputed_forward() -> None:
    model = model_of("llama-2-7b")
    on = FinetuneSetup("lora", seq=256, batch=8)
    off = FinetuneSetup("lora", seq=256, batch=8, checkpointing=False)
    assert finetune_memory(model, on).per_gpu_gib < finetune_memory(model, off).per_gpu_gib
    n = count_params(model.arch).total
    # LoRA without checkpointing: forward + backward to activations = 4·N (+ adapters, attention)
    assert finetune_flops_per_token(model, off) == pytest.approx(4 * n, rel=0.1)
    assert finetune_flops_per_token(model, on) > finetune_flops_per_token(model, off)
    full = FinetuneSetup("full", seq=256, checkpointing=False)
    assert finetune_flops_per_token(model, full) == pytest.approx(6 * n, rel=0.1)


def test_time_per_epoch_uses_the_same_compute_model() -> None:
    model, gpu = model_of("llama-2-7b"), find_gpu("H100")
    assert gpu is not None
    setup = FinetuneSetup("full", gpus=8, checkpointing=False)
    t = finetune_time(model, setup, gpu, 1e9, mfu=0.4)
    assert t.gpu_hours == pytest.approx(
        finetune_flops_per_token(model, setup) * 1e9 / (989e12 * 0.4) / 3600
    )
    assert t.wall_clock_hours == pytest.approx(t.gpu_hours / 8)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (FinetuneSetup("dora"), "unknown fine-tuning method"),
        (FinetuneSetup("lora", lora_rank=8192), "does not fit this model"),
        (FinetuneSetup("qlora", quant_bits=3), "--quant-bits"),
        (FinetuneSetup("qlora", precision="fp32"), "qlora computes in bf16"),
        (FinetuneSetup("full", zero=4), "ZeRO stage"),
        (FinetuneSetup("full", seq=0), "--seq"),
        (FinetuneSetup("full", optimizer="lion"), "--optimizer"),
    ],
)
def test_bad_finetune_setups(setup: FinetuneSetup, message: str) -> None:
    with pytest.raises(LLMSelectError, match=message):
        finetune_memory(model_of("llama-2-7b"), setup)


def test_recommender_uses_the_same_estimate() -> None:
    from llmselect.recommend import Request, recommend

    result = recommend(
        load_catalog(), Request(gpu=parse_gpu("2x80GB"), purpose="commercial", finetune="lora")
    )
    assert result.recommendations
    for rec in result.recommendations[:5]:
        seq = min(result.request["context"], 2048)
        ours = finetune_memory(model_of(rec.model_id), FinetuneSetup("lora", seq=seq, gpus=2))
        assert rec.finetune is not None
        assert rec.finetune["per_gpu_gib"] == pytest.approx(ours.per_gpu_gib, abs=0.01)
    reasons = [e for e in result.excluded if e.constraint == "finetune"]
    # no fit, no architecture, or an architecture (MoE, latent attention) not modelled yet
    allowed = ("per GPU", "architecture unknown", "not modelled")
    assert reasons and all(any(a in e.reason for a in allowed) for e in reasons), [
        e.reason for e in reasons if not any(a in e.reason for a in allowed)
    ]


def test_report_shows_the_published_rows_beside_ours_and_round_trips() -> None:
    from datetime import datetime, timezone

    from llmselect.report import (
        COST_TITLE,
        Report,
        build_report,
        render_html,
        render_json,
        render_markdown,
        standard_cost_tables,
    )

    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    report = build_report([], None, None, now, cost=standard_cost_tables())
    md = render_markdown(report)
    assert f"## {COST_TITLE}" in md
    assert "| Llama-2 70B | A100-80G | 2T | 1,720,320 |" in md  # published, beside ours
    assert "LLaMA-Factory" in md and "| QLoRA, 4-bit | 70B | llama-2-70b | 48.0 |" in md
    assert 'id="cost"' in render_html(report)
    again = Report.model_validate_json(render_json(report))
    assert render_markdown(again) == md
    plain = build_report([], None, None, now)  # reports without the tables stay as they were
    assert plain.cost is None and COST_TITLE not in render_markdown(plain)
    assert '"cost"' not in render_json(plain)


def test_mixture_of_experts_compute_uses_the_active_parameters() -> None:
    from types import SimpleNamespace

    from tests._real_archs import REAL

    gpu = find_gpu("H100")
    assert gpu is not None
    mixtral = SimpleNamespace(id="mixtral", arch=REAL["mixtral-8x7b"], params_exact=None)
    est = estimate_training(mixtral, gpu, 1e12)
    # Mixtral paper (arXiv:2401.04088): 47B parameters, 13B active per token
    assert est.compute.params_total == pytest.approx(46.7e9, rel=0.01)
    assert est.compute.params_counted == pytest.approx(12.9e9, rel=0.01)
    assert "active" in est.compute.param_basis
    # latent attention: keys qk_nope + qk_rope wide, values v_head_dim, per head
    lite = SimpleNamespace(id="lite", arch=REAL["deepseek-v2-lite"], params_exact=None)
    comp = train_compute(lite, 1e12, 4096)
    assert comp.attention_flops_per_token == 6 * 27 * 4096 * 16 * (128 + 64 + 128)
    with pytest.raises(LLMSelectError, match="not modelled yet"):
        finetune_memory(mixtral, FinetuneSetup("lora"))
