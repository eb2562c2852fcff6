"""``llmselect perf estimate|measure|sweep|archs``: JSON output and exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from _cli import run_main, runner

from llmselect.cli import app


def test_estimate_json_kv_cache_matches_the_formula() -> None:
    # llama:7b copies meta-llama/Llama-2-7b-hf config.json: 32 layers, 32 KV heads of 128.
    result = runner.invoke(
        app, ["perf", "estimate", "-m", "llama:7b", "--dtype", "bf16", "--seq", "4096", "--json"]
    )
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["kv_cache_bytes"] == 2 * 32 * 32 * 128 * 4096 * 2  # 2 GiB
    assert row["weights_bytes"] == 6_738_415_616 * 2  # published parameter count × bf16
    assert row["kind"] == "estimated"
    assert row["peak_mib"] == pytest.approx(
        row["weights_mib"] + row["kv_cache_mib"] + row["activations_mib"] + row["overhead_mib"]
    )


def test_estimate_picks_a_tensor_parallel_split() -> None:
    result = runner.invoke(
        app, ["perf", "estimate", "-m", "llama:13b", "--gpu-mem-gib", "16", "--json"]
    )
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["tp"] == 2 and row["fits"] is True  # 24.2 GiB of bf16 weights: two 16 GiB cards


def test_estimate_table_output() -> None:
    result = runner.invoke(app, ["perf", "estimate", "-m", "glm:6b,gpt2:124m", "--dtype", "int4"])
    assert result.exit_code == 0, result.output
    assert "glm:6b" in result.stdout and "int4" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["perf", "estimate", "-m", "llama:7b", "--dtype", "fp8"],
        ["perf", "estimate", "-m", "no-such-model"],
        ["perf", "estimate", "-m", "llama:7b", "--device", "tpu"],
        ["perf", "estimate", "-m", "llama:7b", "--tp", "3"],
        ["perf", "measure", "-m", "llama:7b", "--dtype", "int4"],
        ["perf", "measure", "-m", "llama:7b", "--device", "tpu"],
        ["perf", "measure", "-m", "llama:7b", "--batch", "0"],
        ["perf", "sweep", "-m", "llama:7b", "--points", "1by512"],
    ],
)
def test_bad_input_exits_2(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run_main(args, monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1


def test_unknown_estimate_dtype_names_every_accepted_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The error lists the torch dtypes and the llama.cpp types ``--help`` names, and every
    value it lists is one the estimate takes."""
    import re

    from llmselect.memory.estimate import estimate_memory
    from llmselect.targets import resolve_target

    assert run_main(["perf", "estimate", "-m", "llama:7b", "--dtype", "q9_x"], monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: unknown dtype 'q9_x'") and len(err.strip().splitlines()) == 1
    named = set(re.findall(r"[a-z0-9_]+", err.split(";", 1)[1])) - {"known", "aliases", "or", "a"}
    named -= {"llama", "cpp", "type"}
    assert {"fp32", "bf16", "fp16", "int8", "int4", "q4_k_m", "q5_k_m", "q8_0", "q4_0"} <= named
    arch = resolve_target("llama:7b").arch
    for name in sorted(named):
        assert estimate_memory(arch, dtype=name, seq=16).total_bytes > 0, name


def test_archs_lists_presets_with_sources() -> None:
    result = runner.invoke(app, ["perf", "archs", "--json"])
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert {"gpt2:124m", "bloom:560m", "llama:7b", "glm:6b", "llama:13b"} <= set(rows)
    assert rows["glm:6b"]["kv_heads"] == 2 and "chatglm3-6b" in rows["glm:6b"]["source"]


def test_perf_commands_do_not_import_torch() -> None:
    import subprocess

    code = (
        "import sys; from typer.testing import CliRunner; from llmselect.cli import app;"
        "r = CliRunner().invoke(app, ['perf', 'estimate', '-m', 'llama:7b', '--json']);"
        "assert r.exit_code == 0, r.output; assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sweep_runs_each_point_as_a_runner_unit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One child per point through the runner: raw.jsonl keeps the child's result beside the
    records; a point GPT-2's position table cannot hold is left out, the sweep goes on. A
    second sweep into the folder is refused: its records went beside the first run's while
    run.json described only the second."""
    from llmselect.sweep import RAW, RECORDS, TABLE, Point, run_sweep

    options = {"device": "cpu", "dtype": "fp32", "new_tokens": 2, "warmup": 0, "iterations": 1}
    records = run_sweep(
        ["gpt2:124m"], [Point(1, 8), Point(1, 1100)], tmp_path, probe_options=options
    )
    (raw,) = [json.loads(line) for line in (tmp_path / RAW).read_text().splitlines()]
    assert raw["spec"]["seq"] == 8 and raw["spec"]["new_tokens"] == 2
    assert raw["spec"]["threads"] == 1  # CPU points default to one thread
    peak = next(r for r in records if r.metric == "peak_memory_mib")
    assert peak.value == raw["result"]["peak_memory_mib"] and peak.subset == "bs=1,seq=8,dtype=fp32"
    stored = (tmp_path / RECORDS).read_text().splitlines()
    assert len(stored) == len(records) and "worker_result" not in stored[0]
    rows = [r for r in (tmp_path / TABLE).read_text().splitlines() if r.startswith("| gpt2")]
    assert len(rows) == 1 and rows[0].startswith("| gpt2:124m | bs=1,seq=8,dtype=fp32 | 1 | yes |")

    # --rerender goes the same way: a runner unit per stored point, no child started, the
    # same numbers, and each record says where the point ran and which unit made it.
    import llmselect.runner as the_runner
    from llmselect import sweep
    from llmselect.probes import reference_latency

    def no_child(*_: object) -> None:
        raise AssertionError("a replayed point started a child")

    runs: list[int] = []
    execute = the_runner.execute

    def counted(units, *args, **kwargs):  # type: ignore[no-untyped-def]
        runs.append(len(units))
        return execute(units, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reference_latency, "run_worker", no_child)
        mp.setattr(the_runner, "execute", counted)
        again = sweep.rerender(tmp_path)
    assert runs == [1]

    def numbers(recs):  # type: ignore[no-untyped-def]
        return sorted((r.model_id, r.subset, r.metric, r.value, r.host, r.device) for r in recs)

    assert numbers(again) == numbers(records) and records[0].host
    assert all(r.params["_unit"] for r in again)
    table = (tmp_path / TABLE).read_text()
    assert table.count("| gpt2:124m | bs=1,seq=8,dtype=fp32 | 1 | yes |") == 1

    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    run_id = json.loads((tmp_path / "run.json").read_text())["run_id"]
    args = ["perf", "sweep", "-m", "gpt2:124m", "--points", "1x8", "--device", "cpu",
            "--dtype", "fp32", "--out", str(tmp_path)]  # fmt: skip
    capsys.readouterr()  # the first sweep's warnings
    assert run_main(args, monkeypatch) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.strip() == (
        f"Error: --out {tmp_path} already holds a sweep's files of run {run_id} (run.json, "
        "measurements.jsonl, raw.jsonl, table.md): one folder holds one run; give a new folder"
    )
    assert {
        p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()
    } == before  # nothing measured


CONFIGS = Path(__file__).resolve().parent / "data" / "configs"


def test_config_only_folder_of_a_2025_model(tmp_path: Path) -> None:
    """Qwen3-Next-80B-A3B's config.json alone (no weights, no hand-written family): inspect
    and perf estimate count transformers' own class and cache only the 12 full-attention
    layers; the 36 Gated DeltaNet layers hold a constant state."""
    torch = pytest.importorskip("torch")
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = json.loads((CONFIGS / "qwen3-next-80b-a3b-thinking.json").read_text(encoding="utf-8"))
    (tmp_path / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**cfg))
    total = sum(p.numel() for p in model.parameters())
    report = runner.invoke(app, ["inspect", str(tmp_path), "--json"])  # no tokenizer file
    assert report.exit_code == 0, report.output
    data = json.loads(report.stdout)
    assert data["params"]["total"] == total
    assert data["tokenizer"]["tokens_per_char"] is None  # not measured, and said so
    assert "no tokenizer.json" in data["tokenizer"]["note"]
    text = runner.invoke(app, ["inspect", str(tmp_path)])
    assert text.exit_code == 0, text.output
    assert "tokenizer: unknown (no tokenizer.json" in text.stdout
    result = runner.invoke(app, ["perf", "estimate", "-m", str(tmp_path), "--dtype", "bf16",
                                 "--seq", "8192", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["weights_bytes"] == 2 * total
    # 12 layers x 2 KV heads x 256 x (K, V) x 8192 tokens x 2 bytes, plus 36 layers' state:
    # conv (2 x 16 x 128 + 32 x 128) x kernel 4 and recurrent 32 x 128 x 128, 2 bytes each
    state = 36 * ((2 * 16 * 128 + 32 * 128) * 4 + 32 * 128 * 128) * 2
    assert row["kv_cache_bytes"] == 12 * 2 * 256 * 2 * 8192 * 2 + state
    stored = runner.invoke(app, ["perf", "estimate", "-m", str(tmp_path), "--json"])
    assert json.loads(stored.stdout)[0]["dtype"] == "stored"  # bf16 as the config states


def test_unknown_model_type_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = {"model_type": "no_such_arch", "hidden_size": 64, "num_hidden_layers": 2,
           "num_attention_heads": 4, "vocab_size": 100}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    pytest.importorskip("transformers")
    for args in (["inspect", str(tmp_path)], ["perf", "estimate", "-m", str(tmp_path)]):
        assert run_main(args, monkeypatch) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "'no_such_arch' is not known to transformers" in err[0]


def test_measure_without_a_reference_decoder_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config transformers sizes (Qwen3.5-0.8B's config.json, no family written for it) and
    a catalog family that is only counted (Gemma-3): the reference engine cannot build them,
    so ``perf measure`` says so before starting a child, pointing to --engine transformers."""
    pytest.importorskip("transformers")
    copy = Path(__file__).resolve().parents[1] / "scripts/additions/configs/qwen3.5-0.8b.json"
    (tmp_path / "config.json").write_text(copy.read_text(encoding="utf-8"), encoding="utf-8")
    for model in (str(tmp_path), "gemma-3-1b-pt"):
        args = ["perf", "measure", "-m", model, "--device", "cpu", "--seq", "16"]
        assert run_main(args, monkeypatch) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("Error: "), err
        assert "no reference decoder" in err[0] and "--engine transformers" in err[0]


@pytest.mark.parametrize("model_type", ["llama", "qwen3"])
def test_fp8_folder_of_a_family_model_is_sized_as_stored(model_type: str, tmp_path: Path) -> None:
    """A config read by the LLaMA family that states FP8 128x128 blocks: ``perf estimate``
    sizes the weights as stored, the bytes of transformers' own pre-quantized layout."""
    pytest.importorskip("transformers")
    from _prequantized import prequantized_model, stored_bytes

    cfg = {"model_type": model_type, "hidden_size": 256, "intermediate_size": 512,
           "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
           "head_dim": 64, "vocab_size": 1000, "dtype": "bfloat16",
           "quantization_config": {"quant_method": "fp8", "fmt": "e4m3",
                                   "activation_scheme": "dynamic",
                                   "weight_block_size": [128, 128]}}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    theirs = stored_bytes(prequantized_model(cfg))
    result = runner.invoke(app, ["perf", "estimate", "-m", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["dtype"] == "stored" and row["weights_bytes"] == theirs


def test_context_length_of_a_multimodal_config_is_its_text_configs(tmp_path: Path) -> None:
    """Qwen3.5-0.8B states max_position_embeddings only in its text_config: inspect gives
    that length, not 'unknown', and ``catalog add`` records it."""
    pytest.importorskip("transformers")
    copy = Path(__file__).resolve().parents[1] / "scripts/additions/configs/qwen3.5-0.8b.json"
    cfg = json.loads(copy.read_text(encoding="utf-8"))
    (tmp_path / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    report = runner.invoke(app, ["inspect", str(tmp_path), "--no-tokenizer", "--json"])
    assert report.exit_code == 0, report.output
    context = json.loads(report.stdout)["context_length"]
    assert context["tokens"] == cfg["text_config"]["max_position_embeddings"] == 262144
    assert context["source"] == "config.json text_config.max_position_embeddings"
    added = runner.invoke(app, ["catalog", "add", str(tmp_path), "--name", "my-qwen35"])
    assert added.exit_code == 0, added.output
    from llmselect.catalog import user_catalog_file

    [entry] = json.loads(user_catalog_file().read_text(encoding="utf-8"))
    assert entry["context_length"] == 262144


def test_llamacpp_estimate_of_a_hybrid_config_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Qwen3.5-0.8B: 18 of its 24 layers are Gated DeltaNet (transformers' layer_types), which
    keep no KV cells in llama.cpp; the llama.cpp memory model does not size their state, so it
    says so instead of giving all 24 layers a full KV cache."""
    pytest.importorskip("transformers")
    from transformers import AutoConfig

    copy = Path(__file__).resolve().parents[1] / "scripts/additions/configs/qwen3.5-0.8b.json"
    cfg = json.loads(copy.read_text(encoding="utf-8"))
    text = AutoConfig.for_model(**cfg).get_text_config(decoder=True)
    assert text.layer_types.count("linear_attention") == 18
    (tmp_path / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    args = ["perf", "estimate", "-m", str(tmp_path), "--engine", "llama.cpp", "--dtype", "q4_k_m"]
    assert run_main(args, monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "linear_attention layers is not modelled" in err[0], err


def test_inspect_names_latent_attention_by_its_own_widths() -> None:
    """DeepSeek-V2-Lite's config.json: q/k heads are 128 + 64 RoPE wide and v heads 128 over a
    512-wide latent; 'head_dim 128' alone (hidden / heads) described none of them."""
    from _real_archs import REAL

    mla = REAL["deepseek-v2-lite"].mla
    assert mla is not None
    result = runner.invoke(app, ["inspect", "deepseek-v2-lite", "--no-tokenizer"])
    assert result.exit_code == 0, result.output
    [line] = [x for x in result.stdout.splitlines() if x.strip().startswith("architecture:")]
    qk = mla.qk_nope_head_dim + mla.qk_rope_head_dim
    assert (f"16 heads of latent attention (kv_lora_rank {mla.kv_lora_rank}, q/k head {qk} = "
            f"{mla.qk_nope_head_dim} + {mla.qk_rope_head_dim} RoPE, v head {mla.v_head_dim})"
            ) in line  # fmt: skip
    assert "head_dim" not in line


def test_vision_config_with_a_negative_feature_layer_is_sized(tmp_path: Path) -> None:
    """transformers' Mistral3Config (the Mistral-Small-3.1 layout) picks the vision tower's
    last layer with ``vision_feature_layer: -1``, an index, not a size: the config is sized."""
    pytest.importorskip("transformers")
    from transformers import Mistral3Config

    cfg = Mistral3Config().to_dict()
    assert cfg["vision_feature_layer"] == -1
    (tmp_path / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    result = runner.invoke(app, ["perf", "estimate", "-m", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    text = cfg["text_config"]
    kv_values = 2 * text["num_key_value_heads"] * text["head_dim"]  # K and V per layer
    assert row["cache"] == [{"kind": "full_attention", "layers": text["num_hidden_layers"],
                             "values_per_token": kv_values}]  # fmt: skip


def test_gemma3n_config_without_timm_is_sized_and_says_what_it_left_out(tmp_path: Path) -> None:
    """Gemma-3n (transformers' default Gemma3nConfig): its vision tower needs the timm library
    to be built. The text decoder is counted as transformers builds it; without timm the towers
    are named as not counted instead of a traceback."""
    torch = pytest.importorskip("torch")
    import importlib.util

    from transformers import AutoModelForCausalLM, Gemma3nConfig

    config = Gemma3nConfig()
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()), encoding="utf-8")
    with torch.device("meta"):
        text = AutoModelForCausalLM.from_config(config.get_text_config(decoder=True))
    report = runner.invoke(app, ["inspect", str(tmp_path), "--no-tokenizer", "--json"])
    assert report.exit_code == 0, report.output
    params = json.loads(report.stdout)["params"]
    assert params["total"] == sum(p.numel() for p in text.parameters())
    if importlib.util.find_spec("timm") is None:
        [part] = params["other_parts"]
        assert part["kind"] == "not counted" and "timm" in part["note"]
        assert "params" not in part


def test_sweep_past_the_configs_context_keeps_the_caveat(tmp_path: Path) -> None:
    """A LLaMA config.json with max_position_embeddings 16, swept at 16 prompt + 2 new tokens
    (rotary positions run past it): the table and every measured record say so."""
    folder = tmp_path / "model"
    folder.mkdir()
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "intermediate_size": 128, "vocab_size": 512, "max_position_embeddings": 16,
              "rope_theta": 10000.0, "rms_norm_eps": 1e-6}  # fmt: skip
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    out = tmp_path / "sweep"
    args = ["perf", "sweep", "-m", str(folder), "--points", "1x16", "--new-tokens", "2",
            "--warmup", "0", "--iterations", "1", "--device", "cpu", "--dtype", "fp32",
            "--out", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    note = "--seq 16 + --new-tokens 2 = 18 tokens is beyond model's context of 16 tokens"
    assert f"model bs=1,seq=16,dtype=fp32: warning: {note}" in (out / "table.md").read_text()
    records = [json.loads(line) for line in (out / "measurements.jsonl").read_text().splitlines()]
    measured = [r for r in records if r["metric"] in ("fits", "prefill_ms", "decode_ms_per_token")]
    assert len(measured) == 3
    assert all(r["params"]["context_tokens"] == 16 and note in r["params"]["context_note"]
               for r in measured)  # fmt: skip
