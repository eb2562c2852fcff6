"""Random weights for the parity tests."""

from __future__ import annotations

import torch


def randomize(model: torch.nn.Module) -> torch.nn.Module:
    """Weights of a larger scale than transformers' init (seeded), so that logits and MoE
    routing are far from uniform and any mapping or math error shows up well above the
    tolerance."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    return model
