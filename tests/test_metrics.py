"""Metric declarations: every record a probe writes is declared, with the same unit and
direction, and the declarations give the report its sections, tables and charts."""

from __future__ import annotations

from pathlib import Path

from llmselect.metrics import declared_metrics
from llmselect.probes.base import RunContext
from llmselect.registry import PROBES


def _check_declared(records: list) -> None:  # type: ignore[type-arg]
    index = declared_metrics()
    assert records
    for rec in records:
        spec = index.spec(rec.probe, rec.metric)
        assert spec is not None, f"{rec.probe}.{rec.metric} is not declared"
        assert (spec.unit, spec.higher_is_better) == (rec.unit, rec.higher_is_better), rec.metric


def test_tokenizer_probe_records_are_declared(with_data_root: Path) -> None:
    from llmselect.tokenizers import load_tokenizer_catalog

    target = load_tokenizer_catalog().get("llama2")
    ctx = RunContext(run_id="r", limit=10)
    for name in ("tokenizer_efficiency", "tokenizer_throughput"):
        cls = PROBES.load(name)
        config = {"repeats": 1} if name == "tokenizer_throughput" else {}
        _check_declared(list(cls(cls.Config(**config)).run(target, ctx)))


def test_memory_and_license_records_are_declared() -> None:
    from llmselect.catalog import load_catalog

    model = load_catalog().get("qwen2.5-7b-instruct")
    ctx = RunContext(run_id="r")
    for name in ("memory_estimate", "license"):
        _check_declared(list(PROBES.load(name)().run(model, ctx)))


def test_every_declared_section_chart_and_table_is_named() -> None:
    index = declared_metrics()
    sections = [sid for sid, _title in index.sections()]
    assert sections == ["tokenizers", "memory", "latency", "eval", "licenses"]
    charts = [chart.id for chart, _ in index.charts()]
    assert len(charts) == len(set(charts))
    assert index.tables("latency") == [
        (
            "Reference model on this machine",
            ("prefill_ms", "decode_ms_per_token", "decode_tokens_per_s", "peak_memory_mib"),
        )
    ]
    assert index.with_evidence("decode_ms") == {("reference_latency", "decode_ms_per_token")}
