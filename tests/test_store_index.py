"""The latest-value index: the same newest-per-key answer as validating every stored record,
without reading the runs again; updated when a run is added, grows, shrinks or vanishes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _command_cost import CommandRun, command_env, run_command

from llmselect import store_index
from llmselect.recommend.evidence import evidence_from_latest, evidence_from_records
from llmselect.records import Measurement, latest_key
from llmselect.store import latest, load_records
from llmselect.store_index import INDEX_FILE, latest_values

TOKENIZERS = ("qwen2", "llama2", "chatglm3", "bloom", "yi", "baichuan2", "internlm2", "llama3")
LM_EVAL = (
    [("cmmlu", "acc"), ("ceval-valid", "acc"), ("mmlu", "acc"), ("gsm8k", "exact_match")]
    + [(f"cmmlu/subject_{i}", "acc") for i in range(60)]
    + [(f"mmlu/subject_{i}", "acc") for i in range(50)]
)
MODELS = ("qwen2.5-7b", "chatglm3-6b", "yi-6b", "llama-2-7b")


def nightly_records(run_id: str, night: int) -> list[dict]:
    """A night's records shaped like the nightly suite's: tokenizer efficiency on FLORES-200,
    lm-eval group and subject rows, reference latency; values drift a little per night."""
    base = {"run_id": run_id, "probe_version": 1, "status": "ok", "duration_s": 0.1}
    when = f"2026-11-{1 + night // 4:02d}T0{night % 4}:00:00Z"
    rows = []
    for fam in TOKENIZERS:
        for lang, tpc in (("zh", 0.6), ("en", 0.21)):
            for metric in ("tokens_per_char", "utf8_bytes_per_token", "byte_fallback_token_share"):
                rows.append({
                    **base, "model_id": fam, "probe": "tokenizer_efficiency", "metric": metric,
                    "value": tpc + night * 1e-4, "unit": "tok/char", "subset": f"flores200/{lang}",
                    "n": 2009, "started_at": when, "params": {"tokenizer": fam},
                })  # fmt: skip
    for model in MODELS:
        for task, metric in LM_EVAL:
            rows.append({
                **base, "model_id": model, "probe": "lm_eval_scores", "metric": metric,
                "value": 0.5 + night * 1e-3, "unit": "ratio", "subset": task, "n": 100,
                "stderr": 0.0503, "started_at": when,  # lm-eval's: sqrt(0.25 / 99)
            })  # fmt: skip
        for bs in (1, 4):
            rows.append({
                **base, "model_id": model, "probe": "reference_latency",
                "metric": "decode_ms_per_token", "value": 20.0 + night, "unit": "ms",
                "subset": f"bs={bs},seq=512,dtype=bf16", "started_at": when,
            })  # fmt: skip
    return rows


def write_store(root: Path, nights: int, first: int = 0) -> None:
    for night in range(first, first + nights):
        run_id = f"2026-11-01T00-00-{night:03d}"
        run = root / run_id
        run.mkdir(parents=True)
        rows = nightly_records(run_id, night)
        if night % 10 == 3:  # a failed unit: never the latest value
            rows.append({**rows[0], "status": "error", "value": None, "error": "boom"})
        text = "\n".join(json.dumps(r) for r in rows) + "\n"
        if night == first + nights - 1:
            text += '{"torn": '  # the newest run was killed mid-write
        (run / "measurements.jsonl").write_text(text, encoding="utf-8")
        (run / "run.json").write_text(json.dumps({"run_id": run_id}), encoding="utf-8")


def as_dict(values) -> dict:  # type: ignore[no-untyped-def]
    return {v.key: (v.value, v.run_id) for v in values}


def validated_latest(root: Path) -> dict:
    """``store.latest`` over every validated record: the definition the index must match."""
    return {latest_key(r): (r.value, r.run_id) for r in latest(load_records(root))}


def write_runs(root: Path, runs: dict[str, list[dict]]) -> None:
    for run_id, rows in runs.items():
        (root / run_id).mkdir(parents=True)
        text = "".join(json.dumps({"run_id": run_id, **r}) + "\n" for r in rows)
        (root / run_id / "measurements.jsonl").write_text(text, encoding="utf-8")


def test_index_and_store_agree_on_ties_and_tokenizer_files(tmp_path: Path) -> None:
    """Equal start times, params outside the key, a later run on other tokenizer files and a
    null fingerprint: the index and ``store.latest`` pick the same record for every key."""
    own, other = "a" * 64, "b" * 64
    tpc = {"model_id": "qwen2", "probe": "tokenizer_efficiency", "probe_version": 1,
           "metric": "tokens_per_char", "subset": "flores200/zh", "unit": "tok/char",
           "status": "ok"}  # fmt: skip
    # no probe_version: both read the schema's default
    lat = {"model_id": "yi-6b", "probe": "reference_latency", "metric": "decode_ms_per_token",
           "subset": "bs=1,seq=512,dtype=bf16", "unit": "ms", "status": "ok"}  # fmt: skip
    t8, t9 = "2026-11-01T08:00:00Z", "2026-11-01T09:00:00Z"
    write_runs(tmp_path, {
        "20261101T080000Z-aaaaaa": [
            {**tpc, "value": 0.60, "started_at": t8, "params": {"tokenizer_sha256": own}},
            {**tpc, "value": 0.61, "started_at": t8,  # a tie: the later line wins
             "params": {"tokenizer_sha256": own, "tokenizer": "qwen2"}},
            {**lat, "value": 19.0, "started_at": t9},  # started later, written first
            {**lat, "value": 20.0, "started_at": t8},
        ],
        "20261102T080000Z-bbbbbb": [  # a later run on other files (--tokenizer-dir)
            {**tpc, "value": 0.55, "started_at": t8, "params": {"tokenizer_sha256": other}},
            {**tpc, "value": 0.70, "started_at": t9, "params": {"tokenizer_sha256": own},
             "status": "error"},
            {**lat, "value": 21.0, "started_at": t8, "params": {"threads": 4}},
            {**lat, "value": 22.0, "started_at": t8, "params": {"tokenizer_sha256": None}},
        ],
    })  # fmt: skip
    expected = {
        ("qwen2", "tokenizer_efficiency", 1, "tokens_per_char", "flores200/zh", own): (
            0.61, "20261101T080000Z-aaaaaa"),
        ("qwen2", "tokenizer_efficiency", 1, "tokens_per_char", "flores200/zh", other): (
            0.55, "20261102T080000Z-bbbbbb"),
        ("yi-6b", "reference_latency", 1, "decode_ms_per_token", "bs=1,seq=512,dtype=bf16", ""): (
            22.0, "20261102T080000Z-bbbbbb"),
    }  # fmt: skip
    assert validated_latest(tmp_path) == expected
    assert as_dict(latest_values(tmp_path)) == expected
    assert as_dict(latest_values(tmp_path)) == expected  # read back from the index file


def test_runs_made_in_one_second_are_ordered_by_their_start(tmp_path: Path) -> None:
    """Two runs made in the same second: their ids differ only in a random suffix, so the one
    that started later is the newest whatever its suffix, for the index as for the store."""
    row = {"model_id": "yi-6b", "probe": "lm_eval_scores", "metric": "acc", "subset": "ceval",
           "unit": "%", "status": "ok", "n": 2, "stderr": 35.0}  # fmt: skip
    first, second = "20261206T151458Z-ffffff", "20261206T151458Z-000000"
    write_runs(tmp_path, {
        first: [{**row, "value": 50.0, "started_at": "2026-12-06T15:14:58.100000Z"}],
        second: [{**row, "value": 0.0, "started_at": "2026-12-06T15:14:58.900000Z"}],
    })  # fmt: skip
    (newest,) = validated_latest(tmp_path).values()
    assert newest == (0.0, second)
    assert list(as_dict(latest_values(tmp_path)).values()) == [newest]


def test_index_store_and_evidence_order_start_times_as_instants(tmp_path: Path) -> None:
    """Start times written as ``Z`` or ``+00:00``, with other offsets, fractional digits or no
    offset at all: the index, ``store.latest`` and the recommender's evidence all take the
    value that started last in real time (text order would pick the other one each time)."""
    tpc = {"model_id": "mytok", "probe": "tokenizer_efficiency", "metric": "tokens_per_char",
           "subset": "flores200/zh", "unit": "tok/char", "status": "ok"}  # fmt: skip
    lat = {"model_id": "yi-6b", "probe": "reference_latency", "metric": "decode_ms_per_token",
           "subset": "bs=1,seq=512,dtype=bf16", "unit": "ms", "status": "ok"}  # fmt: skip
    run = "20261101T080000Z-aaaaaa"
    write_runs(tmp_path, {run: [
        # 08:00:00.5 is after 08:00:00, though "08:00:00.5Z" < "08:00:00Z" as text
        {**tpc, "value": 0.62, "started_at": "2026-11-01T08:00:00.5Z"},
        {**tpc, "value": 0.60, "started_at": "2026-11-01T08:00:00Z"},
        # 10:00+02:00 is 08:00 UTC, before 09:00 UTC
        {**lat, "value": 19.0, "started_at": "2026-11-01T09:00:00+00:00"},
        {**lat, "value": 20.0, "started_at": "2026-11-01T10:00:00+02:00"},
        # without an offset a time is UTC (and never a comparison error)
        {**lat, "subset": "bs=4,seq=512,dtype=bf16", "value": 30.0,
         "started_at": "2026-11-01T09:00:00"},
        {**lat, "subset": "bs=4,seq=512,dtype=bf16", "value": 31.0,
         "started_at": "2026-11-01T08:59:59.999999Z"},
        # the same tokenizer on other files, started at 08:00:00.25 UTC: before 0.62
        {**tpc, "value": 0.70, "started_at": "2026-11-01T10:00:00.25+02:00",
         "params": {"tokenizer_sha256": "c" * 64}},
    ]})  # fmt: skip
    expected = {
        ("mytok", "tokenizer_efficiency", 1, "tokens_per_char", "flores200/zh", ""): (0.62, run),
        ("mytok", "tokenizer_efficiency", 1, "tokens_per_char", "flores200/zh", "c" * 64): (
            0.70, run),
        ("yi-6b", "reference_latency", 1, "decode_ms_per_token", "bs=1,seq=512,dtype=bf16", ""): (
            19.0, run),
        ("yi-6b", "reference_latency", 1, "decode_ms_per_token", "bs=4,seq=512,dtype=bf16", ""): (
            30.0, run),
    }  # fmt: skip
    assert validated_latest(tmp_path) == expected
    assert as_dict(latest_values(tmp_path)) == expected
    # Two keys feed one tokens/char value: the later start wins, from either source.
    from_index = evidence_from_latest(latest_values(tmp_path))
    from_records = evidence_from_records(load_records(tmp_path))
    assert from_index.tokens_per_char[("mytok", "zh")].value == 0.62
    assert from_records.tokens_per_char[("mytok", "zh")].value == 0.62


def test_index_equals_validating_every_record(tmp_path: Path) -> None:
    write_store(tmp_path, 12)
    assert as_dict(latest_values(tmp_path)) == validated_latest(tmp_path)
    assert (tmp_path / INDEX_FILE).is_file()


def test_index_is_read_instead_of_the_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_store(tmp_path, 100)
    first = as_dict(latest_values(tmp_path))

    def fail(*_: object) -> None:
        raise AssertionError("a run was read again")

    monkeypatch.setattr(store_index, "_read_run", fail)
    monkeypatch.setattr(Measurement, "model_validate_json", fail)
    assert as_dict(latest_values(tmp_path)) == first


def test_index_follows_new_grown_shrunk_and_removed_runs(tmp_path: Path) -> None:
    write_store(tmp_path, 3)
    latest_values(tmp_path)
    write_store(tmp_path, 1, first=3)  # a new night
    assert as_dict(latest_values(tmp_path)) == validated_latest(tmp_path)
    run = sorted(p for p in tmp_path.iterdir() if p.is_dir())[-1]
    extra = nightly_records(run.name, 50)[:1]
    with (run / "measurements.jsonl").open("a", encoding="utf-8") as fh:  # grows
        fh.write("\n" + json.dumps(extra[0]) + "\n")
    got = as_dict(latest_values(tmp_path))
    assert got == validated_latest(tmp_path) and extra[0]["value"] in {v for v, _ in got.values()}
    (run / "measurements.jsonl").write_text("", encoding="utf-8")  # rewritten shorter
    assert as_dict(latest_values(tmp_path)) == validated_latest(tmp_path)
    for p in run.iterdir():  # removed
        p.unlink()
    run.rmdir()
    assert as_dict(latest_values(tmp_path)) == validated_latest(tmp_path)


def test_a_corrupt_index_is_rebuilt(tmp_path: Path) -> None:
    write_store(tmp_path, 2)
    latest_values(tmp_path)
    (tmp_path / INDEX_FILE).write_text("{not json", encoding="utf-8")
    assert as_dict(latest_values(tmp_path)) == validated_latest(tmp_path)


@pytest.mark.parametrize(("older", "dropped"), [(4, "stderr"), (5, "num_fewshot"), (6, "best")])
def test_index_keeps_what_weighs_a_score_and_rebuilds_an_older_format(
    tmp_path: Path, older: int, dropped: str
) -> None:
    """A score's standard error (in its own unit), documents, where the standard error is not
    estimable the note and exact interval, and its setting (the shots lm-eval ran with, the chat
    template, the split) reach the recommender through the index as through the records; an
    index of a format before these were kept (or before the most informative score per key and
    setting was) is rebuilt."""
    row = {"model_id": "yi-6b", "probe": "lm_eval_scores", "metric": "acc", "status": "ok",
           "started_at": "2026-12-01T00:00:00Z"}  # fmt: skip
    write_runs(tmp_path, {
        "20261201T000000Z-full00": [{**row, "value": 0.125, "unit": "ratio", "subset": "cmmlu",
                                     "n": 11582, "stderr": 0.0031, "params": {
                                         "num_fewshot": 0, "chat_template": True,
                                         "split": "test"}}],
        "20261201T000000Z-few000": [{**row, "value": 100.0, "unit": "%", "subset": "ceval-valid",
                                     "n": 3, "stderr": None, "params": {
                                         "stderr_note": "not estimable: all 3 documents ...",
                                         "ci95_low_pct": 29.2402, "ci95_high_pct": 100.0,
                                         "num_fewshot": 5, "chat_template": False,
                                         "split": "val"}}],
    })  # fmt: skip
    latest_values(tmp_path)
    doc = json.loads((tmp_path / INDEX_FILE).read_text(encoding="utf-8"))
    for value in doc["values"]:  # the index as an older format kept it
        for key in ("num_fewshot", "chat_template", "split", dropped):
            value.pop(key, None)
            value["params"].pop(key, None)
    doc.pop("best")
    doc["format"] = older
    (tmp_path / INDEX_FILE).write_text(json.dumps(doc), encoding="utf-8")
    from_index = evidence_from_latest(latest_values(tmp_path)).scores
    assert from_index == evidence_from_records(load_records(tmp_path)).scores
    full, few = from_index[("yi-6b", "CMMLU")], from_index[("yi-6b", "C-Eval")]
    assert (full.value, full.n, full.ci95, full.note) == (12.5, 11582, None, None)
    assert full.stderr == pytest.approx(0.31)  # percentage points, as the value
    assert (few.value, few.n, few.stderr, few.ci95) == (100.0, 3, None, (29.2402, 100.0))
    assert few.note == "not estimable: all 3 documents ..."
    setting = [(v.shots, v.chat_template, v.split) for v in (full, few)]
    assert setting == [(0, True, "test"), (5, False, "val")]
    rebuilt = json.loads((tmp_path / INDEX_FILE).read_text(encoding="utf-8"))
    assert rebuilt["format"] == store_index.FORMAT == 10 and rebuilt["best"] == []


def test_recommend_with_100_nightly_runs_reads_the_index_without_torch(tmp_path: Path) -> None:
    """``recommend`` on a store of 100 nights: same answer as an empty-index first call, no
    heavy imports; once the index exists it is what is read (no run's records are opened), and
    the command costs about what it costs with an empty store, measured in the same test (a
    bound in seconds failed on a busier or slower CPU; benchmarks/bench_recommend_store.py
    prints the absolute cost)."""
    results, empty = tmp_path / "results", tmp_path / "empty"
    write_store(results, 100)
    empty.mkdir()
    env = command_env(LLMSELECT_HOME=str(tmp_path))

    def recommend(store: Path) -> CommandRun:
        args = ["recommend", "--gpu", "24GB", "--purpose", "commercial", "--json"]
        return run_command([*args, "--results", str(store)], env)

    first = recommend(results)  # builds the index (and the package data's JSON copies)
    assert any(p.endswith("measurements.jsonl") for p in first.opened)
    assert [p for p in first.written if Path(p).parent == results]  # the index, replaced whole
    # The empty store between two reads of the full one: all three see about the same load.
    full = [recommend(results), recommend(empty), recommend(results)]
    bare = full.pop(1)
    outputs = [json.loads(r.stdout) for r in (first, *full)]
    assert outputs[0] == outputs[1] == outputs[2]
    for run in full:
        assert run.heavy == [], run.heavy
        assert str(results / INDEX_FILE) in run.opened
        assert not [p for p in run.opened if p.endswith("measurements.jsonl")]
        assert run.written == []  # the index is up to date: not written again
    measured = [
        t
        for r in outputs[1]["recommendations"]
        for t in r["terms"]
        if t["kind"].startswith("measured") and "store: run" in (t["source"] or "")
    ]
    assert measured  # the store's numbers are used
    # The lesser of the two reads against the empty store's call between them: 1.05x in the
    # benchmark; reading every run again (no index) is about 3x, validating every record 2x.
    cpu, reference = min(r.cpu_s for r in full), bare.cpu_s
    assert cpu < 1.5 * reference, f"{cpu:.2f} s of CPU with 100 runs, {reference:.2f} s without"


def test_junk_bytes_in_a_run_are_skipped(tmp_path: Path) -> None:
    write_store(tmp_path, 2)
    shard = sorted(tmp_path.glob("*/measurements.jsonl"))[0]
    with shard.open("ab") as fh:
        fh.write(b"\xff\xfe not utf-8 \x80\n[]\nnull\n42\nnot json\n" + b'{"run_id": 7}\n')
    assert as_dict(latest_values(tmp_path)) == validated_latest(tmp_path)


def _index_doc(root: Path) -> dict:
    doc = json.loads((root / INDEX_FILE).read_text(encoding="utf-8"))
    doc["values"] = sorted(doc["values"], key=lambda v: json.dumps(v, sort_keys=True))
    return doc


def test_adding_runs_one_by_one_equals_a_full_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``index_run`` (what the runner calls when a run ends) reads only the new run, and the
    index it leaves is the one a rebuild from every run writes, value for value."""
    from llmselect.store_index import index_run

    write_store(tmp_path, 30)
    latest_values(tmp_path)  # the index as the first reader built it
    read: list[str] = []
    real_read = store_index._read_run

    def spy(run_dir: Path, latest: dict) -> None:
        read.append(run_dir.name)
        real_read(run_dir, latest)

    monkeypatch.setattr(store_index, "_read_run", spy)
    for night in range(30, 36):
        write_store(tmp_path, 1, first=night)
        new = tmp_path / f"2026-11-01T00-00-{night:03d}"
        assert index_run(new) and read[-1] == new.name
    assert read == [f"2026-11-01T00-00-{n:03d}" for n in range(30, 36)]
    assert index_run(new) and len(read) == 6  # indexed already: nothing read
    incremental = _index_doc(tmp_path)
    # The next reader finds nothing to read again ...
    assert as_dict(latest_values(tmp_path)) == validated_latest(tmp_path) and len(read) == 6
    # ... and the index equals a rebuild from scratch.
    (tmp_path / INDEX_FILE).unlink()
    monkeypatch.setattr(store_index, "_read_run", real_read)
    latest_values(tmp_path)
    assert _index_doc(tmp_path) == incremental


def test_index_run_leaves_missing_or_rewritten_indexes_to_the_reader(tmp_path: Path) -> None:
    from llmselect.store_index import index_run

    write_store(tmp_path, 2)
    first = tmp_path / "2026-11-01T00-00-000"
    assert not index_run(first) and not (tmp_path / INDEX_FILE).exists()  # no index yet
    latest_values(tmp_path)
    (first / "measurements.jsonl").write_text("", encoding="utf-8")  # rewritten shorter
    assert not index_run(first)
    assert as_dict(latest_values(tmp_path)) == validated_latest(tmp_path)


def test_a_run_through_the_runner_updates_the_index(
    tmp_path: Path, with_data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real ``tokenize-bench`` run (efficiency only) lands in the index when it ends."""
    monkeypatch.setenv("LLMSELECT_RESULTS", str(tmp_path))
    write_store(tmp_path, 3)
    latest_values(tmp_path)
    from llmselect.probes.base import RunContext
    from llmselect.probes.tokenizer_efficiency import TokenizerEfficiencyProbe
    from llmselect.records import RunInfo
    from llmselect.runner import execute
    from llmselect.store import RunWriter
    from llmselect.tokenizers.spec import load_tokenizer_catalog
    from llmselect.units import plan

    probe = TokenizerEfficiencyProbe(TokenizerEfficiencyProbe.Config(corpus="default"))
    writer = RunWriter(RunInfo.collect("r-new"), root=tmp_path)
    execute(plan([load_tokenizer_catalog().get("gpt2")], [probe]), RunContext("r-new", limit=5),
            writer)  # fmt: skip
    doc = json.loads((tmp_path / INDEX_FILE).read_text(encoding="utf-8"))
    assert "r-new" in doc["runs"]
    assert any(v["run_id"] == "r-new" and v["model_id"] == "gpt2" for v in doc["values"])
    monkeypatch.setattr(store_index, "_read_run", lambda *_: pytest.fail("a run was re-read"))
    assert as_dict(latest_values(tmp_path)) == validated_latest(tmp_path)


def test_a_quick_run_after_a_full_one_leaves_the_full_one_counted(tmp_path: Path) -> None:
    """A full C-Eval val run (1,346 documents, 5-shot), then a quick ``--limit 2`` run and a
    0-shot run: the newest value per key is still the last run's (what ``results`` shows), but
    the most informative per key and setting is kept beside it, the recommender weighs the full
    run and names the newer ones it passed over, through the index (built at once or run by
    run) as through the records. A rerun of equal size replaces it; a run whose sampling error
    is unknown never does; a timing's ``n`` makes it no score."""
    from llmselect.store import most_informative
    from llmselect.store_index import index_run, read_index

    row = {"model_id": "yi-6b", "probe": "lm_eval_scores", "metric": "acc", "status": "ok",
           "unit": "%", "subset": "ceval"}  # fmt: skip
    five = {"num_fewshot": 5, "split": "val", "chat_template": False}
    lat = {"model_id": "yi-6b", "probe": "reference_latency", "metric": "decode_ms_per_token",
           "subset": "bs=1,seq=512,dtype=bf16", "unit": "ms", "status": "ok"}  # fmt: skip
    runs = {
        "20261201T000000Z-full00": [
            {**row, "value": 71.2, "n": 1346, "stderr": 1.23, "params": five,
             "started_at": "2026-12-01T00:00:00Z"},
            {**lat, "value": 20.0, "n": 64, "started_at": "2026-12-01T00:00:00Z"},
        ],
        "20261202T000000Z-quick0": [
            {**row, "value": 50.0, "n": 2, "stderr": 50.0, "params": five,
             "started_at": "2026-12-02T00:00:00Z"},
            {**lat, "value": 30.0, "n": 8, "started_at": "2026-12-02T00:00:00Z"},
        ],
        "20261203T000000Z-zero00": [
            {**row, "value": 0.0, "n": 2, "stderr": None, "started_at": "2026-12-03T00:00:00Z",
             "params": {**five, "num_fewshot": 0, "stderr_note": "not estimable: all 2 ...",
                        "ci95_low_pct": 0.0, "ci95_high_pct": 84.1886}},
        ],
    }  # fmt: skip
    write_runs(tmp_path, dict(list(runs.items())[:1]))
    latest_values(tmp_path)
    write_runs(tmp_path, dict(list(runs.items())[1:]))
    for run in list(runs)[1:]:
        assert index_run(tmp_path / run)  # folded in one by one, as the runner does
    incremental = read_index(tmp_path)
    ceval = ("yi-6b", "lm_eval_scores", 1, "acc", "ceval", "")
    assert incremental.latest[ceval].run_id == "20261203T000000Z-zero00"  # results: the newest
    best = {k[1]: (v.value, v.run_id) for k, v in incremental.best.items()}
    assert best == {(5, "val", False): (71.2, "20261201T000000Z-full00"),
                    (0, "val", False): (0.0, "20261203T000000Z-zero00")}  # fmt: skip
    # written under "best": only the one that is not its key's newest value
    doc = json.loads((tmp_path / INDEX_FILE).read_text(encoding="utf-8"))
    assert [(v["run_id"], v["value"]) for v in doc["best"]] == [("20261201T000000Z-full00", 71.2)]
    (tmp_path / INDEX_FILE).unlink()
    rebuilt = read_index(tmp_path)
    assert (rebuilt.latest, rebuilt.best) == (incremental.latest, incremental.best)
    records = load_records(tmp_path)
    assert {best_of(r) for r in most_informative(records)} == {
        best_of(v) for v in rebuilt.best.values()
    }

    from llmselect.recommend import load_evidence

    score = load_evidence(tmp_path).scores[("yi-6b", "C-Eval")]
    assert score == evidence_from_records(records).scores[("yi-6b", "C-Eval")]
    full = "20261201T000000Z-full00"
    assert (score.value, score.n, score.shots, score.run) == (71.2, 1346, 5, full)
    # named: the key's newest run (a newer run exists whenever one does), not every run
    assert score.newer == (
        "run 20261203T000000Z-zero00 (2 documents, 0-shot, val): "
        "fewer documents than the 1346 used",
    )

    # a rerun of the full split replaces it (equal evidence: the newer counts) ...
    write_runs(tmp_path, {"20261204T000000Z-rerun0": [
        {**row, "value": 72.0, "n": 1346, "stderr": 1.22, "params": five,
         "started_at": "2026-12-04T00:00:00Z"}]})  # fmt: skip
    # ... and a later full run whose sampling error is unknown (a 0 stored, no interval) does not
    write_runs(tmp_path, {"20261205T000000Z-nose00": [
        {**row, "value": 73.0, "n": 1346, "stderr": 0.0, "params": five,
         "started_at": "2026-12-05T00:00:00Z"}]})  # fmt: skip
    score = load_evidence(tmp_path).scores[("yi-6b", "C-Eval")]
    assert (score.value, score.run) == (72.0, "20261204T000000Z-rerun0")
    assert score.newer == (
        "run 20261205T000000Z-nose00 (1346 documents, 5-shot, val): sampling error unknown",
    )
    assert score == evidence_from_records(load_records(tmp_path)).scores[("yi-6b", "C-Eval")]
    assert all(k[0][1] == "lm_eval_scores" for k in read_index(tmp_path).best)  # no timing


def best_of(v) -> tuple:  # type: ignore[no-untyped-def]
    return (v.model_id, v.subset, v.run_id, v.value)


def test_an_interval_that_is_not_a_number_states_none(tmp_path: Path) -> None:
    """A stored score whose exact-interval bounds are not numbers (a hand-edited or foreign
    line) states no interval: its sampling error is unknown, so it neither displaces a full run
    with a standard error nor stops ``recommend`` with a traceback."""
    from llmselect.recommend import load_evidence

    row = {"model_id": "yi-6b", "probe": "lm_eval_scores", "metric": "acc", "status": "ok",
           "unit": "%", "subset": "ceval", "n": 1346}  # fmt: skip
    five = {"num_fewshot": 5, "split": "val", "chat_template": False}
    write_runs(tmp_path, {
        "20261201T000000Z-full00": [{**row, "value": 71.2, "stderr": 1.23, "params": five,
                                     "started_at": "2026-12-01T00:00:00Z"}],
        "20261202T000000Z-text00": [{**row, "value": 100.0, "stderr": None,
                                     "started_at": "2026-12-02T00:00:00Z", "params": {
                                         **five, "stderr_note": "not estimable",
                                         "ci95_low_pct": "99.7", "ci95_high_pct": "n/a"}}],
    })  # fmt: skip
    score = load_evidence(tmp_path).scores[("yi-6b", "C-Eval")]
    assert (score.value, score.run, score.ci95) == (71.2, "20261201T000000Z-full00", None)
    assert score.newer == (
        "run 20261202T000000Z-text00 (1346 documents, 5-shot, val): sampling error unknown",
    )
    assert score == evidence_from_records(load_records(tmp_path)).scores[("yi-6b", "C-Eval")]


def test_a_count_written_as_a_float_is_read_as_the_records_read_it(tmp_path: Path) -> None:
    """``n`` decides which score counts: a full run whose line says 1346.0 documents holds
    1346 through the index as through validated records, so ``recommend`` and the report weigh
    the same run (an index of format 7 kept the float and is rebuilt)."""
    from llmselect.recommend import load_evidence

    row = {"model_id": "yi-6b", "probe": "lm_eval_scores", "metric": "acc", "status": "ok",
           "unit": "%", "subset": "ceval", "params": {"num_fewshot": 5}}  # fmt: skip
    write_runs(tmp_path, {
        "20261201T000000Z-full00": [{**row, "value": 71.2, "n": 1346.0, "stderr": 1.23,
                                     "started_at": "2026-12-01T00:00:00Z"}],
        "20261202T000000Z-quick0": [{**row, "value": 50.0, "n": 2, "stderr": 50.0,
                                     "started_at": "2026-12-02T00:00:00Z"}],
    })  # fmt: skip
    key = ("yi-6b", "C-Eval")
    records = evidence_from_records(load_records(tmp_path)).scores[key]
    assert (records.run, records.n) == ("20261201T000000Z-full00", 1346)
    assert load_evidence(tmp_path).scores[key] == records
    doc = json.loads((tmp_path / INDEX_FILE).read_text(encoding="utf-8"))
    for value in (*doc["values"], *doc["best"]):  # as format 7 kept it
        value["n"] = float(value["n"])
    doc["format"] = 7
    (tmp_path / INDEX_FILE).write_text(json.dumps(doc), encoding="utf-8")
    assert load_evidence(tmp_path).scores[key] == records


def test_a_timings_setting_reaches_the_recommender_through_the_index(tmp_path: Path) -> None:
    """Two decode timings as ``perf measure`` stores them (the keys of a real run on
    SmolLM2-135M Q4_1: llama.cpp and our reference decoder at fp32, 32 tokens): their dtype,
    context, batch and engine reach the recommender through the index as through the records;
    an index of format 8, which did not keep the engine, is rebuilt."""
    from llmselect.recommend.evidence import TimingSetting

    row = {"model_id": "SmolLM2-135M-Instruct.Q4_1@224d0cd3feb3", "probe": "reference_latency",
           "probe_version": 2, "metric": "decode_ms_per_token", "unit": "ms", "status": "ok",
           "started_at": "2026-12-06T14:09:59.398185Z", "device": "cpu"}  # fmt: skip
    cpu = {"device": "cpu", "device_name": "AMD EPYC (2 cores)", "gguf_file_type": "q4_1"}
    write_runs(tmp_path, {
        "20261206T140958Z-de9997": [{**row, "value": 12.95, "n": 4,
                                     "subset": "bs=1,seq=32,dtype=q4_1,engine=llama.cpp",
                                     "params": {**cpu, "backend": "llama.cpp",
                                                "engine": "llama.cpp"}}],
        "20261206T141001Z-9208ed": [{**row, "value": 49.57, "n": 4,
                                     "subset": "bs=1,seq=32,dtype=fp32",
                                     "params": {**cpu, "engine": "reference",
                                                "backend": "llmselect.refmodels+checkpoint"}}],
    })  # fmt: skip
    latest_values(tmp_path)
    doc = json.loads((tmp_path / INDEX_FILE).read_text(encoding="utf-8"))
    for value in doc["values"]:  # the index as format 8 kept it
        value["params"].pop("engine")
    doc["format"] = 8
    (tmp_path / INDEX_FILE).write_text(json.dumps(doc), encoding="utf-8")
    from_index = evidence_from_latest(latest_values(tmp_path)).decode_ms
    assert from_index == evidence_from_records(load_records(tmp_path)).decode_ms
    settings = {v.setting: v.value for v in from_index.values()}
    assert settings == {
        TimingSetting("q4_1", "llama.cpp", 32, 1): 12.95,
        TimingSetting("fp32", "reference", 32, 1): 49.57,
    }
    rebuilt = json.loads((tmp_path / INDEX_FILE).read_text(encoding="utf-8"))
    assert rebuilt["format"] == store_index.FORMAT == 10
    assert {v["params"]["engine"] for v in rebuilt["values"]} == {"llama.cpp", "reference"}
