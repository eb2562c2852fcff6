"""What one ``tokenizer_throughput`` child process measures: the spec the parent writes as JSON
and ``_throughput_worker`` validates (the latency worker's ``LatencyPoint`` does the same)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ThroughputSpec(BaseModel):
    """One tokenizer, the texts per language, and how to time them."""

    model_config = ConfigDict(extra="forbid")

    tokenizer: dict[str, Any] = Field(description="the TokenizerSpec, as JSON")
    tokenizer_dir: str | None = Field(
        default=None, description="folder with tokenizer files, tried before the data root"
    )
    texts: dict[str, list[str]] = Field(description="texts per language code")
    threads: int = Field(ge=1, description="threads requested for batched encoding")
    repeats: int = Field(ge=1, description="timed passes per mode and language")
    warmup_s: float = Field(ge=0, description="untimed encoding per mode before timing, seconds")
    min_pass_s: float = Field(ge=0, description="shortest timed pass, seconds")
    loops: dict[str, int] | None = Field(
        default=None,
        description="loops over the texts per pass, keyed '<mode>/<lang>' (sized by the first "
        "process, so every process times the same work); sized from the warm-up when absent",
    )


def loops_key(mode: str, lang: str) -> str:
    """The key of ``ThroughputSpec.loops``."""
    return f"{mode}/{lang}"
