"""Weight and cache number formats: bytes per element, and int8/int4 with group scales.

Pure Python (no torch): the recommender imports this to size models without a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmselect.errors import LLMSelectError


@dataclass(frozen=True)
class DType:
    """A storage format for weights or the KV cache.

    ``bits`` is the width of one stored value. Quantized formats (``int8``, ``int4``) also store
    one scale (and, for int4, one zero point) in fp16 per ``group_size`` weights along the input
    dimension; ``group_size=None`` means one scale per output row (per-channel int8).
    """

    name: str
    bits: int
    quantized: bool = False
    group_size: int | None = None
    scale_bytes: int = 0  # per group (or per output row when group_size is None)
    zero_bytes: int = 0  # per group: asymmetric int4 (GPTQ/AWQ-style) stores a zero point
    torch_name: str | None = None  # torch dtype attribute for formats torch computes in

    @property
    def element_bytes(self) -> float:
        """Bytes of one stored value, without scales."""
        return self.bits / 8

    def bytes_per_weight(self, in_features: int | None = None) -> float:
        """Average bytes per weight, scales and zero points included.

        ``in_features`` is needed only for per-channel scales (one per output row).
        """
        per_weight = self.element_bytes
        if not self.quantized:
            return per_weight
        if self.group_size is not None:
            return per_weight + (self.scale_bytes + self.zero_bytes) / self.group_size
        if not in_features:
            raise ValueError("per-channel scales need in_features")
        return per_weight + (self.scale_bytes + self.zero_bytes) / in_features


# int4 default group size 128 follows GPTQ's and AWQ's common setting; fp16 scale + fp16 zero.
INT4_GROUP_SIZE = 128

DTYPES: dict[str, DType] = {
    "fp32": DType("fp32", 32, torch_name="float32"),
    "bf16": DType("bf16", 16, torch_name="bfloat16"),
    "fp16": DType("fp16", 16, torch_name="float16"),
    # LLM.int8()-style: int8 weights, one fp16 scale per output row.
    "int8": DType("int8", 8, quantized=True, group_size=None, scale_bytes=2),
    "int4": DType(
        "int4", 4, quantized=True, group_size=INT4_GROUP_SIZE, scale_bytes=2, zero_bytes=2
    ),
}

ALIASES = {
    "float32": "fp32",
    "float": "fp32",
    "f32": "fp32",
    "bfloat16": "bf16",
    "float16": "fp16",
    "half": "fp16",
    "f16": "fp16",
    "q8": "int8",
    "q4": "int4",
}


def parse_dtype(name: str, *, group_size: int | None = None) -> DType:
    """``"bf16"``/``"bfloat16"``/... → ``DType``; an unknown name is a one-line error.

    ``group_size`` overrides int4's group (int8 stays per-channel unless a group is given).
    """
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in DTYPES:
        raise LLMSelectError(
            f"unknown dtype {name!r}; known: {', '.join(DTYPES)} (aliases: {', '.join(ALIASES)})"
        )
    dt = DTYPES[key]
    if group_size is not None and dt.quantized:
        if group_size <= 0:
            raise LLMSelectError(f"group size must be positive, got {group_size}")
        dt = DType(
            dt.name,
            dt.bits,
            quantized=True,
            group_size=group_size,
            scale_bytes=dt.scale_bytes,
            zero_bytes=dt.zero_bytes,
        )
    return dt


def compute_dtype(dt: DType) -> DType:
    """The format activations and the KV cache use: quantized weights compute in fp16."""
    return DTYPES["fp16"] if dt.quantized else dt
