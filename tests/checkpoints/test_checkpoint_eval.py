"""``eval`` on the real SmolLM2 GGUF: two tasks at a small limit, a progress bar on stderr,
Ctrl-C keeping the finished task's scores, and tasks asked for instead of a default run."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from llmselect.cli import main
from llmselect.store import load

FAST = ["--limit", "2", "--num-fewshot", "0"]


def run_cli(args: list[str], capsys: Any, monkeypatch: Any) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["llmselect", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capsys.readouterr()
    return int(exc.value.code or 0), captured.out, captured.err


def test_eval_gguf_two_tasks(
    smollm2_gguf: Path, smollm2_source: Any, with_data_root: Path, capsys: Any, monkeypatch: Any
) -> None:
    import os

    args = ["eval", "--model", str(smollm2_gguf), "--tasks", "xcopa_zh,cluewsc", *FAST, "--json"]
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})  # the llama.cpp child inherits one usable CPU
    try:
        code, out, err = run_cli(args, capsys, monkeypatch)
    finally:
        os.sched_setaffinity(0, allowed)
    assert code == 0, err
    payload = json.loads(out)
    assert payload["model_id"] == smollm2_source.id and payload["failures"] == []
    by_task = {r["subset"]: r for r in payload["records"] if r["metric"] == "acc"}
    assert set(by_task) == {"xcopa_zh", "cluewsc"}
    for r in by_task.values():
        assert r["n"] == 2 and r["value"] in (0.0, 50.0, 100.0) and r["unit"] == "%"
        assert r["params"]["model_source"] == str(smollm2_gguf.resolve())
        # llama.cpp runs the file's own Q4_1 tensors, not --dtype's default float32
        assert r["params"]["dtype"] == smollm2_gguf.stem.rsplit(".", 1)[1].lower() == "q4_1"
        assert r["params"]["device"] == "cpu"
        assert r["params"]["threads"] == 1  # no --threads: the CPUs it may use, not all cores
    assert "requests" in err and "ETA" in err  # the progress bar, on stderr
    assert "requests" not in out


def test_ctrl_c_keeps_finished_tasks(
    smollm2_gguf: Path, with_data_root: Path, capsys: Any, monkeypatch: Any
) -> None:
    from llmselect.probes.lm_eval_scores import LmEvalScoresProbe

    real_run = LmEvalScoresProbe.run

    def interrupted(self: Any, target: Any, ctx: Any) -> Any:
        if self.config.tasks == ["cluewsc"]:
            raise KeyboardInterrupt
        return real_run(self, target, ctx)

    monkeypatch.setattr(LmEvalScoresProbe, "run", interrupted)
    args = ["eval", "--model", str(smollm2_gguf), "--tasks", "xcopa_zh,cluewsc", *FAST]
    code, _, _ = run_cli(args, capsys, monkeypatch)
    assert code == 130
    stored = load()
    assert set(stored[stored["probe"] == "lm_eval_scores"]["subset"]) == {"xcopa_zh"}


def test_tasks_are_asked_not_defaulted(
    smollm2_gguf: Path, with_data_root: Path, capsys: Any, monkeypatch: Any
) -> None:
    code, _, err = run_cli(["eval", "--model", str(smollm2_gguf), *FAST], capsys, monkeypatch)
    assert code == 2 and err.startswith("Error: name the tasks with --tasks")
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return "xcopa_zh"

    monkeypatch.setattr("typer.prompt", prompt)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    args = ["eval", "--model", str(smollm2_gguf), *FAST, "--json"]
    code, out, err = run_cli(args, capsys, monkeypatch)
    assert code == 0, err
    assert asked and "xcopa_zh" in asked[0]
    assert {r["subset"] for r in json.loads(out)["records"]} == {"xcopa_zh"}


def test_folder_with_a_gguf(smollm2_gguf: Path, tmp_path: Path) -> None:
    from llmselect.cli.eval import resolve_model

    (tmp_path / smollm2_gguf.name).symlink_to(smollm2_gguf)
    target, _ = resolve_model(str(tmp_path), None, None)
    assert target.source.endswith(".gguf") and target.id.startswith("SmolLM2-135M-Instruct.Q4_1@")


@pytest.mark.parametrize("engine", ["auto", "llama.cpp"])
@pytest.mark.parametrize(
    ("option", "said"),
    [
        # llama.cpp is opened here with no layers offloaded: a "GPU" run ran on the CPU
        (["--device", "cuda"], "--device cuda: llama.cpp scores a GGUF file on the CPU here"),
        (["--device", "cuda:1"], "--device cuda:1: llama.cpp scores a GGUF file on the CPU"),
        (["--device", "mps"], "--device mps: llama.cpp scores a GGUF file on the CPU here"),
        # it scores one request at a time: the records said batch_size 4
        (["--batch-size", "4"], "--batch-size 4: llama.cpp scores one request at a time"),
    ],
)
def test_llamacpp_refuses_options_it_would_not_apply(
    smollm2_gguf: Path, with_data_root: Path, capsys: Any, monkeypatch: Any, engine: str,
    option: list[str], said: str,
) -> None:  # fmt: skip
    """Refused before any run is opened, instead of stored as settings that were not used."""
    from llmselect.store import iter_run_dirs

    args = ["eval", "-m", str(smollm2_gguf), "-t", "xcopa_zh", *option, "--engine", engine,
            *FAST]  # fmt: skip
    code, out, err = run_cli(args, capsys, monkeypatch)
    assert code == 2 and out == "" and "Traceback" not in err
    assert " ".join(err.split()).startswith(f"Error: {said}")
    assert not list(iter_run_dirs())
