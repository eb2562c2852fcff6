"""Score terms, one small function each: ``compute(candidate, query) -> Term``, declared as
``ScoreTerm`` registry entries (``llmselect.registry.SCORE_TERMS``; plugins add their own through
the ``llmselect.score_terms`` entry-point group) with their direction and the evidence they read.

Each term holds its raw value with its label (measured / estimated / published / predicted) and
source, and for quality an interval. A term without evidence has ``raw = None``; ``score.py``
then counts it at the worst candidate's value with the candidates' spread as its uncertainty, so
missing evidence never raises a score.

* ``quality_zh`` / ``quality_en``: the quality model's estimate (``quality.py``) of the mean of
  C-Eval + CMMLU, MMLU + GSM8K in percent, every benchmark estimated for every model with an
  interval; each benchmark labelled measured > published > predicted.
* ``scale``: the exact parameter count from the architecture (the profile gives the direction).
* ``tokenizer``: tokens per character on FLORES-200 for the language mix (lower is better).
* ``speed``: decode tokens/s, ranked on one basis for every candidate: the memory-bandwidth
  roofline over the active weights and the KV cache the step reads, an upper bound (bytes read
  per token where the bandwidth is unknown). A timing measured on the requested GPU is shown
  beside the bound, labelled measured (``components["measured tok/s"]``) with its setting
  (dtype, engine, context, batch) and what it can decide of the speed floor (``timings.py``),
  never ranked against another model's bound: a measurement depends on the engine that ran it,
  the bound on the model and the card alone, and a model must not lose score for having been
  measured. A timing from another device is named, not compared.
* ``cost``: estimated memory at the chosen precision (lower is better).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from llmselect.memory.devices import lookup_bandwidth
from llmselect.recommend.evidence import Baseline, Value, load_baseline, tokens_per_char
from llmselect.recommend.timings import TimingUse, best_use, timing_use

if TYPE_CHECKING:
    from llmselect.hardware import GpuBudget
    from llmselect.recommend.constraints import Candidate
    from llmselect.recommend.pipeline import Query

QUALITY_BENCHMARKS = {"zh": ("C-Eval", "CMMLU"), "en": ("MMLU", "GSM8K")}


@dataclass
class Term:
    """One scoring term of one model: raw value, its label, and what it contributed."""

    name: str
    raw: float | None
    unit: str
    kind: str  # measured | estimated | published | predicted (joined by +) | missing
    detail: str  # human-readable raw value(s) with labels
    source: str | None
    higher_is_better: bool
    weight: float = 0.0
    norm: float | None = None
    contribution: float = 0.0
    coverage: float = 1.0  # share of this term's evidence present (quality: benchmarks)
    components: dict[str, float] = field(default_factory=dict)  # quality: benchmark → value
    sd: float = 0.0  # standard deviation of raw (quality: the model's posterior)
    norm_sd: float = 0.0  # of norm, after normalisation


@dataclass(frozen=True)
class ScoreTerm:
    """A registered score term: its name, direction, the evidence it reads and its function.

    ``direction`` is ``higher`` or ``lower`` (better), or ``profile`` when the purpose profile
    decides (``scale_direction``). ``reads`` names the evidence: ``quality`` (published and
    measured benchmark scores through the quality model), ``tokens_per_char``, ``decode_ms``,
    ``architecture``, ``memory_fit``, or a plugin's own.
    """

    name: str
    direction: str
    reads: tuple[str, ...]
    unit: str
    compute: Callable[[Candidate, Query], Term]
    description: str = ""

    def __post_init__(self) -> None:
        if self.direction not in ("higher", "lower", "profile"):
            raise ValueError(f"score term {self.name}: direction must be higher/lower/profile")

    def __call__(self, c: Candidate, q: Query) -> Term:
        return self.compute(c, q)


def quality_term(lang: str) -> Callable[[Candidate, Query], Term]:
    """The quality term for one language: the quality model's estimate with its interval."""

    def term(c: Candidate, q: Query) -> Term:
        est = q.quality.estimate(c.model)
        benches = QUALITY_BENCHMARKS[lang]
        mean, sd = est.mean_of(benches, q.quality.qm)
        cells = [est.cells[b] for b in benches]
        labels = []
        for cell in cells:
            text = f"{cell.benchmark} {cell.estimate:.1f}±{cell.half90:.1f}% {cell.label}"
            if cell.observed:  # "87.3 %: shots not stated, ...": the value, then its setting
                text += " (" + "; ".join(f"{v:g} %: {how}" for v, how, _ in cell.observed) + ")"
            labels.append(text)
        kinds = [k for k in ("measured", "published", "predicted") if k in {c.label for c in cells}]
        sources = sorted({src for cell in cells for _, _, src in cell.observed})
        if any(cell.label == "predicted" for cell in cells):
            sources.append(
                f"predicted by the quality model from lineage {est.lineage} "
                f"({est.post.n_obs} scores; {', '.join(est.notes) or 'covariates known'})"
            )
        return Term(
            name=f"quality_{lang}",
            raw=mean,
            unit="%",
            kind="+".join(kinds),
            detail="; ".join(labels),
            source="; ".join(sources) or None,
            higher_is_better=True,
            coverage=sum(cell.label != "predicted" for cell in cells) / len(cells),
            components={cell.benchmark: cell.estimate for cell in cells},
            sd=sd,
        )

    term.__name__ = f"quality_{lang}_term"
    return term


def scale_term(c: Candidate, q: Query) -> Term:
    """log10 of the parameters (exact count from the architecture): capability grows with the
    logarithm of scale, and the quality estimate already carries most of it. The profile says
    whether more is better."""
    assert c.count is not None
    arch_source = c.model.arch.source if c.model.arch else None
    b = c.count.total / 1e9
    detail = f"{b:.2f}B parameters (exact, from the published architecture)"
    if c.count.active != c.count.total:
        detail += f", {c.count.active / 1e9:.2f}B active per token"
    return Term(
        "scale", math.log10(c.count.total), "log10 params", "published", detail, arch_source,
        q.profile.scale_direction == "higher",
    )  # fmt: skip


def tokenizer_term(c: Candidate, q: Query) -> Term:
    """Tokens per character of text in the ``--lang`` mix (lower = more text per context)."""
    baseline = load_baseline() if q.uses_baseline else _NO_BASELINE
    parts = {
        lang: tokens_per_char(c.model.tokenizer, c.model.id, q.evidence, lang, baseline)
        for lang in q.mix
    }
    if any(v is None for v in parts.values()):
        missing = ", ".join(lang for lang, v in parts.items() if v is None)
        why = "tokenizer unknown" if not c.model.tokenizer else "not measured"
        detail = f"tokens/char ({missing}) on {q.corpus}: {why}"
        return Term("tokenizer", None, "tok/char", "missing", detail, None, False, coverage=0.0)
    raw = sum(q.mix[lang] * parts[lang].value for lang in q.mix)  # type: ignore[union-attr]
    detail = ", ".join(f"{lang} {parts[lang].value:.3f}" for lang in q.mix)  # type: ignore[union-attr]
    source = "; ".join(sorted({p.source for p in parts.values() if p}))
    return Term(
        "tokenizer", raw, "tok/char", "measured",
        f"{raw:.3f} tok/char on {q.corpus} ({detail})", source, False,
    )  # fmt: skip


MEASURED_TPS = "measured tok/s"  # a speed term's component: the timing shown beside the bound


def speed_term(c: Candidate, q: Query) -> Term:
    """Decode speed on one basis for every candidate: the memory-bandwidth roofline, an upper
    bound (tok/s; bytes read per token where the bandwidth is unknown), with a timing measured
    on the requested GPU shown beside it and stated as measured, not ranked."""
    if c.speed is not None:
        return c.speed
    fit = c.fit
    assert fit is not None
    gpu = q.request.gpu
    if gpu.bandwidth_gbs:
        # per device: its share of active weights + KV; devices decode in parallel (TP)
        tps = gpu.bandwidth_gbs / fit.read_per_token_gb
        term = Term(
            "speed", tps, "tok/s", "estimated",
            f"≤{tps:.0f} tok/s estimated (bandwidth {gpu.bandwidth_gbs:g} GB/s ÷ "
            f"{fit.read_per_token_gb:.2f} GB read per token)",
            f"roofline over active weights + KV cache; bandwidth: {gpu.source}", True,
        )  # fmt: skip
    else:
        read = fit.read_per_token_gb * fit.tp
        term = Term(
            "speed", read, "GB/token", "estimated",
            f"{read:.2f} GB read per decoded token (fewer = faster; bandwidth unknown)",
            "active weights + KV cache at the chosen precision", False,
        )  # fmt: skip
    shown = best_use(floor_timings(c, q))
    if shown is not None:
        term.components[MEASURED_TPS] = shown.tok_s
        term.detail += (
            f"; {shown.tok_s:.1f} tok/s measured on {shown.timing.device} "
            f"({shown.setting.describe()}; {_decides(shown)}; shown beside the bound, not "
            "ranked: every candidate ranks on its bound)"
        )
        term.source = f"{term.source}; measured: {shown.timing.source}"
    elif timings := q.evidence.decode_on(c.model.id):
        devices = ", ".join(sorted({str(t.device) for t in timings}))
        why = _not_compared(timings, gpu, fit.gpus)
        term.detail += f"; measured on {devices}: {why}, not compared"
    return term


def _decides(use: TimingUse) -> str:
    """``decides the speed floor``, or what it can decide and why not more."""
    if use.decides == "the floor":
        return "its setting is the ranked one: it decides the speed floor"
    return f"it decides {use.decides} of the speed floor: {'; '.join(use.why)}"


def floor_timings(c: Candidate, q: Query) -> list[TimingUse]:
    """The model's decode timings on the requested GPU model, each with what it can decide of
    the speed floor in the setting the model is ranked at (``timings.timing_use``); none for a
    model spread over several GPUs, whatever the engine (a tensor-parallel split, or llama.cpp's
    layers split over the GPUs): a timing of one GPU says nothing of it."""
    fit = c.fit
    if fit is None or fit.gpus != 1:
        return []
    on_gpu = timings_on(q.evidence.decode_on(c.model.id), q.request.gpu)
    return [timing_use(t, fit, q.context) for t in on_gpu]


def _not_compared(timings: list[Value], gpu: GpuBudget, gpus: int) -> str:
    """Why a model's timings do not count on this request (``gpus``: the devices the model
    is spread over)."""
    if not gpu.bandwidth_gbs:
        return "no tok/s to compare it with here"
    if gpus > 1 and timings_on(timings, gpu):
        return f"one GPU, not this {gpus}-GPU split"
    return "another device"


def timings_on(timings: list[Value], gpu: GpuBudget) -> list[Value]:
    """The decode timings measured on the requested GPU model. A timing holds for the device
    it ran on only, and where the bandwidth is unknown (a CPU, a bare size) the others' speed
    is bytes read per token, which a tok/s figure cannot be compared with."""
    if gpu.is_cpu or not gpu.bandwidth_gbs:
        return []
    return [t for t in timings if _gpu_name(t.device) == gpu.name]


def _gpu_name(device: str | None) -> str | None:
    dev = lookup_bandwidth(device) if device else None
    return dev.name if dev is not None else None


def cost_term(c: Candidate, q: Query) -> Term:
    """Memory the model takes at the chosen precision (all devices)."""
    fit = c.fit
    assert fit is not None
    return Term(
        "cost", fit.total_gib, "GiB", fit.kind,
        f"{fit.total_gib:.1f} GiB at {fit.precision} ({fit.method})", fit.method, False,
    )  # fmt: skip


_NO_BASELINE = Baseline({}, {}, "")

QUALITY_ZH = ScoreTerm(
    "quality_zh", "higher", ("quality",), "%", quality_term("zh"),
    "mean of C-Eval and CMMLU, estimated with an interval",
)  # fmt: skip
QUALITY_EN = ScoreTerm(
    "quality_en", "higher", ("quality",), "%", quality_term("en"),
    "mean of MMLU and GSM8K, estimated with an interval",
)  # fmt: skip
SCALE = ScoreTerm("scale", "profile", ("architecture",), "log10 params", scale_term,
                  "exact parameter count, in log10")  # fmt: skip
TOKENIZER = ScoreTerm("tokenizer", "lower", ("tokens_per_char",), "tok/char", tokenizer_term,
                      "tokens per character of the language mix")  # fmt: skip
SPEED = ScoreTerm("speed", "higher", ("decode_ms", "memory_fit"), "tok/s", speed_term,
                  "decode tokens/s: the bandwidth roofline, any timing beside it")  # fmt: skip
COST = ScoreTerm("cost", "lower", ("memory_fit",), "GiB", cost_term,
                 "memory at the chosen precision")  # fmt: skip
