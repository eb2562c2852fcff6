"""Metric declarations: what a probe's numbers are, and where the report and recommender use them.

Each probe class declares ``metrics: ClassVar[tuple[MetricSpec, ...]]``, as lm-eval's task YAML
declares ``metric_list`` with ``higher_is_better``. The report groups values into sections,
summary tables and charts from these declarations, and the recommender picks its evidence by
``evidence`` role, so a new metric is one declaration in its probe. ``name="*"`` declares the
section of a probe's metrics whose names are only known at run time (lm-eval task metrics,
license purposes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

# Report sections in page order, with their titles; a plugin may name a new section, which is
# placed after these (its title is its id, capitalised). "published" and "other" come last.
SECTIONS: dict[str, str] = {
    "tokenizers": "Tokenizer efficiency",
    "memory": "Memory",
    "latency": "Latency",
    "eval": "Evaluation scores",
    "licenses": "Licenses",
}
OTHER = "other"

# What the recommender reads a metric as:
# tokens_per_char: tokens per character of one language (subset "<corpus>/<lang>");
# score: a benchmark score (subset names the task; "task/subject" rows are not group scores);
# decode_ms: decode latency per token (subset "bs=..,seq=..,dtype=..").
Evidence = Literal["tokens_per_char", "score", "decode_ms"]


@dataclass(frozen=True)
class ChartSpec:
    """A chart of the report that shows this metric."""

    id: str  # stable: the HTML anchor and the SVG id
    title: str
    caption: str
    # bar series: "subset"; "lang_subset" (subsets with a language only); "subset_or_metric"
    # (the subset, or the metric name when there is none); "params_scatter": values against
    # the model's parameter count, one point per model and dtype.
    series: Literal["subset", "lang_subset", "subset_or_metric", "params_scatter"] = "subset"
    group_rows_only: bool = False  # leave out "task/subject" rows (lm-eval subjects)
    order: int = 100  # position among all charts
    axis: str = ""  # value-axis title of a scatter (the unit is added)


@dataclass(frozen=True)
class Column:
    """A column of a command's summary table (``tokenize-bench``) showing one subset."""

    subset: str  # the subset, or its last part after "/" (the language of "<corpus>/zh")
    header: str  # with the unit in brackets
    fmt: str = "{:.4g}"  # str.format pattern of the value
    rank: int = 100  # position among the table's columns


@dataclass(frozen=True)
class MetricSpec:
    """One metric a probe records: name, unit, direction, and where it is shown."""

    name: str  # unit in the name where it has one: decode_ms_per_token, peak_memory_mib
    unit: str  # "tok/char", "ms", "MiB", "%", "ratio"
    higher_is_better: bool | None  # None: neither (a size, a count, an error)
    section: str  # report section id (SECTIONS, or a new one)
    chart: ChartSpec | None = None
    label: str = ""  # short human name
    description: str = ""
    table: str | None = None  # title of the section's summary table that has a column for it
    evidence: Evidence | None = None  # what the recommender reads it as
    group_rows_only: bool = False  # summary table: leave out "task/subject" rows
    columns: tuple[Column, ...] = ()  # the command line's summary table (tokenize-bench)

    @property
    def wildcard(self) -> bool:
        return self.name == "*"


@dataclass(frozen=True)
class DeclaredMetric:
    """A declaration with the probe that declares it."""

    probe: str
    spec: MetricSpec


class MetricIndex:
    """Every declaration of the registered probes, looked up by (probe, metric)."""

    def __init__(self, declared: Iterable[DeclaredMetric]) -> None:
        self.declared = list(declared)
        self._by_key = {(d.probe, d.spec.name): d.spec for d in self.declared}

    def spec(self, probe: str, metric: str) -> MetricSpec | None:
        """The declaration of ``metric`` from ``probe`` (or the probe's ``*`` one), if any."""
        return self._by_key.get((probe, metric)) or self._by_key.get((probe, "*"))

    def section(self, probe: str, metric: str) -> str:
        spec = self.spec(probe, metric)
        return spec.section if spec else OTHER

    def sections(self) -> list[tuple[str, str]]:
        """(id, title) of every declared section in page order."""
        ids = list(SECTIONS)
        for d in self.declared:
            if d.spec.section not in ids and d.spec.section != OTHER:
                ids.append(d.spec.section)
        return [(sid, SECTIONS.get(sid, sid.replace("_", " ").capitalize())) for sid in ids]

    def tables(self, section: str) -> list[tuple[str, tuple[str, ...]]]:
        """(title, metrics in declaration order) of a section's summary tables."""
        tables: dict[str, list[str]] = {}
        for d in self.declared:
            s = d.spec
            if (
                s.section == section
                and s.table
                and not s.wildcard
                and s.name not in tables.get(s.table, [])
            ):
                tables.setdefault(s.table, []).append(s.name)
        return [(title, tuple(names)) for title, names in tables.items()]

    def charts(self) -> list[tuple[ChartSpec, list[DeclaredMetric]]]:
        """Every declared chart with the metrics it shows, in chart order."""
        charts: dict[str, tuple[ChartSpec, list[DeclaredMetric]]] = {}
        for d in self.declared:
            if d.spec.chart is not None:
                charts.setdefault(d.spec.chart.id, (d.spec.chart, []))[1].append(d)
        return sorted(charts.values(), key=lambda c: c[0].order)

    def columns(self, probe: str) -> list[tuple[str, Column]]:
        """(metric, column) of a probe's command-line summary table, in column order."""
        cols = [(d.spec.name, c) for d in self.declared if d.probe == probe for c in d.spec.columns]
        return sorted(cols, key=lambda mc: mc[1].rank)

    def with_evidence(self, role: str) -> set[tuple[str, str]]:
        """(probe, metric) pairs the recommender reads as ``role``."""
        return {(d.probe, d.spec.name) for d in self.declared if d.spec.evidence == role}


def declared_metrics(probes: Iterable[str] | None = None) -> MetricIndex:
    """The declarations of every registered probe (built-in and plugin), or of the registered
    ones among ``probes`` only: a reader of stored values imports just the probes it meets."""
    from llmselect.registry import PROBES

    paths = PROBES.paths()
    if probes is not None:
        wanted = set(probes)
        paths = {name: path for name, path in paths.items() if name in wanted}
    return _index(tuple(paths.items()))


@lru_cache(maxsize=8)
def _index(paths: tuple[tuple[str, str], ...]) -> MetricIndex:
    from llmselect.registry import PROBES

    out: list[DeclaredMetric] = []
    for name, _ in paths:
        cls = PROBES.load(name)
        out.extend(DeclaredMetric(name, spec) for spec in cls.metrics)
    return MetricIndex(out)
