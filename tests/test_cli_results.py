"""``results show``: what it prints is what the store holds, in plain JSON and CSV types."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from _cli import run_main

from llmselect.records import Measurement, RunInfo
from llmselect.store import RunWriter, stamp_unit

RUN_ID = "20260101T000000Z-show01"


def _strict_json(text: str) -> object:
    """Parse as a strict reader (jq, JavaScript) would: NaN and Infinity are not JSON."""

    def refuse(name: str) -> object:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture()
def store() -> None:
    """One run: a measured value with n, a published one with its source but no n, an error."""
    common = {"run_id": RUN_ID, "probe": "tokenizer_efficiency", "unit": "tok/char"}
    records = [
        Measurement(model_id="llama2", metric="tokens_per_char", value=1.31, n=50, **common),
        Measurement(
            model_id="qwen2",
            metric="tokens_per_char",
            value=0.63,
            kind="published",
            source="a paper, table 2",
            **common,
        ),
        Measurement(
            model_id="bloom",
            metric="tokens_per_char",
            status="error",
            error="tokenizer files not found",
            **common,
        ),
    ]
    root = Path(os.environ["LLMSELECT_HOME"]) / "results"
    with RunWriter(RunInfo(run_id=RUN_ID), root=root) as writer:
        for i, rec in enumerate(records):
            writer.append(stamp_unit([rec], f"u{i}"))


def test_show_json_is_plain_json_with_integer_counts_and_null_for_absent(
    store: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(["results", "show", "--json"], monkeypatch) == 0
    rows = {r["model_id"]: r for r in _strict_json(capsys.readouterr().out)}  # type: ignore[union-attr]
    assert set(rows) == {"llama2", "qwen2"}  # newest ok value per key: not the error
    assert rows["llama2"]["n"] == 50 and isinstance(rows["llama2"]["n"], int)
    assert rows["llama2"]["source"] is None and rows["qwen2"]["n"] is None
    assert rows["qwen2"]["source"] == "a paper, table 2"

    assert run_main(["results", "show", "--all", "--json"], monkeypatch) == 0
    rows = {r["model_id"]: r for r in _strict_json(capsys.readouterr().out)}  # type: ignore[union-attr]
    assert rows["bloom"]["value"] is None and rows["bloom"]["status"] == "error"


def test_show_csv_and_table_print_counts_as_integers(
    store: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(["results", "show", "--csv", "-m", "llama2,qwen2"], monkeypatch) == 0
    rows = {r["model_id"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert (rows["llama2"]["n"], rows["qwen2"]["n"]) == ("50", "")
    assert run_main(["results", "show", "-m", "llama2"], monkeypatch) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if "llama2" in x]
    assert " 50 " in line and "50.0" not in line


def test_show_refuses_an_unknown_probe_and_says_when_nothing_matches(
    store: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from llmselect.registry import probe_paths

    assert run_main(["results", "show", "-p", "tokenizer_efficiencyy"], monkeypatch) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (
        "Error: unknown probe 'tokenizer_efficiencyy'; known: " + ", ".join(sorted(probe_paths()))
    )
    # --json and --csv at once printed JSON and dropped --csv without a word
    assert run_main(["results", "show", "--json", "--csv"], monkeypatch) == 2
    assert capsys.readouterr().err.strip() == "Error: --json and --csv exclude each other"
    # A known probe and a model the store does not hold: an empty answer, and a line saying so.
    assert (
        run_main(["results", "show", "-m", "llama-2", "-p", "license", "--json"], monkeypatch) == 0
    )
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []
    assert captured.err.strip() == "no stored record matches -m llama-2 -p license"


def test_show_names_the_source_of_a_published_value_from_a_real_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real suite run's license verdicts are published values: ``results show`` printed them
    in the table and CSV without their source, and a CSV that matched nothing had no header."""
    from llmselect.licenses import verdict

    suite = tmp_path / "lic.yaml"
    suite.write_text(
        "name: lic\ndescription: license verdicts\ndevice: cpu\nmodels: [llama-2-7b]\n"
        "probes:\n  - probe: license\n",
        encoding="utf-8",
    )
    assert run_main(["run", "--suite", str(suite)], monkeypatch) == 0
    capsys.readouterr()
    assert run_main(["results", "show", "-p", "license", "--csv"], monkeypatch) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    expected = {p: verdict("llama-2-7b", p).source for p in ("commercial", "research")}
    assert expected["commercial"]  # the catalog names where the license was read
    got = {r["subset"]: r for r in rows}
    for purpose, source in expected.items():
        assert got[purpose]["kind"] == "published" and got[purpose]["source"] == source
    assert run_main(["results", "show", "-p", "license"], monkeypatch) == 0
    assert "source" in capsys.readouterr().out.splitlines()[1]  # the table's header row
    assert run_main(["results", "show", "-m", "nosuch", "--csv"], monkeypatch) == 0
    header = "model_id,probe,metric,subset,value,unit,kind,n,status,source"
    assert capsys.readouterr().out.splitlines() == [header]


def test_show_m_finds_tokenizer_records_by_the_model_name_the_user_ran(
    with_data_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``tokenize-bench -m qwen2.5-7b`` stores under the tokenizer family (qwen2); ``results
    show -m qwen2.5-7b`` found nothing. Now the name, an alias and the family all find them."""
    from llmselect.catalog import load_catalog

    family = load_catalog().find("qwen2.5-7b").tokenizer
    assert family == "qwen2"  # the catalog's tokenizer of the model (its cited source)
    args = ["tokenize-bench", "-m", "qwen2.5-7b", "--no-throughput", "--limit", "4", "--json"]
    assert run_main(args, monkeypatch) == 0
    ran = json.loads(capsys.readouterr().out)["records"]
    assert ran and {r["model_id"] for r in ran} == {family}
    expected = sorted((r["metric"], r["subset"], r["value"]) for r in ran)
    for name in ("qwen2.5-7b", "Qwen2.5-7B", family):
        assert run_main(["results", "show", "-m", name, "--json"], monkeypatch) == 0
        shown = json.loads(capsys.readouterr().out)
        assert sorted((r["metric"], r["subset"], r["value"]) for r in shown) == expected, name
    # Another model's tokenizer, or a name that resolves to nothing: empty, exit 0, a note.
    for name in ("llama2", "nosuch-model"):
        assert run_main(["results", "show", "-m", name, "--json"], monkeypatch) == 0
        captured = capsys.readouterr()
        assert json.loads(captured.out) == []
        assert captured.err.strip() == f"no stored record matches -m {name}"
