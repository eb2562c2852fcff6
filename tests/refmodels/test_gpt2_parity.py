"""refmodels.gpt2 equals transformers' GPT2LMHeadModel (pre-LN, learned positions, gelu_new).

The post-LN option has no transformers oracle; its oracle is PyTorch's own post-norm
``nn.TransformerEncoderLayer(norm_first=False)`` with a causal mask and the same weights.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel

from llmselect.arch.spec import ArchSpec
from llmselect.refmodels import build_model, load_hf_state_dict, load_safetensors_checkpoint
from llmselect.refmodels.gpt2_model import GPT2
from tests.refmodels._weights import randomize

VOCAB, HIDDEN, LAYERS, HEADS, POSITIONS = 89, 32, 2, 4, 32


def arch(post_ln: bool = False) -> ArchSpec:
    return ArchSpec(
        family="gpt2",
        hidden=HIDDEN,
        layers=LAYERS,
        heads=HEADS,
        kv_heads=HEADS,
        intermediate=4 * HIDDEN,
        vocab=VOCAB,
        max_position=POSITIONS,
        tied_embeddings=True,
        norm_eps=1e-5,
        post_ln=post_ln,
        source="tiny test config",
    )


def tiny_hf() -> GPT2LMHeadModel:
    config = GPT2Config(
        vocab_size=VOCAB,
        n_embd=HIDDEN,
        n_layer=LAYERS,
        n_head=HEADS,
        n_positions=POSITIONS,
        activation_function="gelu_new",
        bos_token_id=0,
        eos_token_id=0,
        attn_implementation="eager",
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    return randomize(model).eval()  # weights far from HF's tiny init


def test_gpt2_matches_transformers(parity) -> None:  # type: ignore[no-untyped-def]
    hf = tiny_hf()
    ref = load_hf_state_dict(build_model(arch()), hf.state_dict())
    check = parity(ref, hf, VOCAB)
    check.full_sequence()
    check.incremental()
    check.left_padded()


def test_safetensors_checkpoint_loads(tmp_path: Path) -> None:
    hf = tiny_hf()
    hf.save_pretrained(tmp_path)
    ref = load_safetensors_checkpoint(tmp_path, arch())
    ids = torch.randint(0, VOCAB, (2, 7))
    with torch.no_grad():
        torch.testing.assert_close(ref(ids)[0], hf(input_ids=ids).logits, atol=1e-4, rtol=0)


def torch_post_ln_oracle(model: GPT2, ids: torch.Tensor) -> torch.Tensor:
    """The same post-LN network assembled from ``nn.TransformerEncoderLayer`` (norm_first=False:
    x = norm1(x + attn(x)); x = norm2(x + mlp(x)))."""
    T = ids.shape[1]
    x = model.tok_emb(ids) + model.pos_emb(torch.arange(T))[None]
    causal = nn.Transformer.generate_square_subsequent_mask(T)
    for block in model.blocks:
        layer = nn.TransformerEncoderLayer(
            HIDDEN,
            HEADS,
            4 * HIDDEN,
            dropout=0.0,
            activation=lambda t: F.gelu(t, approximate="tanh"),
            batch_first=True,
            norm_first=False,
        ).eval()
        a = block.attn
        with torch.no_grad():
            layer.self_attn.in_proj_weight.copy_(torch.cat([a.wq.weight, a.wk.weight, a.wv.weight]))
            layer.self_attn.in_proj_bias.copy_(torch.cat([a.wq.bias, a.wk.bias, a.wv.bias]))
            layer.self_attn.out_proj.load_state_dict(a.wo.state_dict())
            layer.linear1.load_state_dict(block.mlp.w_in.state_dict())
            layer.linear2.load_state_dict(block.mlp.w_out.state_dict())
            layer.norm1.load_state_dict(block.ln_1.state_dict())
            layer.norm2.load_state_dict(block.ln_2.state_dict())
        x = layer(x, src_mask=causal, is_causal=True)
    return x @ model.tok_emb.weight.T


def test_post_ln_matches_pytorch_post_norm_layers() -> None:
    post = build_model(arch(post_ln=True), seed=5)
    with torch.no_grad():  # give the norms non-trivial gains and biases
        for p in post.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    ids = torch.randint(0, VOCAB, (2, 9))
    with torch.no_grad():
        ours, _ = post(ids)
        torch.testing.assert_close(ours, torch_post_ln_oracle(post, ids), atol=1e-4, rtol=0)
        # incremental decoding agrees with the full pass for post-LN too
        cache = post.new_cache(2, 9)
        steps = [post(ids[:, :4], cache=cache)[0]]
        steps += [post(ids[:, t : t + 1], cache=cache)[0] for t in range(4, 9)]
        torch.testing.assert_close(torch.cat(steps, 1), ours, atol=1e-4, rtol=0)


def test_post_ln_differs_from_pre_ln() -> None:
    pre, post = build_model(arch(), seed=1), build_model(arch(post_ln=True), seed=1)
    shared = {k: v for k, v in pre.state_dict().items() if not k.startswith("ln_f.")}
    post.load_state_dict(shared)
    ids = torch.randint(0, VOCAB, (1, 6))
    with torch.no_grad():
        assert not torch.allclose(pre(ids)[0], post(ids)[0], atol=1e-3)
    assert post.ln_f is None  # post-LN ends each block with a norm; no final one


def test_positions_beyond_table_are_an_error() -> None:
    from llmselect.errors import LLMSelectError

    with pytest.raises(LLMSelectError, match="max_position"):
        build_model(arch().model_copy(update={"max_position": None}))


def test_pickled_checkpoints_are_refused(tmp_path: Path) -> None:
    from llmselect.errors import LLMSelectError

    (tmp_path / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(LLMSelectError, match="pickled"):
        load_safetensors_checkpoint(tmp_path, arch())
    with pytest.raises(LLMSelectError, match="only .safetensors"):
        load_safetensors_checkpoint(tmp_path / "pytorch_model.bin", arch())
