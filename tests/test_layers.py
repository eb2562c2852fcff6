"""The layer contract: imports between the package's rooms only go down, and no room imports a
room of its own layer. Every import counts: top-level, inside functions and under
``TYPE_CHECKING`` alike, since a lazy import hides a cycle from the interpreter, not from the
design. A room is a top-level module or subpackage (``llmselect/store.py``, ``llmselect/cli/``).

Where to add what, and why each room sits where it does: ``docs/ARCHITECTURE.md``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import llmselect

PACKAGE = Path(llmselect.__file__).parent

# Top to bottom. A room may import any room in a later layer, none in its own or an earlier one.
LAYERS: list[set[str]] = [
    {"__main__"},
    {"cli"},  # parse, call, render
    {"report"},  # reads the store and the recommender
    {"suite", "sweep"},  # what a run is made of
    {"runner"},  # one run lifecycle: open_run, execute, deadline, the only store writer
    {"executors"},  # where units run (local, ray, ...)
    {"units"},  # Unit and run_unit, shared by runner and executors
    {"probes", "recommend"},  # measurements; the ranking pipeline
    {"targets"},  # the one resolver for names a user types
    {"eval"},  # lm-eval tasks and the adapters that score a checkpoint (transformers, llama.cpp)
    {"checkpoint", "cost"},  # checkpoints on disk or hub; training and fine-tuning cost
    {"tokenizers", "licenses", "memory", "refmodels", "corpora"},
    {"catalog", "hardware"},  # ModelSpec: the catalog entries; GPU specs
    {"arch"},  # ArchSpec, families, parameter counts, config/GGUF readers (no torch)
    {"formats", "store_index", "datacheck", "scores", "measure", "hub"},
    {"store"},
    {"records", "metrics", "datafiles"},
    {"registry", "config", "names", "childproc"},  # childproc: the workers' spec/result contract
    {"errors"},
]


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "llmselect" and len(parts) > 1 else None


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every imported module name in a file (resolved to absolute names), with its line."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    base = list(rel.parts[:-1])  # the package a relative import starts from
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                head = base[: len(base) - node.level + 1]
                module = ".".join(head + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found += [(f"{module}.{a.name}", node.lineno) for a in node.names]
    return found


def _room_edges() -> list[tuple[str, str, str]]:
    """``(from room, to room, file:line)`` for every import between two rooms."""
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if path.name == "__init__.py" else rel.parts)
        src = _room(module)
        for target, line in _imports(path):
            dst = _room(target)
            if src and dst and src != dst:
                edges.append((src, dst, f"{path.relative_to(PACKAGE.parent)}:{line}"))
    return edges


def _rooms() -> set[str]:
    return {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }


def test_every_room_has_a_layer() -> None:
    placed = [room for layer in LAYERS for room in layer]
    assert len(placed) == len(set(placed)), "a room is in two layers"
    assert _rooms() == set(placed)


def test_imports_only_go_down() -> None:
    level = {room: i for i, layer in enumerate(LAYERS) for room in layer}
    wrong = [
        f"{where}: {src} (layer {level[src]}) imports {dst} (layer {level[dst]})"
        for src, dst, where in _room_edges()
        if level[dst] <= level[src]
    ]
    assert not wrong, "imports that run up or sideways:\n" + "\n".join(wrong)


def test_the_contract_sees_lazy_and_type_checking_imports() -> None:
    """Imports inside functions and under TYPE_CHECKING are edges too (each file below has
    such an import and no top-level one of that room)."""
    edges = {(src, dst, where.split(":")[0]) for src, dst, where in _room_edges()}
    assert ("cli", "recommend", "llmselect/cli/recommend.py") in edges  # inside the command
    assert ("executors", "probes", "llmselect/executors/base.py") in edges  # TYPE_CHECKING
