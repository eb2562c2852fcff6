"""Parameter counts from architecture numbers alone (pure Python: no torch needed).

``count_params(arch)`` counts exactly the parameters the reference implementation in
``llmselect.refmodels`` builds for ``arch`` (tests compare the two), which is also what the
published checkpoints hold: the tests check Llama-2, ChatGLM3, Qwen2.5, Mistral, BLOOM and
GPT-2 against their published totals.

Per layer, with D hidden, H heads, n_kv key/value heads, hd head size, I MLP inner size:

* attention: q (D x H*hd), k and v (D x n_kv*hd each), output (H*hd x D), plus biases
  (``attention == "biased"``: on all four; otherwise on q, k, v when ``qkv_bias``);
* MLP: GELU D x I and I x D with biases; SwiGLU three matrices;
* norms: two per layer (LayerNorm has a gain and a bias, RMSNorm a gain only).

Plus token embeddings (and a learned position table), an embedding norm where the family has
one, the final norm (none for post-LN), and an output matrix unless embeddings are tied. All of
it is read from the family's ``Traits``; a family with another layout passes its own counter.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from llmselect.errors import LLMSelectError

if TYPE_CHECKING:
    from llmselect.catalog import ArchSpec
    from llmselect.refmodels.family import Traits


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
    from llmselect.refmodels.family import NO_REFERENCE, family

    if arch.family == NO_REFERENCE:
        raise LLMSelectError(f"cannot count parameters of family {arch.family!r}")
    return family(arch.family).count_params(arch)


def count_from_traits(arch: ArchSpec, traits: Traits) -> ParamCount:
    """The count for a decoder laid out as ``traits`` say (the default of every family)."""
    D, L, V, I = arch.hidden, arch.layers, arch.vocab, arch.intermediate  # noqa: E741
    q_out = arch.heads * arch.head_size
    kv_out = arch.kv_heads * arch.head_size
    attention = D * q_out + 2 * D * kv_out + q_out * D
    if traits.attention == "biased":
        attention += q_out + 2 * kv_out + D  # biases on q, k, v and output
    elif arch.qkv_bias:
        attention += q_out + 2 * kv_out
    if traits.mlp == "swiglu":
        mlp = 3 * D * I + (2 * I + D if arch.mlp_bias else 0)
    else:
        mlp = 2 * D * I + I + D  # up and down with biases
    norm = 2 * D if traits.norm == "layernorm" else D  # gain (+ bias)
    embeddings = V * D
    if traits.position == "learned":
        if arch.max_position is None:
            raise LLMSelectError(
                f"{arch.family} family needs arch.max_position (learned positions)"
            )
        embeddings += arch.max_position * D
    extra_norms = 0 if arch.post_ln else norm  # final norm; post-LN models end on a block norm
    if traits.embedding_norm:
        extra_norms += norm
    return ParamCount(
        embeddings=embeddings,
        attention=L * attention,
        mlp=L * mlp,
        norms=L * 2 * norm + extra_norms,
        lm_head=0 if arch.tied_embeddings else V * D,
    )
