"""``llmselect tokenize-bench``: exit codes 0/1/2, JSON/CSV output, the store, lazy imports."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from llmselect.cli import main


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["llmselect", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capsys.readouterr()
    return int(exc.value.code or 0), captured.out, captured.err


def test_json_run_counts_match_sentencepiece(with_data_root: Path, monkeypatch, capsys) -> None:
    import sentencepiece as spm

    from llmselect.corpora import load_corpus

    code, out, err = run_main(
        ["tokenize-bench", "--models", "llama2,chatglm-3", "--no-throughput", "--limit", "20",
         "--json"], monkeypatch, capsys,
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["corpus"]["name"] == "default" and "BOS" in data["counting_convention"]
    assert data["tokenizers"] == {"llama2": "llama2", "chatglm3": "chatglm-3"}
    recs = {(r["model_id"], r["metric"], r["subset"]): r for r in data["records"]}
    sp = spm.SentencePieceProcessor(
        model_file=str(with_data_root / "tokenizers" / "chatglm3" / "tokenizer.model")
    )
    zh = [s.text.strip() for s in load_corpus("default", limit=20).segments if s.lang == "zh"]
    expected = sum(len(sp.encode(t)) for t in zh) / sum(len(t) for t in zh)
    rec = recs[("chatglm3", "tokens_per_char", "default/zh")]
    assert rec["value"] == pytest.approx(expected) and rec["kind"] == "measured"
    # Records are in the store too.
    from llmselect.store import load_records

    stored = load_records(run_ids=[data["run_id"]])
    assert len(stored) == len(data["records"]) and all(r.status == "ok" for r in stored)


def test_table_has_units_and_throughput(with_data_root: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("RAYON_NUM_THREADS", "1")  # --threads sets it; restored after the test
    code, out, err = run_main(
        ["tokenize-bench", "--models", "llama2", "--limit", "10", "--repeats", "2",
         "--threads", "1"], monkeypatch, capsys,
    )  # fmt: skip
    assert code == 0
    for header in ("[tok/char]", "[tok/word]", "[byte/tok]", "[chars/s]", "[tokens/s]", "measured"):
        assert header in out
    assert "[gMASK]" in out  # the counting convention is printed
    # The answer first: the efficiency table, then the throughput table, labelled quick, with
    # its spread and the thread count of each timing.
    assert out.index("Tokenizer efficiency") < out.index("Tokenizer throughput")
    assert "quick: 1 process(es) x 2 passes" in out and "spread" in out and "threads" in out
    from llmselect.store import load_records

    run_id = err.split("run ", 1)[1].split(":", 1)[0]
    timed = [r for r in load_records(run_ids=[run_id]) if r.probe == "tokenizer_throughput"]
    assert timed and all(r.params["timing"] == "quick" for r in timed)
    assert all(r.params["processes"] == 1 and len(r.samples) == 2 for r in timed)
    assert {r.params["threads"] for r in timed if r.params["mode"] == "single"} == {1}


def test_precise_keeps_the_between_process_design(with_data_root: Path, monkeypatch, capsys):
    code, out, _err = run_main(
        ["tokenize-bench", "--models", "llama2", "--limit", "5", "--repeats", "1",
         "--processes", "2", "--threads", "1", "--json"], monkeypatch, capsys,
    )  # fmt: skip
    assert code == 0
    timed = [r for r in json.loads(out)["records"] if r["probe"] == "tokenizer_throughput"]
    assert timed and all(r["params"]["timing"] == "precise" for r in timed)
    assert all(r["params"]["processes"] == 2 and len(r["samples"]) == 2 for r in timed)


def test_one_pass_shows_no_spread(with_data_root: Path, monkeypatch, capsys) -> None:
    """One timed pass measures no spread: the table says "–", never a noiseless 0 %."""
    monkeypatch.setenv("RAYON_NUM_THREADS", "1")
    code, out, _err = run_main(
        ["tokenize-bench", "--models", "llama2", "--limit", "5", "--repeats", "1",
         "--threads", "1"], monkeypatch, capsys,
    )  # fmt: skip
    assert code == 0 and "1 process(es) x 1 passes" in out
    speed = out[out.index("Tokenizer throughput") :]
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in speed.splitlines()]
    rows = [r for r in rows if r and r[0] == "llama2"]
    assert len(rows) == 2  # zh and en
    for row in rows:  # tokenizer, lang, then per mode: chars/s, tokens/s, spread, threads
        assert (row[4], row[8]) == ("–", "–"), row
        assert row[2] != "–" and row[6] != "–"


def test_list_honours_json_and_csv(monkeypatch, capsys) -> None:
    """--list --json is plain JSON (as every --json is), --list --csv is CSV: the families of
    the shipped tokenizers.yaml, in its order, with their aliases."""
    import yaml

    shipped = yaml.safe_load(
        (Path(__file__).parents[1] / "llmselect" / "data" / "tokenizers.yaml").read_text()
    )
    code, out, _err = run_main(["tokenize-bench", "--list", "--json"], monkeypatch, capsys)
    assert code == 0
    listed = json.loads(out)
    assert [f["id"] for f in listed] == [f["id"] for f in shipped]
    assert [f["aliases"] for f in listed] == [f.get("aliases", []) for f in shipped]
    assert {"qwen3.5", "deepseek-v4", "gpt-oss"} <= {f["id"] for f in listed}
    code, out, _err = run_main(["tokenize-bench", "--list", "--csv"], monkeypatch, capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["id"] for r in rows] == [f["id"] for f in shipped]
    code, out, err = run_main(["tokenize-bench", "--list", "--json", "--csv"], monkeypatch, capsys)
    assert (code, out, err.strip()) == (2, "", "Error: --json and --csv exclude each other")


def test_csv_parses(with_data_root: Path, monkeypatch, capsys) -> None:
    code, out, _ = run_main(
        ["tokenize-bench", "-m", "mistral", "--no-throughput", "--limit", "5", "--csv"],
        monkeypatch, capsys,
    )  # fmt: skip
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["metric"] for r in rows} >= {"tokens_per_char", "zh_en_parity_ratio"}


def test_unknown_model_exits_2_with_suggestion(with_data_root, monkeypatch, capsys) -> None:
    code, out, err = run_main(
        ["tokenize-bench", "--models", "llama2,chatglm4"], monkeypatch, capsys
    )
    assert code == 2 and out == ""
    assert err.startswith("Error: ") and "did you mean" in err and "chatglm3" in err
    assert len(err.strip().splitlines()) == 1


def test_missing_tokenizer_dir_exits_2(with_data_root, tmp_path, monkeypatch, capsys) -> None:
    args = ["tokenize-bench", "--models", "llama2", "--tokenizer-dir", str(tmp_path / "no")]
    code, _out, err = run_main(args, monkeypatch, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not a folder" in err


def test_a_file_in_the_tokenizer_dir_serves_one_family(
    with_data_root: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """Llama 2's tokenizer.model lying in --tokenizer-dir itself matches ChatGLM3's file name
    too: measured as both, ChatGLM3 showed Llama 2's 32,000-piece vocabulary and its counts."""
    import shutil

    import sentencepiece as spm

    src = with_data_root / "tokenizers" / "llama2" / "tokenizer.model"
    shutil.copy(src, tmp_path / "tokenizer.model")
    args = ["tokenize-bench", "--models", "llama2,chatglm3", "--no-throughput", "--limit", "3",
            "--tokenizer-dir", str(tmp_path)]  # fmt: skip
    code, out, err = run_main(args, monkeypatch, capsys)
    assert (code, out) == (2, "")
    assert err.strip() == (
        f"Error: --tokenizer-dir: {tmp_path / 'tokenizer.model'} would be measured as llama2 "
        f"and chatglm3; put each family's files in {tmp_path}/<family>/ (llama2/, chatglm3/) "
        "or name one of them"
    )
    code, out, _err = run_main([*args[:2], "llama2", *args[3:], "--json"], monkeypatch, capsys)
    vocab = [r for r in json.loads(out)["records"] if r["metric"] == "vocab_size_tokens"]
    assert (
        code == 0
        and vocab[0]["value"] == spm.SentencePieceProcessor(model_file=str(src)).vocab_size()
    )


def test_missing_files_exit_2_naming_locations(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LLMSELECT_DATA_ROOT", str(tmp_path))
    code, _out, err = run_main(["tokenize-bench", "--models", "bloom"], monkeypatch, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "LLMSELECT_DATA_ROOT" in err and "merges.txt" in err


def test_broken_tokenizer_is_recorded_and_exits_1(
    with_data_root: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    from llmselect.tokenizers.load import clear_cache

    clear_cache()
    (tmp_path / "llama2").mkdir()
    (tmp_path / "llama2" / "tokenizer.model").write_bytes(b"\x00garbage")
    code, out, err = run_main(
        ["tokenize-bench", "--models", "llama2,chatglm3", "--tokenizer-dir", str(tmp_path),
         "--no-throughput", "--limit", "5", "--json"], monkeypatch, capsys,
    )  # fmt: skip
    clear_cache()
    assert code == 1
    recs = json.loads(out)["records"]
    assert {r["status"] for r in recs if r["model_id"] == "llama2"} == {"error"}
    assert {r["status"] for r in recs if r["model_id"] == "chatglm3"} == {"ok"}
    assert "llama2" in err


def test_checkpoint_id_resolves_to_family(with_data_root, monkeypatch, capsys) -> None:
    from llmselect.catalog import load_catalog
    from llmselect.tokenizers.spec import load_tokenizer_catalog

    fams = load_tokenizer_catalog()
    model = next((m for m in load_catalog() if m.tokenizer and fams.find(m.tokenizer)), None)
    if model is None:
        pytest.skip("model catalog names no tokenizer family yet")
    code, out, _ = run_main(
        ["tokenize-bench", "--models", model.id, "--no-throughput", "--limit", "3", "--json"],
        monkeypatch, capsys,
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["tokenizers"] == {fams.get(model.tokenizer).id: model.id}


def test_cli_import_is_light_and_help_works() -> None:
    code = (
        "import sys, llmselect.cli; "
        "bad = [m for m in ('torch', 'transformers', 'lm_eval') if m in sys.modules]; "
        "print(bad)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"
    res = subprocess.run(
        [sys.executable, "-m", "llmselect", "tokenize-bench", "--help"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert res.returncode == 0 and "--models" in res.stdout and "--tokenizer-dir" in res.stdout
    res = subprocess.run([sys.executable, "-m", "llmselect", "--help"], capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert res.returncode == 0 and "tokenize-bench" in res.stdout
