"""Fault case: a long command whose stderr is not a terminal (a CI log) is never silent. Plain
progress lines come at a fixed interval, also while one long unit runs; stdout keeps only the
results."""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from _cli import run_main

import llmselect.cli.progress as progress_mod
from llmselect.cli.progress import UnitProgress


@dataclass
class _Named:
    id: str
    name: str = "probe_x"


@dataclass
class _Unit:
    target: _Named
    probe: _Named


def _wait_for_lines(stream: io.StringIO, count: int) -> list[str]:
    """The stream's lines once it holds ``count`` (the timer thread writes them); 60 s at most,
    so a busy machine that runs the thread late only makes this wait longer."""
    deadline = time.monotonic() + 60
    while len(lines := stream.getvalue().splitlines()) < count:
        assert time.monotonic() < deadline, f"{len(lines)} progress lines in 60 s"
        time.sleep(0.01)
    return lines


def test_plain_lines_come_while_a_unit_runs() -> None:
    """Lines come from the timer while one long unit runs (no unit finished), then name the
    unit that finished. Waits for the lines rather than sleeping a fixed time, which a busy
    machine could pass without running the timer thread."""
    stream = io.StringIO()
    with UnitProgress("bench", 2, every_s=0.05, terminal=False, stream=stream) as p:
        before = _wait_for_lines(stream, 2)  # one long unit: no unit finished, lines still come
        p.done(_Unit(_Named("llama2"), _Named("p", name="tokenizer_efficiency")))
        # the next line may have been drawn up before done(); the one after it was not
        _wait_for_lines(stream, len(stream.getvalue().splitlines()) + 2)
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 4
    assert all(ln.startswith("bench: 0/2 units done (") for ln in before)
    assert lines[-1].startswith("bench: 1/2 units done; last: llama2 tokenizer_efficiency (")
    assert lines[-1].endswith(" s)")


def test_no_plain_lines_on_a_terminal() -> None:
    stream = io.StringIO()
    with UnitProgress("bench", 1, every_s=0.01, terminal=True, stream=stream) as p:
        time.sleep(0.1)
        p.done(_Unit(_Named("a"), _Named("b")))
    assert stream.getvalue() == ""  # the bar draws itself; no plain lines


def test_tokenize_bench_prints_progress_to_a_log(
    with_data_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(progress_mod, "PLAIN_EVERY_S", 0.05)  # lines even on a fast machine
    args = ["tokenize-bench", "--models", "llama2", "--limit", "20", "--repeats", "1",
            "--processes", "1", "--json"]  # fmt: skip
    assert run_main(args, monkeypatch) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)  # stdout: results only
    lines = [ln for ln in captured.err.splitlines() if ln.startswith("tokenize-bench: ")]
    assert lines and all(" units done" in ln and ln.endswith(" s)") for ln in lines)
    assert any("/2 units done" in ln for ln in lines)
