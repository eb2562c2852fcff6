"""Fail fast and clearly: bad input and missing files exit 2 with one line; a failed probe exits 1
without a worker's traceback; no network costs one hub check per run; text that is neither
Chinese nor English is reported as such; a one-target run never becomes the latest report."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from _cli import run_main

from llmselect.corpora import detect_lang, load_corpus
from llmselect.errors import LLMSelectError
from llmselect.records import RunInfo
from llmselect.store import RunWriter


def _cli(args: list[str], env: dict[str, str] | None = None, timeout: float = 120):
    """``python -m llmselect ARGS`` in a fresh process: (exit code, stdout, stderr, seconds)."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "llmselect", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr and 'File "' not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


# --- devices and checkpoints -----------------------------------------------------------------


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.parametrize("command", ["measure", "sweep"])
def test_cuda_asked_without_a_gpu_exits_2(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    pytest.importorskip("torch")
    if _has_cuda():
        pytest.skip("this machine has CUDA")
    args = ["perf", command, "-m", "gpt2:124m", "--device", "cuda"]
    if command == "sweep":
        args += ["--points", "1x16", "--out", str(tmp_path / "sweep")]
    assert run_main(args, monkeypatch) == 2
    assert "--device cuda: CUDA is not available here" in _one_error_line(capsys.readouterr().err)


def test_corrupt_checkpoint_is_one_line_before_measuring(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text('{"hidden_size": 8}')  # no model_type: not loadable
    (ckpt / "model.safetensors").write_bytes(b"\x00garbage")
    args = ["perf", "measure", "-m", "gpt2:124m", "--device", "cpu", "--seq", "8",
            "--new-tokens", "1", "--warmup", "0", "--iterations", "1", "--checkpoint", str(ckpt),
            "--no-save"]  # fmt: skip
    code, _out, err, _s = _cli(args)
    assert code == 2, err  # the checkpoint is read (and refused) before any child starts
    assert "Traceback" not in err and 'File "' not in err, err
    assert err.strip().splitlines()[-1].startswith("Error: ")
    # the config is read first and names what it lacks (no model_type, no layer count)
    assert "config.json: " in err and "missing" in err


# --- eval inputs -----------------------------------------------------------------------------


def test_eval_with_missing_data_files_exits_2_before_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data" / "gsm8k").mkdir(parents=True)
    for task, expected in (
        ("cmmlu", "task cmmlu: no files match"),
        ("gsm8k", "task gsm8k: data file missing"),
    ):
        args = ["eval", "--model", "no/such-model", "--tasks", task,
                "--data-dir", str(tmp_path / "data")]  # fmt: skip
        assert run_main(args, monkeypatch) == 2
        assert expected in capsys.readouterr().err


# --- no network: the hub is asked once -------------------------------------------------------


@pytest.fixture()
def silent_hub() -> Iterator[tuple[str, list[int]]]:
    """A local TCP endpoint that accepts and hangs up without an HTTP answer, counting calls."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    calls: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _addr = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            calls.append(1)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", calls
    stop.set()
    thread.join(2)
    server.close()


def _no_network_env(tmp_path: Path, endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE",
                                                           "TRANSFORMERS_OFFLINE",
                                                           "LLMSELECT_DATA_ROOT")}  # fmt: skip
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf"))
    return env


# The CLI under an audit hook that prints every name it resolves and address it connects to.
NETWORK_WATCH = (
    "import sys, runpy\n"
    "def hook(event, args):\n"
    "    if event == 'socket.getaddrinfo':\n"
    "        print('NET resolve', args[0], file=sys.stderr)\n"
    "    elif event == 'socket.connect':\n"
    "        print('NET connect', args[1], file=sys.stderr)\n"
    "sys.addaudithook(hook)\n"
    "sys.argv = ['llmselect', *sys.argv[1:]]\n"
    "runpy.run_module('llmselect', run_name='__main__', alter_sys=True)\n"
)


def _cli_env(args: list[str], env: dict[str, str]):
    """(exit code, stdout, stderr without the watch's lines, the watch's lines)."""
    proc = subprocess.run([sys.executable, "-c", NETWORK_WATCH, *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)  # fmt: skip
    lines = proc.stderr.splitlines(keepends=True)
    net = [ln.strip() for ln in lines if ln.startswith("NET ")]
    err = "".join(ln for ln in lines if not ln.startswith("NET "))
    return proc.returncode, proc.stdout, err, net


def _only_the_local_hub(net: list[str], endpoint: str) -> None:
    """The one place the command reached was the local endpoint, once: no other host was
    looked up or connected to (a timeout there, not this machine's speed, is what would make
    the command slow; wall time under other jobs' load is not asserted)."""
    port = endpoint.rsplit(":", 1)[1]
    assert net == ["NET resolve 127.0.0.1", f"NET connect ('127.0.0.1', {port})"], net


def test_run_without_network_asks_the_hub_once(tmp_path: Path, silent_hub) -> None:
    endpoint, calls = silent_hub
    suite = tmp_path / "tok.yaml"
    suite.write_text(yaml.safe_dump({
        "name": "tok", "tokenizers": ["llama2", "qwen2", "bloom"], "corpora": ["default"],
        "probes": [{"probe": "tokenizer_efficiency"}],
    }))  # fmt: skip
    env = _no_network_env(tmp_path, endpoint)
    code, out, err, net = _cli_env(["run", "--suite", str(suite)], env)
    assert code == 1, err  # three failed probes, recorded
    assert len(calls) == 1, err
    flat = " ".join(err.split())  # rich wraps log lines
    assert flat.count("does not answer") == 1 and "continuing offline" in flat
    assert "0 ok, 0 skipped, 3 errors" in out
    _only_the_local_hub(net, endpoint)


def test_eval_of_a_hub_id_without_network_fails_at_once(
    tmp_path: Path, silent_hub, datasets_root: Path
) -> None:
    endpoint, calls = silent_hub
    code, _out, err, net = _cli_env(
        ["eval", "--model", "foo/bar", "--tasks", "gsm8k", "--data-dir", str(datasets_root)],
        _no_network_env(tmp_path, endpoint),
    )
    assert code == 2, err
    line = _one_error_line(err)
    assert "foo/bar is not in the Hugging Face cache" in line and "does not answer" in line
    assert len(calls) == 1
    _only_the_local_hub(net, endpoint)


# --- text that is neither Chinese nor English ------------------------------------------------


def test_emoji_and_other_scripts_are_neither_chinese_nor_english(tmp_path: Path, caplog) -> None:
    assert detect_lang("😀🎉👍") is None
    assert detect_lang("12345 !!") is None
    assert detect_lang("Привет, мир") is None
    assert (detect_lang("显存 16 GB 就够了"), detect_lang("Hello, world")) == ("zh", "en")

    only_emoji = tmp_path / "emoji.txt"
    only_emoji.write_text("😀😀😀\n🎉🎉\n", encoding="utf-8")
    with pytest.raises(LLMSelectError, match="no Chinese or English text"):
        load_corpus(str(only_emoji))

    mixed = tmp_path / "mixed.txt"
    mixed.write_text("😀😀😀\nHello world\n你好，世界\nПривет\n", encoding="utf-8")
    corpus = load_corpus(str(mixed))
    assert [(s.lang, s.text) for s in corpus.segments] == [
        ("en", "Hello world"),
        ("zh", "你好，世界"),
    ]
    assert "2 of 4 lines are neither Chinese nor English" in caplog.text


def test_tokenize_bench_on_emoji_only_exits_2(tmp_path: Path) -> None:
    only_emoji = tmp_path / "emoji.txt"
    only_emoji.write_text("😀😀😀\n", encoding="utf-8")
    code, _out, err, _s = _cli(["tokenize-bench", "-m", "llama2", "--corpus", str(only_emoji)])
    assert code == 2
    assert "no Chinese or English text" in _one_error_line(err)


def test_tokenizer_dir_without_files_exits_2_naming_the_paths(tmp_path: Path) -> None:
    empty = tmp_path / "tok"
    empty.mkdir()
    env = {"LLMSELECT_DATA_ROOT": ""}
    code, _out, err, _s = _cli(["tokenize-bench", "-m", "llama2", "--tokenizer-dir", str(empty),
                                "--no-throughput"], env)  # fmt: skip
    assert code == 2
    line = _one_error_line(err)
    assert f"--tokenizer-dir {empty}/llama2 (missing tokenizer.model)" in line
    assert f"--tokenizer-dir {empty} (missing tokenizer.model)" in line


# --- estimates past the context --------------------------------------------------------------


def test_estimate_beyond_the_context_warns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(["perf", "estimate", "-m", "llama-2-7b", "--seq", "100000", "--json"],
                    monkeypatch) == 0  # fmt: skip
    captured = capsys.readouterr()
    (row,) = json.loads(captured.out)
    # 4096: Llama 2's published context length (the catalog's source)
    (note,) = [n for n in row["notes"] if "exceeds the model's context of 4096 tokens" in n]
    assert "past the range the model was trained on" in note  # rotary positions run past it
    assert run_main(["perf", "estimate", "-m", "llama-2-7b", "--seq", "4000"], monkeypatch) == 0
    assert "exceeds" not in capsys.readouterr().err
    # GPT-2's learned position table has 1,024 rows (n_positions in its config.json)
    assert run_main(["perf", "estimate", "-m", "gpt2:124m", "--seq", "2000", "--json"],
                    monkeypatch) == 0  # fmt: skip
    (row,) = json.loads(capsys.readouterr().out)
    assert any("context of 1024 tokens: the estimate is for a length its learned position "
               "table cannot run" in n for n in row["notes"])  # fmt: skip


# --- the latest report -----------------------------------------------------------------------


def test_report_without_run_takes_the_newest_suite_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from llmselect.records import Measurement

    def make(run_id: str, suite: str | None) -> None:
        with RunWriter(RunInfo(run_id=run_id, suite=suite)) as writer:
            writer.append([Measurement(run_id=run_id, model_id="m", probe="p", metric="x",
                                       value=1.0, unit="1")])  # fmt: skip

    make("20260101T000000Z-only01", None)
    out = tmp_path / "reports"
    assert run_main(["report", "--out", str(out)], monkeypatch) == 2
    assert "no suite run in the result store" in capsys.readouterr().err
    assert not (out / "latest.json").exists()

    make("20260102T000000Z-suite1", "nightly")
    make("20260103T000000Z-evalx1", None)  # newer, one target, no suite
    assert run_main(["report", "--out", str(out), "--json"], monkeypatch) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == "20260102T000000Z-suite1"


# --- plugins ---------------------------------------------------------------------------------


def test_plugins_filter_naming_a_missing_distribution_warns(tmp_path: Path) -> None:
    code, out, err, _s = _cli(["probes", "list"], {"LLMSELECT_PLUGINS": "nonexistent,llmselect"})
    assert code == 0 and "tokenizer_efficiency" in out
    flat = " ".join(err.split())
    assert "LLMSELECT_PLUGINS names 'nonexistent', which is not an installed distribution" in flat
    assert "'llmselect'" not in flat  # installed: no warning
