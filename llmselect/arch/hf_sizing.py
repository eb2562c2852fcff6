"""Any config.json whose ``model_type`` transformers knows → ``ArchSpec`` + ``Sizing``.

The text decoder that generation loads is built with transformers' own class on the meta device
(shapes only) and counted parameter by parameter; vision/audio towers of a multimodal config
are counted from the full model and reported apart, and multi-token-prediction layers (which
transformers does not build) are estimated from the last decoder layer plus DeepSeek's fusion
projection and norms. The cache comes from ``cache_layout`` on the decoder's config values, the
stored bytes from ``stored``. No hand-written family is needed, and remote code is never run:
a ``model_type`` transformers lacks is one error naming it.

Imports torch and transformers lazily: only ``inspect``, ``perf estimate -m PATH``,
``catalog add`` and scripts read configs; ``recommend`` reads the stored ``Sizing``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from llmselect.arch.cache_layout import cache_groups
from llmselect.arch.params import is_sparse_block
from llmselect.arch.readers import rope_theta_of
from llmselect.arch.sizing import ParamPart, Sizing
from llmselect.arch.spec import ArchSpec, MLASpec, MoESpec
from llmselect.arch.stored import is_block_matrix, is_expert_tensor, stored_weights
from llmselect.errors import LLMSelectError, one_line

# Remote-code model types whose modules are a transformers class's, and why.
TWINS: dict[str, tuple[str, str]] = {
    "kimi_k2": ("deepseek_v3", "Kimi-K2/K2.5 remote code is DeepSeek-V3's modules"),
}
_EXPERT_KEYS = ("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts")
_TOP_K_KEYS = ("num_experts_per_tok", "moe_k", "top_k", "moe_topk", "top_k_experts")
_MTP_KEYS = ("num_nextn_predict_layers", "mtp_num_hidden_layers")
# the MLP inner width under each class's name (GPT-2's n_inner: null = 4 x hidden, in its module)
_INTER_KEYS = ("intermediate_size", "ffn_hidden_size", "ffn_dim", "n_inner")
_EPS_KEYS = ("rms_norm_eps", "layer_norm_eps", "layer_norm_epsilon", "norm_eps", "norm_epsilon")


def config_sha256(cfg: Mapping[str, Any]) -> str:
    """sha256 of a config's canonical JSON (sorted keys): the same numbers, the same hash."""
    text = json.dumps(cfg, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _first(cfg: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    return next((cfg[k] for k in keys if cfg.get(k) is not None), None)


# Sizes the file itself must state (in it or its text_config): transformers would otherwise
# fill its class defaults (a 7B Llama for {"model_type": "llama"}), a number nobody published.
REQUIRED = (
    ("hidden_size", "d_model", "n_embd"),
    ("num_hidden_layers", "num_layers", "n_layer"),
    ("num_attention_heads", "n_head"),
    ("vocab_size", "padded_vocab_size"),
)
# A size is named by a whole word of its key (``hidden_size``, ``head_dim``, ``kv_lora_rank``,
# ``sliding_window``) or a ``num_``/``n_`` prefix; ``vision_feature_layer`` (-1: the last) is not.
_SIZE_WORDS = frozenset({"size", "dim", "heads", "layers", "rank", "experts", "window"})


def _is_size(key: str) -> bool:
    return key.startswith(("num_", "n_")) or not _SIZE_WORDS.isdisjoint(key.split("_"))


def check_sizes(cfg: Mapping[str, Any], where: str) -> None:
    """Every required size stated and positive, no negative size anywhere (one error line)."""
    text = cfg.get("text_config") if isinstance(cfg.get("text_config"), Mapping) else {}
    check_not_negative(cfg, where)
    for keys in REQUIRED:
        value = _first(cfg, keys) if _first(cfg, keys) is not None else _first(text, keys)
        if value is None:
            raise LLMSelectError(f"{where}: {' / '.join(keys)} missing (the config must state it)")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise LLMSelectError(f"{where}: {keys[0]} must be a positive integer, got {value!r}")


def check_not_negative(cfg: Mapping[str, Any], where: str) -> None:
    """No size (a ``*_size``, ``*_dim``, ``num_*`` ... key) below zero, here or in text_config."""
    text = cfg.get("text_config") if isinstance(cfg.get("text_config"), Mapping) else {}
    for scope in (cfg, text):
        for key, value in scope.items():
            negative = isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0
            if negative and "token" not in key and _is_size(key):
                raise LLMSelectError(f"{where}: {key} is negative ({value})")


def _configs(cfg: Mapping[str, Any], where: str) -> tuple[Any, Any, str]:
    """(full transformers config, its text-decoder config, note on a twin class)."""
    import transformers
    from transformers import CONFIG_MAPPING

    mt = str(cfg.get("model_type") or "")
    twin_note = ""
    if mt in TWINS:
        mt, twin_note = TWINS[mt]
    if mt not in CONFIG_MAPPING:
        raise LLMSelectError(
            f"{where}: model_type {mt or '(none)'!r} is not known to transformers "
            f"{transformers.__version__} (needed: a transformers release with that class; "
            "remote code is never run)"
        )
    clean = {k: v for k, v in cfg.items() if k not in ("quantization_config", "auto_map")}
    clean["model_type"] = mt
    # special-token ids shape no tensor, and a class default can exceed a small vocabulary
    clean["pad_token_id"] = None
    if isinstance(clean.get("text_config"), Mapping):
        clean["text_config"] = {**clean["text_config"], "pad_token_id": None}
    try:
        config = CONFIG_MAPPING[mt].from_dict(clean)
        text = config.get_text_config(decoder=True)
    except Exception as exc:  # noqa: BLE001 - its validators raise their own classes; one line
        why = " ".join(str(exc).split())[:300]
        raise LLMSelectError(f"{where}: transformers rejects the config: {why}") from exc
    return config, text, twin_note


def _meta_model(config: Any, auto: str) -> Any:
    import torch
    import transformers

    cls = getattr(transformers, auto)
    with torch.device("meta"):
        return cls.from_config(config)


def _classify(name: str) -> str:
    if "embed" in name and ".layers." not in name:
        return "input_embedding"
    if name.startswith("lm_head") or name.endswith("lm_head.weight"):
        return "lm_head"
    module = name.rsplit(".", 2)[-2] if name.count(".") else name
    if "norm" in module:
        return "norms"
    mlp = (
        ".mlp.",
        ".feed_forward.",
        ".block_sparse_moe.",
        ".moe.",
        ".experts.",
        ".router.",
        ".shared_expert",
    )  # Gemma-4 keeps its router and experts beside the dense MLP
    if any(k in name for k in mlp):
        return "mlp"
    return "attention"


def _text_dict(text: Any) -> dict[str, Any]:
    """The decoder config's values, each also under transformers' common name where the class
    keeps its own (BLOOM's ``n_layer`` as ``num_hidden_layers``, GPT-2's ``n_embd`` as
    ``hidden_size``)."""
    d = text.to_dict()
    for common, own in getattr(text, "attribute_map", {}).items():
        if own in d and common not in d:
            d[common] = d[own]
    return d


def _layer_types(text: Any) -> tuple[list[str] | None, dict[int, dict[str, Any]], list[bool]]:
    types = getattr(text, "layer_types", None)
    per_layer = {int(k): dict(v) for k, v in (text.to_dict().get(
        "per_layer_config") or {}).items()}  # fmt: skip
    n = int(text.num_hidden_layers)
    try:
        modes = getattr(text, "kv_sharing_modes", None)
    except ValueError:
        modes = None
    if modes is not None:
        reuse = [m == "reuse" for m in modes]
    else:
        shared = int(getattr(text, "num_kv_shared_layers", 0) or 0)
        reuse = [i >= n - shared for i in range(n)]
    return (list(types) if types is not None else None), per_layer, reuse


def _moe_pattern(blocks: list[int], layers: int, where: str) -> tuple[int, int]:
    """``MoESpec``'s (dense_layers, layer_step) that give exactly the blocks transformers built
    with routed experts (DeepSeek's first_k_dense_replace, Qwen-MoE's decoder_sparse_step and
    mlp_only_layers, Llama-4's interleave step); another pattern is one error line."""
    if not blocks:
        raise LLMSelectError(f"{where}: experts are stated, but transformers built no block "
                             "with routed experts")  # fmt: skip
    step = blocks[1] - blocks[0] if len(blocks) > 1 else 1
    dense = blocks[0] - step + 1
    if dense < 0 or [i for i in range(layers) if is_sparse_block(i, dense, step)] != blocks:
        raise LLMSelectError(
            f"{where}: the mixture-of-experts blocks {blocks} are not leading dense blocks "
            "followed by every n-th block sparse (the only pattern the estimates model)"
        )
    return dense, step


def _arch(
    text_cfg: Mapping[str, Any],
    sizing: Sizing,
    source: str,
    names: frozenset[str],
    moe_blocks: list[int],
    mlp_width: int | None,
) -> ArchSpec:
    """The ``ArchSpec`` fields the estimator reads (activations, TP), from the text config;
    ``names``: the decoder's parameter names (QK-norm and QKV bias are modules it has);
    ``moe_blocks``: the blocks it built with routed experts; ``mlp_width``: the dense MLP's
    inner width in the built modules, where the config names none (BLOOM: 4 x hidden)."""
    d = text_cfg
    heads = int(d["num_attention_heads"])
    hidden = int(d["hidden_size"])
    kv = int(d.get("num_key_value_heads") or heads)
    experts = _first(d, _EXPERT_KEYS)
    inter = _first(d, _INTER_KEYS) or mlp_width
    if isinstance(inter, list):  # Gemma-3n: one width per layer
        inter = max(inter)
    moe = None
    if experts and _first(d, _TOP_K_KEYS):
        e_inter = d.get("moe_intermediate_size") or d.get("intermediate_size")
        shared_inter = d.get("shared_expert_intermediate_size")  # Qwen: one shared expert
        shared = (
            d.get("n_shared_experts") or d.get("num_shared_experts") or (1 if shared_inter else 0)
        )
        dense, step = _moe_pattern(moe_blocks, int(d["num_hidden_layers"]), source)
        moe = MoESpec(experts=int(experts), experts_per_token=int(_first(d, _TOP_K_KEYS)),
                      expert_intermediate=int(e_inter), shared_experts=int(shared),
                      shared_intermediate=int(shared_inter) if shared_inter else None,
                      dense_layers=dense, layer_step=step)  # fmt: skip
    # no dense MLP width stated (all-MoE models): the expert's; activations only read it
    inter = inter or (moe.expert_intermediate if moe else None)
    mla = None
    if d.get("kv_lora_rank"):
        mla = MLASpec(kv_lora_rank=int(d["kv_lora_rank"]), q_lora_rank=d.get("q_lora_rank"),
                      qk_nope_head_dim=int(d.get("qk_nope_head_dim") or 0),
                      qk_rope_head_dim=int(d["qk_rope_head_dim"]),
                      v_head_dim=int(d.get("v_head_dim") or 0))  # fmt: skip
    head_dim = d.get("head_dim")
    if kv and heads % kv:
        kv = 1  # an unusual split: activations only need a divisor of heads
    return ArchSpec(
        family="other", model_type=str(d.get("model_type")), hidden=hidden,
        layers=int(d["num_hidden_layers"]), heads=heads, kv_heads=kv,
        intermediate=int(inter or hidden),
        vocab=int(d["vocab_size"]), head_dim=int(head_dim) if head_dim else None,
        tied_embeddings=sizing.params_lm_head == 0, max_position=d.get("max_position_embeddings"),
        rope_theta=rope_theta_of(d), norm_eps=_first(d, _EPS_KEYS), moe=moe, mla=mla,
        qk_norm=any(n.endswith(("q_norm.weight", "q_layernorm.weight")) for n in names),
        qkv_bias=any(n.endswith("q_proj.bias") for n in names), source=source,
    )  # fmt: skip


def sizing_from_config(
    cfg: Mapping[str, Any], where: str, *, source: str | None = None
) -> tuple[ArchSpec, Sizing]:
    """(``ArchSpec``, ``Sizing``) of a config.json; one ``LLMSelectError`` line on a defect."""
    import transformers

    if not isinstance(cfg, Mapping):
        raise LLMSelectError(f"{where}: config is not a JSON object")
    check_sizes(cfg, where)
    config, text, twin_note = _configs(cfg, where)
    try:
        named, layers, class_name, full = _decoder(config, text)
    except Exception as exc:  # noqa: BLE001 - any build failure of a user's config: one line
        why = " ".join(str(exc).split())[:300]
        raise LLMSelectError(f"{where}: transformers cannot build the decoder: {why}") from exc
    text_cfg = _text_dict(text)
    experts = _first(text_cfg, _EXPERT_KEYS)
    top_k = _first(text_cfg, _TOP_K_KEYS)
    parts = dict.fromkeys(("input_embedding", "lm_head", "attention", "mlp", "norms"), 0)
    routed = linear = rows = 0
    shapes: list[tuple[str, tuple[int, ...]]] = []
    for name, p in named:  # tied weights appear once
        shape = tuple(p.shape)
        shapes.append((name, shape))
        parts[_classify(name)] += p.numel()
        if experts and is_expert_tensor(name):
            routed += p.numel()
        if is_block_matrix(name, shape, experts):
            linear += p.numel()
            rows += math.prod(shape[:-1])
    routed_active = routed * int(top_k) // int(experts) if routed and top_k else 0
    others = _other_parts(config, text, layers, cfg, text_cfg, full)
    types, per_layer, reuse = _layer_types(text)
    groups = cache_groups(text_cfg, where, layer_types=types, per_layer=per_layer,
                          reuses_kv=reuse)  # fmt: skip
    stored, stored_summary = stored_weights(shapes, cfg, int(experts) if experts else None)
    cls = class_name + (f" ({twin_note})" if twin_note else "")
    names = frozenset(name for name, _ in shapes)
    sparse = _expert_blocks(layers)
    built = (names, sparse, _mlp_width(layers, sparse, int(text_cfg["hidden_size"])))
    return _assemble(cfg, where, source, text_cfg, built, dict(
        model_type=str(cfg.get("model_type")), model_class=cls,
        counted_with=f"transformers {transformers.__version__}, meta device",
        config_sha256=config_sha256(cfg), config_source=source or where,
        params_total=sum(parts.values()), params_input_embedding=parts["input_embedding"],
        params_lm_head=parts["lm_head"], params_attention=parts["attention"],
        params_mlp=parts["mlp"], params_norms=parts["norms"], params_routed_experts=routed,
        params_routed_active=routed_active, params_block_linear=linear, block_linear_rows=rows,
        other_parts=others, cache=groups,
        cache_note="numbers per token and layer; a sliding window keeps `window` tokens "
        "(transformers' dynamic cache keeps window - 1 between steps)",
        stored=stored, stored_dtype=stored_summary,
    ))  # fmt: skip


def _assemble(
    cfg: Mapping[str, Any],
    where: str,
    source: str | None,
    text_cfg: dict[str, Any],
    built: tuple[frozenset[str], list[int], int | None],
    fields: dict[str, Any],
) -> tuple[ArchSpec, Sizing]:
    """Validate the numbers into ``Sizing`` and ``ArchSpec`` (a contradiction: one line);
    ``built``: the decoder's parameter names, its blocks with routed experts, its MLP width."""
    from pydantic import ValidationError

    try:
        sizing = Sizing(**fields)
        where_from = f"{source or where} (model_type {cfg.get('model_type')})"
        arch = _arch(text_cfg, sizing, where_from, *built)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise LLMSelectError(f"{where}: the counted numbers do not validate: "
                             f"{first['msg']}") from exc  # fmt: skip
    return arch, sizing


_TEXT_CHILDREN = ("language_model", "text_model", "lm_head")


def _towers(full: Any) -> list[tuple[str, Any]]:
    """The top-level children of a multimodal model that are not its text decoder."""
    base = getattr(full, "model", full)
    return [(n, c) for n, c in base.named_children() if n not in _TEXT_CHILDREN]


def _expert_blocks(layers: Any) -> list[int]:
    """Indices of the decoder blocks holding routed experts (none without a layer list)."""
    return [
        i
        for i, block in enumerate(layers if layers is not None else [])
        if any(is_expert_tensor(f".{name}") for name, _ in block.named_parameters())
    ]


def _mlp_width(layers: Any, sparse: list[int], hidden: int) -> int | None:
    """Inner width of the first dense block's MLP (not one of ``sparse``): the side of its
    matrices that is not ``hidden`` (BLOOM's dense_h_to_4h, GPT-2's c_fc); None without one."""
    dense = (b for i, b in enumerate(layers if layers is not None else []) if i not in sparse)
    block = next(dense, None)
    named = block.named_parameters() if block is not None else []
    sides = [s for n, p in named if p.dim() == 2 and _classify(f".{n}") == "mlp" for s in p.shape]
    inner = [s for s in sides if s != hidden]
    return min(inner) if inner else (hidden if sides else None)


def _layer_list(model: Any, n_layers: int) -> Any:
    """The decoder's block list, wherever the class keeps it (``model.layers``, BLOOM's and
    GPT-2's ``transformer.h``, GPT-NeoX's ``gpt_neox.layers``, OPT's ``decoder.layers``): the
    first module list of the base model with one entry per layer."""
    import torch

    lists = (m for m in model.base_model.modules() if isinstance(m, torch.nn.ModuleList))
    return next((m for m in lists if len(m) == n_layers), None)


def _decoder(config: Any, text: Any) -> tuple[list[tuple[str, Any]], Any, str, Any]:
    """(parameters of the text decoder generation loads, its layer list, class name, the full
    multimodal model when it had to be built). transformers maps most text configs to a causal
    LM; where it does not (Qwen3-VL, Step-3.7), the image-text model is built and its towers
    are left out."""
    try:
        model = _meta_model(text, "AutoModelForCausalLM")
        layers = _layer_list(model, int(text.num_hidden_layers))
        return list(model.named_parameters()), layers, type(model).__name__, None
    except ValueError:
        if config is text:
            raise
    full = _meta_model(config, "AutoModelForImageTextToText")
    towers = {f"model.{n}." for n, _ in _towers(full)}
    named = [(n, p) for n, p in full.named_parameters() if not n.startswith(tuple(towers))]
    lm = getattr(full.model, "language_model", None)
    return named, getattr(lm, "layers", None), f"{type(full).__name__} (text part)", full


def _other_parts(
    config: Any,
    text: Any,
    layers: Any,
    cfg: Mapping[str, Any],
    text_cfg: Mapping[str, Any],
    full: Any = None,
) -> list[ParamPart]:
    """Towers of a multimodal config and multi-token-prediction layers, each on its own line;
    ``text_cfg``: the decoder config's values (``_text_dict``)."""
    out: list[ParamPart] = []
    if config is not text and full is None:
        try:
            full = _meta_model(config, "AutoModel")
        except ImportError as exc:  # a tower's optional library (Gemma-3n's vision: timm)
            why = one_line(exc).split(". ")[0][:200]
            out.append(ParamPart(name="vision/audio towers", params=None, kind="not counted",
                                 note=f"transformers cannot build them here: {why}"))  # fmt: skip
    if config is not text and full is not None:
        for name, child in _towers(full):
            n = sum(p.numel() for p in child.parameters())
            if n:
                note = f"{type(child).__name__}, not in the text decoder"
                out.append(ParamPart(name=name, params=n, kind="counted", note=note))
    # only what the file states: a class default (DeepSeek-V3's 1) is not the checkpoint's
    nested = cfg.get("text_config") if isinstance(cfg.get("text_config"), Mapping) else {}
    mtp = _first(cfg, _MTP_KEYS) or _first(nested, _MTP_KEYS)
    if mtp and layers is not None and len(layers):
        d = int(text_cfg["hidden_size"])
        per = sum(p.numel() for p in layers[-1].parameters()) + 2 * d * d + 3 * d
        out.append(ParamPart(
            name="mtp_layers", params=int(mtp) * per, kind="estimated",
            note=f"{mtp} multi-token-prediction layer(s), not built by transformers: the last "
            "decoder layer + fusion projection (2D x D) + 3 norms each; checkpoints may also "
            "store their own embedding/head copies",
        ))  # fmt: skip
    return out
