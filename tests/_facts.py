"""The research facts as the catalog sees them: facts files + scripts/catalog_additions.yaml."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "import_facts.py"


def import_facts_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("import_facts", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def curated_facts(facts_root: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(models, licenses) after our drops, corrections and additions."""
    return import_facts_module().load_facts(facts_root)
