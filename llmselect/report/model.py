"""The report's data (``Report``, serialised as ``report.json``) and its parts.

``Report`` holds what a run produced and how it compares with the previous report; it is what
the next report reads back. How the page looks is decided later, by ``document.build_document``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from llmselect.records import FINGERPRINT_PARAM

# 2: values keep their samples; deltas name their rule; rich recommendations
# 3: the value key names the probe version and tokenizer fingerprint; deltas say what noise
#    they were judged against (earlier runs) and how many timings were compared or set aside
# 4: values with a standard error are judged by it (rule "stderr"); a change whose noise is not
#    known is not judged and says why (deltas.not_judged, Delta.not_judged)
SCHEMA_VERSION = 4
DEFAULT_THRESHOLD = 0.05  # relative change that flags a measured value without repeats (5 %)
MIN_NOISE_RUNS = 3  # comparable earlier runs from which between-run noise counts as measured
NOISE_RUNS = 10  # the newest comparable earlier runs whose repeats make a timing's noise
Z95 = 1.96  # standard normal quantile of a two-sided 95 % interval (the stderr rule)
# The param in which a probe says why a value has no standard error ("not estimable: ...").
STDERR_NOTE = "stderr_note"


class ValueRow(BaseModel):
    """One number of the run (the newest ok row per key)."""

    model_id: str
    probe: str
    probe_version: int = 1
    metric: str
    subset: str = ""
    value: float
    unit: str = ""
    kind: str = "measured"
    higher_is_better: bool | None = None
    n: int | None = None
    stderr: float | None = None
    samples: list[float] | None = None
    source: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """The tokenizer files' hash the value was measured with ("" when none)."""
        files = self.params.get(FINGERPRINT_PARAM)
        return "" if files is None else str(files)

    @property
    def key(self) -> tuple[str, str, int, str, str, str]:
        """What makes the value unique in one run (``records.latest_key``): two tokenizer
        fingerprints or probe versions of one model are two values."""
        return (
            self.model_id, self.probe, self.probe_version, self.metric, self.subset,
            self.fingerprint,
        )  # fmt: skip

    @property
    def match_key(self) -> tuple[str, str, str, str]:
        """What pairs a value with the previous report's: the same number, however it was
        measured (a new probe version or tokenizer is judged on the pair, not lost)."""
        return (self.model_id, self.probe, self.metric, self.subset)

    @property
    def spread(self) -> tuple[float, float] | None:
        """(min, max) of the repeats, when there are at least two."""
        if self.samples and len(self.samples) > 1:
            return min(self.samples), max(self.samples)
        return None


class CoverageCell(BaseModel):
    """What happened to one probe on one target."""

    target: str
    probe: str
    status: str  # ok | partial | skipped | error
    values: int = 0
    note: str = ""


class Problem(BaseModel):
    """A skipped or failed unit, for the appendix."""

    target: str
    probe: str
    status: str
    message: str


DeltaRule = Literal["spread", "exact", "threshold", "stderr"]


class Delta(BaseModel):
    """A value that changed since the previous report, and whether that change is a finding."""

    model_id: str
    probe: str
    metric: str
    subset: str
    unit: str
    previous: float
    current: float
    rel_change: float | None  # (current - previous) / |previous|; None when previous is 0
    flagged: bool
    rule: DeltaRule = "threshold"
    previous_range: list[float] | None = None  # [min, max] of the previous run's repeats
    current_range: list[float] | None = None
    noise_range: list[float] | None = Field(
        default=None,
        description="[min, max] of every repeat of the comparable runs (previous and earlier) "
        "on this machine: a timing is flagged only outside it",
    )
    noise_runs: int | None = Field(
        default=None, description="comparable runs behind noise_range (the previous included)"
    )
    # stderr rule: both runs' standard errors (the value's unit) and the bound the change had
    # to exceed to be flagged, Z95·sqrt(previous_stderr² + current_stderr²), or why it was not
    # judged (the noise of one run or both is not known; such a change is never flagged).
    previous_stderr: float | None = None
    current_stderr: float | None = None
    noise_bound: float | None = None
    not_judged: str | None = None


class MethodChange(BaseModel):
    """Values not compared because how they were measured changed (not a regression)."""

    what: str  # probe version | method params | library | machine
    detail: str
    values: int


class DeltaSummary(BaseModel):
    """Comparison with the previous report."""

    previous_date: str | None = None
    previous_run_id: str | None = None
    threshold: float = DEFAULT_THRESHOLD
    compared: int = 0
    unchanged: int = 0
    within_spread: int = Field(
        default=0, description="changed timings within the measured noise (rule spread)"
    )
    flagged: int = 0
    new: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    incomparable: list[str] = Field(
        default_factory=list, description="same key, different sample size n: not compared"
    )
    method_changes: list[MethodChange] = Field(default_factory=list)
    changes: list[Delta] = Field(default_factory=list)
    # None in reports made before timings were judged against earlier runs (schema 2).
    timed_compared: int | None = Field(
        default=None, description="values with repeats (timings) judged against measured noise"
    )
    timed_set_aside: int | None = Field(
        default=None,
        description="values with repeats not compared: method, machine, machine load or "
        "library changed (counted in method_changes)",
    )
    timed_with_history: int | None = Field(
        default=None,
        description=f"compared timings whose noise came from at least {MIN_NOISE_RUNS} "
        "comparable runs; the rest had only the previous run's repeats",
    )
    noise_note: str | None = None
    # None in reports made before values with a standard error were judged by it (schema 3).
    within_stderr: int | None = Field(
        default=None,
        description=f"changed values with a standard error on both sides within {Z95} times "
        "the standard error of their difference (rule stderr): not flagged",
    )
    not_judged: int | None = Field(
        default=None,
        description="changed values estimated from a sample (lm-eval scores) whose noise is "
        "not known on one side or both (no standard error): not flagged, not judged; each "
        "is in changes with its reason (Delta.not_judged)",
    )


class RecommendedModel(BaseModel):
    """One ranked model for one standard request, with what decided it."""

    rank: int
    model_id: str
    name: str = ""
    score: float | None = None
    coverage: float | None = None
    params_b: float | None = None
    fit: str = ""  # "int4, 5.1 GiB (estimated)"
    memory_gib: float | None = None
    license: str = ""  # "yes (apache-2.0)"
    deciding: list[str] = Field(default_factory=list)  # the terms that contributed most
    caveats: list[str] = Field(default_factory=list)
    pareto: bool = False


class PurposeRecommendations(BaseModel):
    """The recommender's answer to one standard request."""

    label: str
    request: dict[str, Any] = Field(default_factory=dict)
    rows: list[RecommendedModel] = Field(default_factory=list)
    candidates: int = 0
    excluded: int = 0
    note: str = ""


class ContextWindow(BaseModel):
    """How much Chinese text fits a model's context window."""

    model_id: str
    tokenizer: str
    context_tokens: int  # published
    zh_tokens_per_char: float  # measured on ``corpus``
    corpus: str
    zh_chars: int  # derived: context_tokens / zh_tokens_per_char


class MemoryPoint(BaseModel):
    """Estimated memory of one model at one precision and context (serving, batch 1)."""

    model_id: str
    dtype: str
    context: int  # tokens
    gib: float  # estimated, GiB


class CostTable(BaseModel):
    """A table of ``llmselect.cost``: published training runs or fine-tuning memory vs ours."""

    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""


class DeviceGroup(BaseModel):
    """The measurements of a run that ran on one host and device (records name both)."""

    host: str
    device: str
    units: int
    records: int
    probes: list[str]


class HistoryRun(BaseModel):
    """An earlier run's timings on some machine (its ``RunInfo`` dict and values with repeats):
    what a timing's between-run noise is measured from."""

    run: dict[str, Any]
    values: list[ValueRow]


class Report(BaseModel):
    """Everything a report shows; serialised as report.json."""

    schema_version: int = SCHEMA_VERSION
    title: str
    date: str
    generated_at: str
    run: dict[str, Any]
    targets: list[str]
    probes: list[str]
    coverage: list[CoverageCell]
    values: list[ValueRow]
    problems: list[Problem]
    deltas: DeltaSummary | None = None
    recommendations: list[PurposeRecommendations] = Field(default_factory=list)
    published: list[ValueRow] = Field(
        default_factory=list, description="catalog scores shown beside measured ones"
    )
    cost: list[CostTable] | None = Field(
        default=None, description="published training costs beside our estimates (cost module)"
    )
    devices: list[DeviceGroup] | None = Field(
        default=None, description="measurements grouped by the host and device they ran on"
    )
    context_windows: list[ContextWindow] = Field(default_factory=list)
    memory_curves: list[MemoryPoint] = Field(default_factory=list)
    renderer: dict[str, str] = Field(
        default_factory=dict, description="versions of what drew the page (matplotlib)"
    )
