"""count_params on mixture-of-experts, latent-attention, QK-norm and Gemma layouts equals the
parameter count of transformers' own model class, built on the meta device from the real
config.json numbers (cited per case), and stays within 0.5 % of the published total.
"""

from __future__ import annotations

import pytest
import torch
import transformers
from _real_archs import REAL

from llmselect.arch.count import count_params
from llmselect.arch.spec import ArchSpec


def hf_count(config_cls: str, model_cls: str, **config: object) -> int:
    """Parameters of transformers' class for ``config`` (meta device: shapes, no storage)."""
    cfg = getattr(transformers, config_cls)(**config)
    with torch.device("meta"):
        model = getattr(transformers, model_cls)(cfg)
    return sum(p.numel() for p in model.parameters())  # tied weights are counted once


# name -> (our ArchSpec, transformers config class, model class, config.json numbers,
#          published total, its source)
CASES: dict[str, tuple[ArchSpec, str, str, dict[str, object], float, str]] = {
    "qwen1.5-moe-a2.7b": (
        REAL["qwen1.5-moe-a2.7b"],
        "Qwen2MoeConfig", "Qwen2MoeForCausalLM",
        dict(vocab_size=151936, hidden_size=2048, num_hidden_layers=24, num_attention_heads=16,
             num_key_value_heads=16, intermediate_size=5632, moe_intermediate_size=1408,
             shared_expert_intermediate_size=5632, num_experts=60, num_experts_per_tok=4,
             decoder_sparse_step=1, norm_topk_prob=False, tie_word_embeddings=False),
        14.3e9, "huggingface.co/Qwen/Qwen1.5-MoE-A2.7B model card: '14.3B parameters in total'",
    ),
    "qwen3-30b-a3b": (
        REAL["qwen3-30b-a3b"],
        "Qwen3MoeConfig", "Qwen3MoeForCausalLM",
        dict(vocab_size=151936, hidden_size=2048, num_hidden_layers=48, num_attention_heads=32,
             num_key_value_heads=4, head_dim=128, intermediate_size=6144,
             moe_intermediate_size=768, num_experts=128, num_experts_per_tok=8,
             decoder_sparse_step=1, norm_topk_prob=True, tie_word_embeddings=False),
        30.5e9, "huggingface.co/Qwen/Qwen3-30B-A3B model card: 'Number of Parameters: 30.5B'",
    ),
    "qwen3-8b": (
        REAL["qwen3-8b"],
        "Qwen3Config", "Qwen3ForCausalLM",
        dict(vocab_size=151936, hidden_size=4096, num_hidden_layers=36, num_attention_heads=32,
             num_key_value_heads=8, head_dim=128, intermediate_size=12288,
             tie_word_embeddings=False),
        8.2e9, "huggingface.co/Qwen/Qwen3-8B model card: 'Number of Parameters: 8.2B'",
    ),
    "mixtral-8x7b": (
        REAL["mixtral-8x7b"],
        "MixtralConfig", "MixtralForCausalLM",
        dict(vocab_size=32000, hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
             num_key_value_heads=8, intermediate_size=14336, num_local_experts=8,
             num_experts_per_tok=2, tie_word_embeddings=False),
        46.7e9, "huggingface.co/mistralai/Mixtral-8x7B-v0.1 model page, Model size 46.7B params",
    ),
    "deepseek-v2-lite": (
        REAL["deepseek-v2-lite"],
        "DeepseekV2Config", "DeepseekV2ForCausalLM",
        dict(vocab_size=102400, hidden_size=2048, num_hidden_layers=27, num_attention_heads=16,
             num_key_value_heads=16, intermediate_size=10944, moe_intermediate_size=1408,
             n_routed_experts=64, n_shared_experts=2, num_experts_per_tok=6,
             first_k_dense_replace=1, kv_lora_rank=512, q_lora_rank=None,
             qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128,
             tie_word_embeddings=False),
        15.7e9, "huggingface.co/deepseek-ai/DeepSeek-V2-Lite model card: 'Total Params 15.7B'",
    ),
    "gemma-2-9b": (
        REAL["gemma-2-9b"],
        "Gemma2Config", "Gemma2ForCausalLM",
        dict(vocab_size=256000, hidden_size=3584, num_hidden_layers=42, num_attention_heads=16,
             num_key_value_heads=8, head_dim=256, intermediate_size=14336,
             sliding_window=4096, tie_word_embeddings=True),
        9.24e9, "huggingface.co/google/gemma-2-9b model page, Model size 9.24B params",
    ),
    "gemma-3-1b": (
        REAL["gemma-3-1b"],
        "Gemma3TextConfig", "Gemma3ForCausalLM",
        dict(vocab_size=262144, hidden_size=1152, num_hidden_layers=26, num_attention_heads=4,
             num_key_value_heads=1, head_dim=256, intermediate_size=6912, sliding_window=512,
             tie_word_embeddings=True),
        1.0e9, "huggingface.co/google/gemma-3-1b-pt model page, Model size 1B params",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_count_equals_transformers(name: str) -> None:
    arch, config_cls, model_cls, config, published, source = CASES[name]
    ours = count_params(arch).total
    assert ours == hf_count(config_cls, model_cls, **config), name
    assert abs(ours - published) / published < 0.005, (name, ours, published, source)


def test_active_parameters_of_moe() -> None:
    """Active counts against the model cards: Qwen3-30B-A3B 3.3B, DeepSeek-V2-Lite 2.4B
    (DeepSeek counts activated parameters without the input embedding), Mixtral 12.9B
    ("12.9B active" in mistral.ai's Mixtral announcement)."""
    counts = {name: count_params(CASES[name][0]) for name in CASES}
    active = {name: c.active for name, c in counts.items()}
    assert abs(active["qwen3-30b-a3b"] - 3.3e9) / 3.3e9 < 0.02
    deepseek = counts["deepseek-v2-lite"]
    assert abs(deepseek.active - deepseek.embeddings - 2.4e9) / 2.4e9 < 0.03
    assert abs(active["mixtral-8x7b"] - 12.9e9) / 12.9e9 < 0.01
    dense = count_params(CASES["qwen3-8b"][0])
    assert dense.active == dense.total
