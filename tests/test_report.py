"""Report building, rendering, deltas and files (records built here; clock injected)."""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from llmselect.charts import fmt_value
from llmselect.records import Measurement, RunInfo
from llmselect.report import (
    PurposeRecommendations,
    RecommendationRow,
    build_report,
    compute_deltas,
    find_previous,
    read_report_json,
    render_html,
    render_json,
    render_markdown,
    write_report,
)

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


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


def run_info() -> RunInfo:
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
    )


def sample_records() -> list[Measurement]:
    te, mem, lat, ev = (
        "tokenizer_efficiency",
        "memory_estimate",
        "reference_latency",
        "lm_eval_scores",
    )
    u = {"_unit": "u1"}
    pt = 7_615_616_512
    return [
        rec("llama2", te, "tokens_per_char", 1.217, "tok/char", subset="flores200/zh",
            n=997, params=u, higher_is_better=False),
        rec("llama2", te, "tokens_per_char", 0.2, "tok/char", subset="flores200/en",
            n=997, params=u, higher_is_better=False),
        rec("qwen2", te, "tokens_per_char", 0.609, "tok/char", subset="flores200/zh",
            n=997, params=u, higher_is_better=False),
        rec("qwen2", te, "tokens_per_char", 0.186, "tok/char", subset="flores200/en",
            n=997, params=u, higher_is_better=False),
        rec("qwen2", te, "zh_en_parity_ratio", 1.02, "ratio", subset="flores200/zh-en",
            n=997, params=u),
        rec("qwen2.5-7b", mem, "est_weights_mib", 14525.0, "MiB", kind="estimated",
            subset="bs=1,seq=2048,dtype=bf16", params={"_unit": "m1", "params_total": pt},
            source="formula"),
        rec("qwen2.5-7b", mem, "est_weights_mib", 7263.0, "MiB", kind="estimated",
            subset="bs=1,seq=2048,dtype=int8", params={"_unit": "m1", "params_total": pt},
            source="formula"),
        rec("qwen2.5-7b", lat, "decode_ms_per_token", 41.5, "ms",
            subset="bs=1,seq=128,dtype=fp32", params={"_unit": "l1"}, n=5),
        rec("qwen2.5-7b", lat, "prefill_ms", 210.0, "ms",
            subset="bs=1,seq=128,dtype=fp32", params={"_unit": "l1"}, n=5),
        rec("qwen2.5-7b", ev, "acc", 78.4, "%", kind="published", source="Qwen2.5 report",
            subset="cmmlu", params={"_unit": "e1"}),
        rec("qwen2.5-7b", "license", "license_commercial_allowed", 1.0, "verdict",
            kind="published", source="LICENSE", subset="commercial",
            params={"_unit": "c1", "allowed": "yes", "license_id": "apache-2.0"}),
        rec("llama2", mem, "probe_status", None, "", status="error",
            error="Traceback...\nValueError: no arch for llama2", params={"_unit": "m2"}),
        rec("qwen2.5-7b", lat, "probe_status", None, "", status="skipped",
            error="CUDA not available", params={"_unit": "l2"}),
    ]  # fmt: skip


FIGURES = [
    "tokens-per-char", "zh-en-parity", "memory-vs-params", "latency-decode", "latency-prefill",
    "eval-scores",
]  # fmt: skip


def recommendations() -> list[PurposeRecommendations]:
    return [
        PurposeRecommendations(
            label="24 GB GPU, commercial use",
            request={"gpu": "24GB", "purpose": "commercial"},
            rows=[RecommendationRow(rank=1, model_id="qwen2.5-7b", score=0.9, coverage=0.8)],
            excluded=2,
        )
    ]


def make(previous=None, records=None) -> object:
    return build_report(
        records if records is not None else sample_records(),
        run_info(),
        previous,
        NOW,
        recommendations=recommendations(),
    )


def test_report_is_deterministic_and_order_independent() -> None:
    records = sample_records()
    first = make(records=records)
    shuffled = list(records)
    random.Random(4).shuffle(shuffled)
    second = make(records=shuffled)
    assert render_json(first) == render_json(second)
    assert render_markdown(first) == render_markdown(second)
    assert render_html(first) == render_html(second)


def test_report_snapshots(snapshot) -> None:
    report = make()
    assert render_markdown(report) == snapshot(name="markdown")
    assert render_html(report) == snapshot(name="html")
    assert render_json(report) == snapshot(name="json")


def test_values_keep_units_kinds_and_sources() -> None:
    report = make()
    by_key = {v.key: v for v in report.values}
    mem = by_key[("qwen2.5-7b", "memory_estimate", "est_weights_mib", "bs=1,seq=2048,dtype=bf16")]
    assert (mem.value, mem.unit, mem.kind) == (14525.0, "MiB", "estimated")
    assert "_unit" not in mem.params and mem.params["params_total"] == 7_615_616_512
    md = render_markdown(report)
    assert "| qwen2.5-7b | acc | cmmlu | 78.4 | % | published (Qwen2.5 report) |" in md
    assert "| llama2 | tokens_per_char | flores200/zh | 1.217 | tok/char | measured | 997 |" in md
    assert "| qwen2.5-7b | apache-2.0 | yes |" in md  # license verdict table
    assert "| llama2 | 0.2 | 1.217 |" in md  # summary pivot: en, zh columns
    assert "tokens_per_char flores200/zh (tok/char, measured)" in md
    assert "probe_status" not in md.split("## Skipped and failed")[0]


def test_coverage_statuses_and_problems() -> None:
    report = make()
    cells = {(c.target, c.probe): c.status for c in report.coverage}
    assert cells[("llama2", "memory_estimate")] == "error"
    assert cells[("qwen2.5-7b", "reference_latency")] == "partial"  # one unit ok, one skipped
    assert cells[("qwen2", "tokenizer_efficiency")] == "ok"
    assert [(p.target, p.status) for p in report.problems] == [
        ("llama2", "error"),
        ("qwen2.5-7b", "skipped"),
    ]
    md = render_markdown(report)
    assert "ValueError: no arch for llama2" in md


def test_a_later_ok_record_of_the_same_unit_wins() -> None:
    """A resumed run that retried a unit: coverage shows its final state."""
    records = [
        rec("m", "license", "probe_status", None, "", status="error", error="boom",
            params={"_unit": "x"}),
        rec("m", "license", "commercial_use", 1.0, "bool", params={"_unit": "x"}, seconds=5),
    ]  # fmt: skip
    report = make(records=records)
    assert [(c.target, c.status) for c in report.coverage] == [("m", "ok")]
    assert report.problems == []


def test_delta_logic_flags_over_threshold() -> None:
    base = make()
    prev = json.loads(render_json(base))
    prev["date"] = "2026-11-22"
    changed = {
        ("llama2", "flores200/zh"): 1.217 * 1.03,  # +3 %: changed, not flagged
        ("qwen2", "flores200/zh"): 0.609 * 0.90,  # -10 %: flagged
    }
    for v in prev["values"]:
        key = (v["model_id"], v["subset"])
        if v["metric"] == "tokens_per_char" and key in changed:
            v["value"] = changed[key]
    prev["values"] = [v for v in prev["values"] if v["metric"] != "decode_ms_per_token"]  # new now
    prev["values"].append(dict(prev["values"][0], model_id="gone-model"))  # missing now
    for v in prev["values"]:
        if v["metric"] == "zh_en_parity_ratio":
            v["n"] = 50  # another sample size: not compared
    for v in prev["values"]:
        if v["metric"] == "acc":
            v["probe_version"] = 0  # different probe version: not comparable

    report = make(previous=prev)
    d = report.deltas
    assert d is not None and d.previous_date == "2026-11-22" and d.threshold == 0.05
    by_model = {(c.model_id, c.subset): c for c in d.changes}
    small = by_model[("llama2", "flores200/zh")]
    big = by_model[("qwen2", "flores200/zh")]
    assert not small.flagged and small.rel_change == pytest.approx(1 / 1.03 - 1)
    assert big.flagged and big.rel_change == pytest.approx(1 / 0.9 - 1)
    assert d.flagged == 1 and len(d.changes) == 2
    assert d.changes[0] is not None and d.changes[0].flagged  # flagged first
    assert "qwen2.5-7b/reference_latency/decode_ms_per_token/bs=1,seq=128,dtype=fp32" in d.new
    assert "qwen2.5-7b/lm_eval_scores/acc/cmmlu" in d.new
    assert d.missing == ["gone-model/tokenizer_efficiency/tokens_per_char/flores200/en"]
    assert d.incomparable == ["qwen2/tokenizer_efficiency/zh_en_parity_ratio/flores200/zh-en"]
    assert d.compared == len(report.values) - 3
    assert d.unchanged == d.compared - 2
    md = render_markdown(report)
    assert "**1 flagged** (|change| > 5%)" in md
    assert "| FLAG | qwen2 | tokenizer_efficiency | tokens_per_char | flores200/zh |" in md


def test_delta_from_zero_is_flagged_and_threshold_is_configurable() -> None:
    current = make().values
    prev = {"date": "2026-11-22", "values": [v.model_dump() for v in current]}
    prev["values"][0]["value"] = 0.0
    d = compute_deltas(current, prev, threshold=0.5)
    assert d is not None and d.flagged == 1 and d.changes[0].rel_change is None
    assert compute_deltas(current, None) is None


def test_dataframe_input_gives_the_same_report() -> None:
    from llmselect.store import records_frame

    records = sample_records()
    assert render_json(make(records=records_frame(records))) == render_json(make(records=records))


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.figures: list[str] = []
        self.svgs = 0
        self.tags: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "section":
            self.sections.append(a["id"])
        if tag == "figure":
            self.figures.append(a["data-figure"])
        if tag == "svg":
            self.svgs += 1
        for key in ("src", "href"):
            if key in a and not a[key].startswith("#"):
                self.links.append(a[key])


def test_html_is_self_contained_with_sections_and_charts() -> None:
    html = render_html(make(previous=json.loads(render_json(make()))))
    parsed = _Collector()
    parsed.feed(html)
    assert parsed.sections == [
        "tokenizers", "memory", "latency", "eval", "licenses", "recommendations", "deltas",
        "run", "coverage", "problems",
    ]  # fmt: skip
    assert parsed.figures == FIGURES
    assert parsed.svgs == len(parsed.figures)
    assert "script" not in parsed.tags and parsed.links == []
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "tokens_per_char (tok/char)" in html  # axis label with its unit
    assert "decode_ms_per_token (ms)" in html
    assert "weights memory (MiB, log scale)" in html and "parameters (billions, log scale)" in html


def test_write_report_and_find_previous(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    report = make()
    paths = write_report(report, out)
    names = sorted(str(p.relative_to(out)) for p in paths)
    assert names == [
        "2026-11-23/report.html", "2026-11-23/report.json", "2026-11-23/report.md",
        "latest.html", "latest.json", "latest.md",
    ]  # fmt: skip
    assert (out / "latest.md").read_text() == (out / "2026-11-23" / "report.md").read_text()
    assert find_previous(out, "2026-11-23") is None  # same day is not "previous"
    assert find_previous(out, "2026-11-24") == out / "2026-11-23" / "report.json"
    loaded = read_report_json(out / "latest.json")
    assert loaded["values"][0]["model_id"] == report.values[0].model_id
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


@pytest.mark.slow
@pytest.mark.integration
def test_report_html_in_headless_chromium(tmp_path: Path) -> None:
    """The page renders in a real browser: expected DOM structure and a non-blank screenshot."""
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "check_report_html.py"
    spec = importlib.util.spec_from_file_location("check_report_html", script)
    checker = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(checker)  # type: ignore[union-attr]
    if checker.find_chromium() is None:
        pytest.skip("no chromium binary (apt-get install -y chromium)")
    write_report(make(previous=json.loads(render_json(make()))), tmp_path)
    result = checker.check(tmp_path / "latest.html", tmp_path / "latest.json", 1000, 1200)
    assert result["ok"], result["problems"]
    assert result["figures"] == FIGURES
    assert result["screenshot"]["width"] == 1000 and result["screenshot"]["height"] == 1200
    # A page without the report's structure fails the same check.
    bare = tmp_path / "bare.html"
    bare.write_text("<!DOCTYPE html><html><body><p>empty</p></body></html>")
    bad = checker.check(bare, tmp_path / "latest.json", 400, 300)
    assert not bad["ok"] and any("missing sections" in p for p in bad["problems"])
    assert any("blank" in p for p in bad["problems"])


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
    md = render_markdown(report)
    zh = next(
        v for v in report.values if v.metric == "tokens_per_char" and v.subset == "default/zh"
    )
    assert f"| llama2 | tokens_per_char | default/zh | {fmt_value(zh.value)} | tok/char |" in md
    assert [c.status for c in report.coverage] == ["ok"]


def test_chart_helpers_are_deterministic_and_labelled() -> None:
    from llmselect.charts import BarGroup, Point, bar_chart, nice_ticks, scatter_chart

    assert nice_ticks(0, 1.217) == [0, 0.25, 0.5, 0.75, 1.0, 1.25]
    groups = [BarGroup("llama2", (1.2, None)), BarGroup("qwen2", (0.6, 0.19))]
    svg = bar_chart("c", "Title <zh>", groups, ["zh", "en"], "tokens_per_char (tok/char)")
    assert svg == bar_chart("c", "Title <zh>", groups, ["zh", "en"], "tokens_per_char (tok/char)")
    assert svg.count('class="bar"') == 3 and "n/a" in svg and "Title &lt;zh&gt;" in svg
    assert "tokens_per_char (tok/char)" in svg
    pts = [Point(0.124, 474.0, "fp16", "gpt2"), Point(72.7, 138_000.0, "fp16", "qwen2-72b")]
    log = scatter_chart("s", "t", pts, "parameters (billions, log scale)", "MiB", log_x=True)
    assert log.count('class="point"') == 2
    assert ">0.1<" in log and ">100<" in log  # decade ticks
    loglog = scatter_chart("s", "t", pts, "x", "y", log_x=True, log_y=True)
    assert ">100<" in loglog and ">1000000<" in loglog


def test_standard_recommendations_come_from_the_recommender() -> None:
    from llmselect.catalog import load_catalog
    from llmselect.report import STANDARD_REQUESTS, standard_recommendations

    blocks = standard_recommendations([])
    assert [b.label for b in blocks] == [label for label, _gpu, _purpose in STANDARD_REQUESTS]
    catalog = load_catalog()
    commercial = blocks[0]
    assert commercial.rows and commercial.excluded > 0
    for row in commercial.rows:
        model = catalog.get(row.model_id)
        assert model.license is not None and model.license.commercial != "no"
    assert [r.rank for r in commercial.rows] == list(range(1, len(commercial.rows) + 1))


def test_published_scores_have_their_own_section_outside_coverage_and_deltas() -> None:
    from llmselect.catalog import load_catalog
    from llmselect.scores import published_records

    catalog = load_catalog()
    published = [r for m in catalog for r in published_records(m)]
    assert published, "the catalog carries published scores"
    report = build_report(sample_records(), run_info(), None, NOW, published=published)
    assert len(report.published) == len(published)
    assert {c.target for c in report.coverage} == {"llama2", "qwen2", "qwen2.5-7b"}
    first = report.published[0]
    spec = catalog.get(first.model_id)
    assert any(s.value == first.value and s.source == first.source for s in spec.scores)
    html = render_html(report)
    parsed = _Collector()
    parsed.feed(html)
    assert "published" in parsed.sections and "published-scores" in parsed.figures
    md = render_markdown(report)
    assert "## Published scores (catalog)" in md
    assert "acc cmmlu (%, published)" in md
    again = build_report(sample_records(), run_info(), json.loads(render_json(report)), NOW)
    assert again.deltas is not None and again.deltas.missing == []  # published: not compared


def test_committed_example_report_renders_back_byte_for_byte() -> None:
    """reports/latest.* came from one Report: re-rendering its JSON gives the same files."""
    from llmselect.report import Report

    reports = Path(__file__).resolve().parents[1] / "reports"
    raw = json.loads((reports / "latest.json").read_text(encoding="utf-8"))
    report = Report.model_validate(raw)
    assert report.run["suite"] == "nightly" and report.values
    assert (reports / "latest.md").read_text(encoding="utf-8") == render_markdown(report)
    assert (reports / "latest.html").read_text(encoding="utf-8") == render_html(report)
    dated = reports / report.date
    assert (dated / "report.json").read_text(encoding="utf-8") == render_json(report) + "\n"
    kinds = {v.kind for v in report.values}
    assert kinds <= {"measured", "estimated", "published"} and "measured" in kinds
    assert all(v.unit for v in report.values)
