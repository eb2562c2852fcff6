"""CLI command ``eval``: lm-evaluation-harness scores on local task files, stored as records.

``llmselect eval --model DIR|HUB_ID|CATALOG_ID --tasks cmmlu,ceval --limit 20`` loads the
model (offline, no remote code), scores it through lm-eval on the shipped task files reading
``--data-dir`` (default ``<LLMSELECT_DATA_ROOT>/datasets``), appends the records to the result
store and prints them with n, standard error and unit, plus the zh/en aggregate scores and,
for a catalog model, the published scores beside them (labelled with their source).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from llmselect.cli.common import EXIT_PROBE_FAILED, err, out, print_json, require_device_here
from llmselect.cli.executors import AddressOpt, ExecutorOpt, ExecutorOptionOpt, pick_executor
from llmselect.cli.options import JsonOpt, threads_option
from llmselect.errors import LLMSelectError

log = logging.getLogger(__name__)


def _catalog_spec(name: str) -> Any:
    """The catalog model called ``name`` (id or alias), or None; a broken catalog is logged."""
    from llmselect.catalog import load_catalog

    try:
        return load_catalog().find(name)
    except LLMSelectError as exc:
        log.warning("catalog not available: %s", exc)
        return None


def resolve_model(model: str, model_id: str | None, revision: str | None) -> tuple[Any, Any]:
    """``(EvalModel, catalog spec or None)`` for a local dir, a catalog id/alias or a hub id."""
    from llmselect.probes.lm_eval_scores import EvalModel

    path = Path(model).expanduser()
    if path.suffix.lower() == ".gguf" or (path.is_dir() and not (path / "config.json").is_file()):
        from llmselect.targets import resolve_model as resolve_checkpoint

        try:
            src = resolve_checkpoint(str(path))  # a .gguf file, or a folder holding one
        except LLMSelectError as exc:
            # An architecture our own decoders do not read (e.g. gemma3) still runs in llama.cpp.
            from llmselect.checkpoint import llamacpp

            unknown_arch = path.is_file() and "is not supported" in str(exc)
            if not unknown_arch or llamacpp.installed_version() is None:
                raise
            spec = _catalog_spec(model_id) if model_id else None
            ident = spec.id if spec else (model_id or path.name)
            return EvalModel(id=ident, source=str(path.resolve()), revision=None), spec
        if src.kind == "gguf":
            spec = _catalog_spec(model_id) if model_id else None
            ident = spec.id if spec else (model_id or src.id)
            return EvalModel(id=ident, source=str(src.path), revision=None), spec
    if path.is_dir():
        from llmselect.formats.safetensors_file import safetensors_files

        if not safetensors_files(path):  # a config-only folder: `inspect` says "no weights"
            raise LLMSelectError(f"--model {model}: no weights (config.json only); nothing to eval")
        spec = _catalog_spec(model_id) if model_id else None
        ident = spec.id if spec else (model_id or path.resolve().name)
        return EvalModel(id=ident, source=str(path.resolve()), revision=revision), spec
    if path.exists():
        raise LLMSelectError(f"--model {model}: a file, not a checkpoint folder")
    spec = _catalog_spec(model)
    if spec is not None:
        if not spec.hf_repo:
            raise LLMSelectError(f"catalog model {spec.id} has no hub repo; pass a local folder")
        return (
            EvalModel(
                id=model_id or spec.id,
                source=spec.hf_repo,
                revision=revision or spec.revision,
                catalog_id=spec.id,
            ),
            spec,
        )
    if "/" in model and not model.startswith((".", "/", "~")):
        spec = _catalog_spec(model_id) if model_id else None
        return EvalModel(id=model_id or model, source=model, revision=revision), spec
    raise LLMSelectError(
        f"--model {model}: no such folder, catalog model or hub id (owner/name); "
        "see `llmselect catalog list`"
    )


def _require_loadable(asked: str, target: Any) -> None:
    """A hub id with no network must already be in the local cache: say so at once."""
    if Path(target.source).expanduser().exists():  # a local folder or GGUF file
        return
    from llmselect.hub import hub_available, offline_reason

    if hub_available():
        return
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(target.source, "config.json", revision=target.revision)
    if not isinstance(cached, str):
        raise LLMSelectError(
            f"--model {asked}: {target.source} is not in the Hugging Face cache and the hub "
            f"is not used ({offline_reason()}); pass a local checkpoint folder"
        )


def _row(rec: Any) -> dict[str, Any]:
    params = rec.params
    return {
        "model_id": rec.model_id,
        "task": rec.subset,
        "metric": rec.metric,
        "value": None if rec.value is None else round(rec.value, 2),
        "unit": rec.unit,
        "stderr": None if rec.stderr is None else round(rec.stderr, 2),
        "n": rec.n,
        "shots": params.get("num_fewshot"),
        "chat_template": params.get("chat_template"),
        "kind": rec.kind,
        "source": rec.source or "",
    }


def _print_table(rows: list[dict[str, Any]], model_id: str) -> None:
    from rich.table import Table

    cols = ["task", "metric", "value", "unit", "stderr", "n", "shots", "chat_template"]
    cols += ["kind", "source"]
    table = Table(title=f"lm-eval scores: {model_id}", title_justify="left")
    for col in cols:
        # numbers and the measured/published label never wrap; names and sources fold
        short = col in {"value", "unit", "stderr", "n", "shots", "kind"}
        table.add_column(col, overflow="fold", no_wrap=short)
    for r in rows:
        table.add_row(*("" if r[c] is None else str(r[c]) for c in cols))
    out.print(table)


def _print_stderr_notes(rows: list[Any]) -> None:
    """Why a row's standard error is blank: not estimable, with the interval where given."""
    for r in rows:
        note = r.params.get("stderr_note") if r.stderr is None else None
        if note:
            err.print(f"{r.subset} {r.metric}: {note}", markup=False, highlight=False)


def _ask_tasks() -> list[str]:
    """Tasks from the user at a terminal; elsewhere a one-line error (never hours of work
    started by default)."""
    import sys

    from llmselect.eval.tasks import available_tasks

    names = ", ".join(available_tasks())
    if not sys.stdin.isatty():
        raise LLMSelectError(f"name the tasks with --tasks (one or more of: {names})")
    answer = typer.prompt(f"Tasks to score, comma-separated ({names})")
    return [t.strip() for t in answer.split(",") if t.strip()]


class _EvalProgress:
    """A rich progress bar on stderr per task: requests done / total and the time left."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("requests"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), console=err.console, transient=False,
        )  # fmt: skip

    def __enter__(self) -> _EvalProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)  # type: ignore[arg-type]

    def task_callback(self, name: str) -> Any:
        task_id = self.bar.add_task(name, total=None)

        def update(done: int, total: int) -> None:
            self.bar.update(task_id, completed=done, total=total)

        return update


def _progress() -> _EvalProgress:
    return _EvalProgress()


ModelOpt = Annotated[
    str | None,
    typer.Option("-m", "--model", help="Checkpoint folder, catalog id or hub id (required)."),
]
TasksOpt = Annotated[
    list[str],
    typer.Option(
        "-t", "--tasks", help="Tasks, comma-separated (see --list-tasks); asked when absent."
    ),
]
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="Documents per task/subject.")]
FewshotOpt = Annotated[
    int | None,
    typer.Option("--num-fewshot", min=0, help="Shots (default: the task's own, 5 for exams)."),
]
BatchSizeOpt = Annotated[
    int, typer.Option("--batch-size", min=1, help="Requests per forward pass.")
]
DeviceOpt = Annotated[str, typer.Option("--device", help="cpu, cuda or cuda:N.")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="float32, bfloat16 or float16.")]
ChatTemplateOpt = Annotated[
    bool,
    typer.Option("--chat-template/--no-chat-template", help="Wrap prompts in the chat template."),
]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="auto (a GGUF file in llama.cpp when installed), llama.cpp or transformers.",
    ),
]
ThreadsOpt = Annotated[int | None, threads_option("llama.cpp threads (default: all cores).")]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Datasets folder (default <LLMSELECT_DATA_ROOT>/datasets)."),
]
SubjectsOpt = Annotated[
    list[str],
    typer.Option("--subjects", help="Only these subjects of ceval/cmmlu/mmlu (comma-separated)."),
]
MaxSubjectsOpt = Annotated[
    int | None,
    typer.Option("--max-subjects", min=1, help="Only the first N subjects of ceval/cmmlu/mmlu."),
]
ModelIdOpt = Annotated[
    str | None,
    typer.Option("--model-id", help="Id for the records (a catalog id adds its published scores)."),
]
RevisionOpt = Annotated[str | None, typer.Option("--revision", help="Hub revision (commit).")]
PerSubjectOpt = Annotated[bool, typer.Option("--per-subject", help="Also list every subject.")]
ListTasksOpt = Annotated[bool, typer.Option("--list-tasks", help="List the tasks and exit.")]


def _list_tasks(as_json: bool) -> None:
    from llmselect.eval.tasks import available_tasks

    infos = available_tasks()
    rows = [{"task": i.name, "lang": i.lang, "version": i.version} for i in infos.values()]
    if as_json:
        print_json(rows)
    else:
        for r in rows:
            out.print(f"{r['task']}\t{r['lang']}\tv{r['version']}")


def _score(run: Any, target: Any, task_names: list[str], config: Any, runner: Any) -> Any:
    """One unit per task, so Ctrl-C during the second task keeps the first task's scores."""
    from llmselect.probes.lm_eval_scores import LmEvalScoresProbe
    from llmselect.scores import aggregate_records, aggregate_scores
    from llmselect.units import plan

    run_id, ctx = run.run_id, run.ctx
    err.print(f"scoring {target.id} on {', '.join(task_names)} (run {run_id}) ...")
    probes = [LmEvalScoresProbe(config.model_copy(update={"tasks": [t]})) for t in task_names]
    with _progress() as progress:
        if getattr(runner, "name", "local") == "local":  # callbacks stay in this process
            ctx.progress = progress.task_callback  # label -> callback(done, total)
        return run.execute(
            plan([target], probes),
            executor=runner,
            # zh/en scores over the task units just measured, written by the runner with them
            derive=lambda recs: aggregate_records(
                aggregate_scores(r for r in recs if r.status == "ok"), run_id
            ),
        )


def _unit_tasks(rec: Any) -> str:
    """The task(s) of a failed or skipped unit, from the config its status record keeps."""
    import json

    config = json.loads(rec.params.get("config") or "{}")
    return ",".join(config.get("tasks") or []) or "eval"


def _render(
    run: Any, target: Any, spec: Any, task_names: list[str], summary: Any, per_subject: bool,
    as_json: bool,
) -> None:  # fmt: skip
    from llmselect.scores import published_records

    ok = [r for r in summary.records if r.status == "ok"]
    measured = [r for r in ok if r.subset != "aggregate"]
    aggregates = [r for r in ok if r.subset == "aggregate"]
    # Published numbers of the tasks just measured, listed right after the measured rows.
    published = [
        r
        for r in (published_records(spec, run_id="catalog") if spec is not None else [])
        if r.subset in task_names
    ]
    failures = [r for r in summary.records if r.status != "ok"]
    if as_json:
        dump = {k: [r.model_dump(mode="json") for r in v] for k, v in (
            ("records", measured), ("aggregates", aggregates), ("published", published),
            ("failures", failures))}  # fmt: skip
        print_json({"run_id": run.run_id, "model_id": target.id,
                    "results_dir": str(run.writer.dir), **dump})  # fmt: skip
    else:
        order = {name: i for i, name in enumerate(task_names)}

        def position(rec: Any) -> tuple[int, str, bool]:
            task = rec.subset.split("/", 1)[0]
            return (order.get(task, len(order)), rec.subset, rec.kind != "measured")

        shown = [r for r in measured if per_subject or "/" not in r.subset]
        rows = sorted([*shown, *published], key=position) + aggregates
        _print_table([_row(r) for r in rows], target.id)
        _print_stderr_notes(rows)
    err.print(f"stored {len(measured) + len(aggregates)} records in {run.writer.dir}")
    for rec in failures:
        err.print(f"{_unit_tasks(rec)}: {rec.status}: {rec.error}", markup=False, highlight=False)
    if failures:
        raise typer.Exit(EXIT_PROBE_FAILED)


def eval_command(
    model: ModelOpt = None,
    tasks: TasksOpt = [],  # noqa: B006 - typer reads it, never mutated
    limit: LimitOpt = None,
    num_fewshot: FewshotOpt = None,
    batch_size: BatchSizeOpt = 1,
    device: DeviceOpt = "cpu",
    dtype: DtypeOpt = "float32",
    chat_template: ChatTemplateOpt = False,
    engine: EngineOpt = "auto",
    threads: ThreadsOpt = None,
    data_dir: DataDirOpt = None,
    subjects: SubjectsOpt = [],  # noqa: B006 - typer reads it, never mutated
    max_subjects: MaxSubjectsOpt = None,
    model_id: ModelIdOpt = None,
    revision: RevisionOpt = None,
    per_subject: PerSubjectOpt = False,
    executor: ExecutorOpt = None,
    executor_option: ExecutorOptionOpt = [],  # noqa: B006 - typer reads it, never mutated
    address: AddressOpt = None,
    list_tasks: ListTasksOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Score a model with lm-evaluation-harness on local zh/en task files; store the records."""
    if list_tasks:
        _list_tasks(as_json)
        return
    from llmselect.config import data_root, home_dir
    from llmselect.probes.lm_eval_scores import choose_engine
    from llmselect.probes.lm_eval_setup import eval_config, with_tasks
    from llmselect.runner import open_run

    if not model:
        raise LLMSelectError(
            "--model is required (a checkpoint folder, GGUF file, catalog id or hub id)"
        )
    # unknown executor, bad option, Ray-less install: say so now
    runner = pick_executor(executor, executor_option, address)
    config = eval_config(
        tasks, subjects, data_dir, limit=limit, num_fewshot=num_fewshot, batch_size=batch_size,
        device=device, dtype=dtype, chat_template=chat_template, engine=engine, threads=threads,
        max_subjects=max_subjects,
    )  # fmt: skip
    target, spec = resolve_model(model, model_id, revision)
    _require_loadable(model, target)
    choose_engine(target.source, config)  # a missing or misused engine: say so now
    if runner.name == "local":  # a GPU asked for here must be here (a cluster's have their own)
        require_device_here(device, "use --device cpu")
    if not config.tasks:  # asked only once the model and options are known to be good
        config = with_tasks(config, _ask_tasks())
    task_names = list(config.tasks)
    runner.start()  # join a cluster before the run exists: a failed connect leaves no run
    run = open_run(
        f"eval {target.id} {','.join(task_names)}", device=device, data_root=data_root(),
        cache_dir=home_dir() / "cache",
    )  # fmt: skip
    summary = _score(run, target, task_names, config, runner)
    _render(run, target, spec, task_names, summary, per_subject, as_json)


def register(app: typer.Typer) -> None:
    """Attach ``eval``."""
    app.command("eval")(eval_command)
