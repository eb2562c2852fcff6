"""A score term from outside the package: one file (``tests/plugins/llmselect_context_term.py``)
plus one registry line (its entry point). Profiles are validated against the registry, so a
profile that weighs the term loads only with the plugin installed."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from llmselect.catalog import load_catalog
from llmselect.errors import LLMSelectError
from llmselect.hardware import parse_gpu
from llmselect.recommend import Request, load_profiles, recommend

ENTRY = {"llmselect.score_terms": {"context": "llmselect_context_term:CONTEXT"}}
PROFILE = """\
name: longdocs
description: Long documents on one GPU.
license_use: commercial
precisions: [fp16, int8, int4]
max_params_b: null
default_context: 4096
weights:
  quality: 0.5
  context: 0.5
"""


@pytest.fixture()
def profiles_dir(tmp_path: Path) -> Path:
    (tmp_path / "longdocs.yaml").write_text(PROFILE, encoding="utf-8")
    return tmp_path


@pytest.fixture()
def context_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "plugins"))
    monkeypatch.setenv("LLMSELECT_PLUGINS", "")
    real = metadata.entry_points

    def entry_points(**kw: str):  # type: ignore[no-untyped-def]
        group = kw.get("group")
        if group in ENTRY:
            return [
                metadata.EntryPoint(name=n, value=v, group=group) for n, v in ENTRY[group].items()
            ]
        return real(**kw)

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    load_profiles.cache_clear()
    yield
    load_profiles.cache_clear()


def test_profile_with_an_unregistered_term_is_one_error(profiles_dir: Path) -> None:
    load_profiles.cache_clear()
    with pytest.raises(LLMSelectError, match=r"unknown terms \['context'\]"):
        load_profiles(profiles_dir)


def test_plugin_term_is_ranked_by_value(context_plugin: None, profiles_dir: Path) -> None:
    profiles = load_profiles(profiles_dir)
    result = recommend(
        load_catalog(), Request(gpu=parse_gpu("24GB"), purpose="longdocs"), profiles=profiles
    )
    assert result.recommendations
    catalog = load_catalog()
    terms = [next(t for t in r.terms if t.name == "context") for r in result.recommendations]
    best = max(t.raw for t in terms)
    for rec, term in zip(result.recommendations, terms, strict=True):
        window = catalog.get(rec.model_id).context_length  # the catalog's published figure
        assert term.raw == window and term.norm == pytest.approx(window / best)
        assert term.weight == pytest.approx(0.5)
