"""What one ``reference_latency`` point is: the probe's options and the child's spec share them.

``PointSettings`` holds the settings of a measurement with their one set of defaults; the probe
config (``ReferenceLatencyConfig``) and the spec a child process reads (``LatencyPoint``, written
as JSON by the parent and validated by ``_latency_worker``) both extend it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PointSettings(BaseModel):
    """How one (batch, prompt) point is measured."""

    new_tokens: int = Field(default=32, ge=0, description="Decode steps timed after the prompt.")
    warmup: int = Field(default=2, ge=0, description="Untimed prefill + decode rounds first.")
    iterations: int = Field(default=5, ge=1, description="Timed prefills per point.")
    decode_runs: int = Field(default=1, ge=1, description="Timed decode runs of new_tokens steps.")
    seed: int = Field(default=0, description="Seed of the random weights and prompt.")
    threads: int | None = Field(
        default=None, ge=1, description="CPU threads in the child (torch); default 1 on CPU."
    )
    memory_cap_mib: float | None = Field(
        default=None,
        gt=0,
        description="Memory the child may use (CPU: address space; CUDA: fraction).",
    )


class LatencyPoint(PointSettings):
    """The spec of one child process: the model, the point, and how to measure it."""

    model_config = ConfigDict(extra="forbid")

    arch: dict[str, Any] | None = Field(
        default=None, description="ArchSpec fields of a random-weight reference model"
    )
    checkpoint: str | None = Field(
        default=None, description="checkpoint path (GGUF file, safetensors folder or file)"
    )
    checkpoint_format: str | None = Field(default=None, description="gguf or safetensors")
    identity: dict[str, str] = Field(
        default_factory=dict, description="checkpoint path and sha256, stamped on every record"
    )
    rope_scaling: dict[str, Any] | None = Field(
        default=None, description="the checkpoint's RoPE scaling (the reference refuses it)"
    )
    engine: str = Field(default="reference", description="reference or transformers")
    check_logits: bool = Field(
        default=False, description="compare reference logits with transformers after timing"
    )
    dtype: str = Field(default="bf16", description="canonical dtype name (fp32, bf16, fp16)")
    device: str = Field(default="cpu", description="cpu, cuda or cuda:N")
    batch: int = Field(ge=1, description="sequences per forward pass")
    seq: int = Field(ge=1, description="prompt length, tokens")
