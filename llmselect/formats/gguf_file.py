"""GGUF files (llama.cpp): the key/value metadata and the tensor list, read from the header only.

The file is memory-mapped and only its header is parsed, so a multi-GB file costs milliseconds.
The ``gguf`` package supplies the format constants (value type codes, ``GGML_QUANT_SIZES``);
``gguf.GGUFReader`` would also work but builds a numpy view per vocabulary entry, which takes
seconds for a 150k-token vocabulary. A file whose tensors reach past its end is reported as
truncated.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from llmselect.errors import LLMSelectError
from llmselect.formats.tensor import TensorInfo

DEFAULT_ALIGNMENT = 32  # GGUF spec: general.alignment when absent


@dataclass(frozen=True)
class GGUFTensor(TensorInfo):
    """One tensor of a GGUF file: llama.cpp name, shape (ne0, the contiguous row, first, as
    stored), ggml type."""

    ggml_type: str  # ggml type name: F32, F16, Q4_K, ...
    offset: int  # from the start of the data section
    n_bytes: int


@dataclass(frozen=True)
class GGUFFile:
    """Header of a GGUF file."""

    path: Path
    version: int
    metadata: dict[str, Any]
    tensors: list[GGUFTensor]
    data_offset: int
    file_size: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    def arch_key(self, key: str, default: Any = None) -> Any:
        """``<architecture>.<key>`` (e.g. ``block_count``)."""
        return self.metadata.get(f"{self.architecture}.{key}", default)

    @property
    def tensor_bytes(self) -> int:
        return sum(t.n_bytes for t in self.tensors)

    @property
    def n_params(self) -> int:
        return sum(t.n_elements for t in self.tensors)


def ggml_type_sizes() -> dict[str, tuple[int, int]]:
    """ggml type name → (elements per block, bytes per block), from the ``gguf`` package."""
    from gguf import GGML_QUANT_SIZES

    return {t.name: sizes for t, sizes in GGML_QUANT_SIZES.items()}


def _tensor_bytes(n_elements: int, ggml_type: str, shape: tuple[int, ...], path: Path) -> int:
    sizes = ggml_type_sizes()
    if ggml_type not in sizes:
        raise LLMSelectError(f"{path}: unknown ggml tensor type {ggml_type}")
    block, type_size = sizes[ggml_type]
    if shape and shape[0] % block:
        raise LLMSelectError(f"{path}: row of {shape[0]} is not whole {ggml_type} blocks")
    return n_elements // block * type_size


class _Cursor:
    """Little-endian reads from a buffer, with the GGUF value types."""

    def __init__(self, buf: Any) -> None:
        self.buf = buf
        self.pos = 0

    def unpack(self, fmt: str) -> Any:
        values = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return values[0] if len(values) == 1 else values

    def string(self) -> str:
        length = self.unpack("<Q")
        if self.pos + length > len(self.buf):
            raise ValueError("string runs past the end of the file")
        text = bytes(self.buf[self.pos : self.pos + length]).decode("utf-8", errors="replace")
        self.pos += length
        return text

    def value(self, vtype: int) -> Any:
        from gguf import GGUFValueType

        scalar = _SCALARS()
        if vtype == GGUFValueType.STRING:
            return self.string()
        if vtype == GGUFValueType.ARRAY:
            item_type, count = self.unpack("<IQ")
            if item_type == GGUFValueType.STRING:  # vocabularies: keep this loop tight
                items = []
                append, buf = items.append, self.buf
                unpack_len = struct.Struct("<Q").unpack_from
                pos = self.pos
                for _ in range(count):
                    (length,) = unpack_len(buf, pos)
                    pos += 8
                    append(bytes(buf[pos : pos + length]).decode("utf-8", errors="replace"))
                    pos += length
                self.pos = pos
                return items
            if item_type in scalar:  # one unpack for the whole array
                fmt = scalar[item_type]
                items = list(struct.unpack_from(f"<{count}{fmt[1]}", self.buf, self.pos))
                self.pos += struct.calcsize(fmt) * count
                return items
            return [self.value(item_type) for _ in range(count)]
        if vtype not in scalar:
            raise ValueError(f"unknown GGUF value type {vtype}")
        return self.unpack(scalar[vtype])


@lru_cache(maxsize=1)
def _SCALARS() -> dict[int, str]:  # noqa: N802 - a constant built lazily (gguf import)
    from gguf import GGUFValueType as T

    return {
        int(T.UINT8): "<B", int(T.INT8): "<b", int(T.UINT16): "<H", int(T.INT16): "<h",
        int(T.UINT32): "<I", int(T.INT32): "<i", int(T.FLOAT32): "<f", int(T.BOOL): "<?",
        int(T.UINT64): "<Q", int(T.INT64): "<q", int(T.FLOAT64): "<d",
    }  # fmt: skip


def _parse(path: Path, buf: Any, file_size: int) -> GGUFFile:
    from gguf import GGUF_MAGIC, GGUF_VERSION, GGMLQuantizationType

    cur = _Cursor(buf)
    magic, version = cur.unpack("<II")
    if magic != GGUF_MAGIC:
        raise ValueError("not a GGUF file (bad magic)")
    if not 2 <= version <= GGUF_VERSION:  # v1 had another layout; a newer one is unknown here
        raise ValueError(
            f"GGUF version {version} is not supported (this reader knows 2 to {GGUF_VERSION})"
        )
    n_tensors, n_kv = cur.unpack("<QQ")
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.string()
        metadata[key] = cur.value(cur.unpack("<I"))
    infos = []
    for _ in range(n_tensors):
        name = cur.string()
        n_dims = cur.unpack("<I")
        shape = tuple(int(d) for d in struct.unpack_from(f"<{n_dims}Q", buf, cur.pos))
        cur.pos += 8 * n_dims
        type_code, offset = cur.unpack("<IQ")
        try:
            type_name = GGMLQuantizationType(type_code).name
        except ValueError:
            raise ValueError(f"tensor {name}: unknown ggml type code {type_code}") from None
        infos.append((name, shape, type_name, offset))
    alignment = int(metadata.get("general.alignment", DEFAULT_ALIGNMENT))
    data_offset = -(-cur.pos // alignment) * alignment
    tensors = []
    for name, shape, type_name, offset in infos:
        n_el = 1
        for d in shape:
            n_el *= d
        tensors.append(
            GGUFTensor(name, shape, type_name, offset, _tensor_bytes(n_el, type_name, shape, path))
        )
    end = max((data_offset + t.offset + t.n_bytes for t in tensors), default=cur.pos)
    if end > file_size:
        raise LLMSelectError(
            f"{path}: truncated GGUF file: tensors end at byte {end:,}, file has {file_size:,}"
        )
    return GGUFFile(path, version, metadata, tensors, data_offset, file_size)


def read_gguf(path: str | Path) -> GGUFFile:
    """Metadata and tensor list of a GGUF file; any defect is a one-line LLMSelectError."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise LLMSelectError(f"no such GGUF file: {p}")
    try:
        with p.open("rb") as fh:
            size = p.stat().st_size
            if size < 24:
                raise ValueError(f"only {size} bytes")
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse(p, buf, size)
    except LLMSelectError:
        raise
    except (OSError, ValueError, KeyError, struct.error, UnicodeDecodeError) as exc:
        raise LLMSelectError(f"cannot read GGUF file {p}: {exc}") from exc
