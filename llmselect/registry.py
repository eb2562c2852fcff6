"""Lazy probe registry: names map to ``"module:Class"`` strings until a probe is used.

Built-ins and plugins (entry-point group ``llmselect.probes``) load the same way.
``LLMSELECT_PLUGINS=none|pkg1,pkg2`` controls third-party loading.
"""

from __future__ import annotations

import importlib
import os
from importlib import metadata

from llmselect.errors import LLMSelectError

BUILTIN_PROBES: dict[str, str] = {
    "tokenizer_efficiency": "llmselect.probes.tokenizer_efficiency:TokenizerEfficiencyProbe",
    "tokenizer_throughput": "llmselect.probes.tokenizer_throughput:TokenizerThroughputProbe",
    "memory_estimate": "llmselect.probes.memory_estimate:MemoryEstimateProbe",
    "reference_latency": "llmselect.probes.reference_latency:ReferenceLatencyProbe",
    "license": "llmselect.probes.license:LicenseProbe",
    "lm_eval_scores": "llmselect.probes.lm_eval_scores:LmEvalScoresProbe",
}

ENTRY_POINT_GROUP = "llmselect.probes"
PLUGINS_ENV = "LLMSELECT_PLUGINS"


def _plugin_filter() -> set[str] | None:
    """None = load all plugins; empty set = none; otherwise the allowed distribution names."""
    raw = os.environ.get(PLUGINS_ENV, "").strip()
    if not raw:
        return None
    if raw.lower() == "none":
        return set()
    return {p.strip() for p in raw.split(",") if p.strip()}


def probe_paths() -> dict[str, str]:
    """Every known probe name → ``"module:Class"``; duplicate names are an error."""
    paths = dict(BUILTIN_PROBES)
    allowed = _plugin_filter()
    if allowed is not None and not allowed:
        return paths
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else ""
        if allowed is not None and dist not in allowed:
            continue
        if ep.name in paths:
            raise LLMSelectError(f"probe name {ep.name!r} from plugin {dist!r} is already taken")
        paths[ep.name] = ep.value
    return paths


def load_probe_class(name: str) -> type:
    """Import and return the probe class registered as ``name``."""
    from llmselect.probes.base import Probe

    paths = probe_paths()
    if name not in paths:
        raise LLMSelectError(f"unknown probe {name!r}; known: {', '.join(sorted(paths))}")
    module_name, _, attr = paths[name].partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise LLMSelectError(f"cannot load probe {name!r} from {paths[name]}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Probe)):
        raise LLMSelectError(f"probe {name!r} ({paths[name]}) is not a Probe subclass")
    return cls
