"""Parameter counts from architecture numbers alone (pure Python: no torch needed).

``count_params(arch)`` counts exactly the parameters the reference implementation in
``llmselect.refmodels`` builds for ``arch`` (tests compare the two), which is also what the
published checkpoints hold: the tests check Llama-2, ChatGLM3, Qwen2.5, Mistral, BLOOM and
GPT-2 against their published totals.

Per layer, with D hidden, H heads, n_kv key/value heads, hd head size, I MLP inner size:

* attention: q (D x H*hd), k and v (D x n_kv*hd each), output (H*hd x D), plus biases
  (gpt2/bloom: on all four; llama/glm: on q, k, v when ``qkv_bias``);
* MLP: GELU (gpt2/bloom) D x I and I x D with biases; SwiGLU (llama/glm) three matrices;
* norms: two per layer (LayerNorm has a gain and a bias, RMSNorm a gain only).

Plus token embeddings (and GPT-2's learned position table), BLOOM's embedding LayerNorm, the
final norm, and an output matrix unless embeddings are tied.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from llmselect.errors import LLMSelectError

if TYPE_CHECKING:
    from llmselect.catalog import ArchSpec


@dataclass(frozen=True)
class ParamCount:
    """Parameters by part of the model (counts, not bytes)."""

    embeddings: int  # token embedding rows (+ learned position table)
    attention: int  # q, k, v, output projections of all layers, with biases
    mlp: int  # MLP matrices of all layers, with biases
    norms: int  # every LayerNorm/RMSNorm gain and bias, including the final one
    lm_head: int  # 0 when tied to the embeddings

    @property
    def total(self) -> int:
        return self.embeddings + self.attention + self.mlp + self.norms + self.lm_head

    @property
    def non_embedding(self) -> int:
        """Everything except embedding tables and the output matrix."""
        return self.attention + self.mlp + self.norms

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "total": self.total}


def count_params(arch: ArchSpec) -> ParamCount:
    """Exact parameter count of ``arch`` as built by ``llmselect.refmodels``."""
    D, L, V, I = arch.hidden, arch.layers, arch.vocab, arch.intermediate  # noqa: E741
    q_out = arch.heads * arch.head_size
    kv_out = arch.kv_heads * arch.head_size
    attn_matrices = D * q_out + 2 * D * kv_out + q_out * D
    lm_head = 0 if arch.tied_embeddings else V * D

    if arch.family in ("gpt2", "bloom"):
        attention = attn_matrices + (q_out + 2 * kv_out + D)  # biases on q, k, v and output
        mlp = 2 * D * I + I + D
        layer_norms = 2 * (2 * D)  # two LayerNorms, gain + bias
        if arch.family == "gpt2":
            if arch.max_position is None:
                raise LLMSelectError("gpt2 family needs arch.max_position (learned positions)")
            embeddings = V * D + arch.max_position * D
            extra_norms = 0 if arch.post_ln else 2 * D  # ln_f
        else:
            embeddings = V * D
            extra_norms = 2 * D + 2 * D  # word_embeddings_layernorm + ln_f
    elif arch.family in ("llama", "glm"):
        attention = attn_matrices + (q_out + 2 * kv_out if arch.qkv_bias else 0)
        mlp = 3 * D * I + (2 * I + D if arch.mlp_bias else 0)
        layer_norms = 2 * D  # two RMSNorm gains
        embeddings = V * D
        extra_norms = D  # final RMSNorm
    else:
        raise LLMSelectError(f"cannot count parameters of family {arch.family!r}")

    return ParamCount(
        embeddings=embeddings,
        attention=L * attention,
        mlp=L * mlp,
        norms=L * layer_norms + extra_norms,
        lm_head=lm_head,
    )
