"""CLI commands: ``results list|show`` read the JSONL result store."""

from __future__ import annotations

import json
import logging

import typer

from llmselect.cli.common import err, one_format, out, print_csv, print_json
from llmselect.cli.options import CsvOpt, JsonOpt

log = logging.getLogger(__name__)

results_app = typer.Typer(
    help="Stored measurements (JSONL result store: $LLMSELECT_RESULTS, else "
    "$LLMSELECT_HOME/results, ~/.llmselect/results).",
    no_args_is_help=True,
)


@results_app.command("list")
def list_runs(as_json: JsonOpt = False) -> None:
    """List stored runs, oldest first: state, record counts and unreadable lines skipped."""
    from rich.table import Table

    from llmselect.store import MEASUREMENTS, iter_run_dirs, read_run_info, run_state, scan_shard

    rows = []
    for run_dir in iter_run_dirs():
        info = read_run_info(run_dir)
        scan = scan_shard(run_dir / MEASUREMENTS)
        if scan.skipped:
            log.warning("%s", scan.describe_skipped())
        state = run_state(run_dir, info)
        rows.append(
            {
                "run_id": run_dir.name,
                "command": info.command if info else "",
                "state": state,
                "records": len(scan.records),
                "errors": sum(r.status == "error" for r in scan.records),
                "unreadable_lines": len(scan.skipped),
                "finished": state == "finished",
            }
        )
    if as_json:
        print_json(rows)
        return
    cols = ("run_id", "command", "state", "records", "errors", "unreadable_lines")
    table = Table(*cols)
    for r in rows:
        table.add_row(*(str(r[k]) for k in cols))
    out.print(table)


def _check_probes(asked: set[str], stored: set[str]) -> None:
    """A ``--probe`` that is neither registered nor in the store is a typo: one error."""
    from llmselect.errors import LLMSelectError
    from llmselect.registry import probe_paths

    known = set(probe_paths()) | stored
    unknown = sorted(asked - known)
    if unknown:
        raise LLMSelectError(f"unknown probe {unknown[0]!r}; known: {', '.join(sorted(known))}")


def _filters(models: set[str], probes: set[str]) -> str:
    parts = [f"-m {','.join(sorted(models))}"] if models else []
    return " ".join(parts + ([f"-p {','.join(sorted(probes))}"] if probes else []))


def _stored_ids(models: set[str]) -> set[str]:
    """Every id the records of the ``-m`` names are stored under (``targets.stored_ids``)."""
    from llmselect.targets import stored_ids

    return {i for name in models for i in stored_ids(name)}


MODEL_HELP = (
    "Only these models: a stored id, a catalog id or alias, a family:size preset, a tokenizer "
    "family or a checkpoint path. A model also matches its tokenizer family's records "
    "(qwen2.5-7b shows what tokenize-bench stored as qwen2); a name that resolves to nothing "
    "matches itself only."
)


@results_app.command("show")
def show(
    model: list[str] = typer.Option([], "-m", "--model", help=MODEL_HELP),
    probe: list[str] = typer.Option([], "-p", "--probe", help="Only these probes."),
    all_rows: bool = typer.Option(False, "--all", help="Every row, not only the newest ok one."),
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Show stored measurements (newest ok value per key by default)."""
    from llmselect.names import split_csv
    from llmselect.store import latest, load_records

    one_format(as_json, as_csv)
    records = load_records()
    models, probes = set(split_csv(model)), set(split_csv(probe))
    _check_probes(probes, {r.probe for r in records})
    ids = _stored_ids(models)
    chosen = [
        json.loads(r.model_dump_json())  # JSON types: a missing value is null, n an integer
        for r in (records if all_rows else latest(records))
        if (not models or r.model_id in ids) and (not probes or r.probe in probes)
    ]
    if records and not chosen and (models or probes):
        err.print(f"no stored record matches {_filters(models, probes)}", highlight=False)
    # a published value names its source beside it (the table: when a row has one)
    cols = ["model_id", "probe", "metric", "subset", "value", "unit", "kind", "n", "status"]
    cols += ["source"] if as_csv or any(r["source"] for r in chosen) else []
    rows = [{c: r[c] for c in cols} for r in chosen]
    if as_json:
        print_json(chosen)
    elif as_csv:
        print_csv(rows, cols)
    else:
        from rich.table import Table

        table = Table(*cols)
        for r in rows:
            table.add_row(*("" if r[c] is None else str(r[c]) for c in cols))
        out.print(table)


def register(app: typer.Typer) -> None:
    """Attach ``results``."""
    app.add_typer(results_app, name="results")
