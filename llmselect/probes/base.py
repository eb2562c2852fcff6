"""The probe interface: a probe turns one target (a model or a tokenizer) into records.

Probes are typed, ``Probe[ConfigT, TargetT]``: every input is a field of the probe's pydantic
``Config`` (so a unit is its target plus a config, and runs the same in any executor) or of the
target. Probes are pure: they read inputs and yield ``Measurement`` rows; they never write files.
``raise ProbeSkipped(reason)`` marks a probe that does not apply; any other exception is
turned into a ``status="error"`` record by the runner, so one bad model never stops a run.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from llmselect.childproc import child_env
from llmselect.errors import LLMSelectError
from llmselect.metrics import MetricSpec
from llmselect.records import Kind, Measurement, ParamValue, utcnow


class Target(Protocol):
    """Anything a probe runs on: a catalog model or a tokenizer family; only ``id`` is shared."""

    @property
    def id(self) -> str: ...


class ModelTarget(Protocol):
    """A target with architecture numbers: a catalog ``ModelSpec`` or a ``family:size`` preset."""

    @property
    def id(self) -> str: ...

    @property
    def arch(self) -> Any: ...  # llmselect.arch.spec.ArchSpec | None


# Sizes a probe sweeps (batch, prompt tokens): each at least 1, checked when a plan is built.
PositiveInts = list[Annotated[int, Field(ge=1)]]


def field_check(check: Callable[[str], object], value: str) -> str:
    """``value`` once ``check`` (a library check raising ``LLMSelectError``) accepts it; in a
    pydantic validator the refusal becomes the field's error, so a suite's typo is one line
    when its plan is built instead of a failed unit later."""
    try:
        check(value)
    except LLMSelectError as exc:
        raise ValueError(str(exc)) from exc
    return value


class ProbeConfig(BaseModel):
    """Base for each probe's options; every field has a default and a description."""

    model_config = ConfigDict(extra="forbid")


ConfigT = TypeVar("ConfigT", bound=ProbeConfig)
TargetT = TypeVar("TargetT")


@dataclass
class RunContext:
    """What a probe may know about the run it is part of."""

    run_id: str
    device: str = "cpu"
    data_root: Path | None = None
    cache_dir: Path | None = None
    limit: int | None = None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("llmselect.probe"))
    # label -> callback(done, total): an interactive command's progress display (None: none)
    progress: Any = None


class Probe(ABC, Generic[ConfigT, TargetT]):
    """Base class of every probe (built-in or plugin): ``Probe[ItsConfig, ItsTarget]``."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    requires: ClassVar[frozenset[str]] = frozenset()
    description: ClassVar[str] = ""
    # What the probe runs on, so a suite can resolve target names: "model" (a catalog
    # ModelSpec) or "tokenizer" (a tokenizer family).
    target_kind: ClassVar[str] = "model"
    Config: ClassVar[type[ProbeConfig]] = ProbeConfig
    # What the probe records; the report and recommender read these (llmselect.metrics).
    metrics: ClassVar[tuple[MetricSpec, ...]] = ()
    # True when the probe computes on its ``config.device``: a cluster executor then gives a
    # cuda unit a GPU of its own. Estimates and table look-ups leave it False.
    uses_device: ClassVar[bool] = False
    # True when the probe times or weighs work (latency, throughput, memory, lm-eval): a
    # cluster executor then runs each unit in a fresh worker process, so nothing an earlier
    # unit loaded or warmed up shows in its numbers.
    fresh_process: ClassVar[bool] = False

    def __init__(self, config: ConfigT | None = None) -> None:
        if config is None:
            config = self.Config()  # type: ignore[assignment]
        elif not isinstance(config, self.Config):
            raise TypeError(
                f"{self.name} takes a {self.Config.__name__}, not {type(config).__name__}"
            )
        self.config: ConfigT = config  # type: ignore[assignment]

    @abstractmethod
    def run(self, target: TargetT, ctx: RunContext) -> Iterable[Measurement]:
        """Yield records for one target."""

    @classmethod
    def declared(cls, metric: str) -> MetricSpec | None:
        """This probe's declaration of ``metric`` (or its ``*`` one), if it has one."""
        by_name = {spec.name: spec for spec in cls.metrics}
        return by_name.get(metric) or by_name.get("*")

    def record(
        self,
        ctx: RunContext,
        target_id: str,
        metric: str,
        value: float | None,
        unit: str | None = None,
        *,
        kind: Kind = "measured",
        higher_is_better: bool | None | Literal["declared"] = "declared",
        subset: str = "",
        n: int | None = None,
        stderr: float | None = None,
        samples: list[float] | None = None,
        params: dict[str, ParamValue] | None = None,
        source: str | None = None,
        duration_s: float = 0.0,
    ) -> Measurement:
        """Build an ``ok`` record stamped with this probe's name and version.

        The unit and direction come from the metric's declaration (``metrics``); a value passed
        here must agree with it, so a record never contradicts what the report and the
        recommender read from the declaration. An undeclared metric names its unit (and has no
        direction unless it gives one).
        """
        spec = self.declared(metric)
        where = f"{self.name}.{metric}"
        if spec is not None and not spec.wildcard:
            if unit is not None and unit != spec.unit:
                raise LLMSelectError(f"{where}: unit {unit!r}, declared {spec.unit!r}")
            if higher_is_better not in ("declared", spec.higher_is_better):
                raise LLMSelectError(f"{where}: direction differs from its declaration")
        if spec is not None:  # a ``*`` declaration gives defaults for the metrics it covers
            unit = unit if unit is not None else spec.unit
            if higher_is_better == "declared":
                higher_is_better = spec.higher_is_better
        if unit is None:
            raise LLMSelectError(f"{where}: not declared, so give its unit")
        if higher_is_better == "declared":  # undeclared: no direction unless one is given
            higher_is_better = None
        return Measurement(
            run_id=ctx.run_id,
            model_id=target_id,
            probe=self.name,
            probe_version=self.version,
            metric=metric,
            value=None if value is None else float(value),
            unit=unit,
            kind=kind,
            higher_is_better=higher_is_better,
            subset=subset,
            n=n,
            stderr=stderr,
            samples=None if samples is None else [float(v) for v in samples],
            params=dict(params or {}),
            source=source,
            started_at=utcnow(),
            duration_s=duration_s,
        )


def worker_env() -> dict[str, str]:
    """The environment for a probe's worker child process (``childproc.child_env``): this
    process's environment with the folder holding this very ``llmselect`` first on PYTHONPATH,
    so the child runs the same code wherever the parent found it."""
    return child_env()
