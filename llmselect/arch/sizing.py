"""``Sizing``: the exact numbers a memory estimate needs, computed once from a config.json.

A catalog entry (and a checkpoint read from its config) carries one ``Sizing`` block:

* parameter counts of the text decoder that generation loads (counted by transformers' own
  class on the meta device, ``llmselect.arch.hf_sizing``), split into the parts a dtype or a
  routed token treats differently, plus the parts that are *not* in it (vision/audio towers,
  multi-token-prediction layers) on their own lines;
* the cache, one ``CacheGroup`` per kind of layer: values (numbers, not bytes) one token adds to
  one layer, a window that caps them, a compression ratio, and a constant state per sequence
  (linear attention). Bytes follow from the cache dtype the estimate is asked for;
* the weights as stored (``StoredWeights``): the config's dtype or its ``quantization_config``
  (FP8 blocks, MXFP4, NVFP4, AWQ/GPTQ) turned into bytes, scales included.

Pure pydantic and arithmetic: ``recommend`` reads it without torch or transformers. Units are
in the field names (``_values``, ``_tokens``, ``_bytes``, ``params_``).

Active parameters per token (``params_active``) count everything a token passes through except
the routed experts it is not sent to, *including* the input embedding table (the convention of
Qwen's and DeepSeek's model cards); ``params_active_no_input_embedding`` leaves the input
embedding out (OpenAI's gpt-oss figures: 3.6B for gpt-oss-20b).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from llmselect.datafiles import StrictModel

CacheKind = Literal[
    "full_attention",  # every token of the context, K and V per KV head
    "sliding_attention",  # the last window tokens (Mistral, Gemma-2/3, gpt-oss)
    "chunked_attention",  # Llama-4: the tokens of the current chunk, at most the chunk size
    "latent_attention",  # MLA: the compressed latent + the shared RoPE key per token
    "linear_attention",  # Gated DeltaNet / linear attention: a constant state, no tokens
    "compressed_attention",  # DeepSeek-V4: a window plus one entry per `compress_ratio` tokens
]
ACTIVE_CONVENTION = (
    "active = total minus the routed experts a token is not sent to; the input embedding "
    "table is counted (params_active_no_input_embedding leaves it out, as OpenAI's gpt-oss "
    "figures do)"
)


class CacheGroup(StrictModel):
    """Layers that cache the same way (one group per distinct layout in the model)."""

    kind: CacheKind = Field(description="how these layers keep past tokens")
    layers: int = Field(ge=1, description="layers of this kind that hold their own cache")
    values_per_token: int = Field(
        ge=0,
        description="cached numbers one token adds to one layer: 2 x kv_heads x head_dim "
        "(K and V), kv_lora_rank + qk_rope_head_dim (MLA), 0 (linear attention)",
    )
    window_tokens: int | None = Field(
        default=None,
        ge=1,
        description="at most this many tokens kept (sliding window, attention chunk); "
        "null = the whole context",
    )
    compress_ratio: int | None = Field(
        default=None,
        ge=1,
        description="compressed attention: one entry of compressed_values_per_entry per this "
        "many tokens, beyond the window",
    )
    compressed_values_per_entry: int = Field(
        default=0, ge=0, description="numbers in one compressed entry (its key and indexer key)"
    )
    indexer_values_per_token: int = Field(
        default=0,
        ge=0,
        description="sparse-attention indexer key cached per token (DeepSeek-V3.2, GLM-5)",
    )
    state_values: int = Field(
        default=0,
        ge=0,
        description="numbers per sequence independent of its length (linear attention: "
        "conv state + recurrent state; compressed attention: the open window's buffer)",
    )
    note: str | None = Field(default=None, description="what the formula assumes, and why")

    @model_validator(mode="after")
    def _consistent(self) -> CacheGroup:
        if self.kind in ("sliding_attention", "chunked_attention") and self.window_tokens is None:
            raise ValueError(f"{self.kind} needs window_tokens")
        if self.kind == "compressed_attention" and self.compress_ratio is None:
            raise ValueError("compressed_attention needs compress_ratio")
        return self

    def values(self, context_tokens: int) -> int:
        """Numbers this group holds for one sequence of ``context_tokens`` tokens."""
        kept = (
            context_tokens
            if self.window_tokens is None
            else min(context_tokens, self.window_tokens)
        )
        per_layer = kept * self.values_per_token + context_tokens * self.indexer_values_per_token
        if self.compress_ratio is not None:
            per_layer += (context_tokens // self.compress_ratio) * self.compressed_values_per_entry
        return self.layers * (per_layer + self.state_values)


class ParamPart(StrictModel):
    """Parameters outside the text decoder, or a part of it named on its own line."""

    name: str = Field(description="vision_tower, audio_tower, mtp_layers, ...")
    params: int | None = Field(ge=0, description="null: not counted (the note says why)")
    kind: Literal["counted", "estimated", "not counted"] = Field(
        description="counted: transformers' own modules on the meta device; estimated: a "
        "formula (the note says which); not counted: they could not be built here"
    )
    note: str | None = None


class StoredWeights(StrictModel):
    """Bytes of one storage format as the checkpoint holds it (scales included)."""

    format: str = Field(description="bf16, fp8_e4m3 (128x128 blocks), mxfp4, nvfp4, int4 awq, ...")
    params: int = Field(ge=0, description="weights stored in this format")
    bytes: int = Field(ge=0, description="bytes of those weights with their scales/zero points")
    routed_expert_params: int = Field(
        default=0, ge=0, description="of these weights, how many belong to routed experts"
    )
    note: str | None = None


class Sizing(StrictModel):
    """Exact counts, cache layout and stored bytes of one model's text decoder."""

    model_type: str = Field(description="config.json model_type the numbers were built for")
    model_class: str = Field(description="transformers class counted (or 'GGUF tensor infos')")
    counted_with: str = Field(description="transformers version, or the GGUF reader")
    config_sha256: str | None = Field(default=None, description="sha256 of the config file read")
    config_source: str | None = Field(
        default=None, description="where the config was read: repo@commit:path, a path or a hub id"
    )
    params_total: int = Field(ge=1, description="text decoder as generation loads it")
    params_input_embedding: int = Field(ge=0, description="token embedding table(s)")
    params_lm_head: int = Field(ge=0, description="output matrix (0 when tied)")
    params_attention: int = Field(
        ge=0, description="attention and other token-mixing layers (linear attention, MLA)"
    )
    params_mlp: int = Field(ge=0, description="MLP / MoE blocks, routers and shared experts")
    params_norms: int = Field(ge=0, description="norm gains and biases")
    params_routed_experts: int = Field(default=0, ge=0, description="all routed experts")
    params_routed_active: int = Field(
        default=0, ge=0, description="the routed experts one token is sent to (experts_per_token)"
    )
    params_block_linear: int = Field(
        ge=0, description="weights of the decoder blocks' matrices (what int8/int4 quantize)"
    )
    block_linear_rows: int = Field(
        ge=0, description="output rows of those matrices (per-channel scales, one per row)"
    )
    other_parts: list[ParamPart] = Field(
        default_factory=list, description="counted apart: towers, multi-token-prediction layers"
    )
    cache: list[CacheGroup] = Field(description="cache layout, one group per layer kind")
    cache_note: str | None = Field(default=None, description="conventions of the cache numbers")
    stored: list[StoredWeights] = Field(
        default_factory=list,
        description="weights as stored (config dtype or quantization_config); empty = unknown",
    )
    stored_dtype: str | None = Field(
        default=None, description="summary of the stored formats, e.g. 'fp8 128x128 blocks'"
    )
    active_convention: str = ACTIVE_CONVENTION

    @model_validator(mode="after")
    def _consistent(self) -> Sizing:
        parts = (
            self.params_input_embedding + self.params_lm_head + self.params_attention
            + self.params_mlp + self.params_norms
        )  # fmt: skip
        if parts != self.params_total:
            raise ValueError(f"parameter parts sum to {parts}, not {self.params_total}")
        if self.params_routed_active > self.params_routed_experts:
            raise ValueError("params_routed_active exceeds params_routed_experts")
        if self.params_routed_experts > self.params_mlp:
            raise ValueError("params_routed_experts exceeds params_mlp")
        if self.params_block_linear > self.params_total:
            raise ValueError("params_block_linear exceeds params_total")
        if not self.cache:
            raise ValueError("no cache groups")
        return self

    @property
    def params_active(self) -> int:
        """Parameters one token is computed with (input embedding counted)."""
        return self.params_total - self.params_routed_experts + self.params_routed_active

    @property
    def params_active_no_input_embedding(self) -> int:
        """``params_active`` without the input embedding table (OpenAI's convention)."""
        return self.params_active - self.params_input_embedding

    @property
    def layers_with_cache(self) -> int:
        return sum(g.layers for g in self.cache)

    def cache_values(self, context_tokens: int) -> int:
        """Cached numbers for one sequence of ``context_tokens`` tokens, all layers."""
        return sum(g.values(context_tokens) for g in self.cache)

    def cache_bytes(self, *, context_tokens: int, batch: int, bytes_per_value: float) -> int:
        """Cache bytes for ``batch`` sequences of ``context_tokens`` tokens."""
        return math.ceil(self.cache_values(context_tokens) * batch * bytes_per_value)

    @property
    def stored_bytes(self) -> int | None:
        """Bytes of the weights as stored (None when the config does not say)."""
        return sum(s.bytes for s in self.stored) if self.stored else None

    @property
    def stored_bytes_active(self) -> int | None:
        """Stored bytes one decode step reads: the routed experts a token is not sent to
        left out, at their own format's bytes per weight."""
        if not self.stored:
            return None
        idle = 1 - self.params_routed_active / self.params_routed_experts if (
            self.params_routed_experts) else 0.0  # fmt: skip
        return math.ceil(sum(
            s.bytes - (s.bytes / s.params * s.routed_expert_params * idle if s.params else 0)
            for s in self.stored
        ))  # fmt: skip
