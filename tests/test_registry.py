"""Lazy probe registry: built-ins resolve, plugins load from entry points, bad ones are refused."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata

import pytest

from llmselect import registry
from llmselect.errors import LLMSelectError
from llmselect.probes.base import Probe, RunContext
from llmselect.records import Measurement


class FakeProbe(Probe):
    name = "fake"

    def run(self, target: object, ctx: RunContext) -> Iterable[Measurement]:
        yield self.record(ctx, "m", "x_ms", 1.0, "ms")


class NotAProbe:
    pass


def _fake_entry_points(value: str, name: str = "fake"):
    ep = metadata.EntryPoint(name=name, value=value, group=registry.ENTRY_POINT_GROUP)
    return lambda group=None: [ep] if group == registry.ENTRY_POINT_GROUP else []


def test_unknown_probe_suggests_known_names() -> None:
    with pytest.raises(LLMSelectError, match="unknown probe"):
        registry.load_probe_class("nope")


def test_plugins_disabled_by_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metadata, "entry_points", _fake_entry_points(f"{__name__}:FakeProbe"))
    assert "fake" not in registry.probe_paths()  # conftest sets LLMSELECT_PLUGINS=none


def test_plugin_from_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSELECT_PLUGINS", "")
    monkeypatch.setattr(metadata, "entry_points", _fake_entry_points(f"{__name__}:FakeProbe"))
    assert registry.load_probe_class("fake") is FakeProbe


def test_plugin_must_subclass_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSELECT_PLUGINS", "")
    monkeypatch.setattr(metadata, "entry_points", _fake_entry_points(f"{__name__}:NotAProbe"))
    with pytest.raises(LLMSelectError, match="not a Probe subclass"):
        registry.load_probe_class("fake")


def test_plugin_cannot_shadow_builtin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSELECT_PLUGINS", "")
    monkeypatch.setattr(
        metadata, "entry_points", _fake_entry_points(f"{__name__}:FakeProbe", name="license")
    )
    with pytest.raises(LLMSelectError, match="already taken"):
        registry.probe_paths()
