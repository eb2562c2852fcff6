"""Lazy registries: names map to ``"module:attr"`` strings until something is used.

One ``Registry`` class serves every extension point; built-ins and plugins load the same way
(built-ins from the dicts below, plugins from an entry-point group), as llm's
``DEFAULT_PLUGINS`` and lm-eval's lazy placeholders do. Nothing is imported until ``load``,
so ``import llmselect.cli`` stays free of torch and transformers.

* ``PROBES`` (group ``llmselect.probes``): ``Probe`` subclasses;
* ``TOKENIZER_KINDS`` (``llmselect.tokenizer_kinds``): ``TokenizerKind`` loaders, one per format;
* ``FAMILIES`` (``llmselect.families``): ``Family`` objects (reference model and traits);
* ``EXECUTORS`` (``llmselect.executors``): ``Executor`` subclasses;
* ``SCORE_TERMS`` (``llmselect.score_terms``): the recommender's ``ScoreTerm`` entries;
* ``CONSTRAINTS`` (``llmselect.constraints``): the recommender's ``Constraint`` entries, run
  in registry order (built-ins first).

Each extension point is a name → object map, so entry points are all the plugin machinery
needed; pluggy's hook calls would add a protocol none of them uses.
``LLMSELECT_PLUGINS=none|pkg1,pkg2`` controls third-party loading (tests set ``none``);
``register(name, path)`` adds an in-process entry (tests, notebooks). Duplicate names are an
error, and so is an entry that is not of the registry's base type.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Mapping
from importlib import metadata
from typing import Any, Generic, TypeVar

from llmselect.errors import LLMSelectError

T = TypeVar("T")
log = logging.getLogger(__name__)

PLUGINS_ENV = "LLMSELECT_PLUGINS"


def _plugin_filter() -> set[str] | None:
    """None = load all plugins; empty set = none; otherwise the allowed distribution names."""
    raw = os.environ.get(PLUGINS_ENV, "").strip()
    if not raw:
        return None
    if raw.lower() == "none":
        return set()
    allowed = {p.strip() for p in raw.split(",") if p.strip()}
    _warn_unknown_plugins(allowed)
    return allowed


_checked_plugins: set[str] = set()


def _warn_unknown_plugins(names: set[str]) -> None:
    """Say once per process which names in ``LLMSELECT_PLUGINS`` are not installed."""
    for name in sorted(names - _checked_plugins):
        _checked_plugins.add(name)
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            log.warning(
                "%s names %r, which is not an installed distribution: no plugins load from it",
                PLUGINS_ENV,
                name,
            )


_ENTRY_POINTS: dict[tuple[str | None, Any], list[tuple[str, str, str]]] = {}


_OWN_GROUPS = "llmselect."
_REAL = "installed"  # cache key of what the installed distributions declare


def _reads_installed() -> bool:
    """Whether ``metadata.entry_points`` is the library's own (not a test's stand-in, which may
    be in place already when this module is first imported)."""
    return getattr(metadata.entry_points, "__module__", None) == metadata.__name__


def _scan_own_groups() -> None:
    """Every ``llmselect.*`` group in one pass over the installed distributions (a pass costs
    ~10 ms, and a ranking reads five registries); the first distribution of a name wins, as in
    ``metadata.entry_points``."""
    seen: set[str] = set()
    for dist in metadata.distributions():
        key = getattr(dist, "_normalized_name", None) or dist.metadata["Name"]
        if key in seen:
            continue
        seen.add(key)
        for ep in dist.entry_points:
            if ep.group.startswith(_OWN_GROUPS):
                found = _ENTRY_POINTS.setdefault((ep.group, _REAL), [])
                found.append((ep.name, ep.value, dist.name))


def _entry_points(group: str) -> list[tuple[str, str, str]]:
    """(name, value, distribution) of a group, read once per process; a replaced
    ``metadata.entry_points`` (tests) is asked per group and re-read."""
    installed = _reads_installed()
    # a stand-in is keyed by the function itself: kept alive in the key, so never reused
    key = (group, _REAL if installed else metadata.entry_points)
    if key in _ENTRY_POINTS:
        return _ENTRY_POINTS[key]
    if installed and group.startswith(_OWN_GROUPS):
        if (None, _REAL) not in _ENTRY_POINTS:
            _ENTRY_POINTS[(None, _REAL)] = []  # the pass is done
            _scan_own_groups()
        return _ENTRY_POINTS.setdefault(key, [])
    _ENTRY_POINTS[key] = [
        (ep.name, ep.value, ep.dist.name if ep.dist is not None else "")
        for ep in metadata.entry_points(group=group)
    ]
    return _ENTRY_POINTS[key]


def import_path(path: str) -> Any:
    """The object a ``"module:attr"`` string names (attr may be dotted)."""
    module_name, _, attr = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Names → ``"module:attr"`` strings, resolved (and type-checked) on ``load``.

    ``base`` is a ``"module:attr"`` string of the required type: a class entry must subclass
    it, any other entry must be an instance of it. It is a string so that defining a registry
    imports nothing.
    """

    def __init__(self, kind: str, group: str, builtins: dict[str, str], base: str) -> None:
        self.kind = kind  # "probe", "tokenizer kind", ...: used in messages
        self.group = group
        self.builtins = builtins  # the module-level dict, so tests can monkeypatch it
        self.base = base
        self._registered: dict[str, str] = {}
        # (name, path) → the checked object: the recommender asks for a family's traits
        # hundreds of times per call; a path names the same object for the whole process.
        self._loaded: dict[tuple[str, str], Any] = {}
        # the last answer of ``paths`` with what it was computed from: a ranking asks a
        # registry hundreds of times, and nothing it depends on changes between those calls
        self._paths: tuple[tuple[Any, ...], dict[str, str]] | None = None

    def paths(self) -> dict[str, str]:
        """Every known name → ``"module:attr"``: built-ins, registered, then plugins."""
        return dict(self._current())

    def _current(self) -> dict[str, str]:
        """``paths`` itself, shared: callers here only read it."""
        key = (
            tuple(self.builtins.items()), tuple(self._registered.items()),
            os.environ.get(PLUGINS_ENV), _reads_installed() or metadata.entry_points,
        )  # fmt: skip
        if self._paths is None or self._paths[0] != key:
            self._paths = (key, self._compute_paths())
        return self._paths[1]

    def _compute_paths(self) -> dict[str, str]:
        paths = dict(self.builtins)
        for name, path in self._registered.items():
            if name in paths:
                raise LLMSelectError(f"{self.kind} name {name!r} is already taken")
            paths[name] = path
        allowed = _plugin_filter()
        if allowed is not None and not allowed:
            return paths
        for name, value, dist in _entry_points(self.group):
            if allowed is not None and dist not in allowed:
                continue
            if name in paths:
                raise LLMSelectError(
                    f"{self.kind} name {name!r} from plugin {dist!r} is already taken"
                )
            paths[name] = value
        return paths

    def names(self) -> list[str]:
        """Known names in registration order (built-ins first)."""
        return list(self._current())

    def __contains__(self, name: object) -> bool:
        return name in self._current()

    def load(self, name: str) -> T:
        """Import and return the entry ``name``, checked against the base type."""
        paths = self._current()
        if name not in paths:
            raise LLMSelectError(f"unknown {self.kind} {name!r}; known: {', '.join(sorted(paths))}")
        key = (name, paths[name])
        if key in self._loaded:
            return self._loaded[key]  # type: ignore[no-any-return]
        try:
            obj = import_path(paths[name])
        except (ImportError, AttributeError) as exc:
            raise LLMSelectError(
                f"cannot load {self.kind} {name!r} from {paths[name]}: {exc}"
            ) from exc
        base = import_path(self.base)
        ok = issubclass(obj, base) if isinstance(obj, type) else isinstance(obj, base)
        if not ok:
            raise LLMSelectError(
                f"{self.kind} {name!r} ({paths[name]}) is not a {base.__name__}"
                + (" subclass" if isinstance(obj, type) else "")
            )
        self._loaded[key] = obj
        return obj  # type: ignore[no-any-return]

    def load_all(self) -> dict[str, T]:
        """Every entry, loaded."""
        return {name: self.load(name) for name in self.paths()}

    def register(self, name: str, path: str) -> None:
        """Add an in-process entry; a taken name is an error."""
        if name in self.builtins or name in self._registered:
            raise LLMSelectError(f"{self.kind} name {name!r} is already taken")
        self._registered[name] = path

    def unregister(self, name: str) -> None:
        """Remove an entry added with ``register`` (no-op when absent)."""
        self._registered.pop(name, None)

    def registered(self) -> Mapping[str, str]:
        """The in-process entries (a read-only view)."""
        return dict(self._registered)


BUILTIN_PROBES: dict[str, str] = {
    "tokenizer_efficiency": "llmselect.probes.tokenizer_efficiency:TokenizerEfficiencyProbe",
    "tokenizer_throughput": "llmselect.probes.tokenizer_throughput:TokenizerThroughputProbe",
    "memory_estimate": "llmselect.probes.memory_estimate:MemoryEstimateProbe",
    "reference_latency": "llmselect.probes.reference_latency:ReferenceLatencyProbe",
    "license": "llmselect.probes.license:LicenseProbe",
    "lm_eval_scores": "llmselect.probes.lm_eval_scores:LmEvalScoresProbe",
}
BUILTIN_TOKENIZER_KINDS: dict[str, str] = {
    "sentencepiece": "llmselect.tokenizers.sentencepiece_fmt:KIND",
    "hf-json": "llmselect.tokenizers.hf_json:KIND",
    "gpt2-bpe": "llmselect.tokenizers.gpt2_bpe:KIND",
    "tiktoken": "llmselect.tokenizers.tiktoken_fmt:KIND",
    "tekken": "llmselect.tokenizers.tiktoken_fmt:TEKKEN",
    "gguf": "llmselect.tokenizers.gguf_fmt:KIND",
    "bloom-merges": "llmselect.tokenizers.bloom:KIND",
}
BUILTIN_FAMILIES: dict[str, str] = {
    "gpt2": "llmselect.refmodels.gpt2:FAMILY",
    "llama": "llmselect.refmodels.llama:FAMILY",
    "glm": "llmselect.refmodels.glm:FAMILY",
    "bloom": "llmselect.refmodels.bloom:FAMILY",
    "moe": "llmselect.refmodels.moe:FAMILY",
    "gemma": "llmselect.refmodels.gemma:FAMILY",
    "deepseek": "llmselect.refmodels.deepseek:FAMILY",
}
BUILTIN_EXECUTORS: dict[str, str] = {
    "local": "llmselect.executors.local:LocalExecutor",
    "ray": "llmselect.executors.ray:RayExecutor",
    "slurm": "llmselect.executors.slurm:SlurmExecutor",
}

BUILTIN_SCORE_TERMS: dict[str, str] = {
    "quality_zh": "llmselect.recommend.terms:QUALITY_ZH",
    "quality_en": "llmselect.recommend.terms:QUALITY_EN",
    "scale": "llmselect.recommend.terms:SCALE",
    "tokenizer": "llmselect.recommend.terms:TOKENIZER",
    "speed": "llmselect.recommend.terms:SPEED",
    "cost": "llmselect.recommend.terms:COST",
}
BUILTIN_CONSTRAINTS: dict[str, str] = {
    "license": "llmselect.recommend.constraints:LICENSE",
    "architecture": "llmselect.recommend.constraints:ARCHITECTURE",
    "deployment": "llmselect.recommend.constraints:DEPLOYMENT",
    "size": "llmselect.recommend.constraints:SIZE",
    "context": "llmselect.recommend.constraints:CONTEXT",
    "memory": "llmselect.recommend.constraints:MEMORY",
    "finetune": "llmselect.recommend.constraints:FINETUNE",
    "throughput": "llmselect.recommend.constraints:THROUGHPUT",
}

ENTRY_POINT_GROUP = "llmselect.probes"  # the probe group (kept under its historical name)

PROBES: Registry[Any] = Registry(
    "probe", ENTRY_POINT_GROUP, BUILTIN_PROBES, "llmselect.probes.base:Probe"
)
TOKENIZER_KINDS: Registry[Any] = Registry(
    "tokenizer kind",
    "llmselect.tokenizer_kinds",
    BUILTIN_TOKENIZER_KINDS,
    "llmselect.tokenizers.kinds:TokenizerKind",
)
FAMILIES: Registry[Any] = Registry(
    "model family", "llmselect.families", BUILTIN_FAMILIES, "llmselect.arch.family:Family"
)
EXECUTORS: Registry[Any] = Registry(
    "executor", "llmselect.executors", BUILTIN_EXECUTORS, "llmselect.executors.base:Executor"
)

SCORE_TERMS: Registry[Any] = Registry(
    "score term",
    "llmselect.score_terms",
    BUILTIN_SCORE_TERMS,
    "llmselect.recommend.terms:ScoreTerm",
)
CONSTRAINTS: Registry[Any] = Registry(
    "constraint",
    "llmselect.constraints",
    BUILTIN_CONSTRAINTS,
    "llmselect.recommend.constraints:Constraint",
)


def probe_paths() -> dict[str, str]:
    """Every known probe name → ``"module:Class"``; duplicate names are an error."""
    return PROBES.paths()


def load_probe_class(name: str) -> type:
    """Import and return the probe class registered as ``name``."""
    return PROBES.load(name)  # type: ignore[no-any-return]
