"""CLI command ``recommend``: rank catalog models for a GPU budget and a purpose.

Thin: parse the options, call ``llmselect.recommend``, render a table or JSON. Imports neither
torch, transformers nor pandas, so it answers in well under a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from llmselect.cli.common import emit, out, print_json, print_text
from llmselect.errors import LLMSelectError

EXIT_NO_CANDIDATE = 1


def _cells(*values: str) -> list[str]:
    """Table cells as written (rich would read ``[...]`` in a reason or source as markup)."""
    from rich.markup import escape

    return [escape(v) for v in values]


def _fmt_chars(rec: Any) -> str:
    if rec.usable_zh_chars is not None:
        return f"{rec.usable_zh_chars:,}"
    return "tokenizer unknown" if "tokenizer unknown" in rec.usable_zh_chars_note else "—"


def _fmt_params(rec: Any) -> str:
    """``qwen3-30b-a3b (30.53B, 3.35B active)``: exact counts from the architecture."""
    size = f"{rec.params_b:.2f}B"
    if rec.active_params_b < rec.params_b:
        size += f", {rec.active_params_b:.2f}B active"
    return f"{rec.model_id} ({size})"


def _fmt_quality(rec: Any) -> str:
    """Quality per language: estimate ± 90 % half-width, and what backs it."""
    parts = []
    for t in rec.terms:
        if t.name.startswith("quality_") and t.raw is not None:
            lang = t.name.removeprefix("quality_")
            parts.append(f"{lang} {t.raw:.1f}±{1.645 * t.sd:.1f} {t.kind}")
    return "; ".join(parts) or "—"


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
    cols = ("#", "model", "score", "cov", "quality %", "prec", "GiB/dev", "zh chars", "license")
    for col in cols:
        table.add_column(col, no_wrap=col in ("model", "license"), overflow="fold")
    for rec in result.recommendations[:top]:
        table.add_row(*_cells(
            str(rec.rank) + ("*" if rec.pareto else ""),
            _fmt_params(rec) + (" · base, for fine-tuning" if rec.tuning == "base" else ""),
            f"{rec.score:.3f}",
            f"{rec.coverage:.0%}",
            _fmt_quality(rec),
            rec.precision,
            f"{rec.memory_detail['per_device_gib']:.1f}",
            _fmt_chars(rec),
            _fmt_license(rec.license),
        ))  # fmt: skip
    out.print(table)
    out.print(
        "* = Pareto front on (quality, memory). Parameters: exact count from the architecture. "
        "score = risk-adjusted (a lower quantile; --risk). cov = share of the profile's weight "
        "with direct evidence. quality = the quality model's estimate of C-Eval+CMMLU (zh) or "
        "MMLU+GSM8K (en) ± its 90 % interval, from measured > published > predicted scores. "
        "GiB/dev = estimated peak per GPU (weights + KV cache for the context + activations + "
        "runtime), as `llmselect perf estimate` gives it. "
        f"zh chars = context window ÷ zh tokens/char measured on {req['corpus']}. "
        "Every term and caveat: --explain MODEL or --json.",
        highlight=False,
    )
    out.print(
        f"{len(result.recommendations)} ranked, {len(result.excluded)} excluded"
        + ("" if show_excluded else " (--show-excluded lists them)"),
        highlight=False,
    )
    for note in result.notes:
        print_text(f"  · {note}")
    if show_excluded and result.excluded:
        ex = Table("model", "constraint", "reason", "label")
        for e in result.excluded:
            ex.add_row(*_cells(e.model_id, e.constraint, e.reason, e.kind))
        out.print(ex)


def _fmt_license(lic: dict[str, Any]) -> str:
    return f"{lic['id'] or '?'}" + ("" if lic["allowed"] == "yes" else f" ({lic['allowed']})")


def _render_excluded(data: dict[str, Any]) -> None:
    exc = data["exclusion"]
    print_text(f"excluded by {exc['constraint']}: {exc['reason']} [{exc['kind']}]")
    for other in exc["other_reasons"]:
        print_text(f"  also: {other}")


def _render_terms(rec: dict[str, Any]) -> None:
    from rich.table import Table

    terms = Table("term", "raw", "label", "norm", "weight", "contribution", "source")
    for t in rec["terms"]:
        terms.add_row(*_cells(
            t["name"],
            t["detail"],
            t["kind"],
            f"{t['norm']:.3f}" + (f" ± {t['norm_sd']:.3f}" if t["norm_sd"] else ""),
            f"{t['weight']:.3f}",
            f"{t['contribution']:.3f}",
            t["source"] or "",
        ))  # fmt: skip
    out.print(terms)


def _render_ranked(data: dict[str, Any]) -> None:
    from llmselect.recommend.result import fit_size

    rec = data["recommendation"]
    size = fit_size(rec["memory_gib"], rec["memory_detail"]["per_device_gib"])
    place = (
        f"rank {rec['rank']} of {data['of']} · score {rec['score']:.3f} (mean "
        f"{rec['score_mean']:.3f} ± sd {rec['score_sd']:.3f}) · "
    )
    out.print(
        f"{place}coverage {rec['coverage']:.0%} · {rec['params_b']:.3f}B parameters "
        f"(exact) · {rec['precision']} · {size} ({rec['memory_kind']})",
        highlight=False,
    )
    _render_terms(rec)
    print_text(
        f"usable Chinese characters: {rec['usable_zh_chars'] or '—'} "
        f"({rec['usable_zh_chars_note']})"
    )
    lic = rec["license"]
    print_text(f"license: {lic['name'] or lic['id']} → {lic['allowed']}")
    for c in lic["conditions"]:
        print_text(f"  condition: {c}")
    for c in rec["caveats"]:
        print_text(f"  caveat: {c}")
    if rec["finetune"]:
        ft = rec["finetune"]
        out.print(
            f"fine-tuning ({ft['mode']}): {ft['per_gpu_gib']:.1f} GiB per GPU estimated — "
            f"{ft['rule']}",
            highlight=False,
        )
    print_text(rec["why"])
    print_text(f"reproduce the memory fit: {rec['perf_estimate']}")


def _render_memory(data: dict[str, Any]) -> None:
    from rich.table import Table

    if not data.get("memory_by_precision"):
        return  # no exact count: nothing is sized
    mem = Table("precision", "per device GiB", "total GiB", "fits", "label", "parts GiB")
    for m in data.get("memory_by_precision", []):
        parts = ", ".join(f"{k} {v:.2f}" for k, v in m["parts_gib"].items())
        mem.add_row(*_cells(
            m["precision"],
            f"{m['per_device_gib']:.2f}",
            f"{m['total_gib']:.2f}",
            "yes" if m["fits"] else "no",
            m["kind"],
            parts,
        ))  # fmt: skip
    out.print(mem)


def _render_explain(data: dict[str, Any]) -> None:
    from rich.markup import escape

    out.print(f"[bold]{escape(data['name'])}[/bold] ({escape(data['model_id'])}): "
              f"{data['status']}", highlight=False)  # fmt: skip
    if data["status"] == "excluded":
        _render_excluded(data)
    else:
        _render_ranked(data)
    _render_memory(data)


GpuOpt = Annotated[
    str,
    typer.Option(
        "--gpu",
        help="Memory budget: 24GB (decimal), 16GiB, 2x80GB, a GPU name (4090, A100-80G, T4, "
        "H100, L4, ...) or cpu (quantized weights in RAM; see --ram).",
    ),
]
PurposeOpt = Annotated[
    str,
    typer.Option("--purpose", help="commercial, research, learning, student or edge (on-device)."),
]
LangOpt = Annotated[str, typer.Option("--lang", help="Language mix, e.g. zh=0.7,en=0.3.")]
ContextOpt = Annotated[
    int | None,
    typer.Option("--context", help="Context length needed, tokens (default: the purpose's)."),
]
MinTokensOpt = Annotated[
    float | None,
    typer.Option("--min-tokens-per-s", help="Throughput floor, decode tokens/s (batch 1)."),
]
FinetuneOpt = Annotated[
    str,
    typer.Option("--finetune", help="Fine-tuning memory to fit too: none, lora, qlora, full."),
]
MaxParamsOpt = Annotated[
    float | None,
    typer.Option("--max-params", help="Largest model, billions of parameters (exact count)."),
]
CorpusOpt = Annotated[
    str | None,
    typer.Option(
        "--corpus",
        help="Tokenizer evidence from this corpus's runs in the store (default flores200, "
        "with the shipped baseline).",
    ),
]
TopOpt = Annotated[int, typer.Option("-n", "--top", help="How many ranked models to show.")]
RamOpt = Annotated[
    str | None,
    typer.Option("--ram", help="RAM budget for --gpu cpu (default: this machine's RAM)."),
]
ResultsOpt = Annotated[
    Path | None,
    typer.Option("--results", help="Read measurements from this result store folder."),
]
AllJsonOpt = Annotated[bool, typer.Option("--json", help="Everything as JSON on stdout.")]
ExplainOpt = Annotated[str | None, typer.Option("--explain", help="Full breakdown for one model.")]
ShowExcludedOpt = Annotated[
    bool, typer.Option("--show-excluded", help="List excluded models with their reasons.")
]
CandidatesOpt = Annotated[
    list[str],
    typer.Option(
        "--candidates", help="Local checkpoints (GGUF, folder) ranked beside the catalog."
    ),
]
RiskOpt = Annotated[
    float,
    typer.Option(
        "--risk",
        help="In [0, 1): rank by the (1 - risk)/2 quantile of the score; 0 = the mean, "
        "0.8 (default) = the 10th percentile: less evidence, lower rank.",
    ),
]
HeadroomOpt = Annotated[
    float,
    typer.Option("--headroom", help="Share of the usable GPU memory kept free, in [0, 1)."),
]
LogitsOpt = Annotated[
    str,
    typer.Option(
        "--logits",
        help="Prefill logits kept: last (as served, default) or all (scoring, training); "
        "the same convention as perf estimate.",
    ),
]
EngineOpt = Annotated[
    str, typer.Option("--engine", help="Runtime whose memory is modelled: transformers.")
]


def recommend_cmd(
    gpu: GpuOpt,
    purpose: PurposeOpt,
    lang: LangOpt = "zh=0.5,en=0.5",
    context: ContextOpt = None,
    min_tokens_per_s: MinTokensOpt = None,
    finetune: FinetuneOpt = "none",
    max_params: MaxParamsOpt = None,
    corpus: CorpusOpt = None,
    top: TopOpt = 10,
    ram: RamOpt = None,
    results: ResultsOpt = None,
    as_json: AllJsonOpt = False,
    explain_model: ExplainOpt = None,
    show_excluded: ShowExcludedOpt = False,
    candidates: CandidatesOpt = [],  # noqa: B006 - typer reads it, never mutated
    risk: RiskOpt = 0.8,
    headroom: HeadroomOpt = 0.05,
    logits: LogitsOpt = "last",
    engine: EngineOpt = "transformers",
) -> None:
    """Rank models: license and memory constraints first, then the purpose profile's score."""
    from llmselect.recommend import explain
    from llmselect.recommend.request import build_request, rank

    if top < 1:
        raise LLMSelectError(f"--top must be at least 1, got {top}")
    request = build_request(
        gpu, purpose, lang, ram=ram, context=context, min_tokens_per_s=min_tokens_per_s,
        finetune=finetune, max_params=max_params, corpus=corpus, risk=risk, headroom=headroom,
        logits=logits, engine=engine, results=results,
    )  # fmt: skip
    result, catalog = rank(request, candidates, results)
    if explain_model is not None:
        emit(explain(result, explain_model, catalog), as_json, _render_explain)
        return
    if as_json:
        print_json(result.to_dict(top=top, show_excluded=True))
    else:
        _render_table(result, top, show_excluded)
    if not result.recommendations:
        raise typer.Exit(EXIT_NO_CANDIDATE)


def register(app: typer.Typer) -> None:
    """Attach ``recommend``."""
    app.command("recommend")(recommend_cmd)
