"""Family ``gemma``: Gemma 1/2/3 decoders, sized by the estimator (no reference model yet).

The layout is LLaMA's as far as parameters and memory go (RMSNorm, RoPE, a gated MLP of three
matrices: GeGLU-tanh), with ``head_dim`` set apart from hidden / heads, tied embeddings, and
for Gemma-2/3 ``post_norms`` (an RMSNorm also after attention and after the MLP),
alternating sliding-window layers (``sliding_window_pattern``) and, in Gemma-3, QK-norm. What
changes no count or byte (the sqrt(hidden) embedding scale, logit soft-capping, the 1 + w norm
gain) is left to the reference model this family does not have yet.
"""

from __future__ import annotations

from llmselect.arch.family import Family, estimator_only
from llmselect.refmodels import llama

FAMILY = Family(
    name="gemma",
    description="Gemma 1/2/3: GeGLU, head_dim apart, post-norms, alternating sliding windows "
    "(estimator only)",
    traits=llama.TRAITS,
    build_config=estimator_only("gemma"),
    model=None,
    hf_model_type="gemma2",
)
