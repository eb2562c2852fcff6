"""The parsed options of ``llmselect eval`` → the ``lm_eval_scores`` probe's config: task names
checked, their files found under the data folder and every option validated, before a model
loads (a bad one is one ``LLMSelectError``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from llmselect.errors import LLMSelectError
from llmselect.eval.tasks import (
    check_subjects,
    check_task_files,
    parse_task_names,
    resolve_data_dir,
)
from llmselect.names import split_csv
from llmselect.probes.lm_eval_scores import LmEvalScoresProbe


def _check_tasks(
    task_names: list[str], data: Path, subjects: list[str] | None, max_subjects: int | None
) -> None:
    """Missing files and subjects no task has are bad input: exit 2 before loading a model."""
    for name in task_names:
        check_task_files(name, data, subjects=subjects, max_subjects=max_subjects)
    if subjects and task_names:
        check_subjects(task_names, data, subjects)


def with_tasks(config: LmEvalScoresProbe.Config, tasks: list[str]) -> LmEvalScoresProbe.Config:
    """``config`` for ``tasks`` (asked for after the options were read), checked as
    ``eval_config`` checks tasks given on the command line."""
    names = parse_task_names(tasks)
    data = resolve_data_dir(config.data_dir)
    _check_tasks(names, data, config.subjects, config.max_subjects)
    return config.model_copy(update={"tasks": names})


def eval_config(
    tasks: Sequence[str],
    subjects: Sequence[str],
    data_dir: Path | None,
    *,
    limit: int | None,
    num_fewshot: int | None,
    batch_size: int,
    device: str,
    dtype: str,
    chat_template: bool,
    engine: str,
    threads: int | None,
    max_subjects: int | None,
) -> LmEvalScoresProbe.Config:
    """The probe's config for ``tasks`` (comma lists; none given: an empty task list, asked
    for later) on the files under ``data_dir`` (default ``<LLMSELECT_DATA_ROOT>/datasets``)."""
    given = split_csv(list(tasks))
    task_names = parse_task_names(given) if given else []
    data = resolve_data_dir(data_dir)
    chosen = split_csv(list(subjects)) or None
    _check_tasks(task_names, data, chosen, max_subjects)
    try:
        return LmEvalScoresProbe.Config(
            tasks=task_names,
            limit=limit,
            num_fewshot=num_fewshot,
            batch_size=batch_size,
            device=device,
            dtype=dtype,  # type: ignore[arg-type]
            chat_template=chat_template,
            engine=engine,  # type: ignore[arg-type]
            threads=threads,
            data_dir=str(data),
            subjects=chosen,
            max_subjects=max_subjects,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        raise LLMSelectError(f"--{first['loc'][0]}: {message}") from exc
