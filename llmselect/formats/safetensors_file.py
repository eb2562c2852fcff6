"""Safetensors headers: tensor names, dtypes and shapes without reading the weights.

A safetensors file starts with an 8-byte little-endian header length and a JSON header; the
exact parameter count and the bytes per dtype come from it. A header that points past the end
of the file means the file is truncated.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from llmselect.errors import LLMSelectError
from llmselect.formats.tensor import TensorInfo

DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
    "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
}  # fmt: skip
MAX_HEADER_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class STensor(TensorInfo):
    """One tensor listed in a safetensors header."""

    dtype: str
    n_bytes: int


def read_safetensors_header(path: Path) -> list[STensor]:
    """The tensors of one ``.safetensors`` file (header only)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            raw = fh.read(8)
            if len(raw) < 8:
                raise ValueError("shorter than its 8-byte header length")
            (n,) = struct.unpack("<Q", raw)
            if n > min(MAX_HEADER_BYTES, size - 8):
                raise ValueError(f"header length {n} does not fit in {size} bytes")
            header = json.loads(fh.read(n))
    except (OSError, ValueError) as exc:
        raise LLMSelectError(f"cannot read safetensors file {path}: {exc}") from exc
    tensors = []
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            start, stop = info["data_offsets"]
            tensors.append(STensor(name, tuple(info["shape"]), info["dtype"], stop - start))
            end = max(end, stop)
        except (KeyError, TypeError, ValueError) as exc:
            raise LLMSelectError(f"{path}: bad header entry {name!r}") from exc
    if 8 + n + end > size:
        raise LLMSelectError(
            f"{path}: truncated safetensors file: data ends at byte {8 + n + end:,}, "
            f"file has {size:,}"
        )
    return tensors


def safetensors_files(folder_or_file: Path) -> list[Path]:
    """The weight files of a checkpoint: the shard set of an index json, or every
    ``*.safetensors`` in the folder; a single file given directly also brings its shard set."""
    p = folder_or_file
    folder = p.parent if p.is_file() else p
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            names = sorted(set(weight_map.values()))
        except (OSError, ValueError, KeyError) as exc:
            raise LLMSelectError(f"{index}: unreadable index: {exc}") from exc
        files = [folder / n for n in names]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise LLMSelectError(f"{folder}: shards named by the index are missing: {missing[:3]}")
        if p.is_file() and p not in files:
            return [p]
        return files
    if p.is_file():
        return [p]
    return sorted(folder.glob("*.safetensors"))
