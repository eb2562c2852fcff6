"""Weights as a checkpoint stores them: bytes from the config's dtype or ``quantization_config``.

Pure arithmetic on (parameter name, shape) pairs, so it serves a meta-device model's parameters
and a safetensors index alike. Formats, with what each stores per weight:

* plain (no ``quantization_config``): ``torch_dtype`` / ``dtype`` bytes per weight;
* ``fp8`` with ``weight_block_size`` (DeepSeek-V3.x, GLM, Qwen FP8): the blocks' matrices in one
  byte, plus one fp32 scale per block (``weight_scale_inv``); everything else in ``dtype``;
* ``mxfp4`` (gpt-oss): the MoE experts in 4-bit blocks of 32 with one uint8 exponent each
  (4.25 bits per weight), the rest in ``dtype``;
* ``modelopt`` NVFP4: 4-bit values with an fp8 scale per 16 (4.5 bits) plus two fp32
  per-tensor scales; modelopt FP8: one byte plus those two scales;
* ``awq`` / ``gptq``: ``bits``-wide values packed in int32, an fp16 scale and a packed zero
  point per ``group_size`` weights of each output column; GPTQ also stores ``g_idx`` (one int32
  per input feature).

What is quantized: the matrices inside the decoder blocks (routed experts included), never the
embeddings, the LM head, norms or routers, and nothing the config's ``modules_to_not_convert`` /
``ignore`` / ``exclude_modules`` names. A ``quant_method`` outside these is reported as not
sized (empty list), never guessed.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping
from typing import Any

from llmselect.arch.sizing import StoredWeights

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}


def stored_dtype_name(cfg: Mapping[str, Any]) -> str | None:
    """The config's parameter dtype (``torch_dtype`` or transformers 5's ``dtype``)."""
    for key in ("torch_dtype", "dtype"):
        value = cfg.get(key)
        if isinstance(value, str) and value in DTYPE_BYTES:
            return value
    text = cfg.get("text_config")
    return stored_dtype_name(text) if isinstance(text, Mapping) else None


def _skip_patterns(q: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for key in ("modules_to_not_convert", "ignore", "exclude_modules", "ignored_layers"):
        value = q.get(key) or []
        out += [str(v) for v in value] if isinstance(value, list) else []
    return out


def _skipped(name: str, patterns: list[str]) -> bool:
    module = name.rsplit(".", 1)[0]
    for p in patterns:
        p = p.removeprefix("re:")
        if p in module or fnmatch.fnmatch(module, p) or fnmatch.fnmatch(module, f"*{p}"):
            return True
    return False


def is_block_matrix(name: str, shape: tuple[int, ...], experts: int | None) -> bool:
    """A matrix inside a decoder block that quantization touches (not a router or norm)."""
    if len(shape) < 2 or ".layers." not in name or "norm" in name or "embed" in name:
        return False
    leaf = name.rsplit(".", 2)
    module = leaf[-2] if len(leaf) >= 2 else ""
    return not ("router" in name or (module == "gate" and experts and shape[0] == experts))


def is_expert_tensor(name: str) -> bool:
    """A routed expert's weights (fused ``experts.gate_up_proj`` or ``experts.N.w1``)."""
    return ".experts." in name and "shared" not in name


def _matrices(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(matrices, rows, cols) of a 2-D weight or a fused (experts, rows, cols) tensor."""
    if len(shape) == 2:
        return 1, shape[0], shape[1]
    return math.prod(shape[:-2]), shape[-2], shape[-1]


def stored_weights(
    params: Iterable[tuple[str, tuple[int, ...]]],
    cfg: Mapping[str, Any],
    experts: int | None = None,
) -> tuple[list[StoredWeights], str | None]:
    """(bytes per stored format, a one-line summary); ([], why) when the config does not say."""
    params = list(params)
    base = stored_dtype_name(cfg)
    q = cfg.get("quantization_config")
    if not isinstance(q, Mapping):
        if base is None:
            return [], "the config states no dtype"
        n = sum(math.prod(s) for _, s in params)
        return [StoredWeights(format=base, params=n, bytes=n * DTYPE_BYTES[base],
                              routed_expert_params=_experts(params))], base  # fmt: skip
    method = str(q.get("quant_method", "")).lower()
    algo = str(q.get("quant_algo", "")).upper()
    rest_dtype = base or "bfloat16"
    rest_note = None if base else "the config states no dtype for unquantized tensors: bf16"
    skip = _skip_patterns(q)

    def chosen(name: str, shape: tuple[int, ...]) -> bool:
        if _skipped(name, skip) or not is_block_matrix(name, shape, experts):
            return False
        return is_expert_tensor(name) if method == "mxfp4" else True

    picked = [(n, s) for n, s in params if chosen(n, s)]
    q_params = sum(math.prod(s) for _, s in picked)
    if method == "fp8" and q.get("weight_block_size"):
        br, bc = (int(x) for x in q["weight_block_size"])
        scales = sum(m * math.ceil(r / br) * math.ceil(c / bc)
                     for m, r, c in (_matrices(s) for _, s in picked))  # fmt: skip
        fmt, q_bytes = f"fp8_e4m3 ({br}x{bc} blocks, fp32 scales)", q_params + 4 * scales
    elif method == "mxfp4":
        fmt, q_bytes = "mxfp4 (32-value blocks, uint8 scales)", q_params // 2 + q_params // 32
    elif method == "modelopt" and algo == "NVFP4":
        group = int(q.get("group_size") or 16)
        n_mat = sum(_matrices(s)[0] for _, s in picked)
        fmt = f"nvfp4 ({group}-value groups, fp8 scales, 2 fp32 scales per matrix)"
        q_bytes = q_params // 2 + math.ceil(q_params / group) + 8 * n_mat
    elif method == "modelopt" and algo == "FP8":
        n_mat = sum(_matrices(s)[0] for _, s in picked)
        fmt, q_bytes = "fp8_e4m3 (per-tensor fp32 scales)", q_params + 8 * n_mat
    elif method in ("awq", "gptq"):
        bits = int(q.get("bits") or q.get("w_bit") or 0)
        group = int(q.get("group_size") or q.get("q_group_size") or 0)
        if bits not in (2, 3, 4, 8) or group <= 0:
            return [], f"{method}: bits/group_size not stated"
        q_bytes = 0
        for _, s in picked:
            m, r, c = _matrices(s)
            groups = math.ceil(r * c / group)
            q_bytes += m * (r * c * bits // 8 + groups * 2 + groups * bits // 8)
            if method == "gptq":
                q_bytes += m * min(r, c) * 4  # g_idx: one int32 per input feature
        fmt = f"int{bits} {method} (group {group}, fp16 scales, packed zeros)"
    else:
        return [], f"quant_method {method or '(none)'!r} {algo} is not sized"
    rest = sum(math.prod(s) for _, s in params) - q_params
    q_experts = _experts(picked)
    return [
        StoredWeights(format=fmt, params=q_params, bytes=int(q_bytes),
                      routed_expert_params=q_experts),
        StoredWeights(format=rest_dtype, params=rest, bytes=rest * DTYPE_BYTES[rest_dtype],
                      routed_expert_params=_experts(params) - q_experts, note=rest_note),
    ], f"{fmt} + {rest_dtype}"  # fmt: skip


def _experts(params: list[tuple[str, tuple[int, ...]]]) -> int:
    return sum(math.prod(s) for n, s in params if is_expert_tensor(n))
