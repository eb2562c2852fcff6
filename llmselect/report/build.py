"""Records of one run → ``Report`` (pure; the same input gives the same report)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date as Date
from datetime import datetime
from typing import TYPE_CHECKING, Any

from llmselect.records import Measurement, RunInfo, instant
from llmselect.report.deltas import compute_deltas
from llmselect.report.derived import context_windows, leading_candidates, memory_curves
from llmselect.report.model import (
    DEFAULT_THRESHOLD,
    STDERR_NOTE,
    CostTable,
    CoverageCell,
    DeviceGroup,
    HistoryRun,
    Problem,
    PurposeRecommendations,
    Report,
    ValueRow,
)

if TYPE_CHECKING:
    import pandas as pd

# Params a report keeps (tables, charts and deltas use them; deltas say from STDERR_NOTE why a
# value has no standard error); the store keeps all of them.
REPORT_PARAMS = (
    "params_total", "allowed", "license_id", "mode", "threads", "cpu_threads", "dtype", "device",
    "device_name", "isolation", "clock", "prefill_logits", "backend", "memory", "counting",
    "loops", "repeats", "processes", "tokenizer_sha256", "tokens", "chars", "new_tokens",
    "cpu_share", "timing", "min_pass_s", STDERR_NOTE, "checkpoint_sha256",
)  # fmt: skip


def _clean(value: Any) -> Any:
    """pandas NaN → None."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def as_records(data: pd.DataFrame | Iterable[Measurement]) -> list[Measurement]:
    """Records from a store DataFrame or an iterable of Measurement."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        out = []
        for row in data.to_dict(orient="records"):  # type: ignore[union-attr]
            clean = {k: _clean(v) for k, v in row.items()}
            if not isinstance(clean.get("params"), dict):
                clean["params"] = {}
            samples = clean.get("samples")
            clean["samples"] = list(samples) if isinstance(samples, list | tuple) else None
            out.append(Measurement.model_validate(clean))
        return out
    return list(data)  # type: ignore[arg-type]


# What a report row repeats from its record unchanged; ``detail`` adds stderr, samples and the
# reported params. The two schemas share no other field (a test keeps it so).
ROW_FIELDS = (
    "model_id", "probe", "probe_version", "metric", "subset", "value", "unit", "kind",
    "higher_is_better", "n", "source",
)  # fmt: skip


def value_row(r: Measurement, *, detail: bool = True) -> ValueRow:
    """A record as a report row; ``detail`` adds stderr, samples and the reported params."""
    row = {name: getattr(r, name) for name in ROW_FIELDS}
    if detail:
        params = {k: v for k, v in sorted(r.params.items()) if k in REPORT_PARAMS}
        row |= {"stderr": r.stderr, "samples": r.samples, "params": params}
    return ValueRow(**row)


def _published(records: Iterable[Measurement]) -> list[ValueRow]:
    """Published numbers as given (several sources per key are all kept), sorted."""
    rows = [
        value_row(r, detail=False) for r in records if r.value is not None and r.kind == "published"
    ]
    return sorted(rows, key=lambda v: (*v.key, v.source or ""))


def _values(records: Sequence[Measurement]) -> list[ValueRow]:
    """Newest ok row per key (``store.latest``), sorted."""
    from llmselect.store import latest

    return sorted((value_row(r) for r in latest(records)), key=lambda v: v.key)


def _unit_id(rec: Measurement) -> str:
    unit = rec.params.get("_unit")
    return str(unit) if unit else f"{rec.probe}|{rec.params.get('config', '')}"


def coverage_of(records: Sequence[Measurement]) -> tuple[list[CoverageCell], list[Problem]]:
    """Per (target, probe): the final status of each unit (a later record wins), combined."""
    cells: dict[tuple[str, str], dict[str, list[Any]]] = {}  # -> unit -> [status, msg, values]
    for rec in sorted(records, key=lambda r: (instant(r.started_at), r.run_id)):
        units = cells.setdefault((rec.model_id, rec.probe), {})
        key = _unit_id(rec)
        state = units.get(key)
        if rec.status == "ok":
            if state is None or state[0] != "ok":
                state = ["ok", "", 0]
            state[2] += 1
            units[key] = state
        else:
            units[key] = [rec.status, rec.error or "", 0]
    coverage: list[CoverageCell] = []
    problems: list[Problem] = []
    for (target, probe), units in sorted(cells.items()):
        statuses = {s[0] for s in units.values()}
        if "error" in statuses:
            status = "error"
        elif statuses == {"ok"}:
            status = "ok"
        elif "ok" in statuses:
            status = "partial"
        else:
            status = "skipped"
        notes = sorted({s[1].strip().splitlines()[-1] for s in units.values() if s[1].strip()})
        coverage.append(
            CoverageCell(
                target=target,
                probe=probe,
                status=status,
                values=sum(s[2] for s in units.values()),
                note="; ".join(n[:200] for n in notes),
            )
        )
        problems += [
            Problem(target=target, probe=probe, status=s[0], message=s[1][-2000:])
            for s in units.values()
            if s[0] != "ok"
        ]
    problems.sort(key=lambda p: (p.status, p.probe, p.target, p.message))
    return coverage, problems


COST_TITLE = "Training and fine-tuning cost: published beside estimated"


def standard_cost_tables() -> list[CostTable]:
    """The published training runs and fine-tuning memory table beside ``llmselect.cost``."""
    from llmselect.cost.published import report_tables

    return [CostTable(title=t, header=h, rows=r, note=n) for t, h, r, n in report_tables()]


def _renderer_versions() -> dict[str, str]:
    from importlib import metadata

    try:
        return {"matplotlib": metadata.version("matplotlib")}
    except metadata.PackageNotFoundError:
        return {}


def device_groups(records: Sequence[Measurement]) -> list[DeviceGroup] | None:
    """Records grouped by (host, device); None when no record names them (older runs)."""
    groups: dict[tuple[str, str], list[Measurement]] = {}
    for r in records:
        if r.host is not None or r.device is not None:
            groups.setdefault((r.host or "unknown", r.device or "unknown"), []).append(r)
    return [
        DeviceGroup(
            host=host,
            device=device,
            units=len({(r.model_id, r.probe, str(r.params.get("_unit", r.metric))) for r in recs}),
            records=len(recs),
            probes=sorted({r.probe for r in recs}),
        )
        for (host, device), recs in sorted(groups.items())
    ] or None


def build_report(
    data: pd.DataFrame | Iterable[Measurement],
    run_info: RunInfo | None,
    previous: Report | dict[str, Any] | None,
    now: datetime,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    recommendations: Sequence[PurposeRecommendations] = (),
    report_date: Date | None = None,
    title: str = "llmselect report",
    published: Iterable[Measurement] = (),
    cost: Sequence[CostTable] = (),
    catalog: Any = None,
    history: Sequence[HistoryRun] = (),
) -> Report:
    """A report of one run's records (all statuses; the newest ok value per key is shown).

    ``published`` holds catalog numbers (``kind="published"``) shown in their own section,
    never mixed with the run's measurements, coverage or deltas. With the ``catalog``, the
    leading candidates of the recommendations get their Chinese characters per context window
    and estimated memory against context length.
    """
    records = as_records(data)
    values = _values(records)
    coverage, problems = coverage_of(records)
    run = run_info.model_dump(mode="json") if run_info else {}
    day = report_date or now.date()
    windows, curves = [], []
    if catalog is not None:
        leading = leading_candidates(recommendations)
        windows = context_windows(values, catalog, leading)
        curves = memory_curves(catalog, leading)
    return Report(
        title=title,
        date=day.isoformat(),
        generated_at=now.isoformat(),
        run=run,
        targets=sorted({c.target for c in coverage}),
        probes=sorted({c.probe for c in coverage}),
        coverage=coverage,
        values=values,
        problems=problems,
        deltas=compute_deltas(values, previous, run, threshold, history),
        recommendations=list(recommendations),
        published=_published(published),
        cost=list(cost) or None,
        devices=device_groups(records),
        context_windows=windows,
        memory_curves=curves,
        renderer=_renderer_versions(),
    )
