"""Probe ``lm_eval_scores``: lm-evaluation-harness accuracy on local zh/en task files.

The model is a local checkpoint directory or a hub id (offline: it must already be in the
Hugging Face cache). It is loaded with transformers (``trust_remote_code=False``, safetensors
only) and scored through lm-eval's ``simple_evaluate`` on the configs of
``llmselect.eval.tasks`` (data read from local CSV/JSON files, nothing downloaded).

Records, one per (task or subject, metric): ``acc`` / ``acc_norm`` / ``exact_match_<filter>``
in percent (unit ``%``, stderr in percentage points; None with ``params["stderr_note"]`` where
lm-eval's is 0 or "N/A" and so not estimable, see ``stderr_and_note``), ``n`` = documents scored,
``higher_is_better`` from lm-eval, ``subset`` = ``cmmlu`` (group, size-weighted mean over the
subjects) or ``cmmlu/agronomy`` (one subject). ``params`` carry the settings (limit, shots,
batch size, device, dtype, chat template on/off, the split scored), the lm-eval and task
versions and a sha256 of the data files, so every score says how it was made.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from llmselect.catalog import ModelSpec
from llmselect.errors import LLMSelectError, ProbeSkipped
from llmselect.hardware import usable_cpus
from llmselect.hub import hub_available, offline_reason
from llmselect.metrics import ChartSpec, MetricSpec
from llmselect.probes.base import Probe, ProbeConfig, RunContext
from llmselect.records import Measurement

log = logging.getLogger(__name__)

UNIT = "%"
# lm-eval result entries that are not scores: the display alias and a group's sample count.
SKIP_METRICS = frozenset({"alias", "sample_len"})


@dataclass(frozen=True)
class EvalModel:
    """What to evaluate: ``source`` is a local checkpoint dir or a hub id."""

    id: str
    source: str
    revision: str | None = None
    catalog_id: str | None = None


def as_eval_model(target: Any) -> EvalModel:
    """An ``EvalModel`` as is; a catalog ``ModelSpec`` becomes its pinned hub repo."""
    if isinstance(target, EvalModel):
        return target
    repo = getattr(target, "hf_repo", None)
    if not repo:
        raise ProbeSkipped(f"{target.id}: no checkpoint folder or hub repo to load")
    return EvalModel(
        id=target.id, source=repo, revision=getattr(target, "revision", None), catalog_id=target.id
    )


# (source, revision, dtype, device) → (model, tokenizer): the eval command runs one unit per
# task on the same model, and loading a checkpoint costs far more than scoring a small task.
_LAST_LOADED: dict[tuple[str, str | None, str, str], tuple[Any, Any]] = {}


class LmEvalScoresConfig(ProbeConfig):
    """Options of ``lm_eval_scores``."""

    tasks: list[str] = Field(default=["cmmlu", "ceval"], description="Task names to score.")
    limit: int | None = Field(default=None, description="Documents per task (per subject).")
    num_fewshot: int | None = Field(default=None, description="Shots; None = the task's own.")
    batch_size: int = Field(default=1, ge=1, description="Requests per forward pass.")
    device: str = Field(default="cpu", description="torch device: cpu, cuda, cuda:1, ... or mps")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        default="float32", description="Weights dtype."
    )
    chat_template: bool = Field(default=False, description="Wrap prompts in the chat template.")
    data_dir: str | None = Field(
        default=None, description="Datasets folder; default <LLMSELECT_DATA_ROOT>/datasets."
    )
    subjects: list[str] | None = Field(
        default=None, description="Only these subjects of grouped tasks (ceval, cmmlu, mmlu)."
    )
    max_subjects: int | None = Field(
        default=None, description="Only the first N subjects (alphabetical) of grouped tasks."
    )
    max_length: int | None = Field(
        default=None, description="Context tokens; default the model's (at most 4096)."
    )
    engine: Literal["auto", "llama.cpp", "transformers"] = Field(
        default="auto",
        description="Scoring engine: a GGUF file runs in llama.cpp when llama-cpp-python is "
        "installed (auto), else dequantized in transformers.",
    )
    threads: int | None = Field(
        default=None, ge=1, description="llama.cpp threads; default all CPU cores."
    )

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        """Checked before any model loads: torch would fail only after the load."""
        if not re.fullmatch(r"cpu|mps|cuda(:\d+)?", value):
            raise ValueError(f"must be cpu, cuda, cuda:N or mps, got {value!r}")
        return value


def scored_split(config: dict[str, Any]) -> str | None:
    """The split lm-eval scores a task config on: its test split, else its validation split
    (``ConfigurableTask.eval_docs``)."""
    return config.get("test_split") or config.get("validation_split")


def _data_sha256(files: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _split_key(key: str) -> tuple[str, str]:
    """lm-eval result keys are ``metric,filter``; ``acc,none`` → ``("acc", "none")``."""
    metric, _, filt = key.partition(",")
    return metric, filt or "none"


def _metric_name(metric: str, filt: str) -> str:
    return metric if filt == "none" else f"{metric}_{filt.replace('-', '_')}"


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None  # lm-eval writes "N/A" where it has no stderr


CONFIDENCE = 0.95  # of the exact interval given where a standard error is not estimable


def stderr_and_note(
    score: float, stderr: float | None, n: int | None
) -> tuple[float | None, dict[str, Any]]:
    """The standard error to store (percentage points) and, where it is not estimable, why.

    lm-eval's standard error is the documents' sample standard deviation over √n, and a
    grouped task's is pooled from its subjects' spreads within each subject. When the documents
    scored alike (3 of 3 right, 0 of 3, or each subject's among themselves) it is 0: a claim of
    perfect certainty from a few documents. Such a 0, and the "N/A" lm-eval writes for one
    document (no spread to take), are stored as ``None`` with the reason in ``stderr_note``.
    None, not a substitute number: ``stderr`` is lm-eval's sample standard error wherever it is
    given, and every reader already treats None as unknown (the zh/en aggregate then has none
    either), where a number of our own would pass for lm-eval's. The interval that does not
    collapse is given beside it where the score sits at 0 % or 100 %: the exact
    (Clopper-Pearson) 95 % interval, ``ci95_low_pct``..``ci95_high_pct``. It holds for any
    per-document score in [0, 1] (accuracy, exact match, F1): all n documents at 0 has
    probability at most (1 - mean)^n.
    """
    if stderr is not None and stderr > 0:
        return 100.0 * stderr, {}
    if stderr is None:
        given, why = "is not given (N/A)", "one document has no spread, and some metrics have none"
    else:
        given, why = "is 0", "every document scored alike, or alike within each subject of a group"
    if not n or 0.0 < score < 1.0:
        why = why if n else "no documents counted"
        return None, {"stderr_note": f"not estimable: lm-eval's standard error {given} ({why})"}
    tail = ((1.0 - CONFIDENCE) / 2) ** (1.0 / n)  # P(all n alike) = tail at the bound
    low, high = (0.0, 1.0 - tail) if score <= 0.0 else (tail, 1.0)
    scored = "the one document" if n == 1 else f"all {n} documents"
    note = (
        f"not estimable: {scored} scored {100.0 * score:.0f} %, so lm-eval's standard "
        f"error {given}; exact (Clopper-Pearson) {100 * CONFIDENCE:.0f} % interval "
        f"{100.0 * low:.1f}-{100.0 * high:.1f} %"
    )
    return None, {
        "stderr_note": note,
        "ci95_low_pct": round(100.0 * low, 4),
        "ci95_high_pct": round(100.0 * high, 4),
    }


def _load_gguf(path: Path, torch_dtype: Any, device: str) -> tuple[Any, Any]:
    """A GGUF file in transformers: weights dequantized with ``gguf``, config and tokenizer read
    from the file by transformers."""
    from transformers import AutoTokenizer

    from llmselect.checkpoint.runtime import transformers_model

    spec = {"checkpoint": str(path), "checkpoint_format": "gguf"}
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    except (OSError, ValueError) as exc:
        raise LLMSelectError(f"cannot read the tokenizer of {path}: {exc}") from exc
    return transformers_model(spec, torch_dtype, device), tokenizer


def choose_engine(source: str, cfg: LmEvalScoresConfig) -> str:
    """``llama.cpp`` or ``transformers`` for a model source and the asked engine; an option
    llama.cpp would not apply (a GPU device, a batch size) is refused, never recorded as used."""
    from llmselect.checkpoint import llamacpp

    engine, device = cfg.engine, cfg.device
    gguf = source.lower().endswith(".gguf")
    if engine == "llama.cpp":
        if not gguf:
            raise LLMSelectError(f"--engine llama.cpp needs a GGUF file, not {source}")
        llamacpp.require()
        chosen = "llama.cpp"
    elif engine == "auto" and gguf and llamacpp.installed_version() is not None:
        chosen = "llama.cpp"
    else:
        return "transformers"
    if device != "cpu":  # llama.cpp is built and opened here for the CPU (no layer offload)
        raise LLMSelectError(
            f"--device {device}: llama.cpp scores a GGUF file on the CPU here; use --device cpu, "
            f"or --engine transformers to run it dequantized on {device}"
        )
    if cfg.batch_size != 1:  # LlamaCppLM scores one request at a time
        raise LLMSelectError(
            f"--batch-size {cfg.batch_size}: llama.cpp scores one request at a time; use "
            "--batch-size 1, or --engine transformers to batch"
        )
    return chosen


def llamacpp_lm(
    path: str, *, threads: int | None, max_length: int | None, name: str, progress: Any = None
) -> Any:
    """``LlamaCppLM`` over a GGUF file (context 2048 tokens unless asked; threads: the CPUs
    this process may use unless asked, as ``--threads`` is bounded)."""
    from llmselect.eval.llamacpp_lm import LlamaCppLM

    return LlamaCppLM(
        path, threads=threads or usable_cpus(), max_length=max_length or 2048,
        name=name, progress=progress,
    )  # fmt: skip


def _score(
    lm: Any, built: list[Any], cfg: LmEvalScoresConfig, limit: int | None
) -> tuple[Any, float]:
    """lm-eval's results for ``built`` tasks on ``lm``, and the seconds it took."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    started = time.perf_counter()
    results = simple_evaluate(
        model=lm,
        tasks=[b.to_lm_eval() for b in built],
        task_manager=TaskManager(include_defaults=False),
        num_fewshot=cfg.num_fewshot,
        limit=limit,
        batch_size=cfg.batch_size,
        device=cfg.device,
        apply_chat_template=cfg.chat_template,
        fewshot_as_multiturn=cfg.chat_template,
        log_samples=False,
    )
    if not results:
        raise LLMSelectError("lm-eval returned no results")
    return results, time.perf_counter() - started


GGUF_WORKER = "llmselect.probes._lm_eval_worker"
GGUF_TIMEOUT_S = 48 * 3600.0  # a whole split on a CPU can take hours; a hung child still ends


def _score_gguf_in_child(
    target: EvalModel, cfg: LmEvalScoresConfig, data_dir: Path, cache_dir: Path | None,
    limit: int | None,
) -> tuple[dict[str, Any], dict[str, Any], float]:  # fmt: skip
    """Score a GGUF file through llama.cpp in a fresh child (``score_gguf`` there): llama.cpp
    never runs in this process, so a crash in it fails this unit with its signal named."""
    import json

    from llmselect.childproc import run_child

    spec = json.dumps({
        "id": target.id, "source": target.source, "config": cfg.model_dump(mode="json"),
        "data_dir": str(data_dir), "cache_dir": str(cache_dir) if cache_dir else None,
        "limit": limit,
    })  # fmt: skip
    out = run_child(GGUF_WORKER, spec, timeout_s=GGUF_TIMEOUT_S, label="llama.cpp")
    if out.get("status") != "ok":
        raise LLMSelectError(str(out.get("error") or "llama.cpp child gave no result"))
    return out["results"], out["engine_params"], float(out["duration_s"])


def _stored_type(lm: Any) -> str:
    """The GGUF file's own weight type (``q4_1``): llama.cpp runs it as stored, not ``--dtype``."""
    from llmselect.memory.ggml_quant import FTYPE_CODES

    code = lm.llm.metadata.get("general.file_type")
    return FTYPE_CODES.get(int(code), f"gguf file_type {code}") if code is not None else "gguf"


def score_gguf(spec: dict[str, Any]) -> dict[str, Any]:
    """The child's side of ``_score_gguf_in_child``: the tasks on the GGUF file in llama.cpp,
    results as JSON (values lm-eval keeps that JSON cannot hold become text)."""
    import json

    import datasets

    from llmselect.checkpoint import llamacpp
    from llmselect.eval.tasks import build_task, parse_task_names

    datasets.disable_progress_bars()
    cfg = LmEvalScoresConfig.model_validate(spec["config"])
    cache_dir = Path(spec["cache_dir"]) if spec["cache_dir"] else None
    built = [
        build_task(name, Path(spec["data_dir"]), subjects=cfg.subjects,
                   max_subjects=cfg.max_subjects, cache_dir=cache_dir)
        for name in parse_task_names(cfg.tasks)
    ]  # fmt: skip
    lm = llamacpp_lm(spec["source"], threads=cfg.threads, max_length=cfg.max_length,
                     name=spec["id"])  # fmt: skip
    if cfg.chat_template and not lm.chat_template():
        raise LLMSelectError(f"model {spec['id']} has no chat template; use --no-chat-template")
    results, duration = _score(lm, built, cfg, spec["limit"])
    params = {"lm_backend": "llama.cpp", "threads": lm.threads, "dtype": _stored_type(lm),
              **llamacpp.version_info()}  # fmt: skip
    return {
        "status": "ok", "results": json.loads(json.dumps(results, default=str)),
        "engine_params": params, "duration_s": duration,
    }  # fmt: skip


def _score_metric(name: str, label: str, **shown: Any) -> MetricSpec:
    """A task score lm-eval names: a percentage, higher is better, group rows only."""
    return MetricSpec(name, UNIT, True, "eval", label=label, group_rows_only=True, **shown)


def _aggregate_metric(lang: str) -> MetricSpec:
    """``zh_score``/``en_score``: the mean of one language's tasks."""
    return MetricSpec(
        f"{lang}_score", UNIT, True, "eval", label=f"{lang} score",
        description=f"mean of the {lang} tasks of a run (subset aggregate; eval derives it)",
    )  # fmt: skip


class LmEvalScoresProbe(Probe[LmEvalScoresConfig, "EvalModel | ModelSpec"]):
    """lm-eval scores on local data files.

    Tasks: C-Eval, CMMLU, MMLU, GSM8K, XCOPA-zh, CLUEWSC, C3 and CMRC 2018.
    """

    name = "lm_eval_scores"
    version = 1
    requires = frozenset({"lm_eval", "torch", "transformers"})
    uses_device = True
    fresh_process = True
    description = "lm-evaluation-harness scores on local C-Eval/CMMLU/MMLU/... files (%)."
    Config = LmEvalScoresConfig
    # lm-eval names the metrics of each task; these are the ones the report and recommender
    # single out, "*" places the rest. Subsets are tasks; "task/subject" rows are subjects.
    metrics = (
        _score_metric(
            "acc", "accuracy", table="Scores", evidence="score",
            chart=ChartSpec(
                "eval-scores", "Evaluation scores", "lm-eval accuracy per task (group score).",
                group_rows_only=True, order=70,
            ),
        ),
        _score_metric("acc_norm", "length-normalized accuracy", table="Scores"),
        _score_metric("exact_match_strict-match", "exact match (strict)", table="Scores"),
        _score_metric("exact_match_strict_match", "exact match (strict)", evidence="score"),
        _score_metric("exact_match", "exact match", evidence="score"),
        *(_aggregate_metric(lang) for lang in ("zh", "en")),
        MetricSpec("*", UNIT, True, "eval", group_rows_only=True),
    )  # fmt: skip

    config: LmEvalScoresConfig

    # ------------------------------------------------------------ model
    def _load(self, target: EvalModel) -> tuple[Any, Any]:
        """The model and tokenizer; the last one loaded is reused by the next unit (next task)."""
        key = (target.source, target.revision, self.config.dtype, self.config.device)
        if key not in _LAST_LOADED:
            _LAST_LOADED.clear()  # hold one model at most
            _LAST_LOADED[key] = self._load_uncached(target)
        model, tokenizer = _LAST_LOADED[key]
        if self.config.chat_template and not getattr(tokenizer, "chat_template", None):
            raise LLMSelectError(f"model {target.id} has no chat template; use --no-chat-template")
        return model, tokenizer

    def _load_uncached(self, target: EvalModel) -> tuple[Any, Any]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        cfg = self.config
        if cfg.device.startswith("cuda") and not torch.cuda.is_available():
            raise ProbeSkipped("CUDA requested but not available")
        source = target.source
        if source.lower().endswith(".gguf"):
            return _load_gguf(Path(source), getattr(torch, cfg.dtype), cfg.device)
        if not Path(source).expanduser().is_dir() and Path(source).expanduser().exists():
            raise LLMSelectError(f"model {source!r} is a file, not a checkpoint folder")
        # Offline (or with the hub unreachable, checked once per process), a hub id must
        # already be in the local cache: fail at once, no retries.
        local = Path(source).expanduser().is_dir()
        kwargs = {
            "revision": target.revision,
            "trust_remote_code": False,
            "local_files_only": local or not hub_available(),
        }
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
            model = AutoModelForCausalLM.from_pretrained(
                source, dtype=getattr(torch, cfg.dtype), use_safetensors=True, **kwargs
            )
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            where = (
                f" ({offline_reason()}: only local folders and the hub cache)"
                if not local and not hub_available()
                else ""
            )
            raise LLMSelectError(f"cannot load model {source!r}{where}: {first}") from exc
        return model.to(cfg.device), tokenizer

    # ------------------------------------------------------------ run
    def run(self, target: EvalModel | ModelSpec, ctx: RunContext) -> Iterator[Measurement]:
        """Score the model on the configured tasks; yields one record per task/subject metric.

        ``target`` is an ``EvalModel`` (local folder or hub id) or a catalog ``ModelSpec``.
        """
        target = as_eval_model(target)
        import datasets

        from llmselect.eval.hf_lm import TransformersLM
        from llmselect.eval.tasks import build_task, parse_task_names, resolve_data_dir

        datasets.disable_progress_bars()
        cfg = self.config
        data_dir = resolve_data_dir(cfg.data_dir or (ctx.data_root and ctx.data_root / "datasets"))
        cache_dir = (ctx.cache_dir / "datasets") if ctx.cache_dir else None
        built = [
            build_task(
                name,
                data_dir,
                subjects=cfg.subjects,
                max_subjects=cfg.max_subjects,
                cache_dir=cache_dir,
            )
            for name in parse_task_names(cfg.tasks)
        ]
        limit = cfg.limit if cfg.limit is not None else ctx.limit
        progress = ctx.progress  # label -> callback(done, total), from the CLI
        callback = progress(",".join(cfg.tasks)) if progress else None
        engine = choose_engine(target.source, cfg)
        if engine == "llama.cpp":  # in a child process only: a crash there is one failed unit
            results, engine_params, duration = _score_gguf_in_child(
                target, cfg, data_dir, cache_dir, limit
            )
        else:
            model, tokenizer = self._load(target)
            lm = TransformersLM(
                model, tokenizer, batch_size=cfg.batch_size, max_length=cfg.max_length,
                name=target.id, progress=callback,
            )  # fmt: skip
            engine_params = {"lm_backend": "transformers"}  # hf_lm.TransformersLM
            results, duration = _score(lm, built, cfg, limit)
        base = {
            "limit": limit,
            "batch_size": cfg.batch_size,
            "device": cfg.device,
            "dtype": cfg.dtype,
            "chat_template": cfg.chat_template,
            "lm_eval": metadata.version("lm_eval"),
            **engine_params,
            "model_source": target.source,
            "revision": target.revision,
            "data_dir": str(data_dir),
        }
        for task in built:
            yield from self._task_records(ctx, target, task, results, base, duration)

    def _task_records(
        self,
        ctx: RunContext,
        target: EvalModel,
        task: Any,
        results: dict[str, Any],
        base: dict[str, Any],
        duration: float,
    ) -> Iterator[Measurement]:
        name = task.info.name
        n_samples = results.get("n-samples", {})
        members = task.member_names
        sizes = {key: int(n_samples.get(key, {}).get("effective", 0)) for key in members}
        task_params = base | {
            "task": name,
            "task_version": task.info.version,
            "data_sha256": _data_sha256(task.files),
            "subjects": len(task.subjects) if task.subjects else None,
            "split": scored_split(task.configs[0]),
        }
        rows = [(name, name, sum(sizes.values()) if members else None)]
        rows += [(key, f"{name}/{subject}", sizes[key]) for key, subject in sorted(members.items())]
        for key, subset, n in rows:
            scores = results["results"].get(key)
            if scores is None:
                raise LLMSelectError(f"lm-eval has no result for task {key}")
            if n is None:
                n = int(n_samples.get(key, {}).get("effective", 0))
            hib = results.get("higher_is_better", {}).get(key, {})
            shots = results.get("n-shot", {}).get(key)
            if shots is None and members:
                shots = results.get("n-shot", {}).get(next(iter(members)))
            for result_key, value in scores.items():
                metric, filt = _split_key(result_key)
                if metric in SKIP_METRICS or metric.endswith("_stderr"):
                    continue
                score = _as_float(value)
                if score is None:
                    continue
                stderr, note = stderr_and_note(
                    score, _as_float(scores.get(f"{metric}_stderr,{filt}")), n
                )
                yield self.record(
                    ctx,
                    target.id,
                    _metric_name(metric, filt),
                    100.0 * score,
                    UNIT,
                    higher_is_better=hib.get(metric, True),
                    subset=subset,
                    n=n,
                    stderr=stderr,
                    params=task_params | {"num_fewshot": shots, "filter": filt} | note,
                    duration_s=duration,
                )
