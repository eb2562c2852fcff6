"""CLI command ``tokenize-bench``: tokenizer efficiency and speed on Chinese + English text.

Parse → resolve names and files (errors exit 2 before anything runs) → run the
``tokenizer_efficiency`` and ``tokenizer_throughput`` probes through the runner (records go
to the result store as they finish; a failing tokenizer becomes an error record) → render.

Answer first: every efficiency unit runs before any timing, and its table is printed as soon as
the last one finishes; the throughput table follows. Throughput is timed "quick" by default (one
fresh process per tokenizer, its passes' spread shown); ``--precise``/``--processes N`` keep the
between-process design the nightly uses. The label is stored in the records' params.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from llmselect.cli.common import (
    EXIT_PROBE_FAILED,
    command_line,
    err,
    one_format,
    out,
    print_csv,
    print_json,
)
from llmselect.cli.options import CsvOpt, JsonOpt, threads_option
from llmselect.cli.progress import UnitProgress
from llmselect.errors import LLMSelectError

TABLE_WIDTH = 150  # wide enough for every column, also when stdout is not a terminal


def _table_console():  # type: ignore[no-untyped-def]
    """stdout console; when not a terminal, wide enough that no column is cut."""
    if out.is_terminal:
        return out
    from rich.console import Console

    return Console(file=sys.stdout, width=max(out.width, TABLE_WIDTH), soft_wrap=False)


def _find(records: list[Any], model: str, probe: str, metric: str, subset_end: str) -> Any:
    for r in records:
        if (
            r.model_id == model
            and r.probe == probe
            and r.metric == metric
            and r.status == "ok"
            and (r.subset == subset_end or r.subset.endswith("/" + subset_end))
        ):
            return r
    return None


def _fmt(rec: Any, pattern: str) -> str:
    return "–" if rec is None or rec.value is None else pattern.format(rec.value)


def _render_efficiency(records: list[Any], families: list[tuple[str, Any]], corpus: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from llmselect.metrics import declared_metrics
    from llmselect.tokenizers.spec import COUNTING_CONVENTION

    table = Table(
        title=f"Tokenizer efficiency, corpus {corpus.name!r} (all values measured)",
        caption=escape(f"Counts: {COUNTING_CONVENTION}. Lower tok/char is cheaper."),
    )
    # Columns are the ones the probe's metric declarations ask for (MetricSpec.columns).
    columns = declared_metrics().columns("tokenizer_efficiency")
    table.add_column("tokenizer", no_wrap=True)
    for _m, col in columns:
        table.add_column(escape(col.header + "\nmeasured"), justify="right", overflow="fold")
    for asked, spec in families:
        label = spec.id if normalize_eq(asked, spec.id) else f"{spec.id}\n(for {asked})"
        cells = [
            _fmt(_find(records, spec.id, "tokenizer_efficiency", m, col.subset), col.fmt)
            for m, col in columns
        ]
        table.add_row(label, *cells)
    _table_console().print(table)


def _spread(rec: Any) -> str:
    """The passes' range relative to the median rate, in percent; "–" where fewer than two
    passes were timed (one pass measures no spread: 0 % would claim a noiseless timing)."""
    if rec is None or not rec.samples or len(rec.samples) < 2 or not rec.value:
        return "–"
    return f"{(max(rec.samples) - min(rec.samples)) / rec.value:.0%}"


def _render_speed(records: list[Any], families: list[tuple[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    rows = []
    how = set()
    for _asked, spec in families:
        for lang in ("zh", "en"):
            cells: list[str] = []
            for mode in ("single", "batch"):
                chars = _find(records, spec.id, "tokenizer_throughput", f"{mode}_chars_per_s", lang)
                tokens = _find(
                    records, spec.id, "tokenizer_throughput", f"{mode}_tokens_per_s", lang
                )
                cells += [_fmt(chars, "{:,.0f}"), _fmt(tokens, "{:,.0f}"), _spread(chars)]
                cells.append(str(chars.params.get("threads")) if chars is not None else "–")
                if chars is not None:
                    p = chars.params
                    how.add(
                        f"{p.get('timing', 'precise')}: {p.get('processes')} process(es) x "
                        f"{p.get('repeats')} passes"
                    )
            if any(c != "–" for c in cells):
                rows.append((spec.id, lang, *cells))
    if not rows:
        return
    speed = Table(
        title="Tokenizer throughput on this machine (measured, p50 of passes; "
        + "; ".join(sorted(how))
        + ")",
        caption="spread: (fastest - slowest pass) / p50, – with one pass. "
        "quick = one fresh process per tokenizer "
        "(--precise or --processes N time several, for comparisons between runs).",
    )
    speed.add_column("tokenizer", no_wrap=True)
    speed.add_column("lang")
    for mode in ("one text/call", "batched"):
        for header in (
            f"{mode}\n[chars/s]\nmeasured", f"{mode}\n[tokens/s]\nmeasured", "spread",
            "CPU\nthreads",
        ):  # fmt: skip
            speed.add_column(escape(header), justify="right", overflow="fold")
    for row in rows:
        speed.add_row(*row)
    _table_console().print(speed)


def normalize_eq(a: str, b: str) -> bool:
    from llmselect.names import normalize

    return normalize(a) == normalize(b)


def _print_errors(records: list[Any]) -> None:
    for r in records:
        if r.status == "error":
            first = (r.error or "").strip().splitlines()
            err.print(f"[red]error[/red] {r.model_id} {r.probe}: {first[-1] if first else ''}",
                      highlight=False, markup=True)  # fmt: skip


def _flat(rec: Any) -> dict[str, Any]:
    import json

    row = rec.model_dump(mode="json")
    row["params"] = json.dumps(row["params"], ensure_ascii=False, sort_keys=True)
    return row


def _list_families(as_json: bool, as_csv: bool) -> None:
    """``--list``: the tokenizer families, as a table, JSON or CSV."""
    from rich.table import Table

    from llmselect.tokenizers.spec import load_tokenizer_catalog

    rows = [
        {"id": s.id, "name": s.name, "kind": s.kind, "aliases": list(s.aliases),
         "hub_repo": s.hub_repo, "license": s.license}
        for s in load_tokenizer_catalog()
    ]  # fmt: skip
    if as_json:
        print_json(rows)
        return
    if as_csv:
        print_csv({**r, "aliases": ", ".join(r["aliases"])} for r in rows)
        return
    table = Table("id", "name", "kind", "aliases", "hub repo", "license")
    for r in rows:
        table.add_row(*(str(r[k] or "") for k in ("id", "name", "kind")), ", ".join(r["aliases"]),
                      r["hub_repo"] or "", r["license"])  # fmt: skip
    _table_console().print(table)


ModelsOpt = Annotated[
    str,
    typer.Option(
        "--models",
        "-m",
        help="Comma-separated tokenizer families or catalog model ids, e.g. llama2,chatglm3,bloom.",
    ),
]
CorpusOpt = Annotated[
    str,
    typer.Option(
        "--corpus",
        help="Text: default, default:<domain>, flores200[:dev|:devtest], ntrex128, tatoeba, "
        "or a .txt/.jsonl file.",
    ),
]
TokenizerDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--tokenizer-dir",
        help="Folder with tokenizer files (<dir>/<family>/ or the files themselves), tried first.",
    ),
]
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="Use only the first N pairs.")]
NoThroughputOpt = Annotated[bool, typer.Option("--no-throughput", help="Skip the speed probe.")]
ThreadsOpt = Annotated[
    int | None, threads_option("Threads for batched encoding (default: all cores).")
]
RepeatsOpt = Annotated[
    int, typer.Option("--repeats", min=1, max=100, help="Timed passes per mode and process.")
]
ProcessesOpt = Annotated[
    int | None,
    typer.Option(
        "--processes",
        min=1,
        max=20,
        help="Precise timing in N fresh processes per tokenizer, one after another (passes "
        "pooled; --precise: 3). Default: quick, one process with short passes.",
    ),
]
PreciseOpt = Annotated[
    bool,
    typer.Option("--precise", help="Time throughput in 3 fresh processes per tokenizer (slower)."),
]
ListOpt = Annotated[bool, typer.Option("--list", help="List tokenizer families and exit.")]


def _resolve(models: str, tokenizer_dir: Path | None) -> list[tuple[str, Any]]:
    """``--models`` → (asked, TokenizerSpec) pairs whose files are found: a bad name or folder
    is one error here, before anything runs."""
    from llmselect.names import split_csv
    from llmselect.tokenizers.resolve import check_tokenizer_dir, resolve_all

    names = split_csv([models])
    if not names:
        raise LLMSelectError("--models is required, e.g. --models llama2,chatglm3,bloom (--list)")
    families = _resolve_names(names)
    check_tokenizer_dir(tokenizer_dir)
    # missing files, or one file taken by two families: exit 2 before anything runs
    resolve_all([spec for _asked, spec in families], tokenizer_dir)
    return families


def _load_corpus(corpus: str, limit: int | None) -> Any:
    try:
        from llmselect.corpora import shared_corpus
    except ImportError as exc:
        raise LLMSelectError(f"corpus support is not available: {exc}") from exc
    return shared_corpus(corpus, limit=limit)  # a bad corpus exits 2 here; probes reuse it


def _print_json(summary: Any, text: Any, families: list[tuple[str, Any]]) -> None:
    from llmselect.tokenizers.spec import COUNTING_CONVENTION

    print_json(
        {
            "run_id": summary.run_id,
            "corpus": {
                "name": text.name,
                "license": text.license,
                "source": text.source,
                "segments": len(text.segments),
            },  # fmt: skip
            "counting_convention": COUNTING_CONVENTION,
            "tokenizers": {spec.id: asked for asked, spec in families},
            "records": [r.model_dump(mode="json") for r in summary.records],
        }
    )


def tokenize_bench(
    models: ModelsOpt = "",
    corpus: CorpusOpt = "default",
    tokenizer_dir: TokenizerDirOpt = None,
    limit: LimitOpt = None,
    no_throughput: NoThroughputOpt = False,
    threads: ThreadsOpt = None,
    repeats: RepeatsOpt = 5,
    processes: ProcessesOpt = None,
    precise: PreciseOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    list_families: ListOpt = False,
) -> None:
    """Measure tokens per character/word, zh/en parity and speed of tokenizers (offline)."""
    one_format(as_json, as_csv)
    if list_families:
        _list_families(as_json, as_csv)
        return
    families = _resolve(models, tokenizer_dir)
    if threads is not None:
        # tokenizers sizes its thread pool on first parallel use in this process.
        os.environ["RAYON_NUM_THREADS"] = str(threads)
    text = _load_corpus(corpus, limit)
    timing = "precise" if precise or processes is not None else "quick"
    tables = not (as_json or as_csv)

    def efficiency_done(records: list[Any]) -> None:
        # The answer the user came for, printed before the throughput phase starts.
        if tables:
            _render_efficiency(records, families, text)
            sys.stdout.flush()  # also when stdout is a pipe

    summary = _run(
        families, corpus, tokenizer_dir, limit, threads,
        (repeats, processes or (3 if precise else 1), timing), not no_throughput,
        efficiency_done,
    )  # fmt: skip
    records = summary.records
    if as_json:
        _print_json(summary, text, families)
    elif as_csv:
        print_csv(_flat(r) for r in records)
    else:
        if not no_throughput:
            _render_speed(records, families)
        err.print(f"run {summary.run_id}: {len(records)} records stored", highlight=False)
    _print_errors(records)
    if summary.errors:
        raise typer.Exit(EXIT_PROBE_FAILED)


def _resolve_names(names: list[str]) -> list[tuple[str, Any]]:
    """Tokenizer families, catalog ids, and checkpoint paths (their own tokenizer file)."""
    from llmselect.targets import resolve_tokenizers

    return resolve_tokenizers(names)


def _run(
    families: list[tuple[str, Any]],
    corpus: str,
    tokenizer_dir: Path | None,
    limit: int | None,
    threads: int | None,
    timing: tuple[int, int, str],
    throughput: bool,
    efficiency_done: Any,
):  # type: ignore[no-untyped-def]
    from llmselect.config import data_root
    from llmselect.probes.tokenizer_efficiency import TokenizerEfficiencyProbe
    from llmselect.probes.tokenizer_throughput import TokenizerThroughputProbe
    from llmselect.runner import open_run
    from llmselect.units import plan

    folder = str(tokenizer_dir) if tokenizer_dir else None
    probes: list[Any] = [
        TokenizerEfficiencyProbe(
            TokenizerEfficiencyProbe.Config(
                corpus=corpus, tokenizer_dir=folder, threads=threads or 0
            )
        )
    ]
    if throughput:
        probes.append(
            TokenizerThroughputProbe(
                TokenizerThroughputProbe.Config(
                    corpus=corpus,
                    repeats=timing[0],
                    processes=timing[1],
                    timing=timing[2],
                    threads=threads or 0,
                    tokenizer_dir=folder,
                )
            )
        )
    run = open_run(command_line(), data_root=data_root(), limit=limit)
    # Every efficiency unit first, so its table prints before the (longer) timing starts.
    units = plan([spec for _asked, spec in families], probes)
    units.sort(key=lambda u: u.probe.name != TokenizerEfficiencyProbe.name)
    left = [sum(u.probe.name == TokenizerEfficiencyProbe.name for u in units)]
    seen: list[Any] = []
    with UnitProgress("tokenize-bench", len(units)) as progress:  # a bar, or plain lines

        def done(unit: Any, records: Any) -> None:
            progress.done(unit)
            if unit.probe.name == TokenizerEfficiencyProbe.name:
                seen.extend(records)
                left[0] -= 1
                if left[0] == 0:
                    efficiency_done(seen)

        return run.execute(units, on_unit_done=done)


def register(app: typer.Typer) -> None:
    """Attach ``tokenize-bench``."""
    app.command("tokenize-bench")(tokenize_bench)
