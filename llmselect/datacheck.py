"""Whether a data root (``LLMSELECT_DATA_ROOT``) holds the same data as the one a run began on.

A data bundle says what it is in its manifests (``tokenizers/MANIFEST.json``,
``datasets/MANIFEST.json``: every file with its sha256). Their own sha256 stand for the whole
bundle: a worker on another node, or a resumed run, compares them with the driver's (or the
first run's) before a unit reads anything, so a missing mount or another copy of the data is
one clear line instead of a traceback or, worse, numbers from other files.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

MANIFESTS = ("tokenizers/MANIFEST.json", "datasets/MANIFEST.json")


@lru_cache(maxsize=8)
def _sha256(path: Path, size: int, mtime_ns: int) -> str:  # size, mtime: a changed file misses
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_hashes(root: Path) -> dict[str, str]:
    """sha256 of each manifest under ``root`` (``{"tokenizers/MANIFEST.json": hex, ...}``)."""
    out = {}
    for rel in MANIFESTS:
        path = Path(root) / rel
        try:
            st = path.stat()
        except OSError:
            continue
        out[rel] = _sha256(path, st.st_size, st.st_mtime_ns)
    return out


def data_root_problem(root: Path | None, expected: dict[str, str]) -> str | None:
    """None when ``root`` is a folder whose manifests hash to ``expected``; else why not."""
    if root is None:
        return "LLMSELECT_DATA_ROOT is not set"
    if not Path(root).is_dir():
        return f"data root {root} does not exist"
    try:
        found = manifest_hashes(Path(root))
    except OSError as exc:
        return f"data root {root}: cannot read its manifests ({exc})"
    diffs = []
    for rel in sorted(set(expected) | set(found)):
        want, have = expected.get(rel), found.get(rel)
        if want != have:
            diffs.append(
                f"{rel} {'missing' if have is None else 'sha256 ' + have[:12]}"
                f" (expected {'none' if want is None else 'sha256 ' + want[:12]})"
            )
    if diffs:
        return f"data root {root} holds other data: {'; '.join(diffs)}"
    return None
