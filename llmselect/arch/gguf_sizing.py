"""Any GGUF llama.cpp writes → ``ArchSpec`` + ``Sizing``, from its metadata and tensor infos.

Counts are exact: every tensor's element count (``general.architecture``-independent names:
``token_embd``, ``output``, ``blk.N.*``, routed experts ``*_exps``). The cache comes from the
``<arch>.*`` keys llama.cpp reads: ``block_count``, ``attention.head_count_kv`` (a number or one
per layer), ``attention.key_length`` / ``value_length``, ``attention.sliding_window`` with
``attention.sliding_window_pattern`` (an int or one bool per layer) and, where the file leaves
the pattern out, the default llama.cpp's loader uses for that architecture (``SWA_DEFAULTS``);
MLA files (``attention.kv_lora_rank``) cache the latent plus the RoPE key. Recurrent layers
(``ssm.*`` keys) are refused in one line: their state layout is not read from GGUF yet.
"""

from __future__ import annotations

import math
from typing import Any

from llmselect.arch.sizing import CacheGroup, Sizing
from llmselect.arch.spec import ArchSpec, MLASpec, MoESpec
from llmselect.errors import LLMSelectError

LLAMA_CPP = "ggml-org/llama.cpp@0c1e57098bba43ac29e6e3b677cdceebdd22334f"
# llama.cpp's window pattern where a GGUF states none: (n, dense_first), from
# `load_swa_pattern(ml, n[, dense_first])` in src/models/<file>.cpp of LLAMA_CPP; a layer
# slides when il % n < n - 1 (dense_first: when il % n != 0).
SWA_DEFAULTS: dict[str, tuple[int, bool]] = {
    "gemma2": (2, False),  # gemma2.cpp
    "gemma3": (6, False),  # gemma3.cpp
    "gemma3n": (5, False),  # gemma3n.cpp
    "gemma-embedding": (6, False),  # gemma-embedding.cpp
    "cohere2": (4, False),  # cohere2.cpp
    "exaone4": (4, False),  # exaone4.cpp
    "llama4": (4, False),  # llama4.cpp: 3 chunked, 1 full
    "gpt-oss": (2, False),  # openai-moe.cpp
    "olmo2": (4, False),  # olmo2.cpp
    "smallthinker": (4, True),  # smallthinker.cpp
    "afmoe": (4, False),  # afmoe.cpp
}


def _first_float(md: dict[str, Any], *keys: str) -> float | None:
    """The first of ``keys`` the metadata states, as a float (None: it states none)."""
    return next((float(md[k]) for k in keys if md.get(k) is not None), None)


def _per_layer(value: Any, n: int, what: str, where: str) -> list[int]:
    if isinstance(value, list):
        if len(value) != n:
            raise LLMSelectError(f"{where}: {what} has {len(value)} entries for {n} layers")
        return [int(v) for v in value]
    return [int(value)] * n


def _sliding(md: dict[str, Any], arch: str, n: int, where: str) -> list[bool]:
    window = md.get("attention.sliding_window")
    if not window:
        return [False] * n
    pattern = md.get("attention.sliding_window_pattern")
    if isinstance(pattern, list):
        return [bool(p) for p in _per_layer(pattern, n, "sliding_window_pattern", where)]
    if pattern is not None:
        step, dense_first = int(pattern), False
    elif arch in SWA_DEFAULTS:
        step, dense_first = SWA_DEFAULTS[arch]
    else:
        return [True] * n  # llama.cpp's own default: every layer slides
    if step <= 1:
        return [True] * n
    return [(i % step != 0) if dense_first else (i % step < step - 1) for i in range(n)]


def _cache(md: dict[str, Any], arch: str, n: int, hidden: int, where: str) -> list[CacheGroup]:
    if any(k.startswith("ssm.") for k in md):
        raise LLMSelectError(f"{where}: GGUF architecture {arch!r} is not supported: its "
                             "recurrent (ssm.*) layers are not sized from GGUF yet; read its "
                             "config.json instead")  # fmt: skip
    heads = _per_layer(md.get("attention.head_count"), n, "head_count", where)
    kv = _per_layer(md.get("attention.head_count_kv") or heads, n, "head_count_kv", where)
    kv_rank = md.get("attention.kv_lora_rank")
    key = md.get("attention.key_length")
    value = md.get("attention.value_length")
    slides = _sliding(md, arch, n, where)
    window = md.get("attention.sliding_window")
    shared = int(md.get("attention.shared_kv_layers") or 0)
    groups: dict[CacheGroup, int] = {}
    for i in range(n):
        if i >= n - shared or kv[i] == 0:  # reuses another layer's KV / no attention
            continue
        if kv_rank:
            rope = int(md.get("rope.dimension_count") or 0)
            g = CacheGroup(kind="latent_attention", layers=1, values_per_token=int(kv_rank) + rope,
                           note="MLA latent + RoPE key")  # fmt: skip
        else:
            hd_k = int(key or hidden // heads[i])
            hd_v = int(value or hd_k)
            per = kv[i] * (hd_k + hd_v)
            g = (CacheGroup(kind="sliding_attention", layers=1, values_per_token=per,
                            window_tokens=int(window))
                 if slides[i] else CacheGroup(kind="full_attention", layers=1,
                                              values_per_token=per))  # fmt: skip
        groups[g] = groups.get(g, 0) + 1
    if not groups:
        raise LLMSelectError(f"{where}: no layer holds a cache")
    return [g.model_copy(update={"layers": c}) for g, c in groups.items()]


def sizing_from_gguf(gguf: Any) -> tuple[ArchSpec, Sizing]:
    """(``ArchSpec``, ``Sizing``) of a GGUF file of any architecture."""
    arch = str(gguf.architecture or "")
    where = str(gguf.path.name)
    md = {k.removeprefix(arch + "."): v for k, v in gguf.metadata.items()
          if k.startswith(arch + ".")}  # fmt: skip
    n = md.get("block_count")
    hidden = md.get("embedding_length")
    needed = ("block_count", "embedding_length", "attention.head_count")
    missing = [f"{arch}.{k}" for k in needed if md.get(k) is None]
    if not arch or missing:
        raise LLMSelectError(f"{where}: GGUF architecture {arch or '(none)'!r} is not supported: "
                             f"its metadata lacks {', '.join(missing)}")  # fmt: skip
    n, hidden = int(n), int(hidden)
    parts = dict.fromkeys(("embd", "head", "attention", "mlp", "norms"), 0)
    routed = linear = rows = 0
    vocab = None
    for t in gguf.tensors:
        name, count = t.name, int(t.n_elements)
        if name.startswith("token_embd") or name.startswith("per_layer_token_embd"):
            parts["embd"] += count
            if name == "token_embd.weight":
                vocab = int(t.shape[-1])
        elif name.startswith("output.") or name == "output.weight":
            parts["head"] += count
        elif "norm" in name:
            parts["norms"] += count
        elif ".ffn_" in name:
            parts["mlp"] += count
        else:
            parts["attention"] += count
        if "_exps." in name and "shexp" not in name:
            routed += count
        # block matrices; the router (ffn_gate_inp) stays unquantized
        matrix = name.startswith("blk.") and len(t.shape) >= 2 and "norm" not in name
        if matrix and "ffn_gate_inp" not in name:
            linear += count
            rows += math.prod(t.shape[1:])
    if vocab is None:
        raise LLMSelectError(f"{where}: no token_embd.weight tensor")
    experts = md.get("expert_count")
    used = md.get("expert_used_count")
    routed_active = routed * int(used) // int(experts) if routed and experts and used else 0
    heads0 = _per_layer(md["attention.head_count"], n, "head_count", where)[0]
    kv0 = _per_layer(md.get("attention.head_count_kv") or heads0, n, "head_count_kv", where)
    kv_any = max(kv0) or 1
    key = md.get("attention.key_length")
    ffn = md.get("feed_forward_length")
    ffn = max(ffn) if isinstance(ffn, list) else ffn
    moe = None
    if experts and used:
        moe = MoESpec(experts=int(experts), experts_per_token=int(used),
                      expert_intermediate=int(md.get("expert_feed_forward_length") or ffn or 0)
                      or hidden)  # fmt: skip
    mla = None
    if md.get("attention.kv_lora_rank"):
        rope = int(md.get("rope.dimension_count") or 0)
        mla = MLASpec(kv_lora_rank=int(md["attention.kv_lora_rank"]),
                      q_lora_rank=md.get("attention.q_lora_rank"),
                      qk_nope_head_dim=max(int(key or rope) - rope, 0), qk_rope_head_dim=rope,
                      v_head_dim=int(md.get("attention.value_length") or 0))  # fmt: skip
    cache = _cache(md, arch, n, hidden, where)
    pattern_src = ("metadata" if md.get("attention.sliding_window_pattern") is not None else
                   f"llama.cpp's default for {arch} ({LLAMA_CPP})" if arch in SWA_DEFAULTS
                   else "every layer")  # fmt: skip
    sizing = Sizing(
        model_type=f"gguf:{arch}", model_class="GGUF tensor infos",
        counted_with=f"GGUF reader ({LLAMA_CPP} key names)", config_source=where,
        params_total=sum(parts.values()), params_input_embedding=parts["embd"],
        params_lm_head=parts["head"], params_attention=parts["attention"],
        params_mlp=parts["mlp"], params_norms=parts["norms"], params_routed_experts=routed,
        params_routed_active=routed_active, params_block_linear=linear, block_linear_rows=rows,
        cache=cache,
        cache_note=("sliding layers from " + pattern_src) if md.get("attention.sliding_window")
        else None,
    )  # fmt: skip
    spec = ArchSpec(
        family="other", model_type=f"gguf:{arch}", hidden=hidden, layers=n, heads=heads0,
        kv_heads=kv_any if heads0 % kv_any == 0 else 1, intermediate=int(ffn or hidden),
        vocab=vocab, head_dim=int(key) if key and not mla else None,
        tied_embeddings=parts["head"] == 0, max_position=md.get("context_length"),
        rope_theta=md.get("rope.freq_base"), moe=moe, mla=mla,
        norm_eps=_first_float(md, "attention.layer_norm_rms_epsilon",
                              "attention.layer_norm_epsilon"),
        source=f"GGUF metadata and tensor infos of {where} (general.architecture {arch})",
    )  # fmt: skip
    return spec, sizing
