"""``llmselect cost train|finetune|published``: JSON output, published rows, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmselect.cli import app
from tests._cli import invoke_json, run_main, runner


def test_train_llama2_70b_reproduces_the_published_gpu_hours() -> None:
    data = invoke_json(
        ["cost", "train", "-m", "llama-2-70b", "--tokens", "2T", "--gpu", "A100-80G",
         "--gpus", "2048", "--seq", "4096", "--mfu", "0.46", "--power-w", "400", "--json"]
    )  # fmt: skip
    assert isinstance(data, dict)
    assert data["kind"] == "estimated" and data["compute"]["param_basis"] == "total"
    assert data["compute"]["params_counted"] == 68_976_648_192
    assert data["gpu_hours"] == pytest.approx(1_720_320, rel=0.05)  # Llama 2 paper, Table 2
    assert data["wall_clock_days"] == pytest.approx(data["gpu_hours"] / 2048 / 24)
    assert data["energy_mwh"] == pytest.approx(data["gpu_hours"] * 0.4 / 1000)
    assert data["cost"] is None  # no price given, no cost invented
    (row,) = data["published"]
    assert row["published_gpu_hours"] == 1_720_320 and "2307.09288" in row["source"]


def test_train_takes_a_count_prefix_and_non_embedding_parameters() -> None:
    data = invoke_json(
        ["cost", "train", "-m", "llama-2-7b", "--tokens", "500B", "--gpu", "8xH800",
         "--params", "non-embedding", "--dtype", "fp8", "--json"]
    )  # fmt: skip
    assert isinstance(data, dict)
    assert data["gpus"] == 8 and data["gpu"] == "H800" and data["peak_tflops"] == 1979
    assert data["compute"]["params_counted"] < data["compute"]["params_total"]


@pytest.mark.parametrize(
    ("model", "active", "total"),
    [
        # model cards: "30.5B in total and 3.3B activated"; "671B total, 37B activated"
        ("qwen3-30b-a3b", 3.3e9, 30.5e9),
        ("deepseek-v3", 37e9, 671e9),
    ],
)
def test_train_of_a_mixture_of_experts_counts_its_active_parameters(
    model: str, active: float, total: float
) -> None:
    data = invoke_json(
        ["cost", "train", "-m", model, "--tokens", "1T", "--gpu", "H800", "--json"]
    )  # fmt: skip
    assert isinstance(data, dict)
    c = data["compute"]
    assert "active" in c["param_basis"]
    assert c["params_counted"] == pytest.approx(active, rel=0.03)
    assert c["params_total"] == pytest.approx(total, rel=0.005)
    assert c["dense_flops_per_token"] == 6 * c["params_counted"]
    assert c["total_flops"] == pytest.approx(c["flops_per_token"] * 1e12)


def test_finetune_json_has_parts_fit_and_epoch_time() -> None:
    data = invoke_json(
        ["cost", "finetune", "-m", "qwen2.5-7b", "--method", "qlora", "--seq", "2048",
         "--batch", "8", "--gpu", "4090", "--tokens", "100M", "--json"]
    )  # fmt: skip
    assert isinstance(data, dict)
    assert data["kind"] == "estimated" and data["method"] == "qlora"
    assert {"weights", "adapters", "optimizer states", "activations", "runtime"} <= set(
        data["parts_gib"]
    )
    assert data["fits"] == (data["per_gpu_gib"] <= 24)
    assert data["epoch"]["gpu"] == "RTX-4090" and data["epoch"]["gpu_hours"] > 0


def _datasheet(gpu: str) -> str:
    """A GPU's source line, read from the shipped GPU table itself."""
    import yaml

    from llmselect.config import PACKAGE_DIR

    table = yaml.safe_load((PACKAGE_DIR / "data" / "gpus.yaml").read_text(encoding="utf-8"))
    (row,) = [g for g in table if g["name"] == gpu]
    return str(row["source"])


def test_finetune_epoch_says_where_its_mfu_and_peak_come_from() -> None:
    """The epoch time divided by an MFU it did not name as the assumed default, and by a peak
    without its datasheet."""
    args = ["cost", "finetune", "-m", "qwen3-8b", "--gpu", "H100", "--tokens", "100M"]
    default = invoke_json([*args, "--json"])
    given = invoke_json([*args, "--mfu", "0.4", "--json"])
    assert isinstance(default, dict) and isinstance(given, dict)
    assert default["epoch"]["mfu"] == given["epoch"]["mfu"] == 0.4
    assert "Llama 3 paper" in default["epoch"]["mfu_source"]
    assert "Table 4" in default["epoch"]["mfu_source"]
    assert given["epoch"]["mfu_source"] == "given (--mfu)"
    assert default["epoch"]["gpu_source"] == _datasheet("H100")
    assert "datasheet" in default["epoch"]["gpu_source"]
    from typer.testing import CliRunner

    from llmselect.cli import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "MFU 40% (assumed default, Llama 3 paper Table 4)" in text
    assert "989 TFLOP/s dense bf16 (published)" in text and "GPU source: NVIDIA H100" in text


def test_train_says_an_mfu_given_equal_to_the_default_is_given() -> None:
    args = ["cost", "train", "-m", "llama-2-7b", "--tokens", "1T", "--gpu", "H100", "--json"]
    default, given = invoke_json(args), invoke_json([*args, "--mfu", "0.4"])
    assert isinstance(default, dict) and isinstance(given, dict)
    assert "Table 4" in default["mfu_source"] and given["mfu_source"] == "given (--mfu)"


def test_train_of_qwen3_moe_by_hand_from_its_config() -> None:
    """Qwen3-30B-A3B on 1T tokens at 4096 on H100, every number worked from config.json and
    the datasheet: N = active parameters (8 of 128 experts), FLOPs = 6·N·D + 12·L·T·d_attn·D."""
    from pathlib import Path

    cfg = json.loads(
        (Path(__file__).parent / "data" / "configs" / "qwen3-30b-a3b-fp8.json").read_text()
    )
    d, layers, hd = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["head_dim"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    attention = d * q + 2 * d * kv + q * d + 2 * hd  # q, k, v, o projections; q/k norms
    experts = cfg["num_experts_per_tok"] * 3 * d * cfg["moe_intermediate_size"]  # gate/up/down
    router, norms = d * cfg["num_experts"], 2 * d
    embeddings = cfg["vocab_size"] * d * (1 if cfg["tie_word_embeddings"] else 2)
    n_active = layers * (attention + experts + router + norms) + d + embeddings
    assert n_active == 3_353_032_704  # the model card's "3.3B activated"
    seq, tokens = 4096, 1e12
    flops = (6 * n_active + 12 * layers * seq * q) * tokens
    peak = 1979e12 / 2  # datasheet: BF16 1,979 TFLOPS with sparsity; dense is half
    assert "BF16/FP16 1,979" in _datasheet("H100") and "dense is half" in _datasheet("H100")
    data = invoke_json(
        ["cost", "train", "-m", "qwen3-30b-a3b", "--tokens", "1T", "--gpu", "H100", "--gpus",
         "64", "--power-w", "700", "--price", "2", "--json"]
    )  # fmt: skip
    assert isinstance(data, dict)
    assert data["compute"]["params_counted"] == n_active
    assert data["compute"]["total_flops"] == pytest.approx(flops, rel=1e-12)
    hours = flops / (peak * 0.40) / 3600  # MFU: the assumed default, named with its source
    assert data["gpu_hours"] == pytest.approx(hours, rel=1e-3)  # 989 for 989.5 TFLOP/s
    assert data["wall_clock_days"] == pytest.approx(data["gpu_hours"] / 64 / 24)
    assert data["energy_mwh"] == pytest.approx(data["gpu_hours"] * 700 / 1e6)
    assert data["cost"] == pytest.approx(data["gpu_hours"] * 2)
    assert "Table 4" in data["mfu_source"] and data["kind"] == "estimated"


def test_finetune_shards_over_gpus_with_zero3() -> None:
    one = invoke_json(["cost", "finetune", "-m", "llama-2-70b", "--method", "full", "--json"])
    eight = invoke_json(
        ["cost", "finetune", "-m", "llama-2-70b", "--method", "full", "--gpu", "8x80GB", "--json"]
    )
    assert isinstance(one, dict) and isinstance(eight, dict)
    assert eight["setup"]["zero"] == 3 and eight["gpus"] == 8
    assert eight["per_gpu_gib"] < one["per_gpu_gib"] / 6
    assert "time_note" not in eight  # no --tokens, no time asked for
    four = invoke_json(
        ["cost", "finetune", "-m", "llama-2-70b", "--method", "full", "--gpu", "8x80GB",
         "--gpus", "4", "--json"]
    )  # fmt: skip
    assert isinstance(four, dict)
    # --gpus wins over the 8 of 8x80GB: the memory and the budget it is checked against
    assert four["gpus"] == four["setup"]["gpus"] == 4
    assert four["gpu"] == "4× 80GB (80 GiB each, 320 GiB total)"
    assert four["per_gpu_gib"] > eight["per_gpu_gib"]


def test_published_table_rows() -> None:
    data = invoke_json(["cost", "published", "--json"])
    assert isinstance(data, dict)
    runs = {r["model_id"]: r for r in data["training_runs"]}
    assert runs["llama-2-70b"]["published_gpu_hours"] == 1_720_320
    assert all(abs(r["rel_diff"]) < 0.05 for r in runs.values())
    assert "LLaMA-Factory" in data["finetune_memory"]["source"]


def test_human_output_names_kinds_and_sources() -> None:
    from typer.testing import CliRunner

    from llmselect.cli import app

    result = CliRunner().invoke(
        app, ["cost", "train", "-m", "llama-2-70b", "--tokens", "2T", "--gpu", "A100-80G"]
    )
    assert result.exit_code == 0, result.output
    assert "estimated" in result.output and "Llama-2 70B" in result.output
    assert "1.72M" in result.output  # the published value beside ours


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "-m", "llama-2-7b", "--tokens", "-2T", "--gpu", "H100"], "positive"),
        (["train", "-m", "llama-2-7b", "--tokens", "2T", "--gpu", "B9000"], "unknown GPU"),
        (["train", "-m", "llama-2-7b", "--tokens", "2T", "--gpu", "H100", "--mfu", "0"], "--mfu"),
        (["train", "-m", "no-such-model", "--tokens", "2T", "--gpu", "H100"], "no-such-model"),
        (["train", "-m", "qwen-72b", "--tokens", "2T", "--gpu", "H100"], "architecture unknown"),
        (["finetune", "-m", "llama-2-7b", "--method", "dora"], "fine-tuning method"),
        (["finetune", "-m", "llama-2-7b", "--method", "qlora", "--lora-rank", "9000"], "LoRA rank"),
        (["finetune", "-m", "llama-2-7b", "--gpu", "cpu"], "cpu"),
        (["finetune", "-m", "llama-2-7b", "--tokens", "0", "--gpu", "H100"], "positive"),
        # inf tokens, less than one token, and results past a float were printed as numbers
        (["train", "-m", "llama-2-7b", "--tokens", "1e999", "--gpu", "H100"], "too large"),
        (["train", "-m", "llama-2-7b", "--tokens", "1e300T", "--gpu", "H100"], "too large"),
        (["train", "-m", "llama-2-7b", "--tokens", "0.5", "--gpu", "H100"], "at least 1"),
        (["train", "-m", "llama-2-7b", "--tokens", "1e300", "--gpu", "H100"],
         "total compute overflows"),
        (["train", "-m", "llama-2-7b", "--tokens", "2T", "--gpu", "H100", "--price", "1e308"],
         "cost overflows"),
        (["train", "-m", "llama-2-7b", "--tokens", "2T", "--gpu", "H100", "--power-w", "1e308"],
         "energy overflows"),
        (["finetune", "-m", "llama-2-7b", "--tokens", "1e300", "--gpu", "H100"],
         "total compute overflows"),
        # an option of another method was left out of the estimate without a word
        (["finetune", "-m", "llama-2-7b", "--method", "lora", "--quant-bits", "8"],
         "--quant-bits applies to qlora, not to --method lora"),
        (["finetune", "-m", "llama-2-7b", "--method", "full", "--lora-rank", "64"],
         "--lora-rank applies to lora and qlora, not to --method full"),
        (["finetune", "-m", "llama-2-7b", "--method", "qlora", "--quant-bits", "0"],
         "--quant-bits must be 4 (NF4) or 8"),
        # the count came from --gpu, not from a --gpus the user never gave
        (["train", "-m", "llama-2-7b", "--tokens", "2T", "--gpu", "0xH100"],
         "--gpu '0xH100': the GPU count must be at least 1"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    assert run_main(["cost", *args], monkeypatch) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error:") and len(err.splitlines()) == 1 and message in err


def test_cost_help_and_commands_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from llmselect.cli import app\n"
        "from typer.testing import CliRunner\n"
        "r = CliRunner()\n"
        "assert r.invoke(app, ['cost', '--help']).exit_code == 0\n"
        "args = ['cost', 'train', '-m', 'llama-2-7b', '--tokens', '1T', '--gpu', 'H100']\n"
        "assert r.invoke(app, args).exit_code == 0\n"
        "assert r.invoke(app, ['cost', 'finetune', '-m', 'llama-2-7b', '--json']).exit_code == 0\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_local_checkpoint_is_a_model_input() -> None:
    """The real SmolLM2-135M GGUF: its own architecture numbers, its exact parameter count."""
    from tests.checkpoints.conftest import smollm2_path

    path = str(smollm2_path())
    tune = invoke_json(["cost", "finetune", "-m", path, "--method", "lora", "--json"])
    train = invoke_json(["cost", "train", "-m", path, "--tokens", "2T", "--gpu", "H100", "--json"])
    assert isinstance(tune, dict) and isinstance(train, dict)
    assert tune["model_id"].startswith("SmolLM2-135M-Instruct") and tune["kind"] == "estimated"
    assert tune["params_total"] == 134_515_008  # the GGUF's tensor infos
    assert train["compute"]["params_counted"] == 134_515_008
    assert train["published"] == []  # no published run of this checkpoint


def _published_context(facts_root: Path, model_id: str) -> dict[str, Any]:
    """The model's context length and its source, as the facts files state them."""
    from tests._facts import curated_facts

    models, _ = curated_facts(facts_root)
    (entry,) = [m for m in models if m["id"] == model_id]
    return entry["context_length"]


def test_seq_beyond_the_published_context_is_a_context_extension_caveat(
    facts_root: Path,
) -> None:
    """``--seq`` past the model's context was taken without a word; the estimate stays valid
    for rotary positions (long-context training is done), so it carries a stated caveat."""
    published = _published_context(facts_root, "qwen3-8b")
    context = published["value"]
    train = ["cost", "train", "-m", "qwen3-8b", "--tokens", "2T", "--gpu", "H100", "--json"]
    tune = ["cost", "finetune", "-m", "qwen3-8b", "--gpu", "80GB", "--json"]
    for args in (train, tune):
        within = invoke_json([*args, "--seq", str(context)])
        assert isinstance(within, dict) and "context_caveat" not in within
        beyond = invoke_json([*args, "--seq", str(context + 1)])
        assert isinstance(beyond, dict)
        caveat = beyond["context_caveat"]
        assert caveat["context_tokens"] == context and caveat["seq"] == context + 1
        assert caveat["context_extension"] is True
        assert caveat["context_source"] == f"published: {published['source']}"
        assert "context-extension run" in caveat["note"] and f"{context:,} tokens" in caveat["note"]
    result = runner.invoke(app, [*train[:-1], "--seq", "1000000"])
    assert result.exit_code == 0 and "caveat: --seq 1,000,000 is beyond qwen3-8b's" in result.stdout


def test_seq_beyond_a_learned_position_table_is_refused(
    facts_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """GPT-2 has no position past its table: a longer run needs parameters the estimate lacks."""
    table = _published_context(facts_root, "gpt2")["value"]
    args = ["cost", "train", "-m", "gpt2", "--tokens", "10B", "--gpu", "H100", "--seq"]
    data = invoke_json([*args, str(table), "--json"])
    assert isinstance(data, dict) and "context_caveat" not in data
    for command in (
        [*args, str(table + 1)],
        ["cost", "finetune", "-m", "gpt2", "--seq", str(table + 1)],
    ):
        assert run_main(command, monkeypatch) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("Error:") and len(err.splitlines()) == 1
        assert f"learned position table of {table} positions" in err
