"""What the recommender knows beyond the catalog: measured numbers from the result store (read
through the latest-value index) and the shipped tokenizer baseline.

Tokenizer evidence comes from reference corpora only: FLORES-200 (or the corpus the user names
with ``--corpus``), never an ad-hoc file, and never a record made from other tokenizer files
than the family's own (``--tokenizer-dir``): its fingerprint must match the baseline's. When
the store has nothing, the baseline measured on FLORES-200 dev+devtest and shipped as package
data answers, labelled with its date and llmselect version.

Which metrics count is declared by the probes (``MetricSpec.evidence``): tokens per character,
benchmark scores, decode latency; no metric name is written here.

A benchmark score counts by its evidence, not its date: of the scores stored for a model on a
benchmark (every run, shots, split and chat template), the most informative one enters
(``records.information``: a known sampling error, then the most documents; then the newest), so
a quick ``eval --limit 2`` after a full run leaves the full run counted, and ``--explain`` names
the run used and the newer ones passed over that were read (each key's newest and each
setting's most informative, not every run).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from llmselect.config import PACKAGE_DATA
from llmselect.errors import LLMSelectError
from llmselect.records import information, latest_order, stated_interval

REFERENCE_CORPUS = "flores200"
BASELINE_FILE = PACKAGE_DATA / "tokenizer_baseline.yaml"
GSM8K_METRICS = ("exact_match_strict_match", "exact_match")


@dataclass(frozen=True)
class Value:
    """One number with its label (measured | published), where it comes from and, for a
    timing, the device it was measured on (the driver's name, else ``cpu``/``cuda``). A measured
    score keeps its sampling evidence: the documents scored, lm-eval's standard error (same unit
    as ``value``) and, where that is not estimable, why and the exact 95 % interval (percent);
    and its setting as the record states it: the shots lm-eval used, whether the prompts were
    wrapped in the chat template and the split scored (None: the record does not say); the run
    it comes from and the newer stored scores of its benchmark that were not used, each with
    why (each key's newest: a newer run is named whenever one exists, not every one). A timing
    keeps its setting (dtype, engine, context, batch) as its record states it."""

    value: float
    kind: str
    source: str
    device: str | None = None
    n: int | None = None
    stderr: float | None = None
    ci95: tuple[float, float] | None = None
    note: str | None = None
    shots: int | None = None
    chat_template: bool | None = None
    split: str | None = None
    run: str | None = None
    newer: tuple[str, ...] = ()
    setting: TimingSetting | None = None


@dataclass(frozen=True)
class TimingSetting:
    """What a decode timing ran at, as its record states it (None: the record does not say):
    the weights' dtype (``bf16``, or a GGUF file's type such as ``q4_1``), the engine
    (``reference``, ``transformers``, ``llama.cpp``), the prompt it decoded after (tokens of
    context) and the batch."""

    dtype: str | None
    engine: str | None
    context: int | None
    batch: int | None

    def describe(self) -> str:
        """``bf16, reference engine, 512 tokens of context, batch 1``."""
        return ", ".join((
            self.dtype or "dtype not recorded",
            f"{self.engine} engine" if self.engine else "engine not recorded",
            f"{self.context} tokens of context" if self.context else "context not recorded",
            f"batch {self.batch}" if self.batch else "batch not recorded",
        ))  # fmt: skip


def timing_setting(rec: Any) -> TimingSetting:
    """A timing record's setting: batch, context and dtype from its subset
    (``bs=1,seq=512,dtype=bf16``), the engine from its params (``engine``), else the subset's
    ``engine=`` (written for every engine but the reference one)."""
    point = dict(item.partition("=")[::2] for item in rec.subset.split(","))
    engine = (rec.params or {}).get("engine") or point.get("engine")
    return TimingSetting(
        dtype=point.get("dtype") or None,
        engine=str(engine) if engine else None,
        context=_count(point.get("seq")),
        batch=_count(point.get("bs")),
    )


def _count(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


@dataclass
class Evidence:
    """Measured numbers by key: tokens/char by (tokenizer, lang), scores by (model, benchmark)
    in percent, decode ms/token at batch 1 by (model, device, setting): a timing holds only for
    the device it ran on, and keeps the dtype, engine and context it ran at."""

    tokens_per_char: dict[tuple[str, str], Value] = field(default_factory=dict)
    scores: dict[tuple[str, str], Value] = field(default_factory=dict)
    decode_ms: dict[tuple[str, str, TimingSetting], Value] = field(default_factory=dict)

    def decode_on(self, model_id: str) -> list[Value]:
        """A model's decode timings, one per device and setting it was measured in."""
        return [v for (mid, *_), v in self.decode_ms.items() if mid == model_id]


@dataclass(frozen=True)
class Baseline:
    """The shipped FLORES-200 tokens/char per tokenizer family."""

    values: dict[tuple[str, str], float]
    fingerprints: dict[str, str]
    label: str


@lru_cache(maxsize=2)
def load_baseline(path: Path = BASELINE_FILE) -> Baseline:
    """The baseline file (empty when the package was built without one)."""
    from llmselect.datafiles import read_yaml_cached

    try:
        doc = read_yaml_cached(Path(path)) or {}
    except LLMSelectError:
        return Baseline({}, {}, "")
    values: dict[tuple[str, str], float] = {}
    fingerprints: dict[str, str] = {}
    for family, entry in (doc.get("families") or {}).items():
        fingerprints[family] = str(entry.get("tokenizer_sha256", ""))
        for lang in ("zh", "en"):
            if entry.get(f"{lang}_tokens_per_char") is not None:
                values[(family, lang)] = float(entry[f"{lang}_tokens_per_char"])
    label = (
        f"shipped baseline: FLORES-200 dev+devtest, measured {doc.get('measured_on')} "
        f"with llmselect {doc.get('llmselect_version')}"
    )
    return Baseline(values, fingerprints, label)


def lang_of_subset(subset: str) -> str | None:
    """``flores200/zh`` or ``flores200/zho_Hans`` → ``zh``; English likewise; else None."""
    tail = subset.rsplit("/", 1)[-1].lower()
    if tail in {"zh", "zho_hans", "zh-cn", "zh_cn", "cmn", "cmn_hans", "zho"}:
        return "zh"
    if tail in {"en", "eng_latn", "eng", "en-us"}:
        return "en"
    return None


def corpus_of_subset(subset: str) -> str:
    """``flores200/zh`` → ``flores200``; ``flores200:dev/zh`` → ``flores200:dev``."""
    return subset.rsplit("/", 1)[0] if "/" in subset else ""


def benchmark_of_task(task: str) -> str | None:
    key = task.lower().replace("-", "").replace("_", "")
    for prefix, bench in (("ceval", "C-Eval"), ("cmmlu", "CMMLU"), ("gsm8k", "GSM8K")):
        if key.startswith(prefix):
            return bench
    if key.startswith("mmlu") and not key.startswith("mmlupro"):
        return "MMLU"
    return None


def _is_reference_tokenizer_record(rec: Any, corpus: str, baseline: Baseline) -> bool:
    """FLORES-200 as a whole (or the named corpus), from the family's own tokenizer files."""
    if corpus_of_subset(rec.subset) != corpus:
        return False
    expected = baseline.fingerprints.get(rec.model_id)
    got = (rec.params or {}).get("tokenizer_sha256")
    return not (expected and got and got != expected)


def evidence_from_latest(
    values: Iterable[Any],
    corpus: str | None = None,
    baseline: Baseline | None = None,
    best: Iterable[Any] = (),
) -> Evidence:
    """Reduce newest-per-key values (``store_index.LatestValue`` or ``Measurement``) and the
    most informative score per key and setting (``best``: the index's, or
    ``store.most_informative``) to what the recommender reads.

    Score group rows (``cmmlu``, not ``cmmlu/<subject>``) give ``acc`` (GSM8K: strict exact
    match) in percent, one per model and benchmark (``chosen_score``). Decode latency is taken
    at batch 1 (fastest dtype).
    """
    values = list(values)
    if not values:  # a fresh store: nothing to read, and no probe module to import
        return Evidence()
    from llmselect.metrics import declared_metrics

    index = declared_metrics({rec.probe for rec in values})
    tpc_metrics = index.with_evidence("tokens_per_char")
    decode_metrics = index.with_evidence("decode_ms")
    corpus = corpus or REFERENCE_CORPUS
    baseline = baseline if baseline is not None else load_baseline()
    ev = Evidence()
    tpc_order: dict[tuple[str, str], tuple[str, datetime, str]] = {}  # newest per (tokenizer, lang)
    for rec in values:
        subset, key, where = rec.subset, (rec.probe, rec.metric), _where(rec)
        if key in tpc_metrics:
            lang = lang_of_subset(subset)
            order = latest_order(rec)
            seen = tpc_order.get((rec.model_id, lang))
            newer = seen is None or order >= seen
            if lang and newer and _is_reference_tokenizer_record(rec, corpus, baseline):
                tpc_order[(rec.model_id, lang)] = order
                ev.tokens_per_char[(rec.model_id, lang)] = Value(
                    float(rec.value), "measured", where
                )
        elif key in decode_metrics and (setting := timing_setting(rec)).batch == 1:
            timing = (rec.model_id, device_of(rec), setting)
            prev_ms = ev.decode_ms.get(timing)
            if prev_ms is None or float(rec.value) < prev_ms.value:
                ev.decode_ms[timing] = Value(
                    float(rec.value), "measured", f"{where} on {timing[1]}", timing[1],
                    setting=setting,
                )  # fmt: skip
    scores: dict[tuple[str, str], list[Any]] = {}
    score_metrics = index.with_evidence("score")
    for rec in (*values, *best):
        bench = score_benchmark(rec, score_metrics)
        if bench:
            scores.setdefault((rec.model_id, bench), []).append(rec)
    ev.scores = {key: chosen_score(key[1], found) for key, found in scores.items()}
    return ev


def _where(rec: Any) -> str:
    return f"store: run {rec.run_id}, {rec.probe} {rec.subset}"


def _wanted(bench: str | None) -> tuple[str, ...]:
    """The metrics that stand for a benchmark's score, preferred first."""
    return GSM8K_METRICS if bench == "GSM8K" else ("acc",)


def score_benchmark(rec: Any, score_metrics: Any) -> str | None:
    """The benchmark a stored score row stands for: a group row (``cmmlu``, not its subjects)
    of a score metric that counts for it; else None."""
    if (rec.probe, rec.metric) not in score_metrics or "/" in rec.subset:
        return None
    bench = benchmark_of_task(rec.subset)
    return bench if bench and rec.metric in _wanted(bench) else None


def chosen_score(bench: str, found: list[Any]) -> Value:
    """The one stored score of a model on ``bench`` that enters: the most informative
    (``records.information``: a known sampling error, then the most documents), GSM8K's strict
    match before its flexible one, then the newest.

    One, not each: runs of one benchmark score the same documents (a 0-shot and a 5-shot run
    of C-Eval's val split; a quick run's documents are the first of a full run's), so their
    sampling errors are not independent, and the model's own noise for the checkpoint (prompt,
    harness) is shared too: entered side by side they would count the same evidence twice.
    The newer scores not used (of those read: each key's newest and each setting's most
    informative) are named, each with why, for ``--explain``."""
    wanted = _wanted(bench)

    def rank(rec: Any) -> tuple[Any, ...]:
        return information(rec), -wanted.index(rec.metric), latest_order(rec), rec.subset

    chosen = max(found, key=rank)
    newer: dict[str, str] = {}
    for rec in sorted(found, key=latest_order):
        if rec.run_id != chosen.run_id and latest_order(rec) > latest_order(chosen):
            newer.setdefault(f"run {rec.run_id} ({_described(rec)})", _why_not(rec, chosen))
    value = score_value(chosen, _where(chosen))
    return replace(value, newer=tuple(f"{run}: {why}" for run, why in newer.items()))


def _described(rec: Any) -> str:
    """``2 documents, 0-shot, val``: what a stored score was, for a line naming it."""
    v = score_value(rec, "")
    parts = [documents(v.n)]
    parts.append(f"{v.shots}-shot" if v.shots is not None else "shots not stated")
    parts += [v.split] if v.split else []
    parts += ["chat template"] if v.chat_template else []
    return ", ".join(parts)


def documents(n: int | None) -> str:
    """``1346 documents``, ``1 document``, or ``documents not counted``."""
    return f"{n} document{'s' if n != 1 else ''}" if n else "documents not counted"


def _why_not(rec: Any, chosen: Any) -> str:
    (known, docs), (chosen_known, chosen_docs) = information(rec), information(chosen)
    if known < chosen_known:
        return "sampling error unknown"
    if docs < chosen_docs:
        return f"fewer documents than the {chosen_docs} used"
    return f"{rec.metric}, where {chosen.metric} is used"


def score_value(rec: Any, where: str) -> Value:
    """A score record (``%`` or a fraction) in percent, with its documents, standard error
    (percentage points) and, where that is not estimable, the note and exact interval
    (``records.stated_interval``); and the shots, chat template and split its params state (a
    value of another type is not stated)."""
    scale = 1.0 if rec.unit == "%" else 100.0
    params = rec.params or {}
    chat, split = params.get("chat_template"), params.get("split")
    return Value(
        float(rec.value) * scale,
        "measured",
        where,
        n=rec.n,
        stderr=None if rec.stderr is None else float(rec.stderr) * scale,
        ci95=stated_interval(params),
        note=params.get("stderr_note"),
        shots=_shots(params.get("num_fewshot")),
        chat_template=chat if isinstance(chat, bool) else None,
        split=split if isinstance(split, str) else None,
        run=rec.run_id,
    )


def _shots(value: Any) -> int | None:
    """``num_fewshot`` as stored: a count of shots, else None (not stated)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def device_of(rec: Any) -> str:
    """The device a record was measured on: the driver's name (``NVIDIA H100 80GB HBM3``),
    else the device kind (``cpu``, ``cuda``)."""
    params = rec.params or {}
    name = params.get("device_name") or params.get("device") or getattr(rec, "device", None)
    return str(name) if name else "device not recorded"


def evidence_from_records(records: Iterable[Any], corpus: str | None = None) -> Evidence:
    """Evidence from full store records (the report's path), through ``store.latest``."""
    from llmselect.store import latest, most_informative

    records = list(records)
    return evidence_from_latest(latest(records), corpus, best=most_informative(records))


def load_evidence(results_root: Path | None = None, corpus: str | None = None) -> Evidence:
    """Evidence from the store's latest-value index (``--results DIR`` or the default store)."""
    from llmselect.store_index import read_index

    index = read_index(results_root)
    return evidence_from_latest(index.latest.values(), corpus, best=index.best.values())


def tokens_per_char(
    tokenizer: str | None,
    model_id: str,
    ev: Evidence,
    lang: str,
    baseline: Baseline | None = None,
) -> Value | None:
    """Tokens/char of a model's tokenizer in ``lang``: the store's reference-corpus measurement,
    else the shipped baseline; None when neither exists."""
    for key in (tokenizer, model_id):
        if key and (key, lang) in ev.tokens_per_char:
            return ev.tokens_per_char[(key, lang)]
    base = baseline if baseline is not None else load_baseline()
    if tokenizer and (tokenizer, lang) in base.values:
        return Value(base.values[(tokenizer, lang)], "measured", base.label)
    return None
