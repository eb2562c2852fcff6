"""A LLaMA-family architecture in transformers' own classes, with random weights.

The ``transformers`` engine of ``reference_latency`` measures a checkpoint's weights; for the
GPU sweep of random-weight models it needs the same numbers in transformers' implementation, so
both engines run the same shapes. A LLaMA-style ``arch`` maps to ``LlamaForCausalLM``; one with
q/k/v biases (Qwen2-style presets) to ``Qwen2ForCausalLM``, because LLaMA's ``attention_bias``
would also add an output-projection bias that the architecture does not have. Anything the two
classes cannot express (QK-norm, MLP bias, partial rotary, a sliding window, MoE, MLA) is refused.
The weights are allocated on ``device`` directly and filled by transformers' own init.
"""

from __future__ import annotations

from typing import Any

from llmselect.errors import LLMSelectError


def hf_config(arch: dict[str, Any]) -> Any:
    """The transformers config for a LLaMA-family ``arch`` (an ``ArchSpec`` as a dict)."""
    from transformers import LlamaConfig, Qwen2Config

    if arch.get("family") != "llama":
        raise LLMSelectError(
            f"the transformers engine builds random weights for the llama family only, "
            f"not {arch.get('family')!r} (give a checkpoint)"
        )
    beyond = [
        name
        for name in (
            "moe",
            "mla",
            "post_norms",
            "sliding_window_pattern",
            "sliding_window",
            "qk_norm",
            "mlp_bias",
        )  # fmt: skip
        if arch.get(name)
    ]
    if float(arch.get("rope_fraction") or 1.0) != 1.0:
        beyond.append("partial rotary")
    if beyond:
        raise LLMSelectError(f"no transformers twin for an arch with {', '.join(beyond)}")
    numbers: dict[str, Any] = dict(
        vocab_size=arch["vocab"],
        hidden_size=arch["hidden"],
        intermediate_size=arch["intermediate"],
        num_hidden_layers=arch["layers"],
        num_attention_heads=arch["heads"],
        num_key_value_heads=arch["kv_heads"],
        rms_norm_eps=arch.get("norm_eps") or 1e-6,
        tie_word_embeddings=bool(arch.get("tied_embeddings")),
        max_position_embeddings=arch.get("max_position") or 32768,
    )
    theta = arch.get("rope_theta") or 10000.0
    if arch.get("qkv_bias"):
        config = Qwen2Config(**numbers, use_sliding_window=False)
    else:
        config = LlamaConfig(**numbers, attention_bias=False, mlp_bias=False)
    config.rope_parameters = {"rope_type": "default", "rope_theta": float(theta)}
    head_dim = arch.get("head_dim") or arch["hidden"] // arch["heads"]
    config.head_dim = head_dim
    return config


def random_model(arch: dict[str, Any], dtype: Any, device: str, seed: int) -> Any:
    """``*ForCausalLM`` with random weights, built on ``device`` in ``dtype`` (eval mode)."""
    import torch
    from transformers import AutoModelForCausalLM

    config = hf_config(arch)
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model.eval()
