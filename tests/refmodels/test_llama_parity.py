"""refmodels.llama equals transformers' Llama, Qwen2 (QKV bias), Qwen3 (QK-norm) and Mistral.

Tiny configs, identical weights, fp32, atol 1e-4: full sequence, KV-cache decoding, left
padding. MHA, GQA and MQA via kv_heads.
"""

from __future__ import annotations

import pytest
import torch
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

from llmselect.arch.spec import ArchSpec
from llmselect.errors import LLMSelectError
from llmselect.refmodels import build_model, load_hf_state_dict
from tests.refmodels._weights import randomize

VOCAB, HIDDEN, LAYERS, HEADS, INTER = 97, 32, 2, 4, 64
EPS, THETA = 1e-6, 5000.0


def tiny_arch(kv_heads: int, **extra: object) -> ArchSpec:
    return ArchSpec(
        family="llama",
        hidden=HIDDEN,
        layers=LAYERS,
        heads=HEADS,
        kv_heads=kv_heads,
        intermediate=INTER,
        vocab=VOCAB,
        max_position=64,
        rope_theta=THETA,
        norm_eps=EPS,
        source="tiny test config",
        **extra,  # type: ignore[arg-type]
    )


def hf_kwargs(kv_heads: int) -> dict[str, object]:
    return dict(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=kv_heads,
        intermediate_size=INTER,
        max_position_embeddings=64,
        rope_theta=THETA,
        rms_norm_eps=EPS,
        tie_word_embeddings=False,
        attn_implementation="eager",
    )


def pair(hf: torch.nn.Module, arch: ArchSpec, parity):  # type: ignore[no-untyped-def]
    ref = load_hf_state_dict(build_model(arch), randomize(hf).state_dict())
    return parity(ref, hf, VOCAB)


@pytest.mark.parametrize("kv_heads", [4, 2, 1], ids=["mha", "gqa", "mqa"])
def test_llama_matches_transformers(kv_heads: int, parity) -> None:  # type: ignore[no-untyped-def]
    hf = LlamaForCausalLM(LlamaConfig(**hf_kwargs(kv_heads)))
    check = pair(hf, tiny_arch(kv_heads), parity)
    check.full_sequence()
    check.incremental()
    check.left_padded()


def test_qwen2_qkv_bias_matches_transformers(parity) -> None:  # type: ignore[no-untyped-def]
    hf = Qwen2ForCausalLM(Qwen2Config(**hf_kwargs(2)))
    arch = tiny_arch(2, qkv_bias=True)
    check = pair(hf, arch, parity)
    assert check.ref.blocks[0].attn.wq.bias is not None
    check.full_sequence()
    check.incremental()
    check.left_padded()


def test_qwen3_qk_norm_matches_transformers(parity) -> None:  # type: ignore[no-untyped-def]
    """Qwen3: RMSNorm over each head's q and k before RoPE, head_dim 16 != hidden / heads."""
    hf = Qwen3ForCausalLM(Qwen3Config(**hf_kwargs(2), head_dim=16))
    check = pair(hf, tiny_arch(2, qk_norm=True, head_dim=16), parity)
    assert check.ref.blocks[0].attn.q_norm.weight.shape == (16,)
    check.full_sequence()
    check.incremental()
    check.left_padded()


def test_mistral_sliding_window_matches_transformers(parity) -> None:  # type: ignore[no-untyped-def]
    window = 4  # shorter than the test sequences, so the window really cuts keys off
    hf = MistralForCausalLM(MistralConfig(**hf_kwargs(2), sliding_window=window))
    check = pair(hf, tiny_arch(2, sliding_window=window), parity)
    check.full_sequence(length=12)
    check.incremental(length=10, prompt=3)
    check.left_padded()
    # the window matters: without it the logits differ
    no_window = load_hf_state_dict(build_model(tiny_arch(2)), hf.state_dict())
    ids = check.ids(1, 12)
    with torch.no_grad():
        assert not torch.allclose(no_window(ids)[0], check.ref(ids)[0], atol=1e-3)


def test_tied_embeddings_share_one_matrix() -> None:
    tied = build_model(tiny_arch(2, tied_embeddings=True))
    untied = build_model(tiny_arch(2))
    n = sum(p.numel() for p in untied.parameters()) - sum(p.numel() for p in tied.parameters())
    assert n == VOCAB * HIDDEN


def test_build_is_deterministic_and_on_requested_dtype() -> None:
    a = build_model(tiny_arch(2), seed=3, dtype=torch.bfloat16)
    b = build_model(tiny_arch(2), seed=3, dtype=torch.bfloat16)
    assert all(p.dtype == torch.bfloat16 for p in a.parameters())
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    ids = torch.randint(0, VOCAB, (2, 5))
    logits, cache = a(ids)
    assert logits.shape == (2, 5, VOCAB) and logits.dtype == torch.bfloat16
    assert cache.nbytes == 2 * LAYERS * 2 * 2 * 5 * (HIDDEN // HEADS) * 2  # k+v, bf16


def test_tiled_init_keeps_the_scheme_and_is_cheap_to_fill() -> None:
    """Tiled weights: same shapes, dtype and per-tensor std as GPT-2's init, no zeros, and the
    same seed gives the same model (the values repeat a block, which no kernel's speed sees)."""
    arch = tiny_arch(2).model_copy(update={"hidden": 256, "intermediate": 1024, "vocab": 8192})
    normal = build_model(arch, seed=5)
    tiled = build_model(arch, seed=5, tiled_init=True)
    again = build_model(arch, seed=5, tiled_init=True)
    for (name, p), q, r in zip(
        normal.named_parameters(), tiled.parameters(), again.parameters(), strict=True
    ):
        assert q.shape == p.shape and q.dtype == p.dtype and torch.equal(q, r), name
        if p.dim() == 2:  # matrices and embeddings: N(0, std) with the scheme's std
            assert (q != 0).all(), name
            assert q.std().item() == pytest.approx(p.std().item(), rel=0.05), name
        else:  # norm gains and biases are constants in both
            assert torch.equal(q, p), name


def test_bad_inputs_raise_clear_errors() -> None:
    model = build_model(tiny_arch(2))
    with pytest.raises(LLMSelectError, match="attention_mask"):
        model(torch.zeros(2, 3, dtype=torch.long), attention_mask=torch.ones(2, 4))
    with pytest.raises(LLMSelectError, match="do not fit"):
        load_hf_state_dict(model, {"model.embed_tokens.weight": torch.zeros(VOCAB, HIDDEN)})
