"""Task registry: task names → lm-eval config dicts that read local data files.

The task files live in ``benchmarks/lm_eval_tasks/<name>.yaml`` (lm-eval YAML plus an
``llmselect:`` block). At run time the data dir (``--data-dir``, else
``<LLMSELECT_DATA_ROOT>/datasets``) is substituted into ``dataset_kwargs.data_files``, one
config is made per subject for ceval/cmmlu/mmlu, and the subjects are wrapped in an inline
lm-eval group whose score is the size-weighted mean (lm-eval's pooled standard error).
Nothing is downloaded: ``dataset_path`` is ``csv`` or ``json``, or a ``custom_dataset`` from
``utils.py`` reads nested JSON into one row per question (c3, cmrc2018).
"""

from __future__ import annotations

import copy
import csv
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from llmselect.config import PACKAGE_DIR, data_subdir
from llmselect.errors import LLMSelectError
from llmselect.names import lookup, normalize

TASKS_DIR = PACKAGE_DIR.parent / "benchmarks" / "lm_eval_tasks"


@dataclass(frozen=True)
class TaskInfo:
    """What a task file says about itself, read without lm-eval."""

    name: str
    lang: str
    grouped: bool
    path: Path
    version: str
    subjects_glob: str | None
    subject_suffix: str
    data_files: dict[str, str]
    # (questions, labels) data-file keys whose files must have one label line per question line
    line_pairs: tuple[tuple[str, str], ...] = ()


@dataclass
class BuiltTask:
    """One task ready for lm-eval: one task config, or one per subject plus a group."""

    info: TaskInfo
    configs: list[dict[str, Any]]
    subjects: list[str]
    files: list[Path]
    group: dict[str, Any] | None = None

    @property
    def member_names(self) -> dict[str, str]:
        """lm-eval task name → subject, for grouped tasks (empty otherwise)."""
        if self.group is None:
            return {}
        return {c["task"]: s for c, s in zip(self.configs, self.subjects, strict=True)}

    def to_lm_eval(self) -> Any:
        """A ``ConfigurableTask``, or a ``Group`` holding one task per subject (imports lm-eval).

        Built as objects because lm-eval 0.4.13 leaks an inline group dict's own keys into its
        members' configs.
        """
        from lm_eval.api.group import Group
        from lm_eval.api.task import ConfigurableTask

        _quiet_custom_dataset_hint()
        tasks = [self._load(ConfigurableTask, c) for c in self.configs]
        if self.group is None:
            return tasks[0]
        group = Group.from_config(self.group)
        for task in tasks:
            group.add(task)
        return group

    def _load(self, make: Any, config: dict[str, Any]) -> Any:
        """One lm-eval task, its data read now: a file that does not parse is an
        ``LLMSelectError`` naming the task, its files and the parser's own message."""
        from datasets.exceptions import DatasetGenerationError

        try:
            return make(config=copy.deepcopy(config))
        except (DatasetGenerationError, ValueError) as exc:
            cause = exc.__cause__ or exc
            files = ", ".join(config.get("dataset_kwargs", {}).get("data_files", {}).values())
            raise LLMSelectError(
                f"task {self.info.name}: cannot read {files}: {type(cause).__name__}: {cause}"
            ) from exc


class _CustomDatasetHint(logging.Filter):
    """Drops lm-eval's per-task hint about its own ``--metadata`` flag (``custom_dataset`` tasks
    such as c3 and cmrc2018 read local files; that flag does not exist here)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Custom kwargs can be passed to `--metadata`" not in record.getMessage()


def _quiet_custom_dataset_hint() -> None:
    logger = logging.getLogger("lm_eval.api.task")
    if not any(isinstance(f, _CustomDatasetHint) for f in logger.filters):
        logger.addFilter(_CustomDatasetHint())


class _MetaLoader(yaml.SafeLoader):
    """Reads task YAML without importing the ``!function`` targets (kept as strings)."""


_MetaLoader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


def tasks_dir() -> Path:
    """Folder of the shipped task files."""
    if not TASKS_DIR.is_dir():
        raise LLMSelectError(f"lm-eval task files not found at {TASKS_DIR}")
    return TASKS_DIR


def _read_info(path: Path) -> TaskInfo:
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_MetaLoader)  # noqa: S506
    meta = raw.get("llmselect") or {}
    return TaskInfo(
        name=path.stem,
        lang=str(meta.get("lang", "")),
        grouped=bool(meta.get("group", False)),
        path=path,
        version=str((raw.get("metadata") or {}).get("version", "")),
        subjects_glob=meta.get("subjects_glob"),
        subject_suffix=str(meta.get("subject_suffix", "")),
        data_files=dict(meta.get("data_files") or {}),
        line_pairs=tuple((str(a), str(b)) for a, b in meta.get("line_pairs") or ()),
    )


def available_tasks() -> dict[str, TaskInfo]:
    """Every shipped task by name (``cmmlu``, ``ceval``, ``mmlu``, ``gsm8k``, ...)."""
    return {p.stem: _read_info(p) for p in sorted(tasks_dir().glob("*.yaml"))}


def find_task(name: str) -> TaskInfo:
    """A task by name, case- and ``-``/``_``-insensitive, with "did you mean" on a miss."""
    table = {normalize(k): v for k, v in available_tasks().items()}
    try:
        return lookup(name, table, "lm-eval task")
    except LLMSelectError:
        known = ", ".join(available_tasks())
        raise LLMSelectError(f"unknown lm-eval task {name!r}; known: {known}") from None


def resolve_data_dir(data_dir: Path | str | None) -> Path:
    """``data_dir`` if given, else ``<LLMSELECT_DATA_ROOT>/datasets``; must exist."""
    path = Path(data_dir).expanduser() if data_dir else data_subdir("datasets")
    if path is None:
        raise LLMSelectError("no data dir: pass --data-dir or set LLMSELECT_DATA_ROOT")
    if not path.is_dir():
        raise LLMSelectError(f"data dir {path} is not a folder")
    return path.resolve()


def task_subjects(info: TaskInfo, data_dir: Path) -> list[str]:
    """Subjects of a grouped task, from the file names under the data dir (sorted)."""
    if not info.grouped or not info.subjects_glob:
        return []
    stems = sorted(p.stem for p in data_dir.glob(info.subjects_glob))
    suffix = info.subject_suffix
    return [s[: len(s) - len(suffix)] if suffix and s.endswith(suffix) else s for s in stems]


def _fill(value: Any, subject: str) -> Any:
    """Replace ``{subject}`` in every string of a config (the only placeholder)."""
    if isinstance(value, str):
        return value.replace("{subject}", subject)
    if isinstance(value, dict):
        return {k: _fill(v, subject) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, subject) for v in value]
    return value


def _data_kwargs(
    info: TaskInfo, data_dir: Path, subject: str, cache_dir: Path | None
) -> tuple[dict[str, Any], list[Path]]:
    files = {
        split: data_dir / rel.replace("{subject}", subject)
        for split, rel in info.data_files.items()
    }
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise LLMSelectError(f"task {info.name}: data file missing: {missing[0]}")
    kwargs: dict[str, Any] = {"data_files": {k: str(v) for k, v in files.items()}}
    csv_files = [p for p in files.values() if p.suffix == ".csv"]
    if csv_files:
        # Every cell is text: no NaN for options like "None"/"NA", no 1 → 1.0 in number options.
        kwargs.update({"keep_default_na": False, "features": _string_features(csv_files[0])})
    if cache_dir is not None:
        kwargs["cache_dir"] = str(cache_dir)
    return kwargs, list(files.values())


def _string_features(path: Path) -> Any:
    """All-string ``datasets.Features`` for a CSV's columns (pandas' names for blank headers)."""
    import datasets

    with path.open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh), [])
    names = [name or f"Unnamed: {i}" for i, name in enumerate(header)]
    return datasets.Features({name: datasets.Value("string") for name in names})


def _select_subjects(
    info: TaskInfo, all_subjects: list[str], subjects: list[str] | None, max_subjects: int | None
) -> list[str]:
    chosen = all_subjects
    if subjects:
        chosen = [s for s in all_subjects if s in set(subjects)]
        if not chosen:
            raise LLMSelectError(
                f"task {info.name}: none of the subjects {', '.join(subjects)} exist "
                f"(e.g. {', '.join(all_subjects[:3])})"
            )
    if max_subjects is not None:
        if max_subjects < 1:
            raise LLMSelectError("--max-subjects must be at least 1")
        chosen = chosen[:max_subjects]
    return chosen


def check_task_files(
    name: str,
    data_dir: Path,
    *,
    subjects: list[str] | None = None,
    max_subjects: int | None = None,
) -> list[Path]:
    """The data files a task will read; a missing one is an ``LLMSelectError`` naming it.

    Cheap (no lm-eval import), so a command can refuse bad input before loading a model.
    """
    info = find_task(name)
    chosen = [""]
    if info.grouped:
        all_subjects = task_subjects(info, data_dir)
        if not all_subjects:
            raise LLMSelectError(
                f"task {info.name}: no files match {data_dir / info.subjects_glob}"
            )
        chosen = _select_subjects(info, all_subjects, subjects, max_subjects)
    files = []
    for subject in chosen:
        paths = {key: data_dir / rel.replace("{subject}", subject)
                 for key, rel in info.data_files.items()}  # fmt: skip
        for path in paths.values():
            if not path.is_file():
                raise LLMSelectError(f"task {info.name}: data file missing: {path}")
            files.append(path)
        for questions, labels in info.line_pairs:
            _check_line_pair(info.name, paths[questions], paths[labels])
    return files


def check_subjects(task_names: list[str], data_dir: Path, subjects: list[str]) -> None:
    """Every subject asked for is one of at least one grouped task asked for (each task keeps
    the ones it has), so a misspelt subject is refused instead of left out without a word."""
    infos = [find_task(name) for name in task_names]
    known = {s for info in infos for s in task_subjects(info, data_dir)}
    unknown = [s for s in subjects if s not in known]
    if not unknown:
        return
    asked = ", ".join(unknown)
    grouped = [info.name for info in infos if info.grouped]
    if grouped:
        raise LLMSelectError(f"--subjects {asked}: no such subject in {', '.join(grouped)}")
    having = ", ".join(name for name, info in available_tasks().items() if info.grouped)
    raise LLMSelectError(
        f"--subjects {asked}: no task asked for has subjects ({', '.join(task_names)}); "
        f"these do: {having}"
    )


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def _check_line_pair(task: str, questions: Path, labels: Path) -> None:
    """A label file must have one line per question line (a shorter one would shift labels)."""
    n_questions, n_labels = _count_lines(questions), _count_lines(labels)
    if n_questions != n_labels:
        raise LLMSelectError(
            f"task {task}: {labels} has {n_labels} labels for {n_questions} questions "
            f"in {questions.name}"
        )


def build_task(
    name: str,
    data_dir: Path,
    *,
    subjects: list[str] | None = None,
    max_subjects: int | None = None,
    cache_dir: Path | None = None,
) -> BuiltTask:
    """The lm-eval config for one task; ``!function`` entries are resolved (imports lm-eval)."""
    from lm_eval.tasks._yaml_loader import load_yaml

    info = find_task(name)
    raw = load_yaml(info.path, resolve_func=True)
    raw.pop("llmselect", None)
    if not info.grouped:
        kwargs, files = _data_kwargs(info, data_dir, "", cache_dir)
        config = copy.deepcopy(raw) | {"dataset_kwargs": kwargs}
        return BuiltTask(info=info, configs=[config], subjects=[], files=files)

    all_subjects = task_subjects(info, data_dir)
    if not all_subjects:
        raise LLMSelectError(f"task {info.name}: no files match {data_dir / info.subjects_glob}")
    chosen = _select_subjects(info, all_subjects, subjects, max_subjects)
    members, files = [], []
    for subject in chosen:
        kwargs, subject_files = _data_kwargs(info, data_dir, subject, cache_dir)
        members.append(_fill(copy.deepcopy(raw), subject) | {"dataset_kwargs": kwargs})
        files.extend(subject_files)
    metrics = [m["metric"] for m in raw.get("metric_list", [])]
    group = {
        "group": info.name,
        "aggregate_metric_list": [
            {"metric": m, "aggregation": "mean", "weight_by_size": True} for m in metrics
        ],
        "metadata": {"version": float(info.version or 1)},
    }
    return BuiltTask(info=info, configs=members, subjects=chosen, files=files, group=group)


def parse_task_names(names: list[str]) -> list[str]:
    """Validate task names (with "did you mean"), keeping order and dropping repeats."""
    out: list[str] = []
    for name in names:
        info = find_task(name)
        if info.name not in out:
            out.append(info.name)
    if not out:
        raise LLMSelectError(f"no tasks given; known: {', '.join(available_tasks())}")
    return out
