"""Family ``deepseek``: DeepSeek-V2/V3 (latent attention + mixture of experts), sized by the
estimator (no reference model yet).

Multi-head latent attention (``ArchSpec.mla``) replaces q/k/v with low-rank projections and
caches one compressed latent plus one RoPE key per token and layer; the MLP is dense in the
first ``moe.dense_layers`` blocks and a mixture of routed and shared SwiGLU experts after.
Parameters are counted from those fields (tests compare with transformers' DeepseekV2 class).
"""

from __future__ import annotations

from llmselect.arch.family import Family, estimator_only
from llmselect.refmodels import llama

FAMILY = Family(
    name="deepseek",
    description="DeepSeek-V2/V3: latent attention, routed + shared experts (estimator only)",
    traits=llama.TRAITS,
    build_config=estimator_only("deepseek"),
    model=None,
    hf_model_type="deepseek_v2",
)
