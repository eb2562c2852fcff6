"""The cache per layer type from a config (``llmselect.arch.cache_layout``), against the tensors
transformers' own cache object holds after a forward pass of a reduced config of each layout.

Each case builds the model on CPU with random weights (fp32), runs ``T`` tokens through it with
``DynamicCache(config=...)`` and sums the bytes of every tensor the cache keeps. Conventions
that differ, and are corrected for here, each stated where it applies:

* sliding and chunked layers: transformers' dynamic cache keeps ``window - 1`` tokens between
  steps (the next token makes ``window``); the formula counts ``window`` (what serving stacks
  allocate), so one token per such layer is added back;
* DeepSeek-V4: K and V are one tensor (its compressed-attention caches store the same object
  twice: counted once; its plain sliding layers use the generic sliding cache, which copies it:
  the copy is taken off) and tokens waiting for their compression window to close are left out
  by the formula (``T`` is a multiple of every ratio here, so none wait).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from llmselect.arch.hf_sizing import sizing_from_config  # noqa: E402

T = 24  # tokens in the forward pass: past every window below, a multiple of every ratio
BASE = dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
            head_dim=16, intermediate_size=64, vocab_size=128)  # fmt: skip
MLA = dict(num_key_value_heads=4, head_dim=8, kv_lora_rank=16, q_lora_rank=16,
           qk_nope_head_dim=8, qk_rope_head_dim=8, v_head_dim=8, n_routed_experts=4,
           num_experts_per_tok=2, moe_intermediate_size=32, first_k_dense_replace=1, n_group=1,
           topk_group=1)  # fmt: skip
CASES = {
    "full (llama)": dict(model_type="llama"),
    "mamba-2 + attention (granitemoehybrid)": dict(
        model_type="granitemoehybrid", layer_types=["mamba", "mamba", "attention", "mamba"],
        mamba_n_heads=8, mamba_n_groups=2, mamba_d_state=16, mamba_d_head=16, mamba_d_conv=4,
        mamba_expand=2, num_local_experts=0),
    "short convolution + attention (lfm2)": dict(
        model_type="lfm2", layer_types=["conv", "conv", "full_attention", "conv"]),
    "attention + mamba-2 in each layer (falcon_h1)": dict(
        model_type="falcon_h1", num_hidden_layers=2, mamba_n_heads=8, mamba_n_groups=2,
        mamba_d_state=16, mamba_d_head=16, mamba_d_conv=4, mamba_d_ssm=128),
    "sliding, every 6th global (gemma3_text)": dict(
        model_type="gemma3_text", num_hidden_layers=6, sliding_window=8),
    "sliding + sinks (gpt_oss)": dict(model_type="gpt_oss", num_local_experts=4,
                                      num_experts_per_tok=2, sliding_window=8),
    "chunked (llama4_text)": dict(model_type="llama4_text", attention_chunk_size=8,
                                  num_local_experts=4, num_experts_per_tok=1,
                                  intermediate_size_mlp=64),
    "linear attention + full (qwen3_next)": dict(
        model_type="qwen3_next", num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
        shared_expert_intermediate_size=32, linear_num_key_heads=2, linear_num_value_heads=4,
        linear_key_head_dim=8, linear_value_head_dim=8, full_attention_interval=4),
    "MLA latent + RoPE key (deepseek_v3)": dict(model_type="deepseek_v3", **MLA),
    "MLA + indexer keys (deepseek_v32)": dict(model_type="deepseek_v32", index_head_dim=16,
                                              index_n_heads=2, index_topk=4, **MLA),
    "KV shared across layers (gemma3n_text)": dict(
        model_type="gemma3n_text", num_kv_shared_layers=2, sliding_window=8,
        hidden_size_per_layer_input=8, vocab_size_per_layer_input=128, laurel_rank=4,
        altup_num_inputs=2, activation_sparsity_pattern=[0.0] * 4, intermediate_size=[64] * 4,
        layer_types=["sliding_attention", "full_attention"] * 2),
    "wider global heads + shared KV (gemma4_text)": dict(
        model_type="gemma4_text", num_hidden_layers=6, num_kv_shared_layers=2, sliding_window=8,
        global_head_dim=32, hidden_size_per_layer_input=8, vocab_size_per_layer_input=128,
        layer_types=["sliding_attention", "sliding_attention", "full_attention"] * 2),
    "compressed attention (deepseek_v4)": dict(
        model_type="deepseek_v4", num_key_value_heads=1, head_dim=16, q_lora_rank=16,
        n_routed_experts=4, num_experts_per_tok=2, moe_intermediate_size=32, sliding_window=8,
        compress_rates={"compressed_sparse_attention": 4, "heavily_compressed_attention": 8},
        o_groups=2, o_lora_rank=16, index_n_heads=2, index_head_dim=16, index_topk=4,
        num_attention_heads=4, hc_mult=2, vocab_size=128,
        layer_types=["sliding_attention", "heavily_compressed_attention",
                     "compressed_sparse_attention", "heavily_compressed_attention"]),
    "MLA + indexer keys (glm_moe_dsa)": dict(model_type="glm_moe_dsa", index_head_dim=16,
                                             index_n_heads=2, index_topk=4, **MLA),
    "Gated DeltaNet + full (qwen3_5_text)": dict(
        model_type="qwen3_5_text", linear_num_key_heads=2, linear_num_value_heads=4,
        linear_key_head_dim=8, linear_value_head_dim=8, full_attention_interval=4),
    "full, MoE (minimax_m2)": dict(model_type="minimax_m2", num_local_experts=4,
                                   num_experts_per_tok=2),
    "full (seed_oss)": dict(model_type="seed_oss"),
    "full (smollm3)": dict(model_type="smollm3"),
}  # fmt: skip


def _tensor_bytes(obj: object, seen: set[int]) -> int:
    if isinstance(obj, torch.Tensor):
        if id(obj) in seen or obj.numel() <= 1:  # shared K=V once; scalar counters are not cache
            return 0
        seen.add(id(obj))
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_tensor_bytes(v, seen) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_tensor_bytes(v, seen) for v in obj)
    return 0


def _measured(cfg: dict) -> int:
    from transformers import AutoConfig, AutoModelForCausalLM, DynamicCache

    torch.manual_seed(0)
    kw = {k: v for k, v in cfg.items() if k != "model_type"}
    config = AutoConfig.for_model(cfg["model_type"], pad_token_id=None, **kw)
    model = AutoModelForCausalLM.from_config(config).eval()
    cache = DynamicCache(config=config)
    with torch.no_grad():
        model(torch.randint(0, 100, (1, T)), cache=cache, use_cache=True)
    seen: set[int] = set()
    return sum(_tensor_bytes(vars(layer), seen) for layer in cache.layers)


@pytest.mark.parametrize("name", list(CASES))
def test_cache_bytes_match_transformers(name: str) -> None:
    cfg = {**BASE, **CASES[name]}
    _, sizing = sizing_from_config(cfg, name)
    formula = sizing.cache_bytes(context_tokens=T, batch=1, bytes_per_value=4)  # fp32 run
    window_convention = sum(4 * g.layers * g.values_per_token for g in sizing.cache
                            if g.window_tokens is not None and g.window_tokens <= T)  # fmt: skip
    # DeepSeek-V4's plain sliding layers use transformers' generic sliding cache, which keeps
    # the one K=V tensor twice (as keys and as values); the formula counts it once
    twice = sum(4 * g.layers * g.values_per_token * (min(T, g.window_tokens or T) - 1)
                for g in sizing.cache if g.note == "shared K=V (DeepSeek-V4)")  # fmt: skip
    assert _measured(cfg) + window_convention - twice == formula


def test_layouts_are_the_ones_named() -> None:
    kinds = {name: {g.kind for g in sizing_from_config({**BASE, **c}, name)[1].cache}
             for name, c in CASES.items()}  # fmt: skip
    assert kinds["chunked (llama4_text)"] == {"chunked_attention", "full_attention"}
    assert kinds["linear attention + full (qwen3_next)"] == {"linear_attention",
                                                             "full_attention"}  # fmt: skip
    assert kinds["MLA + indexer keys (deepseek_v32)"] == {"latent_attention"}
    shared = sizing_from_config({**BASE, **CASES["KV shared across layers (gemma3n_text)"]},
                                "g")[1]  # fmt: skip
    assert shared.layers_with_cache == 2  # the last two of four layers reuse earlier KV
