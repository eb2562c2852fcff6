"""``llmselect cost train|finetune|published``: JSON output, published rows, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests._cli import invoke_json, run_main


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


def test_finetune_shards_over_gpus_with_zero3() -> None:
    one = invoke_json(["cost", "finetune", "-m", "llama-2-70b", "--method", "full", "--json"])
    eight = invoke_json(
        ["cost", "finetune", "-m", "llama-2-70b", "--method", "full", "--gpu", "8x80GB", "--json"]
    )
    assert isinstance(one, dict) and isinstance(eight, dict)
    assert eight["setup"]["zero"] == 3 and eight["gpus"] == 8
    assert eight["per_gpu_gib"] < one["per_gpu_gib"] / 6
    assert "time_note" not in eight  # no --tokens, no time asked for


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
    ],
)
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
