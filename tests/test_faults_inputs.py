"""Fault cases of bad input: every numeric option refuses nan, inf and out-of-range values in one
``Error:`` line (exit 2) through one shared check; unreadable files, impossible options and a
home folder that cannot be written are refused the same way, leaving no partial file behind."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _cli import run_main

from llmselect.store import iter_run_dirs


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("Error: ")
    return line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["recommend", "--gpu", "24GB", "--purpose", "commercial", "--max-params", "nan"],
         "'--max-params': nan is not a finite number"),
        (["recommend", "--gpu", "24GB", "--purpose", "commercial", "--min-tokens-per-s", "inf"],
         "'--min-tokens-per-s': inf is not a finite number"),
        (["perf", "estimate", "-m", "llama-2-7b", "--gpu-mem-gib", "nan"],
         "'--gpu-mem-gib'"),
        (["perf", "estimate", "-m", "llama-2-7b", "--gpu-mem-gib", "-1"], "'--gpu-mem-gib'"),
        (["catalog", "list", "--max-params", "-3"], "'--max-params'"),
        (["catalog", "list", "--min-params", "1e999"], "inf is not a finite number"),
        (["cost", "train", "-m", "llama-2-7b", "--tokens", "1T", "--gpu", "A100-80G",
          "--mfu", "nan"], "'--mfu'"),
        (["cost", "train", "-m", "llama-2-7b", "--tokens", "1T", "--gpu", "A100-80G",
          "--mfu", "1.5"], "'--mfu'"),
        (["cost", "train", "-m", "llama-2-7b", "--tokens", "1T", "--gpu", "A100-80G",
          "--gpus", "0"], "'--gpus'"),
        (["report", "--threshold", "nan"], "'--threshold'"),
        (["perf", "measure", "-m", "llama:0.5b", "--device", "cpu", "--memory-cap-mib", "inf"],
         "'--memory-cap-mib': inf is not a finite number"),
        (["perf", "measure", "-m", "llama:0.5b", "--device", "cpu", "--bandwidth-gb-s", "-5"],
         "'--bandwidth-gb-s'"),
        # 0 was taken as "not given": no cap, no roofline, and no word about it
        (["perf", "measure", "-m", "llama:0.5b", "--device", "cpu", "--memory-cap-mib", "0"],
         "'--memory-cap-mib': 0 is not above 0; give a positive value or leave it out."),
        (["perf", "measure", "-m", "llama:0.5b", "--device", "cpu", "--bandwidth-gb-s", "0"],
         "'--bandwidth-gb-s': 0 is not above 0; give a positive value or leave it out."),
        (["perf", "sweep", "-m", "llama:0.5b", "--device", "cpu", "--memory-cap-mib", "0"],
         "'--memory-cap-mib': 0 is not above 0; give a positive value or leave it out."),
    ],
)  # fmt: skip
def test_numeric_options_refuse_non_finite_and_out_of_range(
    args: list[str], message: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert run_main(args, monkeypatch) == 2
    assert message in _one_error_line(capsys)
    assert not iter_run_dirs()


def test_every_float_option_goes_through_the_shared_check() -> None:
    """No command can forget it: every float option of every command carries the check."""
    import typer.main

    from llmselect.cli import COMMANDS, app
    from llmselect.cli.numbers import _mentions_float

    group = typer.main.get_command(app)
    seen = 0

    def walk(command: object) -> None:
        nonlocal seen
        for param in command.params:  # type: ignore[attr-defined]
            if _mentions_float(getattr(param.type_descriptor, "annotation", None)):
                seen += 1
                assert getattr(param.callback, "finite", False), (command, param.name)
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    for name in COMMANDS:
        walk(group.get_command(None, name))  # type: ignore[attr-defined]
    assert seen >= 10


@pytest.mark.parametrize(
    "args",
    [
        ["tokenize-bench", "--models", "llama2", "--threads", "100000"],
        ["perf", "measure", "-m", "llama:0.5b", "--device", "cpu", "--threads", "100000"],
        ["perf", "sweep", "-m", "llama:0.5b", "--device", "cpu", "--threads", "100000",
         "--out", "sweep"],
        ["eval", "-m", "HuggingFaceTB/SmolLM2-135M-Instruct", "-t", "cmmlu", "--limit", "1",
         "--threads", "100000"],
    ],
)  # fmt: skip
def test_threads_above_the_cpu_count_are_refused(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(args, monkeypatch) == 2
    cpus = len(os.sched_getaffinity(0))
    assert f"100000 is more than the {cpus} CPUs this process may use" in _one_error_line(capsys)
    assert not iter_run_dirs()


@pytest.mark.parametrize("gpu", ["24GB", "cpu"])
def test_speed_floor_without_a_bandwidth_is_an_error(
    gpu: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["recommend", "--gpu", gpu, "--purpose", "commercial", "--min-tokens-per-s", "1e9"]
    assert run_main(args, monkeypatch) == 2
    assert f"--gpu {gpu} has none known: name a GPU" in _one_error_line(capsys)


def test_eval_device_is_checked_before_any_model_loads(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import llmselect.cli.eval as cli_eval

    def no_load(*_a: object, **_k: object) -> None:
        raise AssertionError("the model was resolved before --device was checked")

    monkeypatch.setattr(cli_eval, "resolve_model", no_load, raising=False)
    args = ["eval", "-m", str(tmp_path), "--device", "tpu", "-t", "cmmlu"]
    assert run_main(args, monkeypatch) == 2
    line = _one_error_line(capsys)
    assert line == "Error: --device: must be cpu, cuda, cuda:N or mps, got 'tpu'"


def test_sweep_out_naming_a_file_is_refused_before_measuring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("mine\n")
    args = ["perf", "sweep", "-m", "llama:0.5b", "--points", "1x8", "--device", "cpu",
            "--out", str(taken)]  # fmt: skip
    assert run_main(args, monkeypatch) == 2
    assert f"--out {taken}: cannot create the folder" in _one_error_line(capsys)
    assert taken.read_text() == "mine\n"


@pytest.mark.parametrize("dry_run", [True, False])
def test_suite_file_that_is_not_utf8(
    dry_run: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    args = ["run", "--suite", str(path), *(["--dry-run"] if dry_run else [])]
    assert run_main(args, monkeypatch) == 2
    assert "invalid continuation byte" in _one_error_line(capsys)
    assert not iter_run_dirs()


def test_malformed_suite_yaml_says_where_and_what(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The parser's first line ("while parsing a flow node") names no place: the line does."""
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nprobes: [\n  - probe: license\n")
    assert run_main(["run", "--suite", str(path)], monkeypatch) == 2
    assert _one_error_line(capsys) == (
        f"Error: cannot read suite {path}: line 3, column 3: expected the node content, "
        "but found '-' (while parsing a flow node)"
    )
    assert not iter_run_dirs()


@pytest.mark.parametrize(
    ("probe", "config", "message"),
    [
        ("memory_estimate", {"dtype": ["bf16", "fp99"]},
         "dtype: Value error, unknown dtype 'fp99'; known: fp32,"),
        ("memory_estimate", {"seq": [2048, 0]}, "seq.1: Input should be greater than or equal"),
        ("memory_estimate", {"batch": [-1]}, "batch.0: Input should be greater than or equal"),
        ("reference_latency", {"dtype": "fp99"}, "dtype: Value error, unknown dtype 'fp99'"),
        ("reference_latency", {"seq": [0]}, "seq.0: Input should be greater than or equal to 1"),
    ],
)  # fmt: skip
def test_a_bad_probe_config_is_refused_before_the_run(
    probe: str, config: dict, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """A typo in a suite's probe config is bad input (exit 2, no run), not a failed unit."""
    path = tmp_path / "bad.yaml"
    entry = {"probe": probe, "config": config}
    path.write_text(yaml.safe_dump({"name": "bad", "models": ["gpt2"], "probes": [entry]}))
    assert run_main(["run", "--suite", str(path)], monkeypatch) == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"Error: suite bad: probe {probe}: {message}"), line
    assert not iter_run_dirs()


def test_home_that_is_not_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home-file"
    home.write_text("")
    monkeypatch.setenv("LLMSELECT_HOME", str(home))
    args = ["perf", "measure", "-m", "llama:0.5b", "--device", "cpu", "--seq", "8"]
    assert run_main(args, monkeypatch) == 2
    line = _one_error_line(capsys)
    assert line.startswith("Error: cannot create results folder") and "Not a directory" in line


def _full_disk(limit_bytes: int):  # type: ignore[no-untyped-def]
    """A child whose writes past ``limit_bytes`` fail as on a full disk (EFBIG, not a kill)."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, resource.RLIM_INFINITY))

    return limit


@pytest.mark.slow
@pytest.mark.parametrize(("limit_kib", "code"), [(64, 0), (2, 2)])
def test_full_home_leaves_no_temp_file(
    with_data_root: Path, tmp_path: Path, limit_kib: int, code: int
) -> None:
    """BLOOM's tokenizer (MBs) cannot be cached: a warning, and the command goes on (64 KiB);
    when even the records cannot be written: one line, exit 2 (2 KiB). Neither leaves a partial
    file in the home folder."""
    home = tmp_path / "home"
    env = {**os.environ, "LLMSELECT_HOME": str(home)}
    args = [sys.executable, "-m", "llmselect", "tokenize-bench", "--models", "bloom",
            "--no-throughput", "--limit", "5", "--json"]  # fmt: skip
    proc = subprocess.run(
        args, env=env, capture_output=True, text=True, preexec_fn=_full_disk(limit_kib * 1024),
        check=False, timeout=300,
    )  # fmt: skip
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "cannot cache the BLOOM tokenizer" in proc.stderr
    if code == 2:
        assert proc.stderr.strip().splitlines()[-1].startswith("Error: cannot append records")
    assert not [p for p in home.rglob("*") if p.name.endswith(".tmp")]
