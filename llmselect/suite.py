"""Benchmark suites: a YAML file naming probes, their configs, targets, shared data and limits.

A suite turns into a plan of ``units.Unit`` (one probe config on one target), in file order,
so cheap probes listed first finish first. Each probe declares what it runs on
(``Probe.target_kind``: ``"model"`` = catalog ``ModelSpec``, ``"tokenizer"`` = tokenizer
family); a small resolver per kind turns names (or ``all``) into targets. The canonical
suite content is hashed into ``RunInfo.suite_hash`` so a resumed run can check it is
continuing the same plan.

Example::

    name: smoke
    tokenizers: [llama2, qwen2]        # default targets of tokenizer probes ("all" = every family)
    models: all                        # default targets of model probes
    corpora: [default]                 # given to every probe whose Config has a `corpora` field
    limits: {max_minutes: 5, limit: 50}
    executor: {name: ray, address: auto}   # optional: where units run, with the executor's
                                           # options (`llmselect executors list`)
    probes:
      - probe: tokenizer_efficiency
      - probe: memory_estimate
        targets: [qwen2.5-7b-instruct]
        config: {seq_len: 4096}
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmselect.config import PACKAGE_DIR, home_dir
from llmselect.errors import LLMSelectError, one_line
from llmselect.records import Measurement, utcnow

log = logging.getLogger(__name__)

SUITES_ENV = "LLMSELECT_SUITES"
ALL = "all"
# Suite-level settings handed to every probe whose Config has a field of the same name; a
# probe with the singular field instead (``corpus``) gets one unit per value.
SHARED_SETTINGS = {"corpora": "corpus", "tasks": "task"}

TargetNames = list[str] | Literal["all"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Limits(_Strict):
    """How much a run may do."""

    max_minutes: float | None = Field(
        default=None,
        gt=0,
        description="Time budget; units not started within it are recorded as skipped "
        "(a later --resume runs them).",
    )
    limit: int | None = Field(
        default=None, gt=0, description="Rows per corpus or task (RunContext.limit)."
    )


class ProbeEntry(_Strict):
    """One probe with one config over a set of targets."""

    probe: str = Field(description="Registered probe name (see `llmselect probes list`).")
    targets: TargetNames | None = Field(
        default=None, description="Target names or 'all'; default: the suite's list for its kind."
    )
    config: dict[str, Any] = Field(default_factory=dict, description="The probe's Config fields.")


class Suite(_Strict):
    """A validated suite file."""

    name: str
    description: str = ""
    device: str = Field(default="cpu", description="Device given to probes (cpu, cuda).")
    tokenizers: TargetNames = Field(default="all", description="Default tokenizer targets.")
    models: TargetNames = Field(default="all", description="Default catalog-model targets.")
    corpora: list[str] | None = Field(default=None, description="Shared corpora setting.")
    tasks: list[str] | None = Field(default=None, description="Shared eval-task setting.")
    limits: Limits = Field(default_factory=Limits)
    executor: dict[str, Any] | None = Field(
        default=None,
        description="Where units run: `name` (an executor; default local) and that "
        "executor's options (`llmselect executors list`); --executor overrides it.",
    )
    probes: list[ProbeEntry] = Field(min_length=1)

    def default_targets(self, kind: str) -> TargetNames:
        """The suite-level target list for a probe kind."""
        return {"tokenizer": self.tokenizers, "model": self.models}.get(kind, ALL)

    @property
    def hash(self) -> str:
        """Short hash of the canonical content: same plan ⇔ same hash. Where the units run is
        not part of the plan (a run started locally may resume on a cluster)."""
        plan = self.model_dump(mode="json", exclude={"executor"})
        canon = json.dumps(plan, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canon.encode()).hexdigest()[:12]


# --- finding and loading suite files -------------------------------------------------------


def suites_dir() -> Path:
    """Where named suites live: ``$LLMSELECT_SUITES`` or ``benchmarks/`` beside the package."""
    import os

    env = os.environ.get(SUITES_ENV)
    return Path(env).expanduser() if env else PACKAGE_DIR.parent / "benchmarks"


def available_suites() -> list[str]:
    """Names of the suites in ``suites_dir()``."""
    base = suites_dir()
    return sorted(p.stem for p in base.glob("*.yaml")) if base.is_dir() else []


def find_suite(name_or_path: str) -> Path:
    """A suite name (``nightly``) or a path to a YAML file → the file's path."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    if re.fullmatch(r"[A-Za-z0-9_.-]+", name_or_path) and not name_or_path.endswith(".yaml"):
        candidate = suites_dir() / f"{name_or_path}.yaml"
        if candidate.is_file():
            return candidate
        known = ", ".join(available_suites()) or f"none in {suites_dir()}"
        raise LLMSelectError(f"unknown suite {name_or_path!r}; known: {known}")
    raise LLMSelectError(f"suite file not found: {name_or_path}")


def parse_suite(raw: object, origin: str) -> Suite:
    """Validate parsed YAML into a Suite; the error names the field."""
    if not isinstance(raw, dict):
        raise LLMSelectError(f"{origin}: a suite is a mapping with 'name' and 'probes'")
    try:
        suite = Suite.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise LLMSelectError(f"{origin}: {loc}: {first['msg']}") from exc
    if suite.executor is not None:
        from llmselect.executors import split_block

        try:
            split_block(suite.executor)  # the executor exists and takes these options
        except LLMSelectError as exc:
            raise LLMSelectError(f"{origin}: executor: {exc}") from exc
    return suite


def load_suite(name_or_path: str) -> Suite:
    """Find, read and validate a suite."""
    path = find_suite(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise LLMSelectError(f"cannot read suite {path}: {one_line(exc)}") from exc
    return parse_suite(raw, str(path))


# --- target resolution ----------------------------------------------------------------------

Resolver = Callable[[Sequence[str] | None], list[Any]]
"""Names (None = all) → targets, each with an ``id``; unknown names raise LLMSelectError."""


def resolve_catalog_models(names: Sequence[str] | None) -> list[Any]:
    """Catalog ``ModelSpec`` targets."""
    from llmselect.catalog import load_catalog

    catalog = load_catalog()
    if names is None:
        return list(catalog)
    return [catalog.get(n) for n in names]


def resolve_tokenizer_families(names: Sequence[str] | None) -> list[Any]:
    """Tokenizer-family targets from ``llmselect.tokenizers``."""
    from llmselect.tokenizers import load_tokenizer_catalog, resolve_tokenizer_names

    if names is None:
        return list(load_tokenizer_catalog())
    return [spec for _name, spec in resolve_tokenizer_names(list(names))]


def resolve_checkpoints(names: Sequence[str] | None) -> list[Any]:
    """Checkpoint targets (a local folder or a cached hub id) for evaluation probes."""
    from llmselect.probes.lm_eval_scores import EvalModel

    if names is None:
        raise LLMSelectError("checkpoint probes need explicit targets (folders or hub ids)")
    out = []
    for name in names:
        path = Path(name).expanduser()
        ident = path.name if path.is_dir() else name
        out.append(EvalModel(id=ident, source=str(path) if path.is_dir() else name))
    return out


DEFAULT_RESOLVERS: dict[str, Resolver] = {
    "model": resolve_catalog_models,
    "tokenizer": resolve_tokenizer_families,
    "checkpoint": resolve_checkpoints,
}


def _default_probe_loader(name: str) -> type:
    from llmselect.registry import load_probe_class

    return load_probe_class(name)


def _known_probe_names() -> set[str]:
    from llmselect.registry import probe_paths

    return set(probe_paths())


# --- planning -----------------------------------------------------------------------------


@dataclass
class PlanProblem:
    """A suite entry that could not be planned (its probe would not load): reported, not fatal."""

    probe: str
    targets: list[str]
    message: str


@dataclass
class Plan:
    """The units of a suite, in order, plus entries whose probe could not be loaded."""

    suite: Suite
    units: list[Any] = field(default_factory=list)  # list[units.Unit]
    problems: list[PlanProblem] = field(default_factory=list)

    def describe(self) -> list[dict[str, Any]]:
        """One row per unit, for ``--dry-run``."""
        rows: list[dict[str, Any]] = [
            {
                "probe": u.probe.name,
                "target": u.target.id,
                "kind": getattr(u.probe, "target_kind", "model"),
                "unit": u.key,
                "config": u.probe.config.model_dump(mode="json"),
            }
            for u in self.units
        ]
        rows.extend(
            {"probe": p.probe, "target": t, "kind": "?", "unit": None, "error": p.message}
            for p in self.problems
            for t in p.targets
        )
        return rows


def probe_configs(suite: Suite, entry: ProbeEntry, cls: type) -> list[Any]:
    """The entry's config(s) with the suite's shared settings filled in, validated by the probe.

    ``corpora: [a, b]`` fills a ``corpora`` list field, or makes one config per corpus for a
    probe with a single ``corpus`` field; the entry's own config always wins.
    """
    fields = getattr(cls.Config, "model_fields", {})
    variants: list[dict[str, Any]] = [dict(entry.config)]
    for plural, singular in SHARED_SETTINGS.items():
        value = getattr(suite, plural)
        if value is None or plural in entry.config or singular in entry.config:
            continue
        if plural in fields:
            variants = [{**v, plural: value} for v in variants]
        elif singular in fields:
            variants = [{**v, singular: item} for v in variants for item in value]
    out = []
    for raw in variants:
        try:
            out.append(cls.Config.model_validate(raw))
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"]) or "(config)"
            raise LLMSelectError(
                f"suite {suite.name}: probe {entry.probe}: {loc}: {first['msg']}"
            ) from exc
    return out


def build_plan(
    suite: Suite,
    *,
    probe_loader: Callable[[str], type] | None = None,
    resolvers: dict[str, Resolver] | None = None,
    known_probes: set[str] | None = None,
) -> Plan:
    """Suite → ordered units. Unknown probe names, bad configs and unknown targets are errors;
    a registered probe whose module fails to import becomes a ``PlanProblem`` instead."""
    from llmselect.units import Unit

    loader = probe_loader or _default_probe_loader
    resolvers = {**DEFAULT_RESOLVERS, **(resolvers or {})}
    known = (
        known_probes
        if known_probes is not None
        else (None if probe_loader else _known_probe_names())
    )
    plan = Plan(suite=suite)
    for entry in suite.probes:
        if known is not None and entry.probe not in known:
            raise LLMSelectError(
                f"suite {suite.name}: unknown probe {entry.probe!r}; "
                f"known: {', '.join(sorted(known))}"
            )
        try:
            cls = loader(entry.probe)
        except LLMSelectError as exc:
            names = entry.targets if isinstance(entry.targets, list) else [ALL]
            plan.problems.append(PlanProblem(entry.probe, list(names), str(exc)))
            continue
        configs = probe_configs(suite, entry, cls)
        kind = getattr(cls, "target_kind", "model")
        if kind not in resolvers:
            raise LLMSelectError(f"probe {entry.probe}: no resolver for target kind {kind!r}")
        wanted = entry.targets if entry.targets is not None else suite.default_targets(kind)
        targets = resolvers[kind](None if wanted == ALL else list(wanted))
        for config in configs:
            probe = cls(config)
            plan.units.extend(Unit(target=t, probe=probe) for t in targets)
    return plan


# --- running ------------------------------------------------------------------------------


@dataclass
class SuiteRun:
    """What ``run_suite`` did."""

    run_id: str
    run_dir: Path
    planned: int
    ok: int = 0
    skipped: int = 0
    errors: int = 0
    resumed: int = 0
    retried: int = 0
    out_of_time: int = 0
    load_errors: int = 0

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.load_errors)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
            "planned": self.planned,
            "ok": self.ok,
            "skipped": self.skipped,
            "errors": self.errors,
            "resumed": self.resumed,
            "retried": self.retried,
            "out_of_time": self.out_of_time,
            "load_errors": self.load_errors,
        }


class SuiteInterrupted(KeyboardInterrupt):
    """Ctrl-C during a suite; carries the run id so the caller can say how to resume."""

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.run_id = run_id


def _note(run_id: str, probe: str, version: int, target: str, status: str, msg: str) -> Measurement:
    """A status record without a unit key, so ``--resume`` runs that unit again."""
    return Measurement(
        run_id=run_id,
        model_id=target,
        probe=probe,
        probe_version=version,
        metric="probe_status",
        status=status,  # type: ignore[arg-type]
        error=msg,
        started_at=utcnow(),
    )


def run_suite(
    suite: Suite,
    *,
    plan: Plan | None = None,
    resume_run_id: str | None = None,
    limit: int | None = None,
    results_root: Path | None = None,
    command: str = "",
    clock: Callable[[], float] = time.monotonic,
    on_unit_done: Callable[[Any, list[Measurement]], None] | None = None,
    executor: Any = None,
    keep_failed: bool = False,
) -> SuiteRun:
    """Run a suite into the result store; ``resume_run_id`` continues an interrupted run.

    ``executor`` is a registered executor name or an executor instance (``build_executor``);
    None: the suite's ``executor:`` block, else ``local``.

    The suite's time budget becomes the runner's deadline: no unit starts after it. An
    executor that joins a cluster connects before the run is created, so a cluster that cannot
    be reached leaves no run behind. ``keep_failed``: a resume does not run failed units again.
    """
    from llmselect.config import data_root, results_dir
    from llmselect.executors import choose_executor
    from llmselect.runner import open_run
    from llmselect.store import checked_run_id, read_run_info

    if executor is None:
        executor = choose_executor(None, (), suite.executor)
    plan = plan or build_plan(suite)
    root = Path(results_root) if results_root else results_dir()
    rows = limit if limit is not None else suite.limits.limit
    settings = run_settings(rows)
    resumed = None
    if resume_run_id is not None:
        resume_run_id = checked_run_id(resume_run_id, "--resume")
        resumed = read_run_info(root / resume_run_id)
        if resumed is None:
            raise LLMSelectError(f"no run {resume_run_id!r} to resume in {root}")
        if not resumed.suite:  # tokenize-bench, eval, perf: their units are not this plan's
            raise LLMSelectError(
                f"run {resume_run_id} was made by `{resumed.command or 'a single command'}`, "
                "not by a suite: start a new run instead"
            )
        if resumed.suite_hash and resumed.suite_hash != suite.hash:
            raise LLMSelectError(
                f"run {resume_run_id} was made by suite {resumed.suite} ({resumed.suite_hash}); "
                f"{suite.name} is now {suite.hash}: start a new run instead"
            )
        check_resume_settings(resume_run_id, resumed.settings, settings)
    if not isinstance(executor, str):
        executor.start()  # e.g. Ray: connect now; a failure leaves no empty run
    run = open_run(
        command, device=suite.device, data_root=data_root(), cache_dir=home_dir() / "cache",
        limit=rows, results_root=root, resume=resumed, suite=suite.name, suite_hash=suite.hash,
        settings=settings,
    )  # fmt: skip
    info, writer = run.info, run.writer
    assert writer is not None  # a suite run is always stored
    result = SuiteRun(run_id=info.run_id, run_dir=writer.dir, planned=len(plan.units))

    # Entries whose probe would not load: one error row per named target (resume retries).
    notes = [
        _note(info.run_id, p.probe, 0, t, "error", p.message)
        for p in plan.problems
        for t in p.targets
    ]
    if notes:
        writer.append(notes)
        result.load_errors = len(notes)

    budget_s = suite.limits.max_minutes * 60 if suite.limits.max_minutes else None
    note = f"time budget of {suite.limits.max_minutes or 0:g} min reached before this unit started"
    try:
        summary = run.execute(
            plan.units,
            executor=executor,
            deadline=clock() + budget_s if budget_s is not None else None,
            deadline_note=note,
            clock=clock,
            resume=resume_run_id is not None,
            keep_failed=keep_failed,
            on_unit_done=on_unit_done,
        )
    except SuiteInterrupted:
        raise
    except KeyboardInterrupt as exc:
        raise SuiteInterrupted(info.run_id) from exc
    finally:
        writer.close()  # frees the run's lock; execute has already recorded how it ended
    result.retried = summary.retried
    if summary.not_started:
        result.out_of_time = summary.out_of_time
        _count(result, writer.dir)  # this run's units and those of the run it resumes
        log.warning("suite %s: %d units not run", suite.name, summary.not_started)
        return result
    result.ok, result.skipped, result.errors = summary.ok, summary.skipped, summary.errors
    result.resumed = summary.resumed
    return result


# Settings a resumed run must share with the run it continues (RunInfo.settings), by how a
# message names them. A unit's key holds its probe's config; these reach every unit through
# the RunContext or the data bundle instead, so a changed one would mix two meanings in a run.
SETTING_NAMES = {"limit": "--limit", "data": "data bundle (manifests' sha256)"}


def run_settings(limit: int | None) -> dict[str, str | int | None]:
    """The run-wide settings of a suite run: rows per corpus or task, and the data bundle
    (its manifests' sha256; None without a data root or manifests)."""
    from llmselect.config import data_root
    from llmselect.datacheck import manifest_hashes

    root = data_root()
    manifests = manifest_hashes(root) if root is not None and root.is_dir() else {}
    canon = json.dumps(manifests, sort_keys=True)
    data = hashlib.sha256(canon.encode()).hexdigest()[:12] if manifests else None
    return {"limit": limit, "data": data}


def check_resume_settings(run_id: str, stored: dict[str, Any] | None, now: dict[str, Any]) -> None:
    """Refuse, in one line naming each difference, to resume a run under other settings."""
    if stored is None:  # stored before runs kept their settings: nothing to compare
        return

    def shown(value: Any) -> str:
        return "none" if value is None else str(value)

    diffs = [
        f"{SETTING_NAMES.get(k, k)} {shown(stored.get(k))} (this resume: {shown(now.get(k))})"
        for k in sorted(set(stored) | set(now))
        if stored.get(k) != now.get(k)
    ]
    if diffs:
        raise LLMSelectError(
            f"run {run_id} was made with {'; '.join(diffs)}: resume it with the same "
            "settings, or start a new run"
        )


def _count(result: SuiteRun, run_dir: Path) -> None:
    """Unit counts from the shard (used when the run stopped early)."""
    from llmselect.store import iter_records

    by_unit: dict[tuple[str, str, str], set[str]] = {}
    for rec in iter_records(run_dir):
        unit = rec.params.get("_unit")
        if isinstance(unit, str):
            by_unit.setdefault((rec.model_id, rec.probe, unit), set()).add(rec.status)
    result.errors = sum("error" in s for s in by_unit.values())
    result.skipped = sum(s == {"skipped"} for s in by_unit.values())
    result.ok = len(by_unit) - result.errors - result.skipped
