"""Parameter counts from architecture numbers alone (pure Python: no torch needed).

``count_params(arch)`` counts exactly the parameters the reference implementation in
``llmselect.refmodels`` builds for ``arch`` (tests compare the two), which is also what the
published checkpoints hold: the tests build transformers' own classes on the meta device for
real configs (Llama, Qwen2, Qwen1.5-MoE, Qwen3, Qwen3-MoE, Mixtral, DeepSeek-V2-Lite, Gemma-2,
Gemma-3) and compare exactly.

Per layer, with D hidden, H heads, n_kv key/value heads, hd head size, I MLP inner size:

* attention: q (D x H*hd), k and v (D x n_kv*hd each), output (H*hd x D), plus biases
  (``attention == "biased"``: on all four; otherwise on q, k, v when ``qkv_bias``); with
  ``qk_norm`` an RMSNorm of width hd on q and on k. Latent attention (``mla``, DeepSeek-V2/V3):
  q straight or through a low-rank latent (q_a, its norm, q_b), the joint KV latent plus the
  RoPE key (kv_a, its norm), the up-projection to per-head keys and values (kv_b), the output;
* MLP: GELU D x I and I x D with biases; SwiGLU three matrices. Mixture-of-experts blocks
  (``moe``) hold a router (D x experts), every routed expert's SwiGLU of width
  ``expert_intermediate`` and the shared experts' SwiGLU (Qwen-MoE also gates the shared expert
  with a D x 1 projection); the first ``dense_layers`` blocks, and blocks off the
  ``layer_step`` grid, keep the dense MLP of width I;
* norms: two per layer (LayerNorm has a gain and a bias, RMSNorm a gain only); four with
  ``post_norms`` (Gemma-2/3 also norm the attention and MLP outputs).

Plus token embeddings (and a learned position table), an embedding norm where the family has
one, the final norm (none for post-LN), and an output matrix unless embeddings are tied. All of
it is read from the family's ``Traits`` and the ``ArchSpec`` fields; a family with another
layout passes its own counter.

``ParamCount.active`` is what one token passes through: everything but the routed experts it
is not sent to (a dense model's active count is its total).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from llmselect.errors import LLMSelectError

if TYPE_CHECKING:
    from llmselect.arch.family import Traits
    from llmselect.arch.spec import ArchSpec


@dataclass(frozen=True)
class ParamCount:
    """Parameters by part of the model (counts, not bytes)."""

    embeddings: int  # token embedding rows (+ learned position table)
    attention: int  # q, k, v, output projections of all layers, with biases
    mlp: int  # MLP matrices of all layers, with biases
    norms: int  # every LayerNorm/RMSNorm gain and bias, including the final one
    lm_head: int  # 0 when tied to the embeddings
    routed_experts: int = 0  # part of ``mlp``: every routed expert's matrices
    routed_active: int = 0  # part of ``routed_experts`` one token uses (experts_per_token)

    @property
    def total(self) -> int:
        return self.embeddings + self.attention + self.mlp + self.norms + self.lm_head

    @property
    def active(self) -> int:
        """Parameters one token is computed with (MoE: only its routed experts)."""
        return self.total - self.routed_experts + self.routed_active

    @property
    def non_embedding(self) -> int:
        """Everything except embedding tables and the output matrix."""
        return self.attention + self.mlp + self.norms

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "total": self.total, "active": self.active}


def is_moe_layer(arch: ArchSpec, layer: int) -> bool:
    """Whether block ``layer`` (0-based) has a mixture-of-experts MLP.

    After ``dense_layers`` dense blocks, every ``layer_step``-th block is MoE: Qwen-MoE's
    ``(i + 1) % decoder_sparse_step == 0`` and DeepSeek's ``i >= first_k_dense_replace``.
    """
    moe = arch.moe
    return moe is not None and is_sparse_block(layer, moe.dense_layers, moe.layer_step)


def is_sparse_block(layer: int, dense_layers: int, layer_step: int) -> bool:
    """``is_moe_layer`` on the two ``MoESpec`` numbers alone."""
    return layer >= dense_layers and (layer - dense_layers + 1) % layer_step == 0


def moe_layers(arch: ArchSpec) -> int:
    """How many blocks have a mixture-of-experts MLP: every ``layer_step``-th of the blocks
    after the dense ones (``is_moe_layer`` counted in closed form)."""
    moe = arch.moe
    if moe is None:
        return 0
    return max(arch.layers - moe.dense_layers, 0) // moe.layer_step


def shared_intermediate(arch: ArchSpec) -> int:
    """Inner width of the shared-expert MLP (all shared experts together; 0 = none)."""
    moe = arch.moe
    if moe is None or not moe.shared_experts:
        return 0
    return moe.shared_intermediate or moe.shared_experts * moe.expert_intermediate


def attention_linear_shapes(arch: ArchSpec) -> list[tuple[int, int]]:
    """(in_features, out_features) of every attention projection of one block."""
    d, h = arch.hidden, arch.heads
    mla = arch.mla
    if mla is not None:
        qk = mla.qk_nope_head_dim + mla.qk_rope_head_dim
        q = [(d, mla.q_lora_rank), (mla.q_lora_rank, h * qk)] if mla.q_lora_rank else [(d, h * qk)]
        kv = [
            (d, mla.kv_lora_rank + mla.qk_rope_head_dim),  # kv_a: latent + shared RoPE key
            (mla.kv_lora_rank, h * (mla.qk_nope_head_dim + mla.v_head_dim)),  # kv_b
        ]
        return [*q, *kv, (h * mla.v_head_dim, d)]
    hd = arch.head_size
    q_out, kv_out = h * hd, arch.kv_heads * hd
    return [(d, q_out), (d, kv_out), (d, kv_out), (q_out, d)]


def gated_mlp_shapes(hidden: int, inner: int) -> list[tuple[int, int]]:
    """gate, up (D x I) and down (I x D)."""
    return [(hidden, inner), (hidden, inner), (inner, hidden)]


def mlp_linear_shapes(arch: ArchSpec, layer: int) -> list[tuple[int, int]]:
    """(in, out) of the MLP's matrices in block ``layer``: every expert, never the router."""
    d = arch.hidden
    if arch.traits.mlp == "gelu":
        return [(d, arch.intermediate), (arch.intermediate, d)]
    if not is_moe_layer(arch, layer):
        return gated_mlp_shapes(d, arch.intermediate)
    moe = arch.moe
    assert moe is not None
    shapes = gated_mlp_shapes(d, moe.expert_intermediate) * moe.experts
    if shared_intermediate(arch):
        shapes += gated_mlp_shapes(d, shared_intermediate(arch))
    return shapes


def _moe_layer_params(arch: ArchSpec) -> tuple[int, int, int]:
    """(all MLP params of one MoE block, its routed experts, the routed ones a token uses)."""
    moe = arch.moe
    assert moe is not None
    d = arch.hidden
    expert = 3 * d * moe.expert_intermediate
    routed = moe.experts * expert
    shared = 3 * d * shared_intermediate(arch)
    gate = d if moe.shared_expert_gate else 0  # Qwen-MoE: sigmoid(D x 1) scales the shared MLP
    router = d * moe.experts
    return router + routed + shared + gate, routed, moe.experts_per_token * expert


def count_from_traits(arch: ArchSpec, traits: Traits) -> ParamCount:
    """The count for a decoder laid out as ``traits`` and the arch fields say (the default of
    every family)."""
    D, L, V, I = arch.hidden, arch.layers, arch.vocab, arch.intermediate  # noqa: E741
    attention = sum(i * o for i, o in attention_linear_shapes(arch))
    if traits.attention == "biased":
        hd = arch.head_size
        attention += (arch.heads + 2 * arch.kv_heads) * hd + D  # biases on q, k, v and output
    elif arch.mla is not None:
        attention += arch.mla.kv_lora_rank + (arch.mla.q_lora_rank or 0)  # latent RMSNorms
    elif arch.qkv_bias:
        attention += (arch.heads + 2 * arch.kv_heads) * arch.head_size
    if arch.qk_norm:
        attention += 2 * arch.head_size  # one RMSNorm over hd for q, one for k (shared by heads)
    routed = routed_active = 0
    if traits.mlp == "swiglu":
        n_moe = moe_layers(arch)
        mlp = (L - n_moe) * (3 * D * I + (2 * I + D if arch.mlp_bias else 0))
        if n_moe:
            per_layer, per_routed, per_active = _moe_layer_params(arch)
            mlp += n_moe * per_layer
            routed, routed_active = n_moe * per_routed, n_moe * per_active
    else:
        mlp = L * (2 * D * I + I + D)  # up and down with biases
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
        mlp=mlp,
        norms=L * (4 if arch.post_norms else 2) * norm + extra_norms,
        lm_head=0 if arch.tied_embeddings else V * D,
        routed_experts=routed,
        routed_active=routed_active,
    )
