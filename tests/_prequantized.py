"""transformers' own layout of a pre-quantized checkpoint: its quantizer turns the model built
on the meta device into what it loads from the files (fp8 weights, packed fp4, their scales)."""

from __future__ import annotations

from typing import Any


def prequantized_model(cfg: dict[str, Any]) -> Any:
    """The meta-device model of ``cfg`` as transformers loads its pre-quantized weights."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.quantizers import AutoHfQuantizer

    config = AutoConfig.for_model(**cfg)
    quantizer = AutoHfQuantizer.from_config(config.quantization_config, pre_quantized=True)
    quantizer.quantization_config.dequantize = False  # the layout, not a CPU fallback
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    quantizer.preprocess_model(model, config=config)
    return model


def stored_bytes(model: Any) -> int:
    """Bytes of every parameter as the model holds it."""
    return sum(p.numel() * p.element_size() for p in model.parameters())
