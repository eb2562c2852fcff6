"""A local checkpoint as a recommender candidate: a ``ModelSpec`` built from its own files.

Numbers come from the checkpoint (architecture, exact parameters, context length) and its
license from ``licenses.detect`` (GGUF metadata, model card, LICENSE text). A license that is not
cleanly recognised, or whose text adds words to a known license, is recorded without an id, so
it never passes a commercial filter. No published scores exist for a local checkpoint: quality
comes only from measured ``eval`` records stored under the checkpoint's id.
"""

from __future__ import annotations

from llmselect.catalog import LicenseRef, ModelSpec
from llmselect.checkpoint.source import ModelSource
from llmselect.errors import LLMSelectError


def candidate_spec(source: ModelSource) -> ModelSpec:
    """The recommender's view of a checkpoint."""
    from llmselect.checkpoint.inspect import context_length, params_info, storage_rows
    from llmselect.licenses.detect import detect

    if not source.is_checkpoint:
        raise LLMSelectError(f"{source.id} is not a checkpoint; catalog models are ranked anyway")
    params = params_info(source, storage_rows(source))
    ctx = context_length(source)
    found = detect(source.path if source.kind == "gguf" else source.folder)
    clean = not any(e.added_text for e in found.evidence)
    allowed = found.verdict.allowed
    license_ref = LicenseRef(
        id=found.license_id if clean and allowed != "unknown" else None,
        commercial=allowed if clean and allowed in ("yes", "no", "conditional") else None,
        source="detected in the checkpoint: "
        + "; ".join(f"{e.file} ({e.method}: {e.detail})" for e in found.evidence)[:400],
    )
    languages = []
    if source.kind == "gguf":
        languages = [str(x) for x in source.gguf.metadata.get("general.languages", [])]
    total = params.get("total")
    if source.has_weights:
        tags, note = ["local"], f"checkpoint {source.checkpoint_ref} sha256 {source.sha256[:16]}"
    else:  # ranked on its architecture alone, never as weights someone has
        note = f"{source.checkpoint_ref}: config.json only, no weights"
        tags = ["local", "no weights"]
    return ModelSpec(
        id=source.id,
        name=source.name,
        family="local checkpoint",
        params_b=round(total / 1e9, 3) if total else None,
        params_exact=total,
        params_source=f"{params['kind']}: {params['source']}",
        context_length=ctx["tokens"],
        context_source=ctx["source"],
        arch=source.arch,
        arch_source=source.arch.source if source.arch is not None else None,
        license=license_ref,
        languages=languages,
        languages_source="GGUF metadata general.languages" if languages else None,
        tags=tags,
        notes=[note],
        checkpoint=source.checkpoint_ref,
        # a GGUF file runs as it is stored (as ``perf estimate`` sizes it): no other precision
        stored_as=(source.gguf_file_type or "fp16") if source.kind == "gguf" else None,
        stored_weights_bytes=source.gguf.tensor_bytes if source.kind == "gguf" else None,
    )
