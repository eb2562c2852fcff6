"""CLI command ``run``: run a benchmark suite (``benchmarks/<name>.yaml`` or a path)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from llmselect.cli.common import (
    EXIT_PROBE_FAILED,
    command_line,
    err,
    out,
    print_json,
    setup_logging,
)
from llmselect.cli.executors import AddressOpt, ExecutorOpt, ExecutorOptionOpt, pick_executor
from llmselect.cli.options import JsonOpt

VerboseOpt = Annotated[bool, typer.Option("-v", "--verbose", help="Debug logs on stderr.")]
SuiteOpt = Annotated[
    str,
    typer.Option(
        "--suite", "-s", help="Suite name (nightly, smoke: benchmarks/<name>.yaml) or a path."
    ),
]
ResumeOpt = Annotated[
    str | None,
    typer.Option(
        "--resume",
        help="Continue this run id: units stored whole are not run again, except those whose "
        "stored outcome is an error.",
    ),
]
KeepFailedOpt = Annotated[
    bool,
    typer.Option("--keep-failed", help="With --resume: keep failed units' errors, do not re-run."),
]
LimitOpt = Annotated[
    int | None,
    typer.Option("--limit", min=1, help="Rows per corpus/task (overrides the suite's limit)."),
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the plan; run nothing.")]


def _render_plan(spec: Any, plan: Any, as_json: bool) -> None:
    rows = plan.describe()
    if as_json:
        print_json({"suite": spec.name, "suite_hash": spec.hash, "units": rows})
        return
    for r in rows:
        extra = f"  ERROR {r['error']}" if r.get("error") else ""
        out.print(f"{r['probe']}\t{r['target']}\t{r.get('unit') or ''}{extra}", highlight=False)
    out.print(f"{len(plan.units)} units ({spec.name}, {spec.hash})", highlight=False)


def _progress(total: int) -> Callable[[Any, Any], None]:
    """One stderr line per finished unit: ``[done/total] probe target: statuses``."""
    done = 0

    def progress(unit: Any, records: Any) -> None:
        nonlocal done
        done += 1
        statuses = sorted({r.status for r in records}) or ["already done"]
        err.print(
            f"[{done}/{total}] {unit.probe.name} {unit.target.id}: {', '.join(statuses)}",
            highlight=False,
            markup=False,
        )

    return progress


def _render_result(result: Any, as_json: bool) -> None:
    if result.retried:
        err.print(
            f"{result.retried} units whose stored outcome was an error ran again "
            "(--keep-failed keeps them)",
            highlight=False,
        )
    if as_json:
        print_json(result.as_dict())
        return
    d = result.as_dict()
    out.print(
        f"run {d['run_id']}: {d['ok']} ok, {d['skipped']} skipped, {d['errors']} errors, "
        f"{d['resumed']} already done, {d['retried']} failed units run again, "
        f"{d['out_of_time']} not started (time budget), "
        f"{d['load_errors']} probe load errors\nresults: {d['run_dir']}",
        highlight=False,
        soft_wrap=True,
    )


def run(
    suite: SuiteOpt,
    resume: ResumeOpt = None,
    keep_failed: KeepFailedOpt = False,
    limit: LimitOpt = None,
    executor: ExecutorOpt = None,
    executor_option: ExecutorOptionOpt = [],  # noqa: B006 - typer reads it, never mutated
    address: AddressOpt = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Run every probe of a suite on its targets; results go to the JSONL store.

    The store is $LLMSELECT_RESULTS, else $LLMSELECT_HOME/results (~/.llmselect/results):
    one folder per run id (`llmselect results list`).

    Exit code 0: all units ok or skipped; 1: a probe errored; 2: bad suite or arguments.
    Interrupted runs keep finished units: continue with --resume RUN_ID.
    """
    from llmselect.errors import LLMSelectError
    from llmselect.suite import SuiteInterrupted, build_plan, load_suite, run_suite

    setup_logging(verbose)
    if keep_failed and not resume:
        raise LLMSelectError("--keep-failed applies to --resume RUN_ID")
    spec = load_suite(suite)
    # --executor wins over the suite's executor: block; a Ray-less install says so here
    runner = pick_executor(executor, executor_option, address, spec.executor)
    plan = build_plan(spec)
    if dry_run:
        _render_plan(spec, plan, as_json)
        return
    try:
        result = run_suite(
            spec, plan=plan, resume_run_id=resume, limit=limit, command=command_line(),
            on_unit_done=_progress(len(plan.units)), executor=runner, keep_failed=keep_failed,
        )  # fmt: skip
    except SuiteInterrupted as exc:
        err.print(
            f"Run {exc.run_id} stopped; continue it with: "
            f"llmselect run --suite {suite} --resume {exc.run_id}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        raise
    _render_result(result, as_json)
    if result.failed:
        raise typer.Exit(EXIT_PROBE_FAILED)


def register(app: typer.Typer) -> None:
    """Attach ``run``."""
    app.command("run")(run)
