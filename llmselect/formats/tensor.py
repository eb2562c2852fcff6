"""``TensorInfo``: a tensor as a checkpoint file lists it (name and shape), without its data.

The base of the GGUF and safetensors tensor records and of the tensors a GGUF file would hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TensorInfo:
    """One named tensor and its shape (in the file's own order of dimensions)."""

    name: str
    shape: tuple[int, ...]

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)
