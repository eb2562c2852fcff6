"""The cache per layer type, from a text decoder's config values (pure: no torch).

Input: the decoder's config as a plain mapping (transformers' config class fills the defaults
a config.json leaves out), its ``layer_types``, the per-layer overrides
(``per_layer_config``: Gemma-4's wider global heads) and which layers reuse another layer's KV
(Gemma-3n/4 ``num_kv_shared_layers``). Output: ``CacheGroup`` rows, one per distinct layout.

Per layer, numbers (not bytes) kept per token:

* full / sliding / chunked attention: ``2 x kv_heads x head_dim`` (K and V); sliding layers
  keep ``sliding_window`` tokens, chunked ones ``attention_chunk_size`` (Llama-4). Attention
  sinks (gpt-oss) are a learned logit per head: parameters, nothing cached;
* latent attention (MLA, ``kv_lora_rank`` set): ``kv_lora_rank + qk_rope_head_dim``, what
  transformers' cache and serving stacks (vLLM, SGLang) hold; ``indexed_attention`` layers
  (DeepSeek-V3.2, GLM-5) add the indexer key, ``index_head_dim`` per token;
* linear attention (Qwen3-Next, Qwen3.5 Gated DeltaNet): no tokens, a state per sequence: the
  causal-conv window ``conv_dim x conv_kernel`` (``conv_dim = 2 x key heads x key dim + value
  heads x value dim``) plus the recurrent state ``value heads x key dim x value dim``;
* Mamba-2 (Granite-4.0-H, Bamba; transformers names these layers ``linear_attention`` too):
  the conv window ``(mamba_expand x hidden + 2 x mamba_n_groups x mamba_d_state) x
  mamba_d_conv`` plus the SSM state ``mamba_n_heads x mamba_d_head x mamba_d_state``;
* ``conv`` (LFM2): a gated short convolution keeps its last ``conv_L_cache`` inputs,
  ``hidden x conv_L_cache``;
* ``hybrid`` (Falcon-H1): attention and Mamba-2 in parallel, K and V per token plus the
  Mamba-2 state (``mamba_d_ssm`` wide where the config states it);
* DeepSeek-V4 compressed attention: a sliding window of one shared K=V head
  (``kv_heads x head_dim``), plus one compressed entry of ``head_dim`` per ``compress_rate``
  tokens (CSA layers also one indexer entry of ``index_head_dim``, and the overlapping
  windows' carried state, ``2 x ratio x (head_dim + index_head_dim)``). Tokens waiting for
  their window to close (fewer than the ratio) are left out: at most ``ratio - 1`` per layer;
* layers reusing another layer's KV: nothing.

A layer type outside these is an error naming it, never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmselect.arch.sizing import CacheGroup
from llmselect.errors import LLMSelectError

_ATTENTION = {"full_attention", "sliding_attention", "chunked_attention", "indexed_attention"}
_COMPRESSED = {"compressed_sparse_attention", "heavily_compressed_attention"}


def _need(cfg: Mapping[str, Any], where: str, *keys: str) -> Any:
    for key in keys:
        if cfg.get(key) is not None:
            return cfg[key]
    raise LLMSelectError(f"{where}: {' / '.join(keys)} missing")


def _head_dim(cfg: Mapping[str, Any], where: str) -> int:
    if cfg.get("head_dim"):
        return int(cfg["head_dim"])
    hidden = int(_need(cfg, where, "hidden_size"))
    return hidden // int(_need(cfg, where, "num_attention_heads"))


def _kv_heads(cfg: Mapping[str, Any], where: str) -> int:
    return int(cfg.get("num_key_value_heads") or _need(cfg, where, "num_attention_heads"))


def _mamba2(cfg: Mapping[str, Any], where: str) -> CacheGroup:
    """A Mamba-2 layer (Granite-4.0-H, Bamba; transformers calls it ``linear_attention``)."""
    inner = int(
        cfg.get("mamba_d_ssm")
        or (  # Falcon-H1 states the SSM width itself
            int(_need(cfg, where, "mamba_expand")) * int(_need(cfg, where, "hidden_size"))
        )
    )
    groups_state = 2 * int(_need(cfg, where, "mamba_n_groups")) * int(cfg["mamba_d_state"])
    conv = (inner + groups_state) * int(_need(cfg, where, "mamba_d_conv"))
    ssm = (int(_need(cfg, where, "mamba_n_heads")) * int(_need(cfg, where, "mamba_d_head"))
           * int(cfg["mamba_d_state"]))  # fmt: skip
    return CacheGroup(kind="linear_attention", layers=1, values_per_token=0,
                      state_values=conv + ssm, note="Mamba-2: conv window + SSM state")  # fmt: skip


def layer_group(cfg: Mapping[str, Any], layer_type: str, where: str) -> CacheGroup:
    """The cache of one layer of ``layer_type`` (``layers=1``)."""
    if layer_type == "linear_attention" and cfg.get("mamba_d_state") is not None:
        return _mamba2(cfg, where)
    if layer_type == "conv":  # LFM2's gated short convolution: its last inputs, per channel
        state = int(_need(cfg, where, "hidden_size")) * int(_need(cfg, where, "conv_L_cache"))
        return CacheGroup(kind="linear_attention", layers=1, values_per_token=0,
                          state_values=state, note="short convolution window")  # fmt: skip
    if layer_type == "hybrid":  # Falcon-H1: attention and Mamba-2 side by side in each layer
        kv = 2 * _kv_heads(cfg, where) * _head_dim(cfg, where)
        return CacheGroup(kind="full_attention", layers=1, values_per_token=kv,
                          state_values=_mamba2(cfg, where).state_values,
                          note="attention KV + Mamba-2 conv window and SSM state")  # fmt: skip
    if layer_type == "linear_attention":
        kh = int(_need(cfg, where, "linear_num_key_heads"))
        kd = int(_need(cfg, where, "linear_key_head_dim"))
        vh = int(_need(cfg, where, "linear_num_value_heads"))
        vd = int(_need(cfg, where, "linear_value_head_dim"))
        kernel = int(_need(cfg, where, "linear_conv_kernel_dim"))
        conv = (2 * kh * kd + vh * vd) * kernel
        return CacheGroup(kind="linear_attention", layers=1, values_per_token=0,
                          state_values=conv + vh * kd * vd,
                          note="Gated DeltaNet: conv window + recurrent state")  # fmt: skip
    if layer_type in _COMPRESSED:
        rates = _need(cfg, where, "compress_rates")
        ratio = int(rates[layer_type])
        hd = _head_dim(cfg, where)
        index = int(_need(cfg, where, "index_head_dim")) if "sparse" in layer_type else 0
        return CacheGroup(
            kind="compressed_attention", layers=1, values_per_token=_kv_heads(cfg, where) * hd,
            window_tokens=int(_need(cfg, where, "sliding_window")), compress_ratio=ratio,
            compressed_values_per_entry=hd + index,
            # CSA windows overlap: the last window's K and gate, for the compressor and the
            # indexer, are carried to the next one (ratio x width each)
            state_values=2 * ratio * (hd + index) if index else 0,
            note=f"{layer_type}: shared K=V window + one entry per {ratio} tokens "
            "(+ indexer entry and overlap state on CSA layers); tokens waiting for their "
            f"window to close (< {ratio}) are left out",
        )  # fmt: skip
    if layer_type not in _ATTENTION:
        raise LLMSelectError(f"{where}: layer type {layer_type!r} has no cache formula")
    indexer = int(_need(cfg, where, "index_head_dim")) if layer_type == "indexed_attention" else 0
    if cfg.get("kv_lora_rank"):
        values = int(cfg["kv_lora_rank"]) + int(_need(cfg, where, "qk_rope_head_dim"))
        return CacheGroup(kind="latent_attention", layers=1, values_per_token=values,
                          indexer_values_per_token=indexer,
                          note="MLA latent + shared RoPE key" + (
                              " + indexer key" if indexer else ""))  # fmt: skip
    if indexer:
        raise LLMSelectError(f"{where}: indexed_attention without kv_lora_rank")
    values = 2 * _kv_heads(cfg, where) * _head_dim(cfg, where)
    if layer_type == "sliding_attention":
        window = int(_need(cfg, where, "sliding_window"))
        if cfg.get("compress_rates"):  # DeepSeek-V4: one tensor is both K and V
            return CacheGroup(kind="sliding_attention", layers=1, values_per_token=values // 2,
                              window_tokens=window, note="shared K=V (DeepSeek-V4)")  # fmt: skip
        return CacheGroup(kind="sliding_attention", layers=1, values_per_token=values,
                          window_tokens=window)  # fmt: skip
    if layer_type == "chunked_attention":
        chunk = int(_need(cfg, where, "attention_chunk_size"))
        return CacheGroup(kind="chunked_attention", layers=1, values_per_token=values,
                          window_tokens=chunk)  # fmt: skip
    return CacheGroup(kind="full_attention", layers=1, values_per_token=values)


def default_layer_types(cfg: Mapping[str, Any], layers: int) -> list[str]:
    """transformers' rule where a config lists no ``layer_types``: sliding when a window is
    set, chunked when a chunk size is, else full attention."""
    if cfg.get("sliding_window") is not None:
        return ["sliding_attention"] * layers
    if cfg.get("attention_chunk_size") is not None:
        return ["chunked_attention"] * layers
    return ["full_attention"] * layers


def cache_groups(
    cfg: Mapping[str, Any],
    where: str,
    *,
    layer_types: Sequence[str] | None = None,
    per_layer: Mapping[int, Mapping[str, Any]] | None = None,
    reuses_kv: Sequence[bool] | None = None,
) -> list[CacheGroup]:
    """One ``CacheGroup`` per distinct layer layout, with its layer count."""
    n = int(_need(cfg, where, "num_hidden_layers"))
    types = list(layer_types) if layer_types is not None else default_layer_types(cfg, n)
    if len(types) != n:
        raise LLMSelectError(f"{where}: {len(types)} layer_types for {n} layers")
    reuse = list(reuses_kv) if reuses_kv is not None else [False] * n
    groups: dict[CacheGroup, int] = {}
    for i, kind in enumerate(types):
        if reuse[i] or kind in ("moe", "mlp"):  # reads another layer's KV / no attention
            continue
        layer_cfg = {**cfg, **(per_layer or {}).get(i, {})}
        g = layer_group(layer_cfg, kind, where)
        groups[g] = groups.get(g, 0) + 1
    if not groups:
        raise LLMSelectError(f"{where}: no layer holds a cache")
    return [g.model_copy(update={"layers": count}) for g, count in groups.items()]
