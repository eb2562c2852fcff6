"""refmodels.bloom equals transformers' BloomForCausalLM: ALiBi (incl. a head count that is not
a power of two), embedding LayerNorm, per-head fused QKV, bloom_gelu, tied embeddings."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import BloomConfig, BloomForCausalLM
from transformers.models.bloom.modeling_bloom import _get_alibi_slopes

from llmselect.arch.spec import ArchSpec
from llmselect.refmodels import build_model, load_hf_state_dict, load_safetensors_checkpoint
from llmselect.refmodels.common import alibi_slopes
from tests.refmodels._weights import randomize

VOCAB, HIDDEN, LAYERS, HEADS = 103, 48, 2, 6  # 6 heads: BLOOM's rule for non-powers of two


def arch(heads: int = HEADS) -> ArchSpec:
    return ArchSpec(
        family="bloom",
        hidden=HIDDEN,
        layers=LAYERS,
        heads=heads,
        kv_heads=heads,
        intermediate=4 * HIDDEN,
        vocab=VOCAB,
        tied_embeddings=True,
        norm_eps=1e-5,
        source="tiny test config",
    )


def tiny_hf(heads: int = HEADS) -> BloomForCausalLM:
    config = BloomConfig(
        vocab_size=VOCAB, hidden_size=HIDDEN, n_layer=LAYERS, n_head=heads, layer_norm_epsilon=1e-5
    )
    torch.manual_seed(0)
    model = BloomForCausalLM(config)
    return randomize(model).eval()  # weights far from HF's tiny init


@pytest.mark.parametrize("heads", [1, 4, 6, 12])
def test_alibi_slopes_match_bloom(heads: int) -> None:
    torch.testing.assert_close(alibi_slopes(heads), _get_alibi_slopes(heads, torch.device("cpu")))


@pytest.mark.parametrize("heads", [HEADS, 4])
def test_bloom_matches_transformers(heads: int, parity) -> None:  # type: ignore[no-untyped-def]
    hf = tiny_hf(heads)
    ref = load_hf_state_dict(build_model(arch(heads)), hf.state_dict())
    check = parity(ref, hf, VOCAB)
    check.full_sequence()
    check.incremental()
    check.left_padded()


def test_safetensors_checkpoint_loads(tmp_path: Path) -> None:
    hf = tiny_hf()
    hf.save_pretrained(tmp_path)
    ref = load_safetensors_checkpoint(tmp_path / "model.safetensors", arch())
    ids = torch.randint(0, VOCAB, (2, 7))
    with torch.no_grad():
        torch.testing.assert_close(ref(ids)[0], hf(input_ids=ids).logits, atol=1e-4, rtol=0)
