"""``ArchSpec``: the architecture numbers of a decoder, as its config.json states them.

The schema every other part reads: the catalog stores one per checkpoint, the checkpoint readers
build one from a config.json or GGUF metadata, the estimator and the parameter count read it, and
a reference family builds its model from it. Pure pydantic: no torch.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from llmselect.arch.family import NO_REFERENCE, Traits, traits_of
from llmselect.datafiles import StrictModel
from llmselect.registry import FAMILIES


class MoESpec(StrictModel):
    """Mixture-of-experts MLP numbers (Mixtral, Qwen-MoE, DeepSeek-MoE style)."""

    experts: int = Field(description="routed experts per MoE layer (num_local_experts)")
    experts_per_token: int = Field(description="routed experts per token (num_experts_per_tok)")
    expert_intermediate: int = Field(description="MLP inner size of one routed expert")
    shared_experts: int = Field(default=0, description="always-on experts (n_shared_experts)")
    shared_intermediate: int | None = Field(
        default=None,
        description="shared-expert MLP inner size, all shared experts together",
    )
    dense_layers: int = Field(
        default=0, description="leading dense-MLP layers (first_k_dense_replace)"
    )
    layer_step: int = Field(
        default=1, description="every n-th layer after the dense ones is MoE (decoder_sparse_step)"
    )
    shared_expert_gate: bool = Field(
        default=False, description="Qwen-MoE: sigmoid(D x 1) gate scales the shared expert"
    )
    norm_topk_prob: bool = Field(
        default=True,
        description="renormalise the chosen experts' weights to sum 1 (Mixtral, Qwen3-MoE: "
        "true; Qwen1.5-MoE: false)",
    )


class MLASpec(StrictModel):
    """DeepSeek multi-head latent attention: the KV cache holds the latent plus the RoPE key."""

    kv_lora_rank: int = Field(description="compressed KV latent width")
    q_lora_rank: int | None = Field(
        default=None, description="query latent width (null = full q_proj)"
    )
    qk_nope_head_dim: int = Field(description="per-head query/key width without RoPE")
    qk_rope_head_dim: int = Field(description="RoPE key width (one per token in the cache)")
    v_head_dim: int = Field(description="per-head value width")


class ArchSpec(StrictModel):
    """Architecture numbers as in the checkpoint's config.json."""

    family: str = Field(
        description="reference implementation that builds this model: a name registered in "
        "llmselect.registry.FAMILIES, or 'other' (no reference implementation)"
    )
    model_type: str | None = Field(
        default=None,
        description="config.json model_type: names the transformers class with this layout",
    )
    hidden: int = Field(description="hidden_size")
    layers: int = Field(description="num_hidden_layers")
    heads: int = Field(description="num_attention_heads")
    kv_heads: int = Field(description="num_key_value_heads (MHA = heads, MQA = 1)")
    intermediate: int = Field(description="MLP inner size")
    vocab: int = Field(description="embedding rows (padded vocab)")
    head_dim: int | None = Field(default=None, description="if not hidden / heads")
    tied_embeddings: bool = False
    max_position: int | None = None
    rope_theta: float | None = None
    rope_fraction: float = Field(default=1.0, description="share of head_dim that is rotated")
    qkv_bias: bool = False
    mlp_bias: bool = False
    sliding_window: int | None = None
    sliding_window_pattern: int | None = Field(
        default=None,
        description="every n-th layer is global, the others slide (Gemma-2: 2, Gemma-3: 6); "
        "null with sliding_window set = every layer slides",
    )
    qk_norm: bool = Field(default=False, description="RMSNorm on per-head q and k (Qwen3, Gemma-3)")
    post_norms: bool = Field(
        default=False,
        description="Gemma-2/3: RMSNorm also on the attention and MLP outputs (4 per layer)",
    )
    moe: MoESpec | None = Field(default=None, description="mixture-of-experts MLP; null = dense")
    mla: MLASpec | None = Field(default=None, description="latent attention; null = plain")
    norm_eps: float | None = Field(
        default=1e-5,
        description="epsilon of every LayerNorm/RMSNorm (rms_norm_eps, layer_norm_epsilon); "
        "null where a config read by transformers names none",
    )
    post_ln: bool = Field(
        default=False, description="gpt2 family only: LayerNorm after each residual add (post-LN)"
    )
    source: str = Field(description="where these numbers come from")

    @field_validator("family")
    @classmethod
    def _known_family(cls, value: str) -> str:
        known = FAMILIES.names()
        if value != NO_REFERENCE and value not in known:
            raise ValueError(f"unknown family {value!r} (known: {', '.join(known)}, other)")
        return value

    @model_validator(mode="after")
    def _shapes_fit(self) -> ArchSpec:
        # Cross-field rules every real checkpoint obeys; a violation means a typo in the YAML.
        if self.head_dim is None and self.hidden % self.heads:
            raise ValueError(f"heads ({self.heads}) do not divide hidden ({self.hidden})")
        if self.heads % self.kv_heads:
            raise ValueError(f"kv_heads ({self.kv_heads}) do not divide heads ({self.heads})")
        if self.moe and not 0 < self.moe.experts_per_token <= self.moe.experts:
            raise ValueError("moe.experts_per_token must be in 1..experts")
        if self.sliding_window_pattern is not None and not self.sliding_window:
            raise ValueError("sliding_window_pattern needs sliding_window")
        return self

    @property
    def head_size(self) -> int:
        return self.head_dim or self.hidden // self.heads

    @property
    def traits(self) -> Traits:
        """Layout traits of the family (``other``: the common modern decoder)."""
        return traits_of(self.family)
