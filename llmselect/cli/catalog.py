"""CLI commands: ``catalog list|show`` (published facts, each with its source) and
``catalog add|remove`` (the user's own entries, numbers computed from a config)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from llmselect.cli.common import emit, out, print_json, print_text
from llmselect.cli.options import MachineJsonOpt

catalog_app = typer.Typer(help="Browse the model catalog (published facts with sources).")


def _license_class(model: Any) -> str:
    from llmselect.licenses import verdict

    return verdict(model, "commercial").allowed


def _row(model: Any) -> dict[str, Any]:
    return {
        "id": model.id,
        "name": model.name,
        "family": model.family,
        "variant": model.variant,
        "params_b": model.params_b,
        "context_length": model.context_length,
        "languages": model.languages,
        "tokenizer": model.tokenizer,
        "license_id": model.license.id if model.license else None,
        "commercial": _license_class(model),
        "arch_family": model.arch.family if model.arch else None,
        "hf_repo": model.hf_repo,
    }


FamilyOpt = Annotated[
    str | None, typer.Option(help="model family (e.g. Qwen2.5) or arch family (llama)")
]
MinParamsOpt = Annotated[float | None, typer.Option(min=0, help="minimum parameters, billions")]
MaxParamsOpt = Annotated[float | None, typer.Option(min=0, help="maximum parameters, billions")]
LangOpt = Annotated[str | None, typer.Option(help="language code the model serves, e.g. zh")]
LicenseClassOpt = Annotated[
    str | None,
    typer.Option("--license-class", help="commercial verdict: yes|no|conditional|unknown"),
]
LICENSE_CLASSES = ("yes", "no", "conditional", "unknown")


def _render_list(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title=f"{len(rows)} models (published facts; `catalog show ID` for sources)")
    table.add_column("id", no_wrap=True)
    for col in ("family", "params", "context", "langs", "tokenizer", "license", "commercial"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["id"],
            r["family"],
            "?" if r["params_b"] is None else f"{r['params_b']:g}B",
            "?" if r["context_length"] is None else f"{r['context_length']} tok",
            ",".join(r["languages"]),
            r["tokenizer"] or "-",
            r["license_id"] or "unknown",
            r["commercial"],
        )
    out.print(table)


@catalog_app.command("list")
def list_models(
    family: FamilyOpt = None,
    min_params: MinParamsOpt = None,
    max_params: MaxParamsOpt = None,
    lang: LangOpt = None,
    license_class: LicenseClassOpt = None,
    as_json: MachineJsonOpt = False,
) -> None:
    """List catalog models, filtered by family, size, language and license class."""
    from llmselect.catalog import load_catalog
    from llmselect.errors import LLMSelectError

    if license_class is not None:
        license_class = license_class.strip().lower()
        if license_class not in LICENSE_CLASSES:
            raise LLMSelectError("--license-class must be one of yes, no, conditional, unknown")
    models = load_catalog().select(
        family=family, min_params=min_params, max_params=max_params, lang=lang
    )
    rows = [_row(m) for m in models]
    rows = [r for r in rows if not license_class or r["commercial"] == license_class]
    emit(rows, as_json, _render_list)


def _fact_lines(spec: Any) -> list[str]:
    """Identity, size, context, architecture and sizing lines of ``catalog show``."""
    lines = [f"{spec.name} ({spec.id})  family {spec.family}, {spec.variant or '-'}"]
    pinned = f"{spec.revision} ({spec.revision_source})" if spec.revision else "not pinned"
    lines.append(f"hub repo: {spec.hf_repo or 'unknown'}  revision: {pinned}")
    if spec.base_model:
        lines.append(f"base model: {spec.base_model}")
    if spec.params_b is not None and spec.sizing is not None and not spec.params_nominal:
        # counted from the config by transformers (the entry's sizing block)
        lines.append(f"parameters: {spec.params_b:g} B ({spec.params_source})")
    elif spec.params_b is not None:
        lines.append(
            f"parameters: {spec.params_b:g} B (published: {spec.params_nominal}; "
            f"{spec.params_source or 'source not given'})"
        )
    if spec.context_length is not None:
        lines.append(f"context: {spec.context_length} tokens (published; {spec.context_source})")
    if spec.arch:
        a = spec.arch
        lines.append(
            f"arch ({a.family}): hidden {a.hidden}, layers {a.layers}, heads {a.heads}, "
            f"kv_heads {a.kv_heads}, intermediate {a.intermediate}, vocab {a.vocab} "
            f"(published; {a.source})"
        )
    else:
        lines.append(f"arch: unknown (not published: {', '.join(spec.arch_missing) or '-'})")
    if spec.sizing:
        z = spec.sizing
        cache = ", ".join(f"{g.layers} {g.kind}" + (f" (window {g.window_tokens})"
                          if g.window_tokens else "") for g in z.cache)  # fmt: skip
        lines.append(f"sizing (computed, {z.model_class}, {z.counted_with}): {z.params_total:,} "
                     f"parameters, {z.params_active:,} active per token; cache: {cache}; "
                     f"stored: {z.stored_dtype or 'not stated'}; config {z.config_source} "
                     f"sha256 {(z.config_sha256 or '-')[:16]}")  # fmt: skip
        lines += _stored_lines(z)
    return lines


def _stored_lines(z: Any) -> list[str]:
    """Which share of the text decoder's weights is stored in which format, and its bytes."""
    from llmselect.arch.stored import share_lines

    if not z.stored:
        return ["stored weights: not sized (the config does not say how they are stored)"]
    head = (f"stored weights (computed from the config, text decoder, scales included): "
            f"{z.stored_bytes / 2**30:.2f} GiB ({z.stored_bytes:,} bytes)")  # fmt: skip
    return [head, *(f"  {line}" for line in share_lines(z.stored))]


def _usage_lines(spec: Any, v: Any) -> list[str]:
    """Tokenizer, languages, license verdict, published scores and notes of ``catalog show``."""
    tok = f"tokenizer: {spec.tokenizer or 'unknown'}"
    tok += f" ({spec.tokenizer_kind})" if spec.tokenizer_kind else ""
    lines = [tok + (f"; {spec.tokenizer_source}" if spec.tokenizer_source else "")]
    lines.append(f"languages: {', '.join(spec.languages) or 'unknown'} ({spec.languages_source})")
    lines.append(
        f"license: {v.license_id or 'unknown'}; commercial use: {v.allowed} "
        f"(published; {v.source or 'no source'})"
    )
    for c in v.conditions:
        lines.append(f"  - {c}")
    if spec.scores:
        lines.append("published scores (not comparable across sources):")
        for s in spec.scores:
            shots = "" if s.shots is None else f", {s.shots}-shot"
            lines.append(
                f"  {s.benchmark}: {s.value:g} % ({s.setting}{shots}; published, {s.source})"
                + (f" [{s.comparable_note}]" if s.comparable_note else "")
            )
    for n in spec.notes:
        lines.append(f"note: {n}")
    return lines


@catalog_app.command("show")
def show(
    model: Annotated[str, typer.Argument(help="model id or alias")],
    as_json: MachineJsonOpt = False,
) -> None:
    """Everything the catalog knows about one model, with sources."""
    from llmselect.catalog import load_catalog
    from llmselect.licenses import verdict

    spec = load_catalog().get(model)
    v = verdict(spec, "commercial")
    if as_json:
        data = spec.model_dump(mode="json")
        data["license_verdict"] = v.model_dump(mode="json")
        print_json(data)
        return
    for line in [*_fact_lines(spec), *_usage_lines(spec, v)]:
        print_text(line)


@catalog_app.command("add")
def add(
    model: Annotated[str, typer.Argument(help="checkpoint folder, config.json or hub id")],
    license_id: Annotated[
        str | None,
        typer.Option("--license", help="license id, e.g. apache-2.0 (an unknown id lists them)"),
    ] = None,
    name: Annotated[str | None, typer.Option(help="catalog id and name to file it under")] = None,
) -> None:
    """Add a model to your catalog (LLMSELECT_HOME) with numbers computed from its config."""
    from llmselect.catalog import add_user_entry
    from llmselect.checkpoint.catalog_entry import entry_from_name

    spec = entry_from_name(model, license_id=license_id, name=name)
    path = add_user_entry(spec)
    s = spec.sizing
    assert s is not None
    cache = ", ".join(f"{g.layers} {g.kind}" for g in s.cache)
    print_text(
        f"added {spec.id}: {s.params_total:,} parameters ({s.params_active:,} active), "
        f"cache {cache} -> {path}"
    )


@catalog_app.command("remove")
def remove(model: Annotated[str, typer.Argument(help="id of an entry you added")]) -> None:
    """Remove an entry you added with `catalog add`."""
    from llmselect.catalog import remove_user_entry

    path = remove_user_entry(model)
    out.print(f"removed {model} from {path}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the app."""
    app.add_typer(catalog_app, name="catalog")
