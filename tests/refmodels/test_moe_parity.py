"""refmodels.moe equals transformers' Mixtral, Qwen2-MoE (Qwen1.5-MoE: shared expert with its
sigmoid gate, unnormalised top-k weights, a dense block off the sparse step) and Qwen3-MoE
(QK-norm, head_dim != hidden / heads).

Tiny configs, identical weights, fp32, atol 1e-4: full sequence, KV-cache decoding, left
padding. The parameter count of our model equals transformers' and ``count_params``.
"""

from __future__ import annotations

import pytest
import torch
from transformers import (
    MixtralConfig,
    MixtralForCausalLM,
    Qwen2MoeConfig,
    Qwen2MoeForCausalLM,
    Qwen3MoeConfig,
    Qwen3MoeForCausalLM,
)

from llmselect.arch.count import count_params
from llmselect.arch.spec import ArchSpec, MoESpec
from llmselect.errors import LLMSelectError
from llmselect.refmodels import build_model, load_hf_state_dict
from tests.refmodels._weights import randomize

VOCAB, HIDDEN, LAYERS, HEADS, INTER = 97, 32, 2, 4, 64
EPS, THETA = 1e-6, 5000.0


def common_hf(kv_heads: int) -> dict[str, object]:
    return dict(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=kv_heads,
        max_position_embeddings=64,
        rope_theta=THETA,
        rms_norm_eps=EPS,
        tie_word_embeddings=False,
        attn_implementation="eager",
    )


def arch(kv_heads: int, moe: MoESpec, **extra: object) -> ArchSpec:
    return ArchSpec(
        family="moe",
        hidden=HIDDEN,
        layers=LAYERS,
        heads=HEADS,
        kv_heads=kv_heads,
        intermediate=INTER,
        vocab=VOCAB,
        max_position=64,
        rope_theta=THETA,
        norm_eps=EPS,
        moe=moe,
        source="tiny test config",
        **extra,  # type: ignore[arg-type]
    )


def mixtral() -> tuple[torch.nn.Module, ArchSpec]:
    hf = MixtralForCausalLM(
        MixtralConfig(
            **common_hf(2), intermediate_size=48, num_local_experts=4, num_experts_per_tok=2
        )  # fmt: skip
    )
    return hf, arch(2, MoESpec(experts=4, experts_per_token=2, expert_intermediate=48))


def qwen2_moe() -> tuple[torch.nn.Module, ArchSpec]:
    hf = Qwen2MoeForCausalLM(
        Qwen2MoeConfig(
            **common_hf(4),
            intermediate_size=INTER,
            moe_intermediate_size=16,
            shared_expert_intermediate_size=40,
            num_experts=6,
            num_experts_per_tok=2,
            norm_topk_prob=False,
            decoder_sparse_step=2,
        )  # fmt: skip
    )
    moe = MoESpec(
        experts=6, experts_per_token=2, expert_intermediate=16, shared_experts=1,
        shared_intermediate=40, shared_expert_gate=True, norm_topk_prob=False, layer_step=2,
    )  # fmt: skip
    return hf, arch(4, moe, qkv_bias=True)


def qwen3_moe() -> tuple[torch.nn.Module, ArchSpec]:
    hf = Qwen3MoeForCausalLM(
        Qwen3MoeConfig(
            **common_hf(2),
            head_dim=16,
            intermediate_size=INTER,
            moe_intermediate_size=24,
            num_experts=8,
            num_experts_per_tok=3,
            norm_topk_prob=True,
            decoder_sparse_step=1,
        )  # fmt: skip
    )
    moe = MoESpec(experts=8, experts_per_token=3, expert_intermediate=24)
    return hf, arch(2, moe, head_dim=16, qk_norm=True)


BUILDERS = {"mixtral": mixtral, "qwen2-moe": qwen2_moe, "qwen3-moe": qwen3_moe}


@pytest.fixture(params=list(BUILDERS))
def check(request, parity):  # type: ignore[no-untyped-def]
    hf, spec = BUILDERS[request.param]()
    ref = load_hf_state_dict(build_model(spec), randomize(hf).state_dict())
    assert sum(p.numel() for p in ref.parameters()) == sum(p.numel() for p in hf.parameters())
    assert count_params(spec).total == sum(p.numel() for p in ref.parameters())
    return parity(ref, hf, VOCAB)


def test_full_sequence(check) -> None:  # type: ignore[no-untyped-def]
    check.full_sequence()


def test_incremental_decode(check) -> None:  # type: ignore[no-untyped-def]
    check.incremental()


def test_left_padding(check) -> None:  # type: ignore[no-untyped-def]
    check.left_padded()


def test_llama_family_refuses_moe_numbers() -> None:
    spec = arch(2, MoESpec(experts=4, experts_per_token=2, expert_intermediate=48))
    with pytest.raises(LLMSelectError, match="family: moe"):
        build_model(spec.model_copy(update={"family": "llama"}))


def test_random_init_routes_to_several_experts() -> None:
    """build_model's random weights (used for latency runs) give every expert real weights."""
    _, spec = qwen3_moe()
    model = build_model(spec, seed=0)
    experts = model.blocks[0].mlp.w_gate  # (E, I_e, D)
    assert experts.shape == (8, 24, HIDDEN)
    assert float(experts.detach().std()) == pytest.approx(0.02, rel=0.2)
    logits, _ = model(torch.randint(0, VOCAB, (1, 6)))
    assert torch.isfinite(logits).all()
