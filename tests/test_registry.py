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


def test_every_builtin_entry_loads_as_its_base_type() -> None:
    from llmselect.arch.family import Family
    from llmselect.executors.base import Executor
    from llmselect.tokenizers.kinds import TokenizerKind

    assert registry.FAMILIES.names() == [
        "gpt2",
        "llama",
        "glm",
        "bloom",
        "moe",
        "gemma",
        "deepseek",
    ]
    assert all(isinstance(f, Family) for f in registry.FAMILIES.load_all().values())
    kinds = registry.TOKENIZER_KINDS.load_all()
    assert all(isinstance(k, TokenizerKind) and k.name == n for n, k in kinds.items())
    assert issubclass(registry.EXECUTORS.load("local"), Executor)
    probes = registry.PROBES.load_all()
    assert all(p.name == n for n, p in probes.items())


def test_families_own_gguf_architectures_that_llama_cpp_writes() -> None:
    """The GGUF files each built-in family reads: by default those of its config.json
    ``model_type`` values, each a ``general.architecture`` llama.cpp's own table names."""
    from gguf import MODEL_ARCH_NAMES

    families = registry.FAMILIES.load_all().values()
    owned = {f.name: set(f.gguf_architectures) for f in families if f.gguf_architectures}
    assert owned == {
        "gpt2": {"gpt2"},
        "llama": {"llama", "qwen2"},
        "glm": {"chatglm"},
        "bloom": {"bloom"},
    }
    assert set().union(*owned.values()) <= set(MODEL_ARCH_NAMES.values())


def test_tokenizer_catalog_uses_only_registered_kinds() -> None:
    from llmselect.tokenizers import load_tokenizer_catalog

    used = {spec.kind for spec in load_tokenizer_catalog()}
    assert used == set(registry.TOKENIZER_KINDS.names())


def test_register_in_process_and_refuse_taken_names() -> None:
    fams = registry.FAMILIES
    fams.register("llama_copy", "llmselect.refmodels.llama:FAMILY")
    try:
        assert fams.load("llama_copy").name == "llama"
        with pytest.raises(LLMSelectError, match="already taken"):
            fams.register("llama_copy", "llmselect.refmodels.llama:FAMILY")
        with pytest.raises(LLMSelectError, match="already taken"):
            fams.register("gpt2", "llmselect.refmodels.gpt2:FAMILY")
    finally:
        fams.unregister("llama_copy")
    assert "llama_copy" not in fams.names()


def test_family_entry_must_be_a_family() -> None:
    registry.FAMILIES.register("not_a_family", "llmselect.refmodels.llama:TRAITS")
    try:
        with pytest.raises(LLMSelectError, match="is not a Family"):
            registry.FAMILIES.load("not_a_family")
    finally:
        registry.FAMILIES.unregister("not_a_family")


def test_arch_family_must_be_registered_or_other() -> None:
    from pydantic import ValidationError

    from llmselect.arch.spec import ArchSpec

    numbers = dict(hidden=64, layers=2, heads=4, kv_heads=4, intermediate=128, vocab=100)
    assert ArchSpec(family="other", source="x", **numbers).traits.mlp == "swiglu"
    assert ArchSpec(family="bloom", source="x", **numbers).traits.position == "alibi"
    with pytest.raises(ValidationError, match="unknown family 'mamba'"):
        ArchSpec(family="mamba", source="x", **numbers)


def test_record_takes_unit_and_direction_from_the_declaration() -> None:
    """A declared metric's record carries its declared unit and direction; a contradicting
    unit or direction is refused, so a record never disagrees with what the report reads."""
    from llmselect.probes.memory_estimate import MemoryEstimateProbe

    probe = MemoryEstimateProbe(MemoryEstimateProbe.Config())
    ctx = RunContext(run_id="r")
    rec = probe.record(ctx, "m", "est_weights_mib", 1.0, kind="estimated")
    assert (rec.unit, rec.higher_is_better) == ("MiB", False)
    with pytest.raises(LLMSelectError, match="declared 'MiB'"):
        probe.record(ctx, "m", "est_weights_mib", 1.0, "GiB")
    with pytest.raises(LLMSelectError, match="direction"):
        probe.record(ctx, "m", "est_weights_mib", 1.0, higher_is_better=True)
    with pytest.raises(LLMSelectError, match="give its unit"):
        probe.record(ctx, "m", "not_declared", 1.0)
