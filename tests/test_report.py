"""Report: records → Report → document → Markdown/HTML; deltas that mean something."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from llmselect.records import Measurement, RunInfo
from llmselect.report import (
    PurposeRecommendations,
    RecommendedModel,
    build_document,
    build_report,
    compute_deltas,
    find_previous,
    fmt_value,
    read_report_json,
    render_html,
    render_json,
    render_markdown,
    write_report,
)
from llmselect.report.build import ROW_FIELDS, value_row
from llmselect.report.deltas import DELTA_ROW_FIELDS
from llmselect.report.model import Delta, ValueRow

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
TE, TT, MEM, LAT = (
    "tokenizer_efficiency",
    "tokenizer_throughput",
    "memory_estimate",
    "reference_latency",
)


def rec(model: str, probe: str, metric: str, value: float | None, unit: str, **kw) -> Measurement:
    """A record with a fixed timestamp (offset by ``seconds``) so reports are reproducible."""
    seconds = kw.pop("seconds", 0)
    return Measurement(
        run_id=kw.pop("run_id", "20261123T020000Z-aaaaaa"),
        model_id=model,
        probe=probe,
        metric=metric,
        value=value,
        unit=unit,
        started_at=T0 + timedelta(seconds=seconds),
        **kw,
    )


def run_info(**extra: object) -> RunInfo:
    return RunInfo(
        run_id="20261123T020000Z-aaaaaa",
        started_at=T0,
        finished_at=T0 + timedelta(minutes=7),
        command="llmselect run --suite nightly",
        suite="nightly",
        suite_hash="0123456789ab",
        git_sha="abc1234",
        python="3.11.7",
        platform="Linux-x86_64",
        cpu_count=2,
        versions={"tokenizers": "0.23.3", "torch": None},
        **extra,  # type: ignore[arg-type]
    )


def sample_records() -> list[Measurement]:
    u = {"_unit": "u1", "counting": "content tokens"}
    pt = 7_615_616_512
    cpu = {"_unit": "l1", "threads": 1, "cpu_threads": 1, "device": "cpu",
           "device_name": "Test CPU (2 cores)"}  # fmt: skip
    return [
        rec("llama2", TE, "tokens_per_char", 1.217, "tok/char", subset="flores200/zh",
            n=997, params=u, higher_is_better=False),
        rec("llama2", TE, "tokens_per_char", 0.2, "tok/char", subset="flores200/en",
            n=997, params=u, higher_is_better=False),
        rec("qwen2", TE, "tokens_per_char", 0.609, "tok/char", subset="flores200/zh",
            n=997, params=u, higher_is_better=False),
        rec("qwen2", TE, "tokens_per_char", 0.186, "tok/char", subset="flores200/en",
            n=997, params=u, higher_is_better=False),
        rec("qwen2", TE, "zh_en_parity_ratio", 1.02, "ratio", subset="flores200/zh-en",
            n=997, params=u),
        rec("qwen2", TT, "batch_chars_per_s", 2.0e6, "chars/s", subset="flores200/zh", n=997,
            params={"_unit": "t1", "threads": 2, "mode": "batch"},
            samples=[1.9e6, 2.0e6, 2.1e6]),
        rec("qwen2", TT, "single_chars_per_s", 1.0e6, "chars/s", subset="flores200/zh", n=997,
            params={"_unit": "t1", "threads": 1, "mode": "single"},
            samples=[0.95e6, 1.0e6, 1.02e6]),
        rec("qwen2.5-7b", MEM, "est_weights_mib", 14525.0, "MiB", kind="estimated",
            subset="bs=1,seq=2048,dtype=bf16", params={"_unit": "m1", "params_total": pt},
            source="formula"),
        rec("qwen2.5-7b", LAT, "decode_ms_per_token", 41.5, "ms",
            subset="bs=1,seq=128,dtype=fp32", params=cpu, n=5, samples=[40.0, 41.5, 43.0]),
        rec("qwen2.5-7b", LAT, "peak_memory_mib", 900.0, "MiB",
            subset="bs=1,seq=128,dtype=fp32", params=cpu),
        rec("qwen2.5-7b", LAT, "est_peak_memory_mib", 950.0, "MiB", kind="estimated",
            subset="bs=1,seq=128,dtype=fp32", params=cpu),
        rec("qwen2.5-7b", "license", "license_commercial_allowed", 1.0, "verdict",
            kind="published", source="LICENSE", subset="commercial",
            params={"_unit": "c1", "allowed": "yes", "license_id": "apache-2.0"}),
        rec("llama2", MEM, "probe_status", None, "", status="error",
            error="Traceback...\nValueError: no arch for llama2", params={"_unit": "m2"}),
        rec("qwen2.5-7b", LAT, "probe_status", None, "", status="skipped",
            error="CUDA not available", params={"_unit": "l2"}),
    ]  # fmt: skip


def recommendations() -> list[PurposeRecommendations]:
    return [
        PurposeRecommendations(
            label="24 GB GPU, commercial product",
            request={"gpu": "24GB", "purpose": "commercial", "context": 4096},
            rows=[
                RecommendedModel(
                    rank=1,
                    model_id="qwen2.5-7b",
                    score=0.9,
                    coverage=0.8,
                    fit="int8, 9.1 GiB (estimated)",
                    license="yes (apache-2.0)",
                    deciding=["quality_zh: C-Eval 80% (published)"],
                )  # fmt: skip
            ],
            candidates=10,
            excluded=2,
        )
    ]


def make(previous=None, records=None, **kw) -> object:  # type: ignore[no-untyped-def]
    return build_report(
        records if records is not None else sample_records(),
        kw.pop("info", run_info()),
        previous,
        NOW,
        recommendations=recommendations(),
        **kw,
    )


def previous_of(report, **changes) -> dict:  # type: ignore[no-untyped-def]
    prev = json.loads(render_json(report))
    prev["date"] = "2026-11-22"
    prev["run"].update(changes)
    return prev


def test_report_is_deterministic_and_order_independent() -> None:
    records = sample_records()
    first = make(records=records)
    shuffled = list(records)
    random.Random(4).shuffle(shuffled)
    second = make(records=shuffled)
    assert render_json(first) == render_json(second)
    assert render_markdown(first) == render_markdown(second)
    assert render_html(first) == render_html(second)


def test_values_keep_units_kinds_samples_and_sources() -> None:
    report = make()
    by_key = {v.match_key: v for v in report.values}
    mem = by_key[("qwen2.5-7b", MEM, "est_weights_mib", "bs=1,seq=2048,dtype=bf16")]
    assert (mem.value, mem.unit, mem.kind) == (14525.0, "MiB", "estimated")
    assert "_unit" not in mem.params and mem.params["params_total"] == 7_615_616_512
    batch = by_key[("qwen2", TT, "batch_chars_per_s", "flores200/zh")]
    assert batch.samples == [1.9e6, 2.0e6, 2.1e6] and batch.spread == (1.9e6, 2.1e6)
    html = render_html(report)
    assert "<td>llama2</td><td>tokens_per_char</td><td>flores200/zh</td>" in html
    assert '<td class="num">1.217</td><td>tok/char</td><td>measured</td>' in html
    # Markdown keeps the summaries and links the page for every long table.
    md = render_markdown(report)
    assert "| llama2 | 1.217 | 0.2 |" in md  # tokenizer summary: zh, en
    assert "rows in [report.html](report.html#details)" in md


def test_value_rows_and_deltas_copy_every_field_they_share_with_their_source() -> None:
    shared = set(ValueRow.model_fields) & set(Measurement.model_fields)
    assert shared == {*ROW_FIELDS, "stderr", "samples", "params"}
    assert set(Delta.model_fields) & set(ValueRow.model_fields) == set(DELTA_ROW_FIELDS)
    r = rec(
        "qwen2", TT, "batch_chars_per_s", 2.0e6, "chars/s", probe_version=3, subset="flores200/zh",
        kind="published", higher_is_better=True, n=7, stderr=0.1, samples=[1.9e6, 2.1e6],
        source="vendor table", params={"threads": 2, "_unit": "u1"},
    )  # fmt: skip
    row = value_row(r)
    assert {name: getattr(row, name) for name in shared - {"params"}} == {
        name: getattr(r, name) for name in shared - {"params"}
    }
    assert row.params == {"threads": 2}
    brief = value_row(r, detail=False)
    assert (brief.stderr, brief.samples, brief.params) == (None, None, {})
    prev = previous_of(make())
    _set(prev, "qwen2", "zh_en_parity_ratio", value=1.021)
    report = make(previous=prev)
    [change] = [c for c in report.deltas.changes if c.metric == "zh_en_parity_ratio"]
    [row] = [v for v in report.values if v.model_id == "qwen2" and v.metric == change.metric]
    assert change.model_dump(include=set(DELTA_ROW_FIELDS)) == row.model_dump(
        include=set(DELTA_ROW_FIELDS)
    )


def test_page_opens_with_the_answer_then_findings() -> None:
    report = make(previous=previous_of(make()))
    doc = build_document(report)
    ids = [s.id for s in doc.sections]
    assert ids[:2] == ["recommendations", "findings"]
    assert ids.index("deltas") > ids.index("tokenizers") and ids[-1] == "details"
    md = render_markdown(report)
    assert md.index("## Recommendations per purpose and budget") < md.index("## Headline findings")
    assert "| 1 | qwen2.5-7b | int8, 9.1 GiB (estimated) | yes (apache-2.0) |" in md
    findings = next(s for s in doc.sections if s.id == "findings").blocks[0].items  # type: ignore[union-attr]
    # Generated from the numbers: qwen2 spends 0.609 / 1.217 = 50 % of Llama-2's tokens.
    assert any(
        "**qwen2** spends the fewest tokens on Chinese" in f and "50%" in f for f in findings
    )
    assert any("0 flagged changes" in f for f in findings)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.figures: list[dict[str, str]] = []
        self.svg_text: list[str] = []
        self.tags: set[str] = set()
        self.links: list[str] = []
        self._in_svg_text = False

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "section":
            self.sections.append(a["id"])
        if tag == "figure":
            self.figures.append(a)
        self._in_svg_text = tag == "text"
        for key in ("src", "href"):
            if key in a and not a[key].startswith("#"):
                self.links.append(a[key])

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if self._in_svg_text:
            self.svg_text.append(data)


def test_html_is_self_contained_and_every_chart_has_its_axis_labels() -> None:
    html = render_html(make(previous=previous_of(make())))
    parsed = _Collector()
    parsed.feed(html)
    assert parsed.sections[0] == "recommendations"
    assert [f["data-figure"] for f in parsed.figures] == [
        "tokens-per-char", "throughput", "zh-en-parity", "measured-vs-estimated", "latency-decode"
    ]  # fmt: skip
    assert "script" not in parsed.tags and parsed.links == []
    assert "http" not in html.replace("http://www.w3.org/", "")  # only SVG namespaces
    for fig in parsed.figures:  # the labels are SVG text, with units and kinds
        assert fig["data-x-label"] in parsed.svg_text, fig["data-figure"]
        assert fig["data-y-label"] in parsed.svg_text, fig["data-figure"]
    assert "tokens per character (tok/char, measured; fewer = more text per token)" in html
    assert " Llama-2 32k baseline, zh 1.22" in parsed.svg_text


def test_coverage_statuses_and_problems() -> None:
    report = make()
    cells = {(c.target, c.probe): c.status for c in report.coverage}
    assert cells[("llama2", MEM)] == "error"
    assert cells[("qwen2.5-7b", LAT)] == "partial"  # one unit ok, one skipped
    assert cells[("qwen2", TE)] == "ok"
    assert [(p.target, p.status) for p in report.problems] == [
        ("llama2", "error"),
        ("qwen2.5-7b", "skipped"),
    ]
    assert "ValueError: no arch for llama2" in render_markdown(report)


def test_a_later_ok_record_of_the_same_unit_wins() -> None:
    records = [
        rec("m", "license", "probe_status", None, "", status="error", error="boom",
            params={"_unit": "x"}),
        rec("m", "license", "commercial_use", 1.0, "bool", params={"_unit": "x"}, seconds=5),
    ]  # fmt: skip
    report = make(records=records)
    assert [(c.target, c.status) for c in report.coverage] == [("m", "ok")]
    assert report.problems == []


def _set(prev: dict, model: str, metric: str, **fields: object) -> None:
    for v in prev["values"]:
        if v["model_id"] == model and v["metric"] == metric:
            v.update(fields)


def test_deltas_by_rule_spread_exact_threshold() -> None:
    prev = previous_of(make())
    # spread: the runs' ranges [1.95e6, 2.3e6] and [1.9e6, 2.1e6] overlap: noise, not flagged.
    _set(prev, "qwen2", "batch_chars_per_s", value=2.15e6, samples=[1.95e6, 2.15e6, 2.3e6])
    # spread: disjoint ranges, every pass of one run slower than every pass of the other.
    _set(prev, "qwen2", "single_chars_per_s", value=1.5e6, samples=[1.45e6, 1.5e6, 1.52e6])
    # exact: a token count moved by 0.1 %: any change is a finding.
    _set(prev, "qwen2", "zh_en_parity_ratio", value=1.021)
    # threshold: measured once, 3 % apart: under the 5 % threshold.
    _set(prev, "qwen2.5-7b", "peak_memory_mib", value=927.0)
    d = make(previous=prev).deltas
    assert d is not None
    by = {c.metric: c for c in d.changes}
    assert (by["batch_chars_per_s"].flagged, by["batch_chars_per_s"].rule) == (False, "spread")
    assert by["batch_chars_per_s"].previous_range == [1.95e6, 2.3e6]
    assert (by["single_chars_per_s"].flagged, by["single_chars_per_s"].rule) == (True, "spread")
    assert (by["zh_en_parity_ratio"].flagged, by["zh_en_parity_ratio"].rule) == (True, "exact")
    assert (by["peak_memory_mib"].flagged, by["peak_memory_mib"].rule) == (False, "threshold")
    assert d.flagged == 2 and d.within_spread == 1
    assert [c.flagged for c in d.changes] == sorted((c.flagged for c in d.changes), reverse=True)
    md = render_markdown(make(previous=prev))
    assert "**2 flagged**" in md
    assert "| FLAG | qwen2 | tokenizer_efficiency | zh_en_parity_ratio | flores200/zh-en |" in md


def test_a_timing_of_one_pass_is_judged_against_the_measured_noise() -> None:
    """A run that timed a value in one pass measured no spread of its own, but the other run
    did: the pass is a point judged against that noise, not by the 5 % threshold."""
    records = [
        r.model_copy(update={"samples": [r.value]}) if r.probe == TT else r
        for r in sample_records()
    ]  # this run: one pass per timing (batch 2.0e6, single 1.0e6 chars/s)
    prev = previous_of(make())
    # 8 % slower before, but this run's pass lies inside the previous run's passes: noise.
    _set(prev, "qwen2", "batch_chars_per_s", value=1.85e6, samples=[1.7e6, 1.85e6, 2.1e6])
    # Every previous pass 30 % faster than this run's: a finding.
    _set(prev, "qwen2", "single_chars_per_s", value=1.35e6, samples=[1.3e6, 1.35e6, 1.4e6])
    d = make(previous=prev, records=records).deltas
    assert d is not None
    by = {c.metric: c for c in d.changes}
    assert (by["batch_chars_per_s"].flagged, by["batch_chars_per_s"].rule) == (False, "spread")
    assert by["batch_chars_per_s"].noise_range == [1.7e6, 2.1e6]
    assert (by["single_chars_per_s"].flagged, by["single_chars_per_s"].rule) == (True, "spread")
    assert d.within_spread == 1
    # The other way round: the previous run's single pass lies inside this run's passes.
    prev = previous_of(make(records=records))
    _set(prev, "qwen2", "batch_chars_per_s", value=1.95e6, samples=[1.95e6])
    change = {c.metric: c for c in make(previous=prev).deltas.changes}["batch_chars_per_s"]
    assert (change.flagged, change.rule) == (False, "spread")
    # Neither run measured a spread: no noise to judge by, the threshold applies.
    _set(prev, "qwen2", "batch_chars_per_s", value=1.8e6, samples=[1.8e6])
    change = {c.metric: c for c in make(previous=prev, records=records).deltas.changes}
    assert (change["batch_chars_per_s"].flagged, change["batch_chars_per_s"].rule) == (
        True, "threshold",
    )  # fmt: skip


def _timed_as(timing: str, min_pass_s: float, processes: int) -> list[Measurement]:
    """The sample run with its throughput records stored as the probe labels them."""
    return [
        r.model_copy(update={"params": {**r.params, "timing": timing, "min_pass_s": min_pass_s,
                                        "processes": processes}})
        if r.probe == TT else r
        for r in sample_records()
    ]  # fmt: skip


def test_quick_and_precise_timings_from_the_store_are_never_compared() -> None:
    """Records labelled quick (tokenize-bench) against a precise run's (a suite): the label
    reaches the report's values, so the pair is a method change, however far apart."""
    precise = make(records=_timed_as("precise", 0.25, 3))
    prev = previous_of(precise)
    _set(prev, "qwen2", "single_chars_per_s", value=2.5e6, samples=[2.4e6, 2.5e6, 2.6e6])
    quick = make(previous=prev, records=_timed_as("quick", 0.1, 1))
    d = quick.deltas
    assert d is not None and not any(c.probe == TT for c in d.changes)
    (change,) = [m for m in d.method_changes if "timing precise → quick" in m.detail]
    assert change.values == 2 and d.timed_set_aside == 2
    captions = {f.id: f.caption for f in build_document(quick).figures()}
    assert "of 1 fresh process, each pass at least 0.1 s;" in captions["throughput"]
    captions = {f.id: f.caption for f in build_document(precise).figures()}
    assert "of 3 fresh processes, each pass at least 0.25 s;" in captions["throughput"]


def test_every_param_that_decides_a_method_reaches_the_report() -> None:
    """The deltas judge a method by params the report's values keep: one dropped on the way
    (as ``timing`` was) reads as its default on both sides and is never a change."""
    from llmselect.report.build import REPORT_PARAMS
    from llmselect.report.deltas import METHOD_PARAMS

    assert set(METHOD_PARAMS) <= set(REPORT_PARAMS)
    assert "cpu_share" in REPORT_PARAMS  # the machine-load check reads it too


def test_method_library_and_machine_changes_are_reported_not_flagged() -> None:
    prev = previous_of(make())
    _set(prev, "qwen2", "batch_chars_per_s", probe_version=0, value=9e6, samples=None)
    _set(prev, "qwen2.5-7b", "decode_ms_per_token", value=90.0,
         params={"threads": 2, "cpu_threads": 2, "device": "cpu"})  # fmt: skip
    d = make(previous=prev).deltas
    assert d is not None and d.flagged == 0
    whats = {(m.what, m.detail) for m in d.method_changes}
    assert ("probe version", "tokenizer_throughput 0 → 1") in whats
    assert ("method params", "reference_latency: threads 2 → 1, cpu_threads 2 → 1") in whats
    # A new machine: timings and memory are not compared; counts and estimates still are.
    moved = previous_of(make(), platform="Linux-aarch64")
    _set(moved, "qwen2", "tokens_per_char", value=0.7)
    d = make(previous=moved).deltas
    assert d is not None
    assert [m.what for m in d.method_changes] == ["machine"]
    assert d.method_changes[0].values == 4  # 2 throughput, decode, peak memory
    assert [(c.metric, c.flagged) for c in d.changes] == [("tokens_per_char", True)] * 2
    # A busier machine: the timed process got half the CPU it got before: load, not code.
    busy = previous_of(make())
    _set(busy, "qwen2.5-7b", "decode_ms_per_token", value=90.0, samples=[88.0, 90.0, 95.0],
         params={"threads": 1, "cpu_threads": 1, "device": "cpu", "cpu_share": 0.45})  # fmt: skip
    current = make(records=[r.model_copy(update={"params": {**r.params, "cpu_share": 0.97}})
                            if r.metric == "decode_ms_per_token" else r
                            for r in sample_records()])  # fmt: skip
    d = compute_deltas(current.values, busy)
    assert d is not None and d.flagged == 0
    assert [m.what for m in d.method_changes] == ["machine load"]
    # Other library versions: the same for timings.
    newer = previous_of(make(), versions={"tokenizers": "0.22.0", "torch": None})
    d = make(previous=newer).deltas
    assert d is not None and [m.what for m in d.method_changes] == ["library"]
    assert "tokenizers 0.22.0 → 0.23.3" in d.method_changes[0].detail


def test_new_missing_and_other_sample_sizes() -> None:
    prev = previous_of(make())
    prev["values"] = [v for v in prev["values"] if v["metric"] != "decode_ms_per_token"]
    prev["values"].append(dict(prev["values"][0], model_id="gone-model"))
    _set(prev, "qwen2", "zh_en_parity_ratio", n=50)
    d = compute_deltas(make().values, prev)
    assert d is not None
    assert d.new == ["qwen2.5-7b/reference_latency/decode_ms_per_token/bs=1,seq=128,dtype=fp32"]
    assert d.missing == ["gone-model/tokenizer_efficiency/tokens_per_char/flores200/en"]
    assert d.incomparable == ["qwen2/tokenizer_efficiency/zh_en_parity_ratio/flores200/zh-en"]
    assert compute_deltas(make().values, None) is None


def test_dataframe_input_gives_the_same_report() -> None:
    from llmselect.store import records_frame

    records = sample_records()
    assert render_json(make(records=records_frame(records))) == render_json(make(records=records))


def test_write_report_and_find_previous(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    report = make()
    paths = write_report(report, out)
    names = sorted(str(p.relative_to(out)) for p in paths)
    assert names == [
        "2026-11-23/report.html", "2026-11-23/report.json", "2026-11-23/report.md",
        "latest.html", "latest.json", "latest.md",
    ]  # fmt: skip
    assert "[latest.html](latest.html)" in (out / "latest.md").read_text()
    assert "[report.html](report.html)" in (out / "2026-11-23" / "report.md").read_text()
    assert find_previous(out, "2026-11-23") is None  # same day is not "previous"
    assert find_previous(out, "2026-11-24") == out / "2026-11-23" / "report.json"
    loaded = read_report_json(out / "latest.json")
    again = build_report(sample_records(), run_info(), loaded, NOW, report_date=date(2026, 11, 24))
    assert again.date == "2026-11-24" and again.deltas is not None
    assert again.deltas.flagged == 0 and again.deltas.unchanged == len(again.values)


def test_read_report_json_rejects_other_files(tmp_path: Path) -> None:
    from llmselect.errors import LLMSelectError

    bad = tmp_path / "x.json"
    bad.write_text("[1, 2]")
    with pytest.raises(LLMSelectError, match="not a report.json"):
        read_report_json(bad)
    with pytest.raises(LLMSelectError, match="cannot read previous report"):
        read_report_json(tmp_path / "missing.json")


def test_standard_recommendations_come_from_the_recommender() -> None:
    from llmselect.catalog import load_catalog
    from llmselect.report import STANDARD_REQUESTS, standard_recommendations

    blocks = standard_recommendations([])
    assert [b.label for b in blocks] == [label for label, _gpu, _purpose in STANDARD_REQUESTS]
    assert [b.request["gpu"] for b in blocks] == ["24GB", "2x80GB", "16GB", "8GB", "cpu:16GB"]
    catalog = load_catalog()
    commercial = blocks[0]
    assert commercial.rows and commercial.excluded > 0
    for row in commercial.rows:
        model = catalog.get(row.model_id)
        assert model.license is not None and model.license.commercial != "no"
        assert row.fit and row.license and row.deciding
    assert [r.rank for r in commercial.rows] == list(range(1, len(commercial.rows) + 1))


def test_catalog_gives_context_windows_and_memory_curves_of_the_leading_candidates() -> None:
    from llmselect.catalog import load_catalog
    from llmselect.memory.estimate import estimate_memory

    catalog = load_catalog()
    report = make(catalog=catalog)
    window = next(w for w in report.context_windows if w.model_id == "qwen2.5-7b")
    model = catalog.get("qwen2.5-7b")
    assert window.tokenizer == model.tokenizer == "qwen2"
    assert window.zh_chars == int(model.context_length / 0.609)
    point = next(p for p in report.memory_curves if p.dtype == "int4" and p.context == 4096)
    est = estimate_memory(model.arch, dtype="int4", seq=4096, params_total=model.params_exact,
                          last_token_logits=True)  # fmt: skip
    assert point.gib == pytest.approx(est.total_bytes / 1024**3, abs=1e-3)
    ids = [f.id for f in build_document(report).figures()]
    assert "zh-chars-per-context" in ids and "memory-vs-context" in ids


def test_published_scores_feed_the_quality_chart_outside_coverage_and_deltas() -> None:
    from llmselect.catalog import load_catalog
    from llmselect.scores import published_records

    catalog = load_catalog()
    published = [r for m in catalog for r in published_records(m)]
    records = sample_records() + [
        rec(m.id, MEM, "est_peak_memory_mib", 1000.0 * (m.params_b or 1), "MiB",
            kind="estimated", subset="bs=1,seq=4096,dtype=int4", params={"_unit": f"m-{m.id}"})
        for m in catalog
    ]  # fmt: skip
    report = build_report(records, run_info(), None, NOW, published=published)
    assert len(report.published) == len(published)
    assert "quality-vs-memory" in [f.id for f in build_document(report).figures()]
    again = build_report(records, run_info(), json.loads(render_json(report)), NOW)
    assert again.deltas is not None and again.deltas.missing == []  # published: not compared


def test_help_and_recommend_do_not_import_matplotlib() -> None:
    code = (
        "import sys\nfrom llmselect.cli import app\n"
        "for argv in (['--help'], ['recommend', '--gpu', '24GB', '--purpose', 'commercial']):\n"
        "    try:\n        app(argv, standalone_mode=False)\n    except SystemExit:\n        pass\n"
        "print('HEAVY=' + ','.join(m for m in ('matplotlib', 'torch', 'transformers')"
        " if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY="


def test_committed_example_report_renders_back() -> None:
    """reports/latest.* came from one Report: re-rendering its JSON gives the same files (the
    page's SVG byte for byte only under the matplotlib version that drew it)."""
    from importlib import metadata

    from llmselect.report import Report

    reports = Path(__file__).resolve().parents[1] / "reports"
    raw = json.loads((reports / "latest.json").read_text(encoding="utf-8"))
    report = Report.model_validate(raw)
    assert report.run["suite"] == "nightly" and report.values and report.recommendations
    doc = build_document(report, html_name="latest.html")
    from llmselect.report.html import render_html_document
    from llmselect.report.markdown import render_markdown_document

    assert (reports / "latest.md").read_text(encoding="utf-8") == render_markdown_document(doc)
    if report.renderer.get("matplotlib") == metadata.version("matplotlib"):
        assert (reports / "latest.html").read_text(encoding="utf-8") == render_html_document(doc)
    dated = reports / report.date
    assert (dated / "report.json").read_text(encoding="utf-8") == render_json(report) + "\n"
    kinds = {v.kind for v in report.values}
    assert kinds <= {"measured", "estimated", "published"} and "measured" in kinds
    assert all(v.unit for v in report.values)


def test_report_of_a_real_suite_run_shows_the_real_numbers(
    with_data_root: Path, tokenizers_root: Path, tmp_path: Path
) -> None:
    """Real tokenizer + real corpus → store → report; the number matches sentencepiece itself."""
    import sentencepiece as spm

    from llmselect.corpora import load_corpus
    from llmselect.store import load, read_run_info
    from llmselect.suite import parse_suite, run_suite

    spec = parse_suite(
        {
            "name": "real",
            "tokenizers": ["llama2"],
            "corpora": ["default"],
            "limits": {"limit": 20},
            "probes": [{"probe": "tokenizer_efficiency"}],
        },
        "test",
    )
    result = run_suite(spec, results_root=tmp_path / "store")
    assert (result.ok, result.errors) == (1, 0)
    frame = load(tmp_path / "store", latest_only=False)
    report = build_report(frame, read_run_info(result.run_dir), None, NOW)

    sp = spm.SentencePieceProcessor(model_file=str(tokenizers_root / "llama2" / "tokenizer.model"))
    corpus = load_corpus("default", limit=20)
    for lang in ("zh", "en"):
        texts = [s.text.strip() for s in corpus.segments if s.lang == lang and s.text.strip()]
        expected = sum(len(sp.encode(t)) for t in texts) / sum(len(t) for t in texts)
        row = next(
            v for v in report.values if v.metric == "tokens_per_char" and v.subset.endswith(lang)
        )
        assert row.value == pytest.approx(expected, rel=1e-12)
        assert (row.unit, row.kind, row.n) == ("tok/char", "measured", len(texts))
    zh = next(
        v for v in report.values if v.metric == "tokens_per_char" and v.subset == "default/zh"
    )
    assert f"| llama2 | {fmt_value(zh.value)} | {fmt_value(row.value)} |" in render_markdown(report)
    assert [c.status for c in report.coverage] == ["ok"]


def test_a_declared_table_in_a_built_in_section_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table a probe declares in a section that has built-in tables (here: the tokenizer
    section) is drawn beside them, not replaced by them."""
    from llmselect.metrics import DeclaredMetric, MetricIndex, MetricSpec
    from llmselect.report import compose

    index = compose._index()
    extra = DeclaredMetric(TE, MetricSpec("zh_en_parity_ratio", "ratio", None, "tokenizers",
                                          table="Parity on parallel text"))  # fmt: skip
    monkeypatch.setattr(compose, "_index", lambda: MetricIndex([*index.declared, extra]))
    section = next(s for s in build_document(make()).sections if s.id == "tokenizers")
    titles = [b.title for b in section.blocks if hasattr(b, "header")]
    assert titles[-1] == "Parity on parallel text" and len(titles) >= 3  # built-in ones first
