"""llama.cpp (GGUF) quantization: bits per weight of each ggml type and llama.cpp's per-tensor
recipe for a file type such as ``q4_k_m``.

Pure Python except for the ``gguf`` package's table ``GGML_QUANT_SIZES`` (elements and bytes per
block of each ggml type), so the recommender can size a GGUF without torch.

A file type (``--dtype q4_k_m``) does not quantize every tensor alike. ``tensor_types`` follows
``llama_tensor_get_type`` in llama.cpp's ``src/llama-quant.cpp``:

* 1-D tensors (norms, biases) stay F32; the learned position table is not quantized (F16);
* the output matrix (or the token embedding when it is tied to the output) becomes Q6_K unless
  the base type is Q8_0 (Q8_0 when its row is not whole blocks of the base type);
* Q4_K_M / Q5_K_M give ``attn_v`` and ``ffn_down`` of the layers ``use_more_bits`` picks (the
  first and last eighth and every third in between) Q6_K; a fused ``attn_qkv`` (BLOOM, GPT-2,
  ChatGLM) follows ``attn_v``'s rules (llama.cpp files it in the same category, before the
  branch of its own, which is never reached);
* Q4_K_S: ``attn_v`` of the first 4 layers and ``ffn_down`` of the first eighth Q5_K;
  Q3_K_M / Q3_K_L / Q2_K have their own ``attn_v``, ``ffn_down`` and ``attn_output`` rules;
  llama.cpp's 70B class (80 layers of LLaMA with grouped-query attention, Qwen2, DeciLM or
  OLMo; not the 80-layer LLaMA-65B) bumps a Q3_K/Q4_K ``attn_v`` to Q5_K;
* a k-quant whose row is not whole 256-element super-blocks falls back (Q4_K → Q5_0,
  Q5_K → Q5_1, Q6_K → Q8_0, Q2_K/Q3_K → Q4_0; F16 if that does not fit either).

Mixture-of-experts models hold 3-D expert tensors (ne2 = experts); the recipe takes the layer
of every ``ffn_down*`` tensor from its name (a block with routed and shared experts has two), and
a model of exactly 8 experts gets Q8_0 ``attn_k``/``attn_v`` and, under Q2_K, Q3_K_S/M and
Q4_K_S/M, a Q5_K ``attn_output``; the router ``ffn_gate_inp`` stays F32. The tensors themselves
(names and shapes in llama.cpp's layouts) come from ``gguf_layout``. Checked against llama.cpp
itself: random-weight F16 models quantized by the installed llama-cpp-python get every planned
type (``tests/checkpoints/test_gguf_moe_quant.py``). An MoE or latent-attention plan whose
parameter count differs from the checkpoint's exact one is refused, not sized.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from llmselect.errors import LLMSelectError
from llmselect.formats.tensor import TensorInfo
from llmselect.memory.gguf_layout import gguf_tensor_shapes

if TYPE_CHECKING:
    from llmselect.arch.spec import ArchSpec

QK_K = 256  # elements in a k-quant super-block

# llama.cpp file types (llama_ftype) → the base ggml type of their 2-D tensors.
FTYPE_BASE: dict[str, str] = {
    "f32": "F32",
    "f16": "F16",
    "bf16": "BF16",
    "q8_0": "Q8_0",
    "q4_0": "Q4_0",
    "q4_1": "Q4_1",
    "q5_0": "Q5_0",
    "q5_1": "Q5_1",
    "q2_k": "Q2_K",
    "q3_k_s": "Q3_K",
    "q3_k_m": "Q3_K",
    "q3_k_l": "Q3_K",
    "q4_k_s": "Q4_K",
    "q4_k_m": "Q4_K",
    "q5_k_s": "Q5_K",
    "q5_k_m": "Q5_K",
    "q6_k": "Q6_K",
}
# general.file_type codes (llama_ftype enum) of the same file types, for GGUF metadata.
FTYPE_CODES: dict[int, str] = {
    0: "f32", 1: "f16", 2: "q4_0", 3: "q4_1", 7: "q8_0", 8: "q5_0", 9: "q5_1", 10: "q2_k",
    11: "q3_k_s", 12: "q3_k_m", 13: "q3_k_l", 14: "q4_k_s", 15: "q4_k_m", 16: "q5_k_s",
    17: "q5_k_m", 18: "q6_k", 32: "bf16",
}  # fmt: skip

_K_FALLBACK = {
    "Q2_K": "Q4_0",
    "Q3_K": "Q4_0",
    "Q4_K": "Q5_0",
    "Q5_K": "Q5_1",
    "Q6_K": "Q8_0",
}


@lru_cache(maxsize=1)
def quant_sizes() -> dict[str, tuple[int, int]]:
    """ggml type name → (elements per block, bytes per block), from ``gguf.GGML_QUANT_SIZES``."""
    from gguf import GGML_QUANT_SIZES

    return {t.name: sizes for t, sizes in GGML_QUANT_SIZES.items()}


def bits_per_weight(ggml_type: str) -> float:
    """Stored bits per weight of a ggml type, block scales included (Q4_K: 4.5, Q8_0: 8.5)."""
    sizes = quant_sizes()
    key = ggml_type.upper()
    if key not in sizes:
        raise LLMSelectError(f"unknown ggml type {ggml_type!r}; known: {', '.join(sizes)}")
    block, type_size = sizes[key]
    return type_size * 8 / block


def tensor_bytes(n_elements: int, ggml_type: str) -> int:
    """Bytes of a tensor of ``n_elements`` stored as ``ggml_type`` (whole blocks)."""
    block, type_size = quant_sizes()[ggml_type.upper()]
    return math.ceil(n_elements / block) * type_size


def is_gguf_ftype(name: str) -> bool:
    """True for llama.cpp's quantized file types (``q4_k_m``); f16/bf16/f32 are plain dtypes."""
    key = name.strip().lower()
    return key in FTYPE_BASE and key.startswith("q")


@dataclass(frozen=True)
class PlannedTensor(TensorInfo):
    """A tensor llama.cpp would write: name, shape (ne0 first), the ggml type it gets."""

    ggml_type: str

    @property
    def n_bytes(self) -> int:
        return tensor_bytes(self.n_elements, self.ggml_type)


def _use_more_bits(i_layer: int, n_layers: int) -> bool:
    return (
        i_layer < n_layers // 8
        or i_layer >= 7 * n_layers // 8
        or (i_layer - n_layers // 8) % 3 == 2
    )


# llama.cpp's LLM_TYPE_70B, whose Q3_K/Q4_K attn_v becomes Q5_K: the layer count at which each
# architecture's loader names it (llama, where Mistral's configs also load: only with grouped-query
# attention and not 8 experts, else it is 65B or 8x7B); other architectures never are.
_70B_LAYERS = {"llama": 80, "mistral": 80, "qwen2": 80, "deci": 80, "olmo": 80}


def _is_70b_class(arch: ArchSpec) -> bool:
    model_type = (arch.model_type or "").removeprefix("gguf:")
    if arch.layers != _70B_LAYERS.get(model_type):
        return False
    if model_type in ("llama", "mistral"):
        eight_experts = arch.moe is not None and arch.moe.experts == 8
        return arch.heads != arch.kv_heads and not eight_experts
    return True


def _layer_index(name: str) -> int:
    return int(name.split(".")[1])


# Under these file types a model of exactly 8 experts (Mixtral) gets a Q5_K attn_output.
_EIGHT_EXPERT_ATTN_OUTPUT_Q5K = ("q2_k", "q3_k_s", "q3_k_m", "q4_k_s", "q4_k_m")


def _pick(name: str, shape: tuple[int, ...], ftype: str, arch: ArchSpec, tied: bool) -> str:
    """llama_tensor_get_type for one 2-D or 3-D tensor under a quantized file type."""
    base = FTYPE_BASE[ftype]
    n_layers = arch.layers
    n_gqa = arch.heads // arch.kv_heads
    n_expert = arch.moe.experts if arch.moe is not None else 0
    new = base
    is_output = name == "output.weight" or (tied and name == "token_embd.weight")
    if is_output:
        if shape[0] % quant_sizes()[base][0] != 0:
            new = "Q8_0"
        elif base != "Q8_0":
            new = "Q6_K"
    elif name == "token_embd.weight":
        pass
    elif "attn_v.weight" in name or "attn_qkv.weight" in name:  # one rule for both
        i = _layer_index(name)
        if ftype == "q2_k":
            new = "Q4_K" if n_gqa >= 4 else "Q3_K"
        elif ftype == "q3_k_m":
            new = "Q5_K" if i < 2 else "Q4_K"
        elif ftype == "q3_k_l":
            new = "Q5_K"
        elif ftype in ("q4_k_m", "q5_k_m") and _use_more_bits(i, n_layers):
            new = "Q6_K"
        elif ftype == "q4_k_s" and i < 4:
            new = "Q5_K"
        if _is_70b_class(arch) and new in ("Q3_K", "Q4_K"):
            new = "Q5_K"
        if n_expert == 8:
            new = "Q8_0"
    elif "attn_k.weight" in name:
        if n_expert == 8:
            new = "Q8_0"
    elif "ffn_down" in name:  # dense, routed (ffn_down_exps) and shared (ffn_down_shexp)
        i = _layer_index(name)
        if ftype == "q2_k":
            new = "Q3_K"
        elif ftype == "q3_k_m":
            new = "Q5_K" if i < n_layers // 16 else "Q4_K"
        elif ftype == "q3_k_l":
            new = "Q5_K"
        elif ftype in ("q4_k_m", "q5_k_m"):
            if _use_more_bits(i, n_layers):
                new = "Q6_K"
        elif ftype == "q4_k_s" and i < n_layers // 8:
            new = "Q5_K"
    elif "attn_output.weight" in name:
        if n_expert == 8:
            new = "Q5_K" if ftype in _EIGHT_EXPERT_ATTN_OUTPUT_Q5K else new
        else:
            new = {"q2_k": "Q3_K", "q3_k_m": "Q4_K", "q3_k_l": "Q5_K"}.get(ftype, new)
    if shape[0] % quant_sizes()[new][0]:  # row not whole blocks: llama.cpp's fallback
        new = _K_FALLBACK.get(new, "F16")
        if shape[0] % quant_sizes()[new][0]:
            new = "F16"
    return new


def tensor_types(arch: ArchSpec, ftype: str) -> list[PlannedTensor]:
    """Every tensor of ``arch`` with the ggml type llama.cpp's ``ftype`` recipe gives it."""
    key = ftype.strip().lower()
    if key not in FTYPE_BASE:
        raise LLMSelectError(f"unknown GGUF file type {ftype!r}; known: {', '.join(FTYPE_BASE)}")
    base = FTYPE_BASE[key]
    quantized = base not in ("F32", "F16", "BF16")
    plan = []
    for name, shape in gguf_tensor_shapes(arch):
        if len(shape) < 2 or name.endswith("ffn_gate_inp.weight"):  # norms, biases, router
            t = "F32"
        elif name == "position_embd.weight":
            t = "F16" if base != "F32" else "F32"
        elif quantized:
            t = _pick(name, shape, key, arch, arch.tied_embeddings)
        else:
            t = base
        plan.append(PlannedTensor(name, shape, t))
    return plan


def gguf_weight_bytes(arch: ArchSpec, ftype: str, params_total: int | None = None) -> int:
    """Tensor bytes of ``arch`` quantized with llama.cpp's ``ftype`` recipe. ``params_total``:
    the checkpoint's exact parameter count, where known; an MoE or latent-attention plan that
    holds another count (numbers that miss a layout detail, such as leading dense blocks) is
    refused rather than sized."""
    plan = tensor_types(arch, ftype)
    if params_total is not None and (arch.moe is not None or arch.mla is not None):
        planned = sum(t.n_elements for t in plan if not t.name.endswith("exp_probs_b.bias"))
        if planned != params_total:  # the router bias is a buffer, not a parameter
            raise LLMSelectError(
                f"GGUF sizes: llama.cpp's tensors for these architecture numbers hold {planned:,} "
                f"parameters, the checkpoint {params_total:,}: its layout is not modelled"
            )
    return sum(t.n_bytes for t in plan)
