"""refmodels GLM family equals transformers' GlmForCausalLM (ChatGLM2/3, GLM-4 architecture).

Partial (half of head_dim), interleaved rotary; two key/value groups; QKV bias; fused gate_up.
Also loads the same weights from the original ChatGLM layout (fused query_key_value,
dense_h_to_4h) and from a safetensors checkpoint written by ``save_pretrained``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import GlmConfig, GlmForCausalLM

from llmselect.arch.spec import ArchSpec
from llmselect.refmodels import build_model, load_hf_state_dict, load_safetensors_checkpoint
from tests.refmodels._weights import randomize

VOCAB, HIDDEN, LAYERS, HEADS, KV, INTER, HD = 101, 64, 2, 4, 2, 96, 16
EPS, THETA = 1e-5, 10000.0

ARCH = ArchSpec(
    family="glm",
    hidden=HIDDEN,
    layers=LAYERS,
    heads=HEADS,
    kv_heads=KV,
    intermediate=INTER,
    vocab=VOCAB,
    head_dim=HD,
    rope_theta=THETA,
    rope_fraction=0.5,
    qkv_bias=True,
    norm_eps=EPS,
    source="tiny test config",
)


def tiny_hf() -> GlmForCausalLM:
    config = GlmConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV,
        head_dim=HD,
        intermediate_size=INTER,
        max_position_embeddings=64,
        rope_theta=THETA,
        partial_rotary_factor=0.5,
        attention_bias=True,
        rms_norm_eps=EPS,
        tie_word_embeddings=False,
        pad_token_id=0,
        attn_implementation="eager",
    )
    assert config.rope_parameters["partial_rotary_factor"] == 0.5
    torch.manual_seed(0)
    model = GlmForCausalLM(config)
    return randomize(model).eval()  # weights far from HF's tiny init


def test_glm_matches_transformers(parity) -> None:  # type: ignore[no-untyped-def]
    hf = tiny_hf()
    ref = load_hf_state_dict(build_model(ARCH), hf.state_dict())
    # only half of each head is rotated, pairwise-interleaved
    assert ref.cfg.rotary_dim == HD // 2 and ref.cfg.rope_interleaved
    check = parity(ref, hf, VOCAB)
    check.full_sequence()
    check.incremental()
    check.left_padded()


def test_glm_rotary_layout_matters() -> None:
    """The same weights run with LLaMA's rotary (full, half-split) give different logits, so
    the parity above really tests GLM's layout."""
    hf = tiny_hf()
    llama_arch = ARCH.model_copy(update={"family": "llama", "rope_fraction": 1.0})
    glm = load_hf_state_dict(build_model(ARCH), hf.state_dict())
    llama = build_model(llama_arch)
    llama.load_state_dict(glm.state_dict())
    ids = torch.randint(0, VOCAB, (1, 10))
    with torch.no_grad():
        assert not torch.allclose(glm(ids)[0], llama(ids)[0], atol=1e-2)


def chatglm_layout(hf_sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same weights under THUDM's original ChatGLM2/3 names (modeling_chatglm.py):
    q, k, v fused row-wise into ``query_key_value`` and gate/up into ``dense_h_to_4h``."""
    out = {
        "transformer.embedding.word_embeddings.weight": hf_sd["model.embed_tokens.weight"],
        "transformer.encoder.final_layernorm.weight": hf_sd["model.norm.weight"],
        "transformer.output_layer.weight": hf_sd["lm_head.weight"],
        "transformer.rotary_pos_emb.inv_freq": torch.zeros(HD // 4),
    }
    for i in range(LAYERS):
        src, dst = f"model.layers.{i}.", f"transformer.encoder.layers.{i}."
        attn = src + "self_attn."
        for kind in ("weight", "bias"):
            out[dst + f"self_attention.query_key_value.{kind}"] = torch.cat(
                [hf_sd[attn + f"{p}_proj.{kind}"] for p in "qkv"]
            )
        out[dst + "self_attention.dense.weight"] = hf_sd[attn + "o_proj.weight"]
        out[dst + "input_layernorm.weight"] = hf_sd[src + "input_layernorm.weight"]
        out[dst + "post_attention_layernorm.weight"] = hf_sd[
            src + "post_attention_layernorm.weight"
        ]
        out[dst + "mlp.dense_h_to_4h.weight"] = hf_sd[src + "mlp.gate_up_proj.weight"]
        out[dst + "mlp.dense_4h_to_h.weight"] = hf_sd[src + "mlp.down_proj.weight"]
    return out


def test_original_chatglm_names_load_the_same_model() -> None:
    hf = tiny_hf()
    ref = load_hf_state_dict(build_model(ARCH), chatglm_layout(hf.state_dict()))
    ids = torch.randint(0, VOCAB, (2, 7))
    with torch.no_grad():
        torch.testing.assert_close(ref(ids)[0], hf(input_ids=ids).logits, atol=1e-4, rtol=0)


def test_safetensors_checkpoint_loads(tmp_path: Path) -> None:
    hf = tiny_hf()
    hf.save_pretrained(tmp_path)
    assert list(tmp_path.glob("*.safetensors"))
    ref = load_safetensors_checkpoint(tmp_path, ARCH)
    ids = torch.randint(0, VOCAB, (2, 7))
    with torch.no_grad():
        torch.testing.assert_close(ref(ids)[0], hf(input_ids=ids).logits, atol=1e-4, rtol=0)
