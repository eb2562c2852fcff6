"""Architecture numbers (``ArchSpec``) from a checkpoint's own files: ``config.json`` or GGUF
metadata. Nothing is filled in from elsewhere: a number the file does not state is an error.

Each family reads its own configs (``Family.from_hf_config`` for the ``model_type`` values it
declares) and names the GGUF architectures it owns, so a plugin family teaches the checkpoint
readers by registering itself; this module only dispatches.

Both readers also return the values the reference implementation needs beyond ``ArchSpec``
(``rope_scaling``) so a caller can refuse what the reference decoders do not implement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from llmselect.arch.family import Family
from llmselect.arch.spec import ArchSpec
from llmselect.errors import LLMSelectError, one_line
from llmselect.registry import FAMILIES


def need(cfg: Mapping[str, Any], where: str, *keys: str) -> Any:
    """The first of ``keys`` that ``cfg`` states (not null), or a one-line error."""
    for key in keys:
        if cfg.get(key) is not None:
            return cfg[key]
    raise LLMSelectError(f"{where}: {' / '.join(keys)} missing")


def need_ints(
    cfg: Mapping[str, Any], where: str, keys: Mapping[str, tuple[str, ...]]
) -> dict[str, int]:
    """Each ``ArchSpec`` number of ``keys`` (number → the config keys that may state it, read
    in order, each with ``need``) as an int."""
    return {number: int(need(cfg, where, *names)) for number, names in keys.items()}


def model_type_of(cfg: Mapping[str, Any]) -> str:
    """A config's ``model_type``, lower case ('' when it states none)."""
    return str(cfg.get("model_type") or "").lower()


def hf_source(cfg: Mapping[str, Any], where: str) -> str:
    """``ArchSpec.source`` of numbers read from the config.json at ``where``."""
    return f"{where} (model_type {model_type_of(cfg)})"


def _families() -> list[Family]:
    return [FAMILIES.load(name) for name in FAMILIES.names()]


def reads_model_type(cfg: Mapping[str, Any]) -> bool:
    """Whether a registered family reads this config's ``model_type`` (else the generic
    transformers path, ``llmselect.arch.hf_sizing``, sizes it)."""
    mt = model_type_of(cfg)
    return any(mt in f.hf_config_types for f in _families() if f.from_hf_config)


def reads_gguf_architecture(name: str) -> bool:
    """Whether a registered family owns this GGUF ``general.architecture`` (else the generic
    reader, ``llmselect.arch.gguf_sizing``, sizes it)."""
    return any(name in f.gguf_architectures for f in _families())


def _why(exc: Exception) -> str:
    """One line for a rejected number: pydantic's first message (its text spans lines)."""
    if isinstance(exc, ValidationError):
        return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
    return one_line(exc)


def arch_from_hf_config(cfg: Mapping[str, Any], where: str) -> ArchSpec:
    """``ArchSpec`` from a transformers ``config.json``, read by the family that declares its
    ``model_type`` (``Family.hf_config_types``)."""
    mt = model_type_of(cfg)
    readers = {
        mt: f.from_hf_config for f in _families() if f.from_hf_config for mt in f.hf_config_types
    }
    if mt not in readers:
        raise LLMSelectError(
            f"{where}: model_type {mt or '(none)'!r} is not supported "
            f"(supported: {', '.join(sorted(readers))})"
        )
    try:
        return readers[mt](cfg, where)
    except (TypeError, ValueError) as exc:
        raise LLMSelectError(f"{where}: architecture numbers do not fit: {_why(exc)}") from exc


# RoPE keys that do not change the rotation's shape (a ``rope_parameters`` holding only these
# is plain RoPE even where it names no ``rope_type``).
_PLAIN_ROPE_KEYS = frozenset({"rope_theta", "partial_rotary_factor", "rope_type", "type"})


def _rope_block(cfg: Mapping[str, Any]) -> dict[str, Any] | None:
    """The config's RoPE settings: ``rope_scaling`` (transformers 4) or ``rope_parameters``
    (transformers 5, which writes theta and scaling there), whichever it states."""
    for key in ("rope_scaling", "rope_parameters"):
        block = cfg.get(key)
        if isinstance(block, Mapping) and block:
            return dict(block)
    return None


def rope_theta_of(cfg: Mapping[str, Any]) -> float | None:
    """RoPE base from ``rope_theta`` or, as transformers 5 writes it, ``rope_parameters``
    (None when the config states neither)."""
    if cfg.get("rope_theta") is not None:
        return float(cfg["rope_theta"])
    params = cfg.get("rope_parameters")
    if isinstance(params, Mapping) and isinstance(params.get("full_attention"), Mapping):
        params = params["full_attention"]  # one block per layer type (Gemma-3/4): the global one
    if isinstance(params, Mapping) and params.get("rope_theta") is not None:
        return float(params["rope_theta"])
    return None


def config_context(cfg: Mapping[str, Any]) -> tuple[int | None, str]:
    """(context length, the key that states it) of a config.json: the config's own
    ``max_position_embeddings`` / ``seq_length`` / ``n_positions``, else its ``text_config``'s
    (a multimodal config states it for its decoder); (None, why) when neither does."""
    text = cfg.get("text_config")
    for prefix, scope in (("", cfg), ("text_config.", text if isinstance(text, Mapping) else {})):
        for key in ("max_position_embeddings", "seq_length", "n_positions"):
            if scope.get(key) is not None:
                return int(scope[key]), f"config.json {prefix}{key}"
    return None, "not stated in config.json"


def rope_scaling_of(cfg: Mapping[str, Any]) -> dict[str, Any] | None:
    """The checkpoint's RoPE scaling (None when it uses plain RoPE), from ``rope_scaling`` or
    transformers 5's ``rope_parameters``."""
    scaling = _rope_block(cfg)
    if not scaling:
        return None
    kind = str(scaling.get("rope_type", scaling.get("type", "")))
    if kind == "default" or (not kind and set(scaling) <= _PLAIN_ROPE_KEYS):
        return None
    return scaling


def arch_from_gguf(gguf: Any) -> ArchSpec:
    """``ArchSpec`` from GGUF metadata and tensor shapes (``gguf`` is a ``GGUFFile``), for the
    family that declares its ``general.architecture`` (``Family.gguf_architectures``). The
    numbers are llama.cpp's own keys; what differs between layouts comes from the traits."""
    name = gguf.architecture
    where = str(gguf.path.name)
    owners = {a: f for f in _families() for a in f.gguf_architectures}
    if name not in owners:
        raise LLMSelectError(
            f"{where}: GGUF architecture {name or '(none)'!r} is not supported "
            f"(supported: {', '.join(sorted(owners))})"
        )
    family = owners[name]
    md = {k.removeprefix(name + "."): v for k, v in gguf.metadata.items() if k.startswith(name)}
    shapes = {t.name: t.shape for t in gguf.tensors}
    if "token_embd.weight" not in shapes:
        raise LLMSelectError(f"{where}: no token_embd.weight tensor")
    hidden, vocab = shapes["token_embd.weight"]
    heads = int(need(md, where, "attention.head_count"))
    kv_heads = int(md.get("attention.head_count_kv") or heads)
    head_dim = int(md.get("attention.key_length") or hidden // heads)
    rope_dims = md.get("rope.dimension_count")
    rotary = family.traits.position == "rope"
    positional = family.traits.position != "learned"  # a learned table has no RoPE base
    eps = md.get("attention.layer_norm_rms_epsilon", md.get("attention.layer_norm_epsilon"))
    try:
        return ArchSpec(
            family=family.name,
            hidden=int(hidden),
            layers=int(need(md, where, "block_count")),
            heads=heads,
            kv_heads=kv_heads,
            intermediate=int(need(md, where, "feed_forward_length")),
            vocab=int(vocab),
            head_dim=head_dim if head_dim != hidden // heads else None,
            tied_embeddings="output.weight" not in shapes,
            max_position=md.get("context_length"),
            rope_theta=float(md.get("rope.freq_base", 10000.0)) if positional else None,
            rope_fraction=(int(rope_dims) / head_dim) if rope_dims and rotary else 1.0,
            qkv_bias="blk.0.attn_q.bias" in shapes or "blk.0.attn_qkv.bias" in shapes,
            mlp_bias="blk.0.ffn_up.bias" in shapes,
            norm_eps=float(eps) if eps is not None else 1e-5,
            source=f"GGUF metadata of {where} (general.architecture {name})",
        )
    except (TypeError, ValueError) as exc:
        raise LLMSelectError(f"{where}: architecture numbers do not fit: {_why(exc)}") from exc


def gguf_rope_scaling(gguf: Any) -> dict[str, Any] | None:
    """RoPE scaling stated in GGUF metadata (None for plain RoPE)."""
    kind = gguf.arch_key("rope.scaling.type")
    if not kind or kind == "none":
        return None
    return {"type": kind, "factor": gguf.arch_key("rope.scaling.factor")}
