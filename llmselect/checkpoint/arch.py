"""Architecture numbers (``ArchSpec``) from a checkpoint's own files: ``config.json`` or GGUF
metadata. Nothing is filled in from elsewhere: a number the file does not state is an error.

Both readers also return the values the reference implementation needs beyond ``ArchSpec``
(``rope_scaling``) so a caller can refuse what the reference decoders do not implement.
"""

from __future__ import annotations

from typing import Any

from llmselect.catalog import ArchSpec
from llmselect.errors import LLMSelectError

# transformers model_type → reference family (LLaMA-style decoders share one implementation).
LLAMA_MODEL_TYPES = frozenset({"llama", "mistral", "qwen2", "yi", "internlm2", "deepseek"})
# GGUF general.architecture → reference family.
GGUF_FAMILIES = {
    "llama": "llama",
    "qwen2": "llama",
    "chatglm": "glm",
    "bloom": "bloom",
    "gpt2": "gpt2",
}


def _need(cfg: dict[str, Any], where: str, *keys: str) -> Any:
    for key in keys:
        if cfg.get(key) is not None:
            return cfg[key]
    raise LLMSelectError(f"{where}: {' / '.join(keys)} missing")


def arch_from_hf_config(cfg: dict[str, Any], where: str) -> ArchSpec:
    """``ArchSpec`` from a transformers ``config.json`` (llama-style, GPT-2, BLOOM, GLM)."""
    mt = str(cfg.get("model_type") or "").lower()
    src = f"{where} (model_type {mt})"
    try:
        if mt in LLAMA_MODEL_TYPES:
            hidden = int(_need(cfg, where, "hidden_size"))
            heads = int(_need(cfg, where, "num_attention_heads"))
            return ArchSpec(
                family="llama",
                hidden=hidden,
                layers=int(_need(cfg, where, "num_hidden_layers")),
                heads=heads,
                kv_heads=int(cfg.get("num_key_value_heads") or heads),
                intermediate=int(_need(cfg, where, "intermediate_size")),
                vocab=int(_need(cfg, where, "vocab_size")),
                head_dim=cfg.get("head_dim") if cfg.get("head_dim") != hidden // heads else None,
                tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
                max_position=cfg.get("max_position_embeddings"),
                rope_theta=float(cfg.get("rope_theta", 10000.0)),
                qkv_bias=mt == "qwen2" or bool(cfg.get("attention_bias", False)),
                mlp_bias=bool(cfg.get("mlp_bias", False)),
                sliding_window=cfg.get("sliding_window")
                if cfg.get("use_sliding_window", mt == "mistral")
                else None,
                norm_eps=float(cfg.get("rms_norm_eps", 1e-6)),
                source=src,
            )
        if mt == "gpt2":
            hidden = int(_need(cfg, where, "n_embd"))
            return ArchSpec(
                family="gpt2",
                hidden=hidden,
                layers=int(_need(cfg, where, "n_layer")),
                heads=int(_need(cfg, where, "n_head")),
                kv_heads=int(_need(cfg, where, "n_head")),
                intermediate=int(cfg.get("n_inner") or 4 * hidden),
                vocab=int(_need(cfg, where, "vocab_size")),
                tied_embeddings=True,
                max_position=int(_need(cfg, where, "n_positions")),
                qkv_bias=True,
                mlp_bias=True,
                norm_eps=float(cfg.get("layer_norm_epsilon", 1e-5)),
                source=src,
            )
        if mt == "bloom":
            hidden = int(_need(cfg, where, "hidden_size", "n_embed"))
            heads = int(_need(cfg, where, "n_head", "num_attention_heads"))
            return ArchSpec(
                family="bloom",
                hidden=hidden,
                layers=int(_need(cfg, where, "n_layer", "num_hidden_layers")),
                heads=heads,
                kv_heads=heads,
                intermediate=4 * hidden,
                vocab=int(_need(cfg, where, "vocab_size")),
                tied_embeddings=True,
                qkv_bias=True,
                mlp_bias=True,
                norm_eps=float(cfg.get("layer_norm_epsilon", 1e-5)),
                source=src,
            )
        if mt == "chatglm":
            heads = int(_need(cfg, where, "num_attention_heads"))
            mqa = bool(cfg.get("multi_query_attention", False))
            return ArchSpec(
                family="glm",
                hidden=int(_need(cfg, where, "hidden_size")),
                layers=int(_need(cfg, where, "num_layers")),
                heads=heads,
                kv_heads=int(cfg.get("multi_query_group_num", 1)) if mqa else heads,
                intermediate=int(_need(cfg, where, "ffn_hidden_size")),
                vocab=int(_need(cfg, where, "padded_vocab_size")),
                max_position=cfg.get("seq_length"),
                rope_theta=10000.0 * float(cfg.get("rope_ratio", 1.0)),
                rope_fraction=0.5,
                qkv_bias=bool(cfg.get("add_qkv_bias", False)),
                norm_eps=float(cfg.get("layernorm_epsilon", 1e-5)),
                source=src,
            )
    except (TypeError, ValueError) as exc:
        raise LLMSelectError(f"{where}: architecture numbers do not fit: {exc}") from exc
    raise LLMSelectError(
        f"{where}: model_type {mt or '(none)'!r} is not supported "
        f"(supported: {', '.join(sorted(LLAMA_MODEL_TYPES | {'gpt2', 'bloom', 'chatglm'}))})"
    )


def rope_scaling_of(cfg: dict[str, Any]) -> dict[str, Any] | None:
    """The checkpoint's RoPE scaling (None when it uses plain RoPE)."""
    scaling = cfg.get("rope_scaling")
    if not scaling or str(scaling.get("rope_type", scaling.get("type", ""))) == "default":
        return None
    return dict(scaling)


def arch_from_gguf(gguf: Any) -> ArchSpec:
    """``ArchSpec`` from GGUF metadata and tensor shapes (``gguf`` is a ``GGUFFile``)."""
    name = gguf.architecture
    where = str(gguf.path.name)
    if name not in GGUF_FAMILIES:
        raise LLMSelectError(
            f"{where}: GGUF architecture {name or '(none)'!r} is not supported "
            f"(supported: {', '.join(GGUF_FAMILIES)})"
        )
    family = GGUF_FAMILIES[name]
    md = {k.removeprefix(name + "."): v for k, v in gguf.metadata.items() if k.startswith(name)}
    shapes = {t.name: t.shape for t in gguf.tensors}
    if "token_embd.weight" not in shapes:
        raise LLMSelectError(f"{where}: no token_embd.weight tensor")
    hidden, vocab = shapes["token_embd.weight"]
    heads = int(_need(md, where, "attention.head_count"))
    kv_heads = int(md.get("attention.head_count_kv") or heads)
    head_dim = int(md.get("attention.key_length") or hidden // heads)
    rope_dims = md.get("rope.dimension_count")
    eps = md.get("attention.layer_norm_rms_epsilon", md.get("attention.layer_norm_epsilon"))
    try:
        return ArchSpec(
            family=family,  # type: ignore[arg-type]
            hidden=int(hidden),
            layers=int(_need(md, where, "block_count")),
            heads=heads,
            kv_heads=kv_heads,
            intermediate=int(_need(md, where, "feed_forward_length")),
            vocab=int(vocab),
            head_dim=head_dim if head_dim != hidden // heads else None,
            tied_embeddings="output.weight" not in shapes,
            max_position=md.get("context_length"),
            rope_theta=float(md.get("rope.freq_base", 10000.0)) if family != "gpt2" else None,
            rope_fraction=(int(rope_dims) / head_dim) if rope_dims and family == "glm" else 1.0,
            qkv_bias="blk.0.attn_q.bias" in shapes or "blk.0.attn_qkv.bias" in shapes,
            mlp_bias="blk.0.ffn_up.bias" in shapes,
            norm_eps=float(eps) if eps is not None else 1e-5,
            source=f"GGUF metadata of {where} (general.architecture {name})",
        )
    except (TypeError, ValueError) as exc:
        raise LLMSelectError(f"{where}: architecture numbers do not fit: {exc}") from exc


def gguf_rope_scaling(gguf: Any) -> dict[str, Any] | None:
    """RoPE scaling stated in GGUF metadata (None for plain RoPE)."""
    kind = gguf.arch_key("rope.scaling.type")
    if not kind or kind == "none":
        return None
    return {"type": kind, "factor": gguf.arch_key("rope.scaling.factor")}
