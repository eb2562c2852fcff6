"""``inspect_model``: what can be told about a model without loading its weights.

For a checkpoint: architecture (config.json or GGUF metadata), the exact parameter count and
the bytes per storage type (safetensors headers or GGUF tensor infos), KV cache per token,
context length, license (GGUF ``general.license``, model card, LICENSE text) and the
checkpoint's own tokenizer with its zh/en tokens per character on FLORES-200. For a catalog
model or preset, the published/catalog numbers. Each value says where it comes from.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from llmselect.arch.readers import config_context
from llmselect.checkpoint.source import ModelSource
from llmselect.errors import LLMSelectError

FLORES = "flores200"
KV_DTYPE = "fp16"  # llama.cpp and transformers keep the KV cache in 16-bit by default


def storage_rows(source: ModelSource) -> list[dict[str, Any]]:
    """Tensors, parameters and bytes per storage type (dtype or ggml quant type)."""
    from llmselect.memory.ggml_quant import bits_per_weight

    acc: dict[str, dict[str, int]] = defaultdict(lambda: {"tensors": 0, "params": 0, "bytes": 0})
    if source.kind == "gguf":
        for t in source.gguf.tensors:
            row = acc[t.ggml_type]
            row["tensors"] += 1
            row["params"] += t.n_elements
            row["bytes"] += t.n_bytes
    else:
        from llmselect.formats.safetensors_file import read_safetensors_header

        for f in source.weight_files:
            for t in read_safetensors_header(f):
                row = acc[t.dtype]
                row["tensors"] += 1
                row["params"] += t.n_elements
                row["bytes"] += t.n_bytes
    rows = []
    for name, row in sorted(acc.items(), key=lambda kv: -kv[1]["bytes"]):
        bpw = row["bytes"] * 8 / row["params"] if row["params"] else None
        if source.kind == "gguf":
            bpw = bits_per_weight(name)
        rows.append({"type": name, **row, "bits_per_weight": bpw})
    return rows


def kv_cache_per_token(arch: Any, kv_dtype: str = KV_DTYPE, sizing: Any = None) -> dict[str, Any]:
    """Bytes of K and V per token over all layers (estimated, formula stated)."""
    from llmselect.memory.estimate import kv_cache_bytes

    if sizing is not None:  # per layer type: windows and states do not grow with the context
        width = 4 if kv_dtype == "fp32" else 2
        groups = []
        for g in sizing.cache:
            row = g.model_dump(exclude_defaults=True)
            row["bytes_per_token_per_layer"] = (
                g.values_per_token + g.indexer_values_per_token
            ) * width
            if g.state_values:
                row["state_bytes_per_layer"] = g.state_values * width
            groups.append(row)
        full = sum(g.layers * (g.values_per_token + g.indexer_values_per_token)
                   for g in sizing.cache if g.window_tokens is None)  # fmt: skip
        return {"bytes": full * width, "kv_dtype": kv_dtype, "kind": "estimated",
                "formula": "per token, layers without a window (windows and constant states "
                "per layer type below)", "by_layer_type": groups}  # fmt: skip

    per_token = kv_cache_bytes(arch, batch=1, context=1, kv_dtype=kv_dtype)
    return {
        "bytes": per_token,
        "kv_dtype": kv_dtype,
        "kind": "estimated",
        "formula": f"2 x {arch.layers} layers x {arch.kv_heads} kv_heads x "
        f"{arch.head_size} head_dim x {2 if kv_dtype != 'fp32' else 4} bytes",
    }


def context_length(source: ModelSource) -> dict[str, Any]:
    if source.kind == "gguf":
        key = f"{source.gguf.architecture}.context_length"
        return {"tokens": source.gguf.metadata.get(key), "source": f"GGUF {key}"}
    if source.is_checkpoint:
        tokens, where = config_context(source.config)
        return {"tokens": tokens, "source": where}
    spec = source.spec
    if spec is not None and spec.context_length:
        return {"tokens": spec.context_length, "source": spec.context_source or "catalog"}
    return {"tokens": None, "source": "unknown"}


def params_info(source: ModelSource, storage: list[dict[str, Any]]) -> dict[str, Any]:
    from llmselect.arch.count import count_params

    sizing = source.sizing
    if sizing is not None and not (source.is_checkpoint and storage):
        return {
            "total": sizing.params_total,
            "active": sizing.params_active,
            "active_no_input_embedding": sizing.params_active_no_input_embedding,
            "kind": "exact",
            "source": f"{sizing.model_class}, {sizing.counted_with}",
            "active_convention": sizing.active_convention,
            "other_parts": [p.model_dump(exclude_none=True) for p in sizing.other_parts],
        }
    formula = None
    if source.arch is not None and sizing is None:
        try:
            formula = count_params(source.arch).total
        except LLMSelectError:
            formula = None
    if source.is_checkpoint and storage:
        exact = sum(r["params"] for r in storage)
        return {
            "total": exact,
            "kind": "exact",
            "source": "GGUF tensor infos" if source.kind == "gguf" else "safetensors headers",
            "from_architecture": formula,
        }
    if source.spec is not None and source.spec.params_b:
        return {
            "total": source.spec.params_exact or int(source.spec.params_b * 1e9),
            "kind": "published",
            "source": source.spec.params_source or "catalog",
            "from_architecture": formula,
        }
    return {"total": formula, "kind": "estimated", "source": "architecture numbers"}


def license_info(source: ModelSource) -> dict[str, Any]:
    """License verdict for commercial use, from the checkpoint's own files."""
    if source.is_checkpoint:
        from llmselect.licenses.detect import detect

        found = detect(source.path if source.kind == "gguf" else source.folder)
        v = found.verdict
        return {
            "license_id": found.license_id,
            "commercial": v.allowed,
            "conditions": list(v.conditions),
            "evidence": [f"{e.file}: {e.method}: {e.detail}" for e in found.evidence],
        }
    if source.spec is not None:
        from llmselect.licenses import verdict

        v = verdict(source.spec.id, "commercial", None)
        return {"license_id": v.license_id, "commercial": v.allowed,
                "conditions": list(v.conditions), "evidence": [v.source or "catalog"]}  # fmt: skip
    return {"license_id": None, "commercial": "unknown", "conditions": [], "evidence": []}


NO_TOKENIZER = "no tokenizer.json, tokenizer.model or GGUF vocabulary"


def tokenizer_file(source: ModelSource) -> tuple[str, str] | None:
    """The checkpoint's own tokenizer as (kind, file name): the GGUF vocabulary, tokenizer.json
    or tokenizer.model; None when it holds none (a folder with only config.json)."""
    if source.kind == "gguf":
        return "gguf", source.path.name
    folder = source.folder
    for kind, file in (("hf-json", "tokenizer.json"), ("sentencepiece", "tokenizer.model")):
        if folder is not None and (folder / file).is_file():
            return kind, file
    return None


def _needed_tokenizer_file(source: ModelSource) -> tuple[str, str]:
    """``tokenizer_file``, an error when the checkpoint holds none."""
    found = tokenizer_file(source)
    if found is None:
        raise LLMSelectError(f"{source.name}: {NO_TOKENIZER}")
    return found


def checkpoint_tokenizer(source: ModelSource) -> Any:
    """The checkpoint's own tokenizer, loaded (an error when it holds none)."""
    return _load_tokenizer(source, *_needed_tokenizer_file(source))


def _load_tokenizer(source: ModelSource, kind: str, file: str) -> Any:
    """The tokenizer ``tokenizer_file`` found in the checkpoint, loaded."""
    if kind == "gguf":
        from llmselect.tokenizers.gguf_fmt import load_gguf

        return load_gguf(source.id, {file: source.path}, file)
    path = source.folder / file  # type: ignore[operator]  # a folder holds it (tokenizer_file)
    if kind == "hf-json":
        from llmselect.tokenizers.hf_json import load_hf_json

        return load_hf_json(source.id, {file: path}, file)
    from llmselect.tokenizers.sentencepiece_fmt import load_sentencepiece

    return load_sentencepiece(source.id, {file: path}, file)


def tokenizer_spec(source: ModelSource) -> Any:
    """A ``TokenizerSpec`` for the checkpoint's own tokenizer file, so ``tokenize-bench`` runs
    it like a catalog family (its folder is the checkpoint's, never the tokenizer root)."""
    from llmselect.tokenizers.spec import TokenizerSpec

    kind, file = _needed_tokenizer_file(source)
    folder = source.folder
    return TokenizerSpec(
        id=source.id, name=source.name, kind=kind, folder=str(folder), files=[file],
        hub_files={}, license="see the checkpoint's license",
        source=f"the checkpoint's own {file} ({source.checkpoint_ref})",
    )  # fmt: skip


def tokens_per_char(tok: Any, corpus: Any) -> dict[str, float]:
    """Content tokens per character, zh and en, over a corpus (measured)."""
    out = {}
    for lang in ("zh", "en"):
        texts = [t for t in (s.text.strip() for s in corpus.by_lang(lang)) if t]
        n_tok = sum(len(ids) for ids in tok.encode_batch(texts))
        out[lang] = n_tok / sum(len(t) for t in texts)
    return out


def tokenizer_info(source: ModelSource, corpus: str = FLORES) -> dict[str, Any]:
    if not source.is_checkpoint:
        tid = source.spec.tokenizer if source.spec is not None else None
        return {"tokenizer": tid, "note": "catalog tokenizer family; see tokenize-bench"}
    found = tokenizer_file(source)  # looked up once: it checks the folder's files
    if found is None:  # missing evidence, said as such: nothing is measured
        note = f"{NO_TOKENIZER} in the checkpoint: tokens per char not measured"
        return {"tokenizer": None, "tokens_per_char": None, "note": note}
    tok = _load_tokenizer(source, *found)
    info: dict[str, Any] = {"tokenizer": tok.kind, "vocab_size": tok.vocab_size}
    try:
        from llmselect.corpora import load_corpus

        loaded = load_corpus(corpus)
    except LLMSelectError as exc:
        info["tokens_per_char"] = None
        info["note"] = f"{corpus} not available: {exc}"
        return info
    info["tokens_per_char"] = tokens_per_char(tok, loaded)
    info["corpus"] = f"{corpus} ({len(loaded.by_lang('zh'))} zh / {len(loaded.by_lang('en'))} en)"
    info["kind"] = "measured"
    return info


def inspect_model(source: ModelSource, *, tokenizer: bool = True) -> dict[str, Any]:
    """Everything ``llmselect inspect`` shows, as plain data."""
    storage = storage_rows(source) if source.is_checkpoint else []
    out: dict[str, Any] = {
        "model": source.id,
        "input": source.kind,
        "name": source.name,
    }
    if source.is_checkpoint:
        out["checkpoint"] = source.identity()
        out["weights"] = source.has_weights
        if source.has_weights:
            out["file_bytes"] = sum(f.stat().st_size for f in source.weight_files)
            out["tensor_bytes"] = sum(r["bytes"] for r in storage)
    arch = source.arch
    out["architecture"] = arch.model_dump(exclude_none=True) if arch is not None else None
    if source.is_checkpoint:
        scaling = source.rope_scaling()
        if scaling:
            out["rope_scaling"] = scaling
    out["context_length"] = context_length(source)
    out["params"] = params_info(source, storage)
    out["storage"] = storage
    out["kv_cache_per_token"] = (
        kv_cache_per_token(arch, sizing=source.sizing) if arch is not None else None
    )
    if source.sizing is not None:
        out["stored_weights"] = {
            "summary": source.sizing.stored_dtype,
            "bytes": source.sizing.stored_bytes,
            "formats": [s.model_dump(exclude_none=True) for s in source.sizing.stored],
        }
    out["license"] = license_info(source)
    if tokenizer:
        out["tokenizer"] = tokenizer_info(source)
    return out
