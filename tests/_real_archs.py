"""Real architectures from each checkpoint's config.json (cited in ``source``), shared by the
parameter-count, estimator and recommender tests."""

from __future__ import annotations

from llmselect.arch.spec import ArchSpec, MLASpec, MoESpec

_HF = "huggingface.co/{}/blob/main/config.json"

REAL: dict[str, ArchSpec] = {
    "qwen1.5-moe-a2.7b": ArchSpec(
        family="moe", hidden=2048, layers=24, heads=16, kv_heads=16, intermediate=5632,
        vocab=151936, qkv_bias=True,
        moe=MoESpec(experts=60, experts_per_token=4, expert_intermediate=1408,
                    shared_experts=1, shared_intermediate=5632, shared_expert_gate=True,
                    norm_topk_prob=False),
        source=_HF.format("Qwen/Qwen1.5-MoE-A2.7B"),
    ),
    "qwen3-30b-a3b": ArchSpec(
        family="moe", hidden=2048, layers=48, heads=32, kv_heads=4, head_dim=128,
        intermediate=6144, vocab=151936, qk_norm=True,
        moe=MoESpec(experts=128, experts_per_token=8, expert_intermediate=768),
        source=_HF.format("Qwen/Qwen3-30B-A3B"),
    ),
    "qwen3-8b": ArchSpec(
        family="llama", hidden=4096, layers=36, heads=32, kv_heads=8, head_dim=128,
        intermediate=12288, vocab=151936, qk_norm=True,
        source=_HF.format("Qwen/Qwen3-8B"),
    ),
    "mixtral-8x7b": ArchSpec(
        family="moe", hidden=4096, layers=32, heads=32, kv_heads=8, intermediate=14336,
        vocab=32000,
        moe=MoESpec(experts=8, experts_per_token=2, expert_intermediate=14336),
        source=_HF.format("mistralai/Mixtral-8x7B-v0.1"),
    ),
    "deepseek-v2-lite": ArchSpec(
        family="deepseek", hidden=2048, layers=27, heads=16, kv_heads=16,
        intermediate=10944, vocab=102400,
        moe=MoESpec(experts=64, experts_per_token=6, expert_intermediate=1408,
                    shared_experts=2, dense_layers=1),
        mla=MLASpec(kv_lora_rank=512, q_lora_rank=None, qk_nope_head_dim=128,
                    qk_rope_head_dim=64, v_head_dim=128),
        source=_HF.format("deepseek-ai/DeepSeek-V2-Lite"),
    ),
    "gemma-2-9b": ArchSpec(
        family="gemma", hidden=3584, layers=42, heads=16, kv_heads=8, head_dim=256,
        intermediate=14336, vocab=256000, tied_embeddings=True, sliding_window=4096,
        sliding_window_pattern=2, post_norms=True,
        source=_HF.format("google/gemma-2-9b"),
    ),
    "gemma-3-1b": ArchSpec(
        family="gemma", hidden=1152, layers=26, heads=4, kv_heads=1, head_dim=256,
        intermediate=6912, vocab=262144, tied_embeddings=True, sliding_window=512,
        sliding_window_pattern=6, post_norms=True, qk_norm=True,
        source=_HF.format("google/gemma-3-1b-pt"),
    ),
}  # fmt: skip
