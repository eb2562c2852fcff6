"""The one result schema: a tidy row per number (``Measurement``) and per-run facts (``RunInfo``).

Every number names its unit and its ``kind``: ``measured`` here, ``estimated`` by a formula,
or ``published`` by a source (then ``source`` says which).
"""

from __future__ import annotations

import math
import platform
import subprocess
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from importlib import metadata
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

ParamValue = str | int | float | bool | None
Kind = Literal["measured", "estimated", "published"]
Status = Literal["ok", "skipped", "error"]
# running: a writer holds the run (or was killed: readers then report "interrupted");
# interrupted: stopped by Ctrl-C, SIGTERM or the time budget, resumable; failed: the runner
# itself broke (store unwritable, a bug); finished: every planned unit has its records.
RunState = Literal["running", "interrupted", "finished", "failed"]


def utcnow() -> datetime:
    """Timezone-aware now, in UTC."""
    return datetime.now(timezone.utc)


def new_run_id(now: datetime | None = None) -> str:
    """Sortable, unique run id: ``20261123T101500Z-ab12cd``."""
    now = now or utcnow()
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}"


class Measurement(BaseModel, frozen=True):
    """One number (or one failure) from one probe on one model."""

    run_id: str
    model_id: str
    probe: str
    probe_version: int = 1
    metric: str = Field(description="Unit in the name: tokens_per_char, decode_ms_per_token, ...")
    value: float | None = Field(default=None, description="None unless status == 'ok'")
    unit: str = ""
    kind: Kind = "measured"
    higher_is_better: bool | None = None
    subset: str = Field(default="", description="Corpus/lang, task, or bs/seq/dtype point")
    n: int | None = None
    stderr: float | None = None
    samples: list[float] | None = Field(
        default=None,
        description="The repeated measurements behind a measured value, in run order (same "
        "unit), so a later run can tell a change from run-to-run spread",
    )
    params: dict[str, ParamValue] = Field(default_factory=dict)
    source: str | None = Field(default=None, description="Where a published value comes from")
    status: Status = "ok"
    error: str | None = None
    started_at: datetime = Field(default_factory=utcnow)
    duration_s: float = 0.0
    host: str | None = Field(default=None, description="Machine the unit ran on (hostname)")
    device: str | None = Field(
        default=None, description="Device the unit ran on: cpu, or cuda with the GPU's name"
    )


# What "the same number" is when the newest ok value per key is taken (``store.latest`` over
# records, ``store_index`` on disk): model, probe and its version, metric, subset, and the
# tokenizer files' fingerprint, so a run on other files (``--tokenizer-dir``) never hides the
# newest value measured on the family's own files. Records without a fingerprint key on "".
LatestKey = tuple[str, str, int, str, str, str]
FINGERPRINT_PARAM = "tokenizer_sha256"


class Keyed(Protocol):
    """A stored value and what its key is made of (``Measurement``, ``LatestValue``)."""

    @property
    def model_id(self) -> str: ...
    @property
    def probe(self) -> str: ...
    @property
    def probe_version(self) -> int: ...
    @property
    def metric(self) -> str: ...
    @property
    def subset(self) -> str: ...
    @property
    def params(self) -> Mapping[str, Any] | None: ...


def latest_key(rec: Keyed) -> LatestKey:
    """The one key of "newest ok value per key"."""
    files = (rec.params or {}).get(FINGERPRINT_PARAM)
    fingerprint = "" if files is None else str(files)
    return (rec.model_id, rec.probe, rec.probe_version, rec.metric, rec.subset, fingerprint)


# A record stored without a start time is validated with the time it is read, which is after
# every stored start; the index, which never validates, reads it as this.
UNDATED = datetime.max.replace(tzinfo=timezone.utc)
_DATETIME = TypeAdapter(datetime)


def instant(started_at: datetime | str | None) -> datetime:
    """A start time as an aware UTC instant, whatever its spelling.

    ``Z`` and ``+00:00``, other offsets and any number of fractional digits are parsed the way
    ``Measurement`` validates them, so text and validated records order alike; a time without
    an offset is UTC (``utcnow`` writes every record's). Raises ``ValueError`` on a time that
    ``Measurement`` would refuse.
    """
    if started_at is None or started_at == "":
        return UNDATED
    try:
        when = _DATETIME.validate_python(started_at)
    except ValidationError as exc:
        raise ValueError(f"not a time: {started_at!r}") from exc
    if when.tzinfo is None:
        return when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


class Dated(Protocol):
    """What the newest-first order reads from a stored value."""

    @property
    def run_id(self) -> str: ...
    @property
    def started_at(self) -> datetime | str: ...


def latest_order(rec: Dated) -> tuple[str, datetime, str]:
    """The one order of "newest": the run id's time (ids sort by the second they were made),
    then the real start instant, then the whole id.

    A run id's time has whole seconds and a random suffix, so two runs made in one second are
    ordered by their start instants, not by the suffix. ``store.latest``, the latest-value
    index and the recommender's evidence all sort by this, so a run that writes ``Z`` and one
    that writes ``+00:00`` can never disagree on which value is current.
    """
    return (rec.run_id.split("-", 1)[0], instant(rec.started_at), rec.run_id)


# A measured score's setting as its record states it: the shots lm-eval ran with, the split
# scored and the chat template on or off. Two runs of one key in other settings measured other
# things, so the most informative value is kept per key and setting (``best_key``).
SETTING_PARAMS = ("num_fewshot", "split", "chat_template")
BestKey = tuple[LatestKey, tuple[ParamValue, ...]]


class Sampled(Keyed, Dated, Protocol):
    """A stored value with what says how much evidence it holds (``Measurement``,
    ``LatestValue``)."""

    @property
    def n(self) -> int | None: ...
    @property
    def stderr(self) -> float | None: ...


def is_sampled(rec: Sampled) -> bool:
    """A value with a sampling error: it carries a standard error, or the note saying why it
    has none (lm-eval scores and the zh/en aggregates; a timing's ``n`` alone is not one)."""
    return rec.stderr is not None or "stderr_note" in (rec.params or {})


def best_key(rec: Sampled) -> BestKey:
    """The key of "most informative value": ``latest_key`` and the setting its params state."""
    params = rec.params or {}
    setting = tuple(_hashable(params.get(name)) for name in SETTING_PARAMS)
    return latest_key(rec), setting


def _hashable(value: Any) -> ParamValue:
    return value if value is None or isinstance(value, str | int | float | bool) else repr(value)


def information(rec: Sampled) -> tuple[bool, int]:
    """How much a sampled value tells, to compare values of one benchmark: first whether its
    sampling error can be known (a standard error above 0, or the exact interval stored beside
    a score at 0 or 100 %: without either the recommender leaves it out), then the documents
    scored (none counted: fewest). Never the standard error itself: it is estimated from the
    same documents and is smallest for scores far from 50 %, so choosing by it would choose by
    the score. Equal information: the newer value (``latest_order``) is the current one."""
    interval = stated_interval(rec.params or {}) is not None
    known = (rec.stderr is not None and rec.stderr > 0) or interval
    return known, rec.n if isinstance(rec.n, int) and rec.n > 0 else 0


def stated_interval(params: Mapping[str, Any]) -> tuple[float, float] | None:
    """The exact 95 % interval (percent) stored beside a score whose standard error is not
    estimable, ``ci95_low_pct``..``ci95_high_pct``; None where either bound is missing or not a
    finite number (a foreign value states no interval, never a traceback)."""
    bounds = (params.get("ci95_low_pct"), params.get("ci95_high_pct"))
    if all(_finite_number(b) for b in bounds):
        return float(bounds[0]), float(bounds[1])  # type: ignore[arg-type]
    return None


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def more_informative(rec: Sampled, than: Sampled | None) -> bool:
    """Whether ``rec`` replaces ``than`` as the most informative value of its ``best_key``:
    more ``information``, or as much and not older (a later line of one instant wins, as in
    ``latest``)."""
    return than is None or informative_order(rec) >= informative_order(than)


def informative_order(rec: Sampled) -> tuple[tuple[bool, int], tuple[str, datetime, str]]:
    """The order ``more_informative`` compares by: ``information``, then ``latest_order``."""
    return information(rec), latest_order(rec)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


class RunInfo(BaseModel):
    """Facts about one run, stored beside its measurements as ``run.json``."""

    run_id: str
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    state: RunState | None = Field(default=None, description="None in runs stored before states")
    stop_reason: str | None = Field(default=None, description="Why an unfinished run stopped")
    command: str = ""
    suite: str | None = None
    suite_hash: str | None = None
    git_sha: str | None = None
    python: str = Field(default_factory=platform.python_version)
    platform: str = Field(default_factory=platform.platform)
    cpu_count: int | None = None
    device: str = "cpu"
    device_name: str | None = None
    versions: dict[str, str | None] = Field(default_factory=dict)
    settings: dict[str, str | int | float | bool | None] | None = Field(
        default=None,
        description="Run-wide settings that change what a unit measures but are not part of "
        "its key (rows per corpus or task, the data bundle); a resume must have the same. "
        "None in runs stored before settings",
    )

    @classmethod
    def collect(cls, run_id: str, command: str = "", **extra: object) -> RunInfo:
        """Gather environment facts without importing heavy libraries."""
        import os

        dists = (
            "llmselect", "tokenizers", "sentencepiece", "tiktoken", "gguf",
            "transformers", "torch", "lm_eval", "pandas",
        )  # fmt: skip
        return cls(
            run_id=run_id,
            command=command,
            git_sha=_git_sha(),
            cpu_count=os.cpu_count(),
            versions={d: _version(d) for d in dists},
            **extra,  # type: ignore[arg-type]
        )
