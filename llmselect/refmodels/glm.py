"""Family ``glm``: ChatGLM2/3 and GLM-4 (LLaMA layout with partial, interleaved RoPE).

The PyTorch model is ``glm_model.py`` (the LLaMA decoder with GLM's weight names); this file is
what the rest of llmselect reads about the family, importable without torch.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from llmselect.refmodels import llama
from llmselect.refmodels.family import Family

if TYPE_CHECKING:
    from llmselect.catalog import ArchSpec


def build_config(arch: ArchSpec) -> Any:
    """``LlamaConfig`` with GLM's interleaved rotary layout."""
    return llama.build_config(arch, rope_interleaved=True)


FAMILY = Family(
    name="glm",
    description="GLM: LLaMA layout with partial interleaved RoPE and multi-query groups",
    traits=replace(llama.TRAITS, fused_qkv=True),
    build_config=build_config,
    model="llmselect.refmodels.glm_model:GLMTransformer",
    converter="llmselect.refmodels.glm_model:convert_hf_state_dict",
    hf_model_type="glm",
)
