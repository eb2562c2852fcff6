"""Weights as a checkpoint stores them: bytes from the config's dtype or ``quantization_config``.

Pure arithmetic on (parameter name, shape) pairs, so it serves a meta-device model's parameters
and a safetensors index alike. Formats, with what each stores per matrix of ``n`` weights:

* plain (no ``quantization_config``): ``torch_dtype`` / ``dtype`` bytes per weight;
* ``fp8`` with ``weight_block_size`` (DeepSeek-V3.x, Kimi-K2, GLM-5, Qwen FP8): ``n`` bytes
  plus one fp32 scale per block (``weight_scale_inv``; one byte with ``scale_fmt: ue8m0``),
  the layout transformers' ``FP8Linear`` / ``FP8Experts`` load; ``expert_dtype: fp4``
  (DeepSeek-V4, in the quantization config or beside it) stores the routed experts as two
  4-bit values per byte with one scale per 32 values of a row;
* ``mxfp4`` (gpt-oss): the MoE experts' matrices in 4-bit values with one uint8 exponent per
  32 (4.25 bits per weight, OpenAI's model card), the rest (their biases too) in ``dtype``;
* ``modelopt`` (NVIDIA): NVFP4 = 4-bit values, an fp8 scale per ``group_size`` (16) and fp32
  per-tensor scales (``weight_scale_2``, plus ``input_scale`` when activations are quantized);
  FP8 = one byte plus those per-tensor scales; ``MIXED_PRECISION`` names the algorithm of each
  layer (``quantized_layers``). A folder's ``hf_quant_config.json`` counts as this config;
* ``awq`` / ``gptq``: ``bits``-wide values packed in int32, an fp16 scale and a packed zero
  point per ``group_size`` weights of each output column; GPTQ also stores ``g_idx`` (one int32
  per input feature).

What is quantized: the matrices inside the decoder blocks (routed experts included), never the
embeddings, the LM head, norms or routers, and nothing the config's ``modules_to_not_convert`` /
``ignore`` / ``exclude_modules`` names (names are compared from their ``layers.N`` part on, so
``model.language_model.layers.0`` and ``model.layers.0`` are the same module). A method or an
algorithm outside these is reported as not sized (empty list), never guessed.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from llmselect.arch.sizing import StoredWeights

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}
Shape = tuple[int, ...]
# (matrices, rows, cols) → bytes of those matrices in a format
MatrixBytes = Callable[[int, int, int], int]


def stored_dtype_name(cfg: Mapping[str, Any]) -> str | None:
    """The config's parameter dtype (``torch_dtype`` or transformers 5's ``dtype``)."""
    for key in ("torch_dtype", "dtype"):
        value = cfg.get(key)
        if isinstance(value, str) and value in DTYPE_BYTES:
            return value
    text = cfg.get("text_config")
    return stored_dtype_name(text) if isinstance(text, Mapping) else None


def quantized_label(stored: Iterable[StoredWeights]) -> str | None:
    """The precision a quantized checkpoint runs at, named by its formats (``mxfp4 (as
    stored)``); None when every weight is in a plain float dtype or the layout is unknown (an
    empty list): such weights load at any precision."""
    formats = [s.format.split(" ")[0] for s in stored if s.params and s.format not in DTYPE_BYTES]
    return f"{'+'.join(dict.fromkeys(formats))} (as stored)" if formats else None


def canonical(name: str) -> str:
    """A module name from its ``layers.N`` part on (wrappers such as ``language_model`` vary
    between a checkpoint's names and transformers' modules)."""
    i = name.find("layers.")
    return name[i:] if i >= 0 else name


class _Skip:
    """The modules a quantization config leaves unquantized, matched fast (GLM-5 lists ~700):
    exact names as a set (a module or any parent), wildcards as one regex, names outside the
    blocks (``lm_head``) as substrings."""

    def __init__(self, q: Mapping[str, Any]) -> None:
        names: list[str] = []
        for key in ("modules_to_not_convert", "ignore", "exclude_modules", "ignored_layers"):
            value = q.get(key) or []
            names += [str(v).removeprefix("re:") for v in value] if isinstance(value, list) else []
        layered = [canonical(p) for p in names if "layers." in p]
        self.exact = {p for p in layered if not any(c in p for c in "*?[")}
        wild = [p for p in layered if p not in self.exact]
        self.regex = (
            re.compile("|".join(f"(?:{fnmatch.translate(p)[:-2]}(?:\\..*)?)\\Z" for p in wild))
            if wild else None
        )  # fmt: skip
        self.plain = [p for p in names if "layers." not in p]

    def __call__(self, module: str) -> bool:
        mod = canonical(module)
        parts = mod.split(".")
        if any(".".join(parts[:i]) in self.exact for i in range(1, len(parts) + 1)):
            return True
        if self.regex is not None and self.regex.match(mod):
            return True
        return any(p in module for p in self.plain)


def is_block_matrix(name: str, shape: Shape, experts: int | None) -> bool:
    """A matrix inside a decoder block that quantization touches (not a router or norm)."""
    if len(shape) < 2 or ".layers." not in name or "norm" in name or "embed" in name:
        return False
    leaf = name.rsplit(".", 2)
    module = leaf[-2] if len(leaf) >= 2 else ""
    return not ("router" in name or (module == "gate" and experts and shape[0] == experts))


def is_expert_tensor(name: str) -> bool:
    """A routed expert's weights (fused ``experts.gate_up_proj`` or ``experts.N.w1``)."""
    return ".experts." in name and "shared" not in name


def _matrices(shape: Shape) -> tuple[int, int, int]:
    """(matrices, rows, cols) of a 2-D weight or a fused (experts, rows, cols) tensor."""
    if len(shape) == 2:
        return 1, shape[0], shape[1]
    return math.prod(shape[:-2]), shape[-2], shape[-1]


def _module(name: str) -> str:
    """The module a parameter belongs to (``...q_proj.weight`` → ``...q_proj``; a fused expert
    tensor ``...experts.gate_up_proj`` → ``...experts``)."""
    return name.rsplit(".", 1)[0]


def _fp8_blocks(br: int, bc: int, scale: int = 4) -> MatrixBytes:
    return lambda m, r, c: m * (r * c + scale * math.ceil(r / br) * math.ceil(c / bc))


def _fp4_rows(group: int, scale: int) -> MatrixBytes:
    """DeepSeek-V4's FP4 experts: two e2m1 values per byte, one scale per ``group`` values of
    each row (transformers' ``FP8Experts`` with ``expert_dtype="fp4"``)."""
    return lambda m, r, c: m * (r * c // 2 + scale * r * math.ceil(c / group))


def _nvfp4(group: int, tensor_scales: int) -> MatrixBytes:
    return lambda m, r, c: m * (r * c // 2 + math.ceil(r * c / group) + 4 * tensor_scales)


def _int_packed(bits: int, group: int, g_idx: bool) -> MatrixBytes:
    def size(m: int, r: int, c: int) -> int:
        groups = math.ceil(r * c / group)
        per = r * c * bits // 8 + groups * 2 + groups * bits // 8
        return m * (per + (c * 4 if g_idx else 0))  # g_idx: int32 per input feature (cols)

    return size


MODELOPT_ALGOS: dict[str, tuple[str, MatrixBytes]] = {
    "NVFP4": ("nvfp4 (16-value groups, fp8 scales, fp32 tensor scales)", _nvfp4(16, 2)),
    "W4A16_NVFP4": ("nvfp4 weights only (16-value groups, fp8 scales)", _nvfp4(16, 1)),
    "FP8": ("fp8_e4m3 (fp32 tensor scales)", lambda m, r, c: m * (r * c + 8)),
}


Chooser = Callable[[str, Shape], "tuple[str, MatrixBytes] | None"]


def _plan(q: Mapping[str, Any]) -> tuple[Chooser, bool] | str:
    """(chooser of each matrix's format, whether the config lists its layers explicitly), or
    why the config is not sized. An explicit list (ModelOpt ``quantized_layers``) is the
    authority on every matrix, the LM head included; otherwise only block matrices qualify."""
    method = str(q.get("quant_method", "")).lower()
    algo = str(q.get("quant_algo", "")).upper()
    if method == "fp8" and q.get("weight_block_size"):
        br, bc = (int(x) for x in q["weight_block_size"])
        ue8m0 = q.get("scale_fmt") == "ue8m0"  # 1-byte power-of-two scales (DeepSeek-V4)
        scales, scale = ("ue8m0", 1) if ue8m0 else ("fp32", 4)
        fmt = (f"fp8_e4m3 ({br}x{bc} blocks, {scales} scales)", _fp8_blocks(br, bc, scale))
        if q.get("expert_dtype") != "fp4":
            return (lambda name, shape: fmt), False
        fp4 = (f"fp4_e2m1 experts (32-value row groups, {scales} scales)", _fp4_rows(32, scale))
        return (lambda name, shape: fp4 if is_expert_tensor(name) else fmt), False
    if method == "mxfp4":
        mx = ("mxfp4 (32-value blocks, uint8 scales)",
              lambda m, r, c: m * (r * c // 2 + r * c // 32))  # fmt: skip
        # the expert matrices only: their biases stay in the config's dtype (gpt-oss's files
        # hold ``experts.*_bias`` in bf16 beside the ``_blocks`` and ``_scales``)
        return (lambda name, shape: mx if is_expert_tensor(name) and not name.endswith("bias")
                else None), False  # fmt: skip
    if method == "modelopt" and algo in MODELOPT_ALGOS:
        one = MODELOPT_ALGOS[algo]
        if algo == "NVFP4" and q.get("group_size"):
            one = (one[0], _nvfp4(int(q["group_size"]), 2))
        return (lambda name, shape: one), False
    if method == "modelopt" and algo == "MIXED_PRECISION":
        layers = {canonical(k): v for k, v in (q.get("quantized_layers") or {}).items()}
        unknown = {str(v.get("quant_algo")) for v in layers.values()} - set(MODELOPT_ALGOS)
        if unknown:
            return f"modelopt layer algorithms {sorted(unknown)} are not sized"

        def choose(name: str, shape: Shape) -> tuple[str, MatrixBytes] | None:
            mod = canonical(_module(name))
            hit = layers.get(mod) or next(
                (v for k, v in layers.items() if k.startswith(mod + ".")), None
            )
            return MODELOPT_ALGOS[str(hit["quant_algo"])] if hit else None

        return choose, True
    if method in ("awq", "gptq"):
        bits = int(q.get("bits") or q.get("w_bit") or 0)
        group = int(q.get("group_size") or q.get("q_group_size") or 0)
        if bits not in (2, 3, 4, 8) or group <= 0:
            return f"{method}: bits/group_size not stated"
        fmt = (f"int{bits} {method} (group {group}, fp16 scales, packed zeros)",
               _int_packed(bits, group, method == "gptq"))  # fmt: skip
        return (lambda name, shape: fmt), False
    return f"quant_method {method or '(none)'!r} {algo} is not sized".replace("  ", " ").strip()


def stored_weights(
    params: Iterable[tuple[str, Shape]],
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
    if cfg.get("expert_dtype") is not None and "expert_dtype" not in q:
        q = {**q, "expert_dtype": cfg["expert_dtype"]}  # beside it (DeepSeek-V4), as transformers
    plan = _plan(q)
    if isinstance(plan, str):
        return [], plan
    choose, explicit = plan
    rest_dtype = base or "bfloat16"
    rest_note = None if base else "the config states no dtype for unquantized tensors: bf16"
    skipped = _Skip(q)
    by_format: dict[str, list[int]] = {}  # label → [params, bytes, routed expert params]
    rest: list[tuple[str, Shape]] = []
    for name, shape in params:
        listed = explicit and len(shape) >= 2 and "norm" not in name
        block = is_block_matrix(name, shape, experts) and not skipped(_module(name))
        fmt = choose(name, shape) if listed or block else None
        if fmt is None:
            rest.append((name, shape))
            continue
        label, size = fmt
        row = by_format.setdefault(label, [0, 0, 0])
        row[0] += math.prod(shape)
        row[1] += size(*_matrices(shape))
        row[2] += math.prod(shape) if is_expert_tensor(name) else 0
    n_rest = sum(math.prod(s) for _, s in rest)
    out = [StoredWeights(format=label, params=p, bytes=b, routed_expert_params=e)
           for label, (p, b, e) in by_format.items()]  # fmt: skip
    notes = [n for n in (rest_note, _unquantized_blocks(rest, experts)) if n]
    out.append(StoredWeights(format=rest_dtype, params=n_rest,
                             bytes=n_rest * DTYPE_BYTES[rest_dtype],
                             routed_expert_params=_experts(rest),
                             note="; ".join(notes) or None))  # fmt: skip
    return out, " + ".join(s.format for s in out if s.params)


def _experts(params: list[tuple[str, Shape]]) -> int:
    return sum(math.prod(s) for n, s in params if is_expert_tensor(n))


def _unquantized_blocks(rest: list[tuple[str, Shape]], experts: int | None) -> str | None:
    """Which decoder-block matrices stay unquantized (the config's ignore list, or matrices its
    layer list or method leaves out), by module kind; None when every one is quantized."""
    kinds: dict[str, int] = {}
    for name, shape in rest:
        if is_block_matrix(name, shape, experts):
            kind = _module(canonical(name)).split(".")[2:3] or ["(block)"]
            kinds[kind[0]] = kinds.get(kind[0], 0) + math.prod(shape)
    if not kinds:
        return None
    parts = ", ".join(f"{k} {n:,}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
    return (f"decoder-block matrices left unquantized: {parts} weights; the rest of this "
            "format is embeddings, the LM head, norms, routers and biases")  # fmt: skip


def share_lines(stored: Iterable[StoredWeights]) -> list[str]:
    """One line per stored format: its weights, their share of all weights, bytes with scales
    and bits per weight (computed from the config; GiB = 2**30 bytes)."""
    stored = [s for s in stored if s.params]
    total = sum(s.params for s in stored)
    return [
        f"{s.format}: {s.params:,} weights ({100 * s.params / total:.1f} % of the weights), "
        f"{s.bytes / 2**30:.2f} GiB ({8 * s.bytes / s.params:.2f} bits per weight)"
        + (f"; {s.note}" if s.note else "")
        for s in stored
    ]
