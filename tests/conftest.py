"""Shared fixtures: isolated home, offline hub, no plugins, and the local data root."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Read once, before the autouse fixture isolates the environment.
_DATA_ROOT = os.environ.get("LLMSELECT_DATA_ROOT")
_HF_CACHES = ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_DATASETS_CACHE", "TRANSFORMERS_CACHE")
_HF_HOME = tempfile.mkdtemp(prefix="llmselect-tests-hf-")


def pytest_configure(config: pytest.Config) -> None:
    """A fresh Hugging Face home for the session (hub and datasets caches), set before any test
    module imports a library that reads it: no test reads or writes ~/.cache/huggingface, so
    none passes or fails on what an earlier run or another program left there."""
    for name in _HF_CACHES:
        os.environ.pop(name, None)
    os.environ["HF_HOME"] = _HF_HOME


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_HF_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSELECT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LLMSELECT_RESULTS", raising=False)
    monkeypatch.delenv("LLMSELECT_CORPORA", raising=False)
    monkeypatch.setenv("LLMSELECT_PLUGINS", "none")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The local data root (``LLMSELECT_DATA_ROOT``); tests that need it skip only when unset.

    When it is set, a missing file inside it makes the test fail, never skip.
    """
    if not _DATA_ROOT:
        pytest.skip("LLMSELECT_DATA_ROOT is not set")
    root = Path(_DATA_ROOT).expanduser().resolve()
    assert root.is_dir(), f"LLMSELECT_DATA_ROOT={root} is not a folder"
    return root


@pytest.fixture(scope="session")
def tokenizers_root(data_root: Path) -> Path:
    path = data_root / "tokenizers"
    assert (path / "MANIFEST.json").is_file(), f"{path}/MANIFEST.json missing"
    return path


@pytest.fixture(scope="session")
def datasets_root(data_root: Path) -> Path:
    path = data_root / "datasets"
    assert path.is_dir(), f"{path} missing"
    return path


@pytest.fixture(scope="session")
def facts_root(data_root: Path) -> Path:
    path = data_root / "facts"
    assert (path / "models.yaml").is_file(), f"{path}/models.yaml missing"
    return path


@pytest.fixture()
def with_data_root(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the tool at the local data root for this test."""
    monkeypatch.setenv("LLMSELECT_DATA_ROOT", str(data_root))
    return data_root
