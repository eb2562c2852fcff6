"""CLI command ``recommend``: rank catalog models for a GPU budget and a purpose.

Thin: parse the options, call ``llmselect.recommend``, render a table or JSON. Imports neither
torch, transformers nor pandas, so it answers in well under a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from llmselect.cli.common import out, print_json
from llmselect.errors import LLMSelectError

EXIT_NO_CANDIDATE = 1


def _fmt_chars(rec: Any) -> str:
    return f"{rec.usable_zh_chars:,}" if rec.usable_zh_chars is not None else "not measured"


def _render_table(result: Any, top: int, show_excluded: bool) -> None:
    from rich.table import Table

    req = result.request
    lang = ", ".join(f"{k}={v:.2f}" for k, v in req["lang"].items())
    out.print(
        f"[bold]recommend[/bold] {req['gpu']} · purpose {req['purpose']} · lang {lang} · "
        f"context {req['context']} tokens · finetune {req['finetune']}",
        highlight=False,
    )
    table = Table(show_lines=False)
    for col in ("#", "model", "score", "cov", "prec", "GiB", "zh chars", "license", "top terms"):
        table.add_column(col, no_wrap=col in ("model", "license"), overflow="fold")
    for rec in result.recommendations[:top]:
        lic = rec.license
        table.add_row(
            str(rec.rank) + ("*" if rec.pareto else ""),
            f"{rec.model_id} ({rec.params_b:g}B)" if rec.params_b else rec.model_id,
            f"{rec.score:.3f}",
            f"{rec.coverage:.0%}",
            rec.precision,
            f"{rec.memory_gib:.1f}",
            _fmt_chars(rec),
            f"{lic['id'] or '?'}" + ("" if lic["allowed"] == "yes" else f" ({lic['allowed']})"),
            _short_why(rec),
        )
    out.print(table)
    out.print(
        "* = Pareto front on (quality, memory). GiB = estimated memory at the chosen precision. "
        "zh chars = context window ÷ measured zh tokens/char (llmselect tokenize-bench). "
        "Every term and caveat: --explain MODEL or --json.",
        highlight=False,
    )
    out.print(
        f"{len(result.recommendations)} candidates, {len(result.excluded)} excluded"
        + ("" if show_excluded else " (--show-excluded lists them)"),
        highlight=False,
    )
    for note in result.notes:
        out.print(f"  · {note}", highlight=False)
    if show_excluded and result.excluded:
        ex = Table("model", "constraint", "reason", "label")
        for e in result.excluded:
            ex.add_row(e.model_id, e.constraint, e.reason, e.kind)
        out.print(ex)


def _short_why(rec: Any) -> str:
    """The two biggest terms with raw value and label: ``quality_zh +0.24 (79.9 %, published)``."""
    top = sorted((t for t in rec.terms if t.contribution > 0), key=lambda t: -t.contribution)[:2]
    return ", ".join(
        f"{t.name} +{t.contribution:.2f} ({t.raw:.3g} {t.unit}, {t.kind})" for t in top
    )


def _render_explain(data: dict[str, Any]) -> None:
    from rich.table import Table

    out.print(
        f"[bold]{data['name']}[/bold] ({data['model_id']}): {data['status']}", highlight=False
    )
    if data["status"] == "excluded":
        exc = data["exclusion"]
        out.print(f"excluded by {exc['constraint']}: {exc['reason']} [{exc['kind']}]")
        for other in exc["other_reasons"]:
            out.print(f"  also: {other}")
    else:
        rec = data["recommendation"]
        out.print(
            f"rank {rec['rank']} of {data['of']} · score {rec['score']:.3f} · coverage "
            f"{rec['coverage']:.0%} · {rec['precision']} · {rec['memory_gib']:.1f} GiB "
            f"({rec['memory_kind']})",
            highlight=False,
        )
        terms = Table("term", "raw", "label", "norm", "weight", "contribution", "source")
        for t in rec["terms"]:
            terms.add_row(
                t["name"],
                t["detail"],
                t["kind"],
                "—" if t["norm"] is None else f"{t['norm']:.3f}",
                f"{t['weight']:.3f}",
                f"{t['contribution']:.3f}",
                t["source"] or "",
            )
        out.print(terms)
        out.print(
            f"usable Chinese characters: {rec['usable_zh_chars'] or '—'} "
            f"({rec['usable_zh_chars_note']})",
            highlight=False,
        )
        lic = rec["license"]
        out.print(f"license: {lic['name'] or lic['id']} → {lic['allowed']}", highlight=False)
        for c in lic["conditions"]:
            out.print(f"  condition: {c}", highlight=False)
        for c in rec["caveats"]:
            out.print(f"  caveat: {c}", highlight=False)
        if rec["finetune"]:
            ft = rec["finetune"]
            out.print(
                f"fine-tuning ({ft['mode']}): {ft['per_gpu_gib']:.1f} GiB per GPU estimated — "
                f"{ft['rule']}",
                highlight=False,
            )
        out.print(rec["why"], highlight=False)
    mem = Table("precision", "per device GiB", "total GiB", "fits", "label", "parts GiB")
    for m in data.get("memory_by_precision", []):
        parts = ", ".join(f"{k} {v:.2f}" for k, v in m["parts_gib"].items())
        mem.add_row(
            m["precision"],
            f"{m['per_device_gib']:.2f}",
            f"{m['total_gib']:.2f}",
            "yes" if m["fits"] else "no",
            m["kind"],
            parts,
        )
    out.print(mem)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the app."""

    @app.command("recommend")
    def recommend_cmd(
        gpu: str = typer.Option(
            ...,
            "--gpu",
            help="Memory budget: 24GB (decimal), 16GiB, 2x80GB, a GPU name (4090, A100-80G, T4, "
            "H100, L4, ...) or cpu (quantized weights in RAM; see --ram).",
        ),
        purpose: str = typer.Option(
            ..., "--purpose", help="commercial, research, learning, student or edge (on-device)."
        ),
        lang: str = typer.Option(
            "zh=0.5,en=0.5", "--lang", help="Language mix, e.g. zh=0.7,en=0.3."
        ),
        context: int | None = typer.Option(
            None, "--context", help="Context length needed, tokens (default: the purpose's)."
        ),
        min_tokens_per_s: float | None = typer.Option(
            None, "--min-tokens-per-s", help="Throughput floor, decode tokens/s (batch 1)."
        ),
        finetune: str = typer.Option(
            "none", "--finetune", help="Fine-tuning memory to fit too: none, lora, qlora, full."
        ),
        top: int = typer.Option(10, "-n", "--top", help="How many ranked models to show."),
        ram: str | None = typer.Option(
            None, "--ram", help="RAM budget for --gpu cpu (default: this machine's RAM)."
        ),
        results: Path | None = typer.Option(
            None, "--results", help="Read measurements from this result store folder."
        ),
        as_json: bool = typer.Option(False, "--json", help="Everything as JSON on stdout."),
        explain_model: str | None = typer.Option(
            None, "--explain", help="Full breakdown for one model."
        ),
        show_excluded: bool = typer.Option(
            False, "--show-excluded", help="List excluded models with their reasons."
        ),
    ) -> None:
        """Rank models: license and memory constraints first, then the purpose profile's score."""
        from llmselect.catalog import load_catalog
        from llmselect.hardware import parse_gpu
        from llmselect.recommend import Request, explain, load_evidence, parse_lang_mix, recommend

        if top < 1:
            raise LLMSelectError(f"--top must be at least 1, got {top}")
        if min_tokens_per_s is not None and min_tokens_per_s <= 0:
            raise LLMSelectError("--min-tokens-per-s must be positive")
        if results is not None and not results.is_dir():
            raise LLMSelectError(f"--results {results}: no such folder")
        request = Request(
            gpu=parse_gpu(gpu, ram=ram),
            purpose=purpose,
            lang=parse_lang_mix(lang),
            context=context,
            min_tokens_per_s=min_tokens_per_s,
            finetune=finetune.strip().lower(),
        )
        catalog = load_catalog()
        result = recommend(catalog, request, evidence=load_evidence(results))
        if explain_model:
            data = explain(result, explain_model, catalog)
            if as_json:
                print_json(data)
            else:
                _render_explain(data)
            return
        if as_json:
            print_json(result.to_dict(top=top, show_excluded=True))
        else:
            _render_table(result, top, show_excluded)
        if not result.recommendations:
            raise typer.Exit(EXIT_NO_CANDIDATE)
