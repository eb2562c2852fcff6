"""Checkpoint folders written by the installed transformers (5.x), which keeps RoPE theta and
scaling in ``rope_parameters`` instead of ``rope_theta``/``rope_scaling``: our readers take the
checkpoint's own RoPE, so the reference decoder reproduces transformers on the same weights,
and a scaled RoPE (which the reference decoders lack) is refused instead of run unscaled.
A Qwen3 folder is read by the LLaMA family (QK-norm), so ``perf measure`` runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen3Config, Qwen3ForCausalLM

from llmselect.checkpoint.source import source_from_path
from llmselect.refmodels import load_safetensors_checkpoint

SHAPE = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             intermediate_size=128, vocab_size=256, rms_norm_eps=1e-5,
             max_position_embeddings=4096)  # fmt: skip


def _saved(folder: Path, config: LlamaConfig, cls: type = LlamaForCausalLM) -> Path:
    torch.manual_seed(0)
    cls(config).save_pretrained(folder)
    return folder


def _same_logits(folder: Path, cls: type) -> None:
    """Our decoder on the folder's weights, as the folder's config reads, equals transformers."""
    source = source_from_path(str(folder))
    hf = cls.from_pretrained(folder, dtype=torch.float32).eval()
    ours = load_safetensors_checkpoint(str(folder), source.arch, dtype=torch.float32).eval()
    ids = torch.arange(3, 203).reshape(1, -1) % 256  # 200 positions: theta matters here
    with torch.no_grad():
        want = hf(ids).logits
        got = ours(ids)[0]
    assert torch.allclose(got, want, atol=1e-4), (got - want).abs().max()


def test_rope_theta_from_rope_parameters_matches_transformers(tmp_path: Path) -> None:
    config = LlamaConfig(**SHAPE, rope_theta=500000.0)
    source = source_from_path(str(_saved(tmp_path, config)))
    assert source.arch.rope_theta == config.rope_parameters["rope_theta"] == 500000.0
    assert source.rope_scaling() is None
    _same_logits(tmp_path, LlamaForCausalLM)


def test_qwen3_folder_runs_in_the_llama_decoder(tmp_path: Path) -> None:
    config = Qwen3Config(**SHAPE, head_dim=16, rope_theta=1000000.0, pad_token_id=None)
    source = source_from_path(str(_saved(tmp_path, config, Qwen3ForCausalLM)))
    assert source.arch.family == "llama" and source.arch.qk_norm
    _same_logits(tmp_path, Qwen3ForCausalLM)


def test_scaled_rope_in_rope_parameters_is_seen(tmp_path: Path) -> None:
    scaling = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
               "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 512}  # fmt: skip
    config = LlamaConfig(**SHAPE, rope_parameters=scaling)
    source = source_from_path(str(_saved(tmp_path, config)))
    seen = source.rope_scaling()
    assert seen is not None and seen["rope_type"] == config.rope_parameters["rope_type"]
    assert seen["factor"] == pytest.approx(config.rope_parameters["factor"])
