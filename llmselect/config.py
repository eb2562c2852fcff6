"""Settings: where results, caches and the local data root live (environment overrides).

``LLMSELECT_DATA_ROOT`` names one folder holding ``tokenizers/``, ``datasets/`` and ``facts/``
(for example a mirrored data bundle). It is the only way the tool learns about local data;
without it, tokenizers come from the Hugging Face cache, then the hub.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ROOT_ENV = "LLMSELECT_DATA_ROOT"
HOME_ENV = "LLMSELECT_HOME"
RESULTS_ENV = "LLMSELECT_RESULTS"

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE_DATA = PACKAGE_DIR / "data"


def home_dir() -> Path:
    """Folder for the tool's own state (results store, caches)."""
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else Path.home() / ".llmselect"


def results_dir() -> Path:
    """Root of the JSONL result store: ``<results>/<run_id>/measurements.jsonl``."""
    env = os.environ.get(RESULTS_ENV)
    return Path(env).expanduser() if env else home_dir() / "results"


def data_root() -> Path | None:
    """The local data root from ``LLMSELECT_DATA_ROOT``, or None when unset."""
    env = os.environ.get(DATA_ROOT_ENV)
    return Path(env).expanduser().resolve() if env else None


def data_subdir(name: str) -> Path | None:
    """``<data root>/<name>`` (``tokenizers``, ``datasets``, ``facts``), or None when unset."""
    root = data_root()
    return root / name if root else None


def hf_offline() -> bool:
    """True when the Hugging Face hub must not be contacted."""
    return any(
        os.environ.get(v, "").strip().lower() in {"1", "true", "yes", "on"}
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )
