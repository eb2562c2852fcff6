"""llama.cpp's GGUF tensors of an architecture: every tensor's name and shape (ne0 = input
features first) as llama.cpp's converter writes it and its loader expects it; ``ggml_quant``
gives each its type under a file type.

Dense decoders follow their family's traits: LLaMA-style separate ``attn_q``/``attn_k``/``attn_v``
(QK-norm and biases where the architecture has them), the fused ``attn_qkv`` of ChatGLM, BLOOM
and GPT-2, GELU or SwiGLU MLPs, a learned position table, LayerNorm biases.

Mixture-of-experts models in llama.cpp's layouts for Mixtral (``llama``), Qwen2-MoE
(``qwen2moe``) and Qwen3-MoE (``qwen3moe``) hold per block a router ``ffn_gate_inp``, the routed
experts as 3-D tensors ``ffn_{gate,up,down}_exps`` (ne2 = experts) and Qwen2-MoE's shared expert
``ffn_{gate,up,down}_shexp`` with its 1-D gate ``ffn_gate_inp_shexp``; every block is sparse.

DeepSeek-V2/V3 (llama.cpp's ``deepseek2``) add latent attention: the query directly or through
its latent (``attn_q_a``/``attn_q_b``), ``attn_kv_a_mqa``, and ``kv_b`` split into the 3-D
``attn_k_b``/``attn_v_b`` (one matrix per head), then leading dense blocks, an ungated shared
expert of ``shared_experts`` expert widths and, for V3, the router bias ``exp_probs_b``.

Llama.cpp itself loads the files written from these lists (``tests/checkpoints/
test_gguf_moe_quant.py``: its loader refuses a missing, misshapen or extra tensor). Other MoE and
latent-attention layouts (GLM's, gpt-oss, MiniCPM3, ...) are not modelled: an error says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmselect.arch.params import shared_intermediate
from llmselect.errors import LLMSelectError

if TYPE_CHECKING:
    from llmselect.arch.spec import ArchSpec


# Mixture-of-experts layouts of llama.cpp this plan follows: config (or GGUF) model_type →
# llama.cpp architecture. Each block's MLP is every layer's sparse one; none has dense blocks.
MOE_LAYOUTS: dict[str, str] = {
    "mixtral": "llama", "gguf:llama": "llama",
    "qwen2_moe": "qwen2moe", "gguf:qwen2moe": "qwen2moe",
    "qwen3_moe": "qwen3moe", "gguf:qwen3moe": "qwen3moe",
}  # fmt: skip


# Latent-attention (MLA) layouts: DeepSeek-V2/V3 (and Kimi-K2, a DeepSeek-V3) are llama.cpp's
# deepseek2: leading dense blocks, then routed and shared experts; V3's router has a bias.
MLA_LAYOUTS: dict[str, str] = {"deepseek_v2": "deepseek2", "deepseek_v3": "deepseek2"}


def _moe_layout(arch: ArchSpec) -> str | None:
    """llama.cpp's architecture for a modelled MoE or MLA ``arch`` (None: dense); an error for
    MoE and latent-attention models whose llama.cpp layout is not modelled."""
    moe = arch.moe
    if arch.mla is not None:
        layout = MLA_LAYOUTS.get(arch.model_type or "")
        if layout is None or moe is None or not moe.shared_experts or moe.layer_step != 1:
            raise LLMSelectError(
                "GGUF sizes of latent-attention models are modelled only in DeepSeek-V2/V3's "
                f"layout (model_type {', '.join(MLA_LAYOUTS)} with shared experts), not "
                f"model_type {arch.model_type!r}"
            )
        return layout
    if moe is None:
        return None
    layout = MOE_LAYOUTS.get(arch.model_type or "")
    if layout is None or moe.dense_layers or moe.layer_step != 1:
        what = f"model_type {arch.model_type!r}" if layout is None else "dense blocks"
        raise LLMSelectError(
            f"GGUF sizes of mixture-of-experts models with {what} are not modelled "
            f"(modelled: {', '.join(sorted(k for k in MOE_LAYOUTS if ':' not in k))}, "
            f"every block sparse; {', '.join(MLA_LAYOUTS)})"
        )
    if (moe.shared_experts > 0) != (layout == "qwen2moe"):
        raise LLMSelectError(
            f"GGUF sizes: llama.cpp's {layout} layout "
            + ("has a shared expert" if layout == "qwen2moe" else "has no shared expert")
            + f", model_type {arch.model_type!r} states {moe.shared_experts}"
        )
    return layout


def _mla_attention(prefix: str, arch: ArchSpec) -> list[tuple[str, tuple[int, ...]]]:
    """deepseek2's latent attention: the query (through its own latent when ``q_lora_rank``),
    the compressed KV with the RoPE key, and ``kv_b`` split into 3-D ``attn_k_b``/``attn_v_b``
    (one matrix per head) as llama.cpp's converter writes it."""
    mla = arch.mla
    assert mla is not None
    d, h, kv = arch.hidden, arch.heads, mla.kv_lora_rank
    nope, rope, v = mla.qk_nope_head_dim, mla.qk_rope_head_dim, mla.v_head_dim
    out: list[tuple[str, tuple[int, ...]]] = []
    if mla.q_lora_rank:
        q = mla.q_lora_rank
        out += [(prefix + "attn_q_a_norm.weight", (q,)), (prefix + "attn_q_a.weight", (d, q)),
                (prefix + "attn_q_b.weight", (q, h * (nope + rope)))]  # fmt: skip
    else:
        out.append((prefix + "attn_q.weight", (d, h * (nope + rope))))
    out += [(prefix + "attn_kv_a_norm.weight", (kv,)),
            (prefix + "attn_kv_a_mqa.weight", (d, kv + rope)),
            (prefix + "attn_k_b.weight", (nope, kv, h)), (prefix + "attn_v_b.weight", (kv, v, h)),
            (prefix + "attn_output.weight", (h * v, d))]  # fmt: skip
    return out


def _moe_mlp(prefix: str, arch: ArchSpec, layout: str) -> list[tuple[str, tuple[int, ...]]]:
    """One sparse block's MLP: router, 3-D routed experts, the shared expert (Qwen2-MoE's
    gated; DeepSeek's ungated, ``shared_experts`` expert widths) and DeepSeek-V3's router bias."""
    moe = arch.moe
    assert moe is not None
    d, e, i = arch.hidden, moe.experts, moe.expert_intermediate
    out: list[tuple[str, tuple[int, ...]]] = [(prefix + "ffn_gate_inp.weight", (d, e))]
    if arch.model_type == "deepseek_v3":  # e_score_correction_bias
        out.append((prefix + "exp_probs_b.bias", (e,)))
    experts = {"ffn_gate_exps": (d, i, e), "ffn_up_exps": (d, i, e), "ffn_down_exps": (i, d, e)}
    out += [(f"{prefix}{name}.weight", shape) for name, shape in experts.items()]
    if moe.shared_experts:
        s = moe.shared_experts * i if layout == "deepseek2" else shared_intermediate(arch)
        if layout == "qwen2moe":
            out.append((prefix + "ffn_gate_inp_shexp.weight", (d,)))
        out += _linears(prefix, {"ffn_gate_shexp": (d, s), "ffn_up_shexp": (d, s),
                                 "ffn_down_shexp": (s, d)}, bias=False)  # fmt: skip
    return out


def gguf_tensor_shapes(arch: ArchSpec) -> list[tuple[str, tuple[int, ...]]]:
    """llama.cpp tensor names and shapes (ne0 = input features first) for ``arch``."""
    moe_layout = _moe_layout(arch)

    d, v, i, hd = arch.hidden, arch.vocab, arch.intermediate, arch.head_size
    q_out, kv_out = arch.heads * hd, arch.kv_heads * hd
    traits = arch.traits
    # llama.cpp's own layout: ChatGLM, BLOOM and GPT-2 files hold one fused attn_qkv (and
    # ChatGLM one ffn_up of gate and up together); LLaMA-style files keep them apart.
    fused_qkv = traits.attention == "biased" or traits.fused_qkv
    out: list[tuple[str, tuple[int, ...]]] = [("token_embd.weight", (d, v))]
    if traits.position == "learned":
        out.append(("position_embd.weight", (d, arch.max_position or 0)))
    if traits.embedding_norm:
        out += _norm("token_embd_norm", d, layer_norm=True)
    layer_norm = traits.norm == "layernorm"
    biased = traits.attention == "biased"
    for n in range(arch.layers):
        b = f"blk.{n}."
        out += _norm(b + "attn_norm", d, layer_norm)
        if arch.mla is not None:
            out += _mla_attention(b, arch)
        elif not fused_qkv:
            qkv = {"attn_q": (d, q_out), "attn_k": (d, kv_out), "attn_v": (d, kv_out)}
            out += _linears(b, qkv, bias=arch.qkv_bias)
            if arch.qk_norm:
                out += [(b + "attn_q_norm.weight", (hd,)), (b + "attn_k_norm.weight", (hd,))]
        else:  # fused query/key/value (ChatGLM, BLOOM, GPT-2)
            qkv = {"attn_qkv": (d, q_out + 2 * kv_out)}
            out += _linears(b, qkv, bias=arch.qkv_bias or biased)
        if arch.mla is None:
            out += _linears(b, {"attn_output": (q_out, d)}, bias=biased)
        out += _norm(b + "ffn_norm", d, layer_norm)
        if moe_layout is not None and arch.moe is not None and n >= arch.moe.dense_layers:
            out += _moe_mlp(b, arch, moe_layout)
        elif traits.mlp == "gelu":  # each weight followed by its bias
            out += _linears(b, {"ffn_up": (d, i)}, bias=True)
            out += _linears(b, {"ffn_down": (i, d)}, bias=True)
        elif fused_qkv:  # ChatGLM: gate and up fused into one ffn_up of 2·I rows
            out += _linears(b, {"ffn_up": (d, 2 * i), "ffn_down": (i, d)}, bias=False)
        else:
            mlp = {"ffn_gate": (d, i), "ffn_up": (d, i), "ffn_down": (i, d)}
            out += _linears(b, mlp, bias=arch.mlp_bias)
    out += _norm("output_norm", d, layer_norm)
    if not arch.tied_embeddings:
        out.append(("output.weight", (d, v)))
    return out


def _linears(
    prefix: str, layers: dict[str, tuple[int, int]], *, bias: bool
) -> list[tuple[str, tuple[int, ...]]]:
    """Linear layers (name → (in, out) features): every weight, then, with ``bias``, every
    bias, as llama.cpp lists them."""
    out: list[tuple[str, tuple[int, ...]]] = []
    out += [(f"{prefix}{name}.weight", shape) for name, shape in layers.items()]
    if bias:
        out += [(f"{prefix}{name}.bias", (n_out,)) for name, (_, n_out) in layers.items()]
    return out


def _norm(name: str, d: int, layer_norm: bool) -> list[tuple[str, tuple[int, ...]]]:
    """A norm's gain, and its bias when it is a LayerNorm."""
    return [(f"{name}.weight", (d,))] + ([(f"{name}.bias", (d,))] if layer_norm else [])
