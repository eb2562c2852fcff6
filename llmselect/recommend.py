"""The recommender: hard constraints first, then a purpose-profile score. Pure functions.

1. **Constraints**, each exclusion with its reason: the license allows the purpose; the size
   suits the purpose profile; the context window is long enough; the model fits the memory
   budget at some allowed precision (weights + KV cache for the context + activations +
   runtime, from ``llmselect.memory.estimate``); fine-tuning memory when asked; a throughput
   floor when asked.
2. **Terms** per surviving model: quality (zh and en, split by ``--lang``), scale (parameters),
   tokenizer efficiency for the language mix, decode speed and serving cost. Each raw number is
   labelled measured / estimated / published with its source.
3. **Normalize** each term to a rank-percentile in [0, 1] among the survivors (flipped when lower
   is better). Quality terms average the percentiles of their benchmarks (C-Eval + CMMLU for zh,
   MMLU + GSM8K for en), so a model is never penalized for having one more, harder benchmark.
   A missing term adds 0 and lowers ``coverage``. Sort by score, then coverage, then id.

Purpose profiles (``data/purposes/*.yaml``) hold the weights and the selection practice; the
code holds no opinion about which model is good. Measured records come from the JSONL store,
read directly (no pandas), so ``llmselect recommend`` stays fast.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from llmselect.catalog import ArchSpec, Catalog, ModelSpec
from llmselect.config import PACKAGE_DATA
from llmselect.cost.finetune import (
    FINETUNE_MODES,
    FinetuneEstimate,
    FinetuneSetup,
    finetune_memory,
)
from llmselect.errors import LLMSelectError
from llmselect.hardware import GpuBudget
from llmselect.names import normalize

PURPOSES_DIR = PACKAGE_DATA / "purposes"
GIB = 1024**3
LANGS = ("zh", "en")
PRECISIONS = ("fp16", "int8", "int4")
TERM_NAMES = ("quality_zh", "quality_en", "scale", "tokenizer", "speed", "cost")
QUALITY_BENCHMARKS = {"zh": ("C-Eval", "CMMLU"), "en": ("MMLU", "GSM8K")}
FINETUNE_TRAIN_SEQ = 2048  # tokens per training sample assumed for --finetune (typical SFT)
# A model whose window is not recorded is kept only for requests up to this many tokens
# (every decoder LLM in the catalog era has at least 2048), with a caveat.
ASSUMED_MIN_CONTEXT = 2048
GSM8K_METRICS = ("exact_match_strict_match", "exact_match")
NOT_MEASURED_ZH = "not measured — run llmselect tokenize-bench"


# --------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class Profile:
    """A purpose profile: weights over terms, size and precision rules, license use."""

    name: str
    description: str
    license_use: str
    conditional_license: str
    unknown_license: str
    precisions: tuple[str, ...]
    max_params_b: float | None
    default_context: int
    scale_direction: str
    weights: dict[str, float]
    practice: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Request:
    """What the user asked for."""

    gpu: GpuBudget
    purpose: str
    lang: dict[str, float] = field(default_factory=lambda: {"zh": 0.5, "en": 0.5})
    context: int | None = None  # None: the profile's default
    min_tokens_per_s: float | None = None
    finetune: str = "none"


@dataclass
class Term:
    """One scoring term of one model: raw value, its label, and what it contributed."""

    name: str
    raw: float | None
    unit: str
    kind: str  # measured | estimated | published | missing
    detail: str  # human-readable raw value(s) with labels
    source: str | None
    higher_is_better: bool
    weight: float = 0.0
    norm: float | None = None
    contribution: float = 0.0
    components: dict[str, float] = field(default_factory=dict)  # benchmark → value


@dataclass
class Exclusion:
    """A model that failed a hard constraint, with every reason found."""

    model_id: str
    name: str
    constraint: str  # license | size | context | memory | finetune | throughput | data
    reason: str
    kind: str  # published | estimated | measured
    other_reasons: list[str] = field(default_factory=list)


@dataclass
class Recommendation:
    """A surviving model with its chosen precision, memory, score terms and caveats."""

    model_id: str
    name: str
    params_b: float | None
    rank: int
    score: float
    coverage: float
    precision: str
    memory_gib: float
    memory_kind: str
    memory_detail: dict[str, float]
    context_length: int | None
    usable_zh_chars: int | None
    usable_zh_chars_note: str
    license: dict[str, Any]
    caveats: list[str]
    terms: list[Term]
    why: str = ""
    pareto: bool = False
    finetune: dict[str, Any] | None = None


@dataclass
class RecommendResult:
    """Everything the recommender found: ranked survivors and exclusions."""

    request: dict[str, Any]
    profile: Profile
    recommendations: list[Recommendation]
    excluded: list[Exclusion]
    notes: list[str]
    query: Request | None = None  # the parsed request, for explain()

    def to_dict(self, top: int | None = None, show_excluded: bool = True) -> dict[str, Any]:
        """JSON-ready dict (``top`` limits the ranked list)."""
        recs = self.recommendations[:top] if top else self.recommendations
        return {
            "request": self.request,
            "profile": asdict(self.profile),
            "recommendations": [asdict(r) for r in recs],
            "candidates": len(self.recommendations),
            "excluded_count": len(self.excluded),
            "excluded": [asdict(e) for e in self.excluded] if show_excluded else [],
            "notes": self.notes,
        }


# --------------------------------------------------------------------------- profiles


def _profile_from(raw: Mapping[str, Any], origin: str) -> Profile:
    try:
        weights = {str(k): float(v) for k, v in dict(raw["weights"]).items()}
        precisions = tuple(str(p) for p in raw["precisions"])
        profile = Profile(
            name=str(raw["name"]),
            description=" ".join(str(raw.get("description", "")).split()),
            license_use=str(raw["license_use"]),
            conditional_license=str(raw.get("conditional_license", "allow")),
            unknown_license=str(raw.get("unknown_license", "exclude")),
            precisions=precisions,
            max_params_b=raw.get("max_params_b"),
            default_context=int(raw.get("default_context", 4096)),
            scale_direction=str(raw.get("scale_direction", "higher")),
            weights=weights,
            practice=tuple(str(p) for p in raw.get("practice", [])),
            aliases=tuple(str(a) for a in raw.get("aliases", [])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LLMSelectError(f"purpose profile {origin}: bad or missing field {exc}") from exc
    unknown = set(weights) - {"quality", "scale", "tokenizer", "speed", "cost"}
    bad_prec = set(precisions) - set(PRECISIONS)
    if unknown or bad_prec or not precisions:
        raise LLMSelectError(
            f"purpose profile {origin}: unknown terms {sorted(unknown)} or precisions "
            f"{sorted(bad_prec)}"
        )
    return profile


@lru_cache(maxsize=4)
def load_profiles(directory: Path = PURPOSES_DIR) -> dict[str, Profile]:
    """Purpose profiles by name (and alias), from ``data/purposes/*.yaml``."""
    profiles: dict[str, Profile] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
        except (OSError, yaml.YAMLError) as exc:
            raise LLMSelectError(f"cannot read purpose profile {path}: {exc}") from exc
        profile = _profile_from(raw or {}, path.name)
        for key in (profile.name, *profile.aliases):
            profiles[normalize(key)] = profile
    return profiles


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def get_profile(purpose: str, profiles: Mapping[str, Profile] | None = None) -> Profile:
    """The profile for ``purpose`` (``edge``/``on-device`` alike) or a one-line error."""
    table = profiles if profiles is not None else load_profiles()
    key = normalize(purpose).replace("/", "-")
    if key in table:
        return table[key]
    names = sorted({p.name for p in table.values()})
    raise LLMSelectError(f"unknown purpose {purpose!r}; choose one of: {', '.join(names)}")


def parse_lang_mix(text: str | None) -> dict[str, float]:
    """``zh=0.7,en=0.3`` → shares summing to 1; ``zh`` alone → ``{zh: 1.0}``."""
    if not text or not text.strip():
        return {"zh": 0.5, "en": 0.5}
    shares: dict[str, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lang, _, value = part.partition("=")
        lang = lang.strip().lower()
        if lang not in LANGS:
            raise LLMSelectError(f"--lang: unknown language {lang!r}; use zh and/or en")
        try:
            share = float(value) if value.strip() else 1.0
        except ValueError:
            raise LLMSelectError(f"--lang: {part!r} is not LANG=SHARE (e.g. zh=0.7)") from None
        if share < 0 or math.isnan(share):
            raise LLMSelectError(f"--lang: share for {lang} must be >= 0")
        shares[lang] = shares.get(lang, 0.0) + share
    total = sum(shares.values())
    if total <= 0:
        raise LLMSelectError("--lang: the shares add up to 0")
    return {lang: shares[lang] / total for lang in LANGS if shares.get(lang, 0.0) > 0}


# --------------------------------------------------------------------------- store evidence


@dataclass
class Evidence:
    """Measured numbers from the result store, newest ok record per key."""

    tokens_per_char: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)
    scores: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)
    decode_ms: dict[str, tuple[float, str]] = field(default_factory=dict)


def _lang_of_subset(subset: str) -> str | None:
    """``flores200/zho_Hans`` or ``corpus/zh`` → ``zh``; English likewise; else None."""
    tail = subset.rsplit("/", 1)[-1].lower()
    if tail in {"zh", "zho_hans", "zh-cn", "zh_cn", "cmn", "cmn_hans", "zho"}:
        return "zh"
    if tail in {"en", "eng_latn", "eng", "en-us"}:
        return "en"
    return None


def _benchmark_of_task(task: str) -> str | None:
    key = task.lower().replace("-", "").replace("_", "")
    for prefix, bench in (("ceval", "C-Eval"), ("cmmlu", "CMMLU"), ("gsm8k", "GSM8K")):
        if key.startswith(prefix):
            return bench
    if key.startswith("mmlu") and not key.startswith("mmlupro"):
        return "MMLU"
    return None


def evidence_from_records(records: Iterable[Any]) -> Evidence:
    """Reduce store records (``Measurement``-like objects) to what the recommender reads.

    Which metrics count is declared by the probes (``MetricSpec.evidence``); the newest ok
    record per key wins (``store.latest``). Tokens per char are averaged over corpora per
    (tokenizer, language). Score group rows (``cmmlu``, not ``cmmlu/<subject>``) give ``acc``
    (GSM8K: strict exact match) in percent. Decode latency is taken at batch 1 (fastest dtype).
    """
    from llmselect.metrics import declared_metrics
    from llmselect.store import latest

    index = declared_metrics()
    tpc_metrics = index.with_evidence("tokens_per_char")
    score_metrics = index.with_evidence("score")
    decode_metrics = index.with_evidence("decode_ms")
    ev = Evidence()
    tpc: dict[tuple[str, str], list[tuple[float, str]]] = {}
    scores: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for rec in latest(records):
        model_id, metric, subset = rec.model_id, rec.metric, rec.subset
        key = (rec.probe, metric)
        if key in tpc_metrics:
            lang = _lang_of_subset(subset)
            if lang:
                tpc.setdefault((model_id, lang), []).append((float(rec.value), subset))
        elif key in score_metrics and "/" not in subset:  # group rows, not subjects
            bench = _benchmark_of_task(subset)
            wanted = GSM8K_METRICS if bench == "GSM8K" else ("acc",)
            if bench and metric in wanted:
                value = float(rec.value) * (1.0 if rec.unit == "%" else 100.0)
                scores.setdefault((model_id, bench), []).append((value, f"{subset} {metric}"))
        elif key in decode_metrics and "bs=1," in f"{subset},":
            prev = ev.decode_ms.get(model_id)
            if prev is None or float(rec.value) < prev[0]:
                ev.decode_ms[model_id] = (float(rec.value), subset)
    for k, vals in tpc.items():
        mean = sum(v for v, _ in vals) / len(vals)
        ev.tokens_per_char[k] = (mean, ", ".join(sorted(s for _, s in vals)))
    for k, vals in scores.items():
        mean = sum(v for v, _ in vals) / len(vals)
        ev.scores[k] = (mean, ", ".join(sorted(s for _, s in vals)))
    return ev


def load_evidence(results_root: Path | None = None) -> Evidence:
    """Evidence from the JSONL store (``--results DIR`` or the default store); empty if none."""
    from llmselect.store import load_records

    return evidence_from_records(load_records(results_root))


# --------------------------------------------------------------------------- license


@dataclass(frozen=True)
class LicenseCheck:
    """Whether a model's license allows a use: yes | no | conditional | unknown."""

    allowed: str
    license_id: str | None
    license_name: str | None
    conditions: tuple[str, ...]
    source: str | None


def check_license(model: ModelSpec, use: str, catalog: Catalog | None = None) -> LicenseCheck:
    """The license verdict for ``use``, from ``llmselect.licenses`` when available.

    Fallback (catalog only): commercial use follows ``license.commercial``; other uses pass
    when a license is recorded, with its note as the condition.
    """
    try:
        from llmselect.licenses import verdict
    except ImportError:
        verdict = None
    if verdict is not None:
        try:
            v = verdict(model, use, catalog=catalog) if catalog else verdict(model, use)
        except LLMSelectError:
            v = None
        if v is not None:
            conditions = v.conditions or ()
            if isinstance(conditions, str):
                conditions = (conditions,)
            return LicenseCheck(
                allowed=str(v.allowed),
                license_id=getattr(v, "license_id", None),
                license_name=getattr(v, "license_name", None),
                conditions=tuple(str(c) for c in conditions),
                source=getattr(v, "source", None),
            )
    lic = model.license
    if lic is None or lic.id is None:
        return LicenseCheck("unknown", None, None, (), None)
    notes = (lic.note,) if lic.note else ()
    allowed = (lic.commercial or "unknown") if use in ("commercial", "edge") else "yes"
    return LicenseCheck(allowed, lic.id, lic.id, notes, lic.source)


# --------------------------------------------------------------------------- memory


@dataclass(frozen=True)
class MemoryFit:
    """Expected memory of one model at one precision on the budget."""

    precision: str
    total_gib: float  # all devices together
    per_device_gib: float
    budget_gib: float  # per device
    parts_gib: dict[str, float]
    kind: str  # estimated | measured
    method: str
    tp: int

    @property
    def fits(self) -> bool:
        return self.per_device_gib <= self.budget_gib


def _tp_degree(arch: ArchSpec | None, count: int) -> int:
    if count <= 1 or arch is None:
        return max(count, 1)
    return max(t for t in range(1, count + 1) if arch.heads % t == 0)


def _params_total(model: ModelSpec) -> int | None:
    if model.arch is not None:
        try:
            from llmselect.memory.params import count_params

            return int(count_params(model.arch).total)
        except (ImportError, AttributeError, TypeError, ValueError, LLMSelectError):
            # families the counter does not model (e.g. "other") fall back to the published size
            pass
    return int(model.params_b * 1e9) if model.params_b else None


def memory_fit(model: ModelSpec, precision: str, context: int, gpu: GpuBudget) -> MemoryFit | None:
    """Inference memory of ``model`` at ``precision`` for ``context`` tokens, batch 1.

    With an architecture: ``llmselect.memory.estimate.estimate_memory`` (tensor-parallel over
    the GPUs). Without: the coarse rule weights × 1.2 (KV cache and activations as 20 %) plus
    the estimator's runtime constant, flagged as coarse.
    None when neither parameters nor architecture are known.
    """
    params = _params_total(model)
    devices = max(gpu.count, 1)
    if model.arch is not None and params is not None:
        from llmselect.memory.estimate import estimate_memory

        tp = _tp_degree(model.arch, gpu.count)
        est = estimate_memory(
            model.arch,
            dtype=precision,
            batch=1,
            seq=context,
            device="cpu" if gpu.is_cpu else "cuda",
            tp=tp,
            params_total=params,
            last_token_logits=True,  # serving keeps only the sampled position's logits
        )
        parts = {k.removesuffix("_mib"): v / 1024 for k, v in est.as_mib().items()}
        per_device = parts.pop("peak")
        return MemoryFit(
            precision=precision,
            total_gib=per_device * tp,
            per_device_gib=per_device,
            budget_gib=gpu.memory_gib_each,
            parts_gib={k: round(v, 3) for k, v in parts.items()},
            kind="estimated",
            method=f"analytic: weights + KV cache ({context} tokens) + activations + runtime"
            + (f", tensor-parallel over {tp} GPUs" if tp > 1 else ""),
            tp=tp,
        )
    if params is None:
        return None
    from llmselect.memory.dtypes import parse_dtype
    from llmselect.memory.estimate import CPU_OVERHEAD_MIB, CUDA_OVERHEAD_MIB

    weights = params * parse_dtype(precision).bytes_per_weight(in_features=4096) / GIB
    overhead = (CPU_OVERHEAD_MIB if gpu.is_cpu else CUDA_OVERHEAD_MIB) / 1024  # GiB per device
    per_device = weights * 1.2 / devices + overhead
    return MemoryFit(
        precision=precision,
        total_gib=per_device * devices,
        per_device_gib=per_device,
        budget_gib=gpu.memory_gib_each,
        parts_gib={
            "weights": round(weights / devices, 3),
            "kv_cache+activations (20% of weights)": round(weights * 0.2 / devices, 3),
            "overhead": round(overhead, 3),
        },
        kind="estimated",
        method="coarse: parameters × bytes × 1.2 + runtime (no architecture in the catalog)",
        tp=devices,
    )


def choose_precision(
    model: ModelSpec, precisions: Iterable[str], context: int, gpu: GpuBudget
) -> tuple[MemoryFit | None, list[MemoryFit]]:
    """First precision (in profile order) that fits, and every estimate tried."""
    tried: list[MemoryFit] = []
    for prec in precisions:
        fit = memory_fit(model, prec, context, gpu)
        if fit is None:
            return None, tried
        tried.append(fit)
        if fit.fits:
            return fit, tried
    return None, tried


# --------------------------------------------------------------------------- terms


def _norm_bench(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


def published_scores(model: ModelSpec, catalog: Catalog | None) -> dict[str, tuple[float, str]]:
    """Benchmark → (mean published percent, source label); a benchmark the checkpoint lacks is
    taken from its base model and labelled so.

    Rows from different sources are averaged and the count is shown; sources disagree, so the
    label says so rather than picking one.
    """
    wanted = {_norm_bench(b): b for bs in QUALITY_BENCHMARKS.values() for b in bs}

    def collect(spec: ModelSpec) -> dict[str, list[tuple[float, str]]]:
        found: dict[str, list[tuple[float, str]]] = {}
        for s in spec.scores:
            bench = wanted.get(_norm_bench(s.benchmark))
            if bench is not None:
                found.setdefault(bench, []).append((s.value, s.source))
        return found

    rows = {bench: (vals, "") for bench, vals in collect(model).items()}
    base = catalog.find(model.base_model) if model.base_model and catalog is not None else None
    if base is not None and base.id != model.id:
        for bench, vals in collect(base).items():
            rows.setdefault(bench, (vals, f" (published for base model {base.id})"))
    out: dict[str, tuple[float, str]] = {}
    for bench, (vals, origin) in rows.items():
        mean = sum(v for v, _ in vals) / len(vals)
        src = vals[0][1] + (f" (+{len(vals) - 1} more rows averaged)" if len(vals) > 1 else "")
        out[bench] = (mean, src + origin)
    return out


def quality_term(lang: str, model: ModelSpec, catalog: Catalog | None, ev: Evidence) -> Term:
    """Quality in ``lang``: measured lm-eval scores where present, else published ones."""
    published = published_scores(model, catalog)
    comps: dict[str, float] = {}
    labels: list[str] = []
    kinds: set[str] = set()
    sources: list[str] = []
    for bench in QUALITY_BENCHMARKS[lang]:
        measured = ev.scores.get((model.id, bench))
        if measured is not None:
            comps[bench] = measured[0]
            labels.append(f"{bench} {measured[0]:.1f}% measured ({measured[1]})")
            kinds.add("measured")
            sources.append(f"store: {measured[1]}")
        elif bench in published:
            comps[bench] = published[bench][0]
            via_base = "base model" in published[bench][1]
            labels.append(
                f"{bench} {published[bench][0]:.1f}% published" + (" (base)" if via_base else "")
            )
            kinds.add("published")
            sources.append(published[bench][1])
    raw = sum(comps.values()) / len(comps) if comps else None
    return Term(
        name=f"quality_{lang}",
        raw=raw,
        unit="%",
        kind="+".join(sorted(kinds)) if kinds else "missing",
        detail="; ".join(labels) if labels else f"no {'/'.join(QUALITY_BENCHMARKS[lang])} score",
        source="; ".join(sources) or None,
        higher_is_better=True,
        components=comps,
    )


def tokens_per_char(model: ModelSpec, ev: Evidence, lang: str) -> tuple[float, str] | None:
    """Measured tokens per character of the model's tokenizer in ``lang`` (store), or None."""
    for key in (model.tokenizer, model.id):
        if key and (key, lang) in ev.tokens_per_char:
            return ev.tokens_per_char[(key, lang)]
    return None


def tokenizer_term(model: ModelSpec, ev: Evidence, mix: Mapping[str, float]) -> Term:
    """Tokens per character of text in the ``--lang`` mix (lower = more text per context)."""
    parts = {lang: tokens_per_char(model, ev, lang) for lang in mix}
    if any(v is None for v in parts.values()):
        missing = ", ".join(lang for lang, v in parts.items() if v is None)
        detail = f"tokens/char ({missing}) not measured — run llmselect tokenize-bench"
        return Term("tokenizer", None, "tok/char", "missing", detail, None, False)
    raw = sum(mix[lang] * parts[lang][0] for lang in mix)  # type: ignore[index]
    detail = ", ".join(f"{lang} {parts[lang][0]:.3f}" for lang in mix)  # type: ignore[index]
    src = "; ".join(f"store: {model.tokenizer or model.id} {parts[lang][1]}" for lang in mix)  # type: ignore[index]
    return Term(
        "tokenizer", raw, "tok/char", "measured", f"{raw:.3f} tok/char ({detail})", src, False
    )


def speed_term(model: ModelSpec, fit: MemoryFit, gpu: GpuBudget, ev: Evidence) -> Term:
    """Decode speed: measured (store) or the memory-bandwidth roofline (an upper bound)."""
    measured = ev.decode_ms.get(model.id)
    bytes_per_token = (fit.parts_gib.get("weights", 0) + fit.parts_gib.get("kv_cache", 0)) * GIB
    if not bytes_per_token:  # coarse estimate: weights only
        bytes_per_token = fit.parts_gib.get("weights", 0) * GIB
    if gpu.bandwidth_gbs:
        if measured is not None:
            tps = 1000.0 / measured[0]
            return Term(
                "speed",
                tps,
                "tok/s",
                "measured",
                f"{tps:.1f} tok/s measured ({measured[1]}, on the benchmark machine)",
                f"store: reference_latency {measured[1]}",
                True,
            )
        # per device: its share of weights + KV; devices decode in parallel (tensor parallel)
        tps = gpu.bandwidth_gbs * 1e9 / bytes_per_token
        return Term(
            "speed",
            tps,
            "tok/s",
            "estimated",
            f"≤{tps:.0f} tok/s estimated (bandwidth {gpu.bandwidth_gbs:g} GB/s ÷ "
            f"{bytes_per_token / 1e9:.2f} GB read per token)",
            f"roofline; bandwidth: {gpu.source}",
            True,
        )
    read_gb = bytes_per_token * fit.tp / 1e9
    return Term(
        "speed",
        read_gb,
        "GB/token",
        "estimated",
        f"{read_gb:.2f} GB read per decoded token (fewer = faster; bandwidth unknown)",
        "weights + KV cache at the chosen precision",
        False,
    )


def _percentile_ranks(values: Mapping[str, float], higher_is_better: bool) -> dict[str, float]:
    """Rank-percentile in [0, 1] (ties share the mean rank); a single value scores 1."""
    n = len(values)
    if n == 0:
        return {}
    if n == 1:
        return {k: 1.0 for k in values}
    out = {}
    for key, v in values.items():
        below = sum(1 for w in values.values() if w < v)
        equal = sum(1 for w in values.values() if w == v)
        pct = (below + (equal - 1) / 2) / (n - 1)
        out[key] = pct if higher_is_better else 1.0 - pct
    return out


def term_weights(profile: Profile, mix: Mapping[str, float]) -> dict[str, float]:
    """Profile weights with quality split over the language mix, normalized to sum 1."""
    w = dict(profile.weights)
    quality = w.pop("quality", 0.0)
    for lang in LANGS:
        w[f"quality_{lang}"] = quality * mix.get(lang, 0.0)
    total = sum(w.values())
    return {k: v / total for k, v in w.items() if v > 0} if total > 0 else {}


def score_candidates(terms_by_model: dict[str, list[Term]], weights: Mapping[str, float]) -> None:
    """Fill ``norm``, ``weight`` and ``contribution`` of every term in place."""
    names = {t.name for terms in terms_by_model.values() for t in terms}
    for name in names:
        terms = {mid: t for mid, ts in terms_by_model.items() for t in ts if t.name == name}
        if not terms:
            continue
        higher = next(iter(terms.values())).higher_is_better
        comp_names = {c for t in terms.values() for c in t.components}
        if comp_names:  # quality: mean of per-benchmark percentiles
            per_comp = {
                c: _percentile_ranks(
                    {mid: t.components[c] for mid, t in terms.items() if c in t.components}, higher
                )
                for c in comp_names
            }
            for mid, t in terms.items():
                ranks = [per_comp[c][mid] for c in t.components]
                t.norm = sum(ranks) / len(ranks) if ranks else None
        else:
            ranks = _percentile_ranks(
                {mid: t.raw for mid, t in terms.items() if t.raw is not None}, higher
            )
            for mid, t in terms.items():
                t.norm = ranks.get(mid)
        for t in terms.values():
            t.weight = weights.get(name, 0.0)
            t.contribution = (t.norm or 0.0) * t.weight


# --------------------------------------------------------------------------- constraints


def _license_reason(check: LicenseCheck, profile: Profile) -> str | None:
    """None when the license passes; otherwise why not."""
    lic = check.license_name or check.license_id or "no license recorded"
    if check.allowed == "yes":
        return None
    if check.allowed == "conditional":
        if profile.conditional_license == "exclude":
            return f"license {lic} allows {profile.license_use} use only with conditions"
        return None
    if check.allowed == "unknown":
        if profile.unknown_license == "allow":
            return None
        return f"license {lic}: {profile.license_use} use not established (unknown never passes)"
    return f"license {lic} does not allow {profile.license_use} use"


def _exclusion(model: ModelSpec, reasons: list[tuple[str, str, str]]) -> Exclusion:
    constraint, reason, kind = reasons[0]
    return Exclusion(model.id, model.name, constraint, reason, kind, [r for _, r, _ in reasons[1:]])


def _fmt_gib(x: float) -> str:
    return f"{x:.1f} GiB"


def recommend(
    catalog: Catalog | Iterable[ModelSpec],
    request: Request,
    evidence: Evidence | None = None,
    profiles: Mapping[str, Profile] | None = None,
) -> RecommendResult:
    """Rank the catalog for ``request``; every excluded model keeps its reasons."""
    cat = catalog if isinstance(catalog, Catalog) else Catalog(list(catalog))
    ev = evidence or Evidence()
    profile = get_profile(request.purpose, profiles)
    if request.finetune not in FINETUNE_MODES:
        raise LLMSelectError(
            f"unknown fine-tuning mode {request.finetune!r}; use {', '.join(FINETUNE_MODES)}"
        )
    if request.finetune != "none" and request.gpu.is_cpu:
        raise LLMSelectError("--finetune needs a GPU budget (--gpu 24GB, A100-80G, ...), not cpu")
    context = request.context if request.context is not None else profile.default_context
    if context < 1:
        raise LLMSelectError(f"--context must be a positive number of tokens, got {context}")
    precisions = tuple(p for p in profile.precisions if not (request.gpu.is_cpu and p == "fp16"))
    mix = request.lang
    weights = term_weights(profile, mix)

    excluded: list[Exclusion] = []
    survivors: list[tuple[ModelSpec, MemoryFit, LicenseCheck, FinetuneEstimate | None, list[str]]]
    survivors = []
    for model in sorted(cat, key=lambda m: m.id):
        reasons: list[tuple[str, str, str]] = []
        caveats: list[str] = []
        lic = check_license(model, profile.license_use, cat)
        why_not = _license_reason(lic, profile)
        if why_not:
            reasons.append(("license", why_not, "published"))
        elif lic.allowed == "conditional":
            n = len(lic.conditions)
            caveats.append(
                f"license {lic.license_id} is conditional ({n} condition{'s' * (n != 1)}"
                " listed under license.conditions)"
            )
        elif lic.allowed == "unknown":
            caveats.append("license not established: check it before use")
        if profile.max_params_b is not None and (
            model.params_b is None or model.params_b > profile.max_params_b
        ):
            size = f"{model.params_b:g}B" if model.params_b else "unknown size"
            reasons.append(
                (
                    "size",
                    f"{size} > {profile.max_params_b:g}B cap of purpose '{profile.name}'",
                    "published",
                )
            )
        if model.context_length is None:
            if context > ASSUMED_MIN_CONTEXT:
                reasons.append(
                    (
                        "context",
                        f"context window not recorded; cannot confirm {context} tokens",
                        "published",
                    )
                )
            else:
                caveats.append("context length not recorded in the catalog")
        elif model.context_length < context:
            reasons.append(
                (
                    "context",
                    f"context window {model.context_length} tokens < {context} needed",
                    "published",
                )
            )
        fit, tried = choose_precision(model, precisions, context, request.gpu)
        if not tried:
            reasons.append(
                ("data", "neither parameter count nor architecture recorded", "published")
            )
        elif fit is None:
            smallest = min(tried, key=lambda f: f.per_device_gib)
            reasons.append(
                (
                    "memory",
                    f"needs {_fmt_gib(smallest.per_device_gib)} per device even at "
                    f"{smallest.precision} ({context} tokens) > "
                    f"{_fmt_gib(request.gpu.memory_gib_each)} available",
                    "estimated",
                )
            )
        ft: FinetuneEstimate | None = None
        if request.finetune != "none" and model.arch:
            # the same model as `llmselect cost finetune` (ZeRO-3/FSDP over several GPUs)
            setup = FinetuneSetup(
                request.finetune,
                seq=min(context, FINETUNE_TRAIN_SEQ),
                gpus=max(request.gpu.count, 1),
            )
            try:
                ft = finetune_memory(model.arch, setup)
            except LLMSelectError as exc:  # e.g. an architecture the cost model does not cover
                reasons.append(("finetune", str(exc), "estimated"))
            if ft is not None and ft.per_gpu_gib > request.gpu.memory_gib_each:
                reasons.append(
                    (
                        "finetune",
                        f"{request.finetune} fine-tuning needs {_fmt_gib(ft.per_gpu_gib)} per GPU "
                        f"> {_fmt_gib(request.gpu.memory_gib_each)} ({ft.rule})",
                        "estimated",
                    )
                )
        elif request.finetune != "none":
            reasons.append(("finetune", "architecture unknown", "published"))
        if reasons:
            excluded.append(_exclusion(model, reasons))
        else:
            assert fit is not None
            if fit.precision == "int4":
                caveats.append("int4: expect some quality loss against the published fp16 scores")
            if fit.method.startswith("coarse"):
                caveats.append("memory is a coarse estimate (no architecture in the catalog)")
            survivors.append((model, fit, lic, ft, caveats))

    # terms
    terms_by_model: dict[str, list[Term]] = {}
    for model, fit, _lic, _ft, _cav in survivors:
        scale_higher = profile.scale_direction == "higher"
        terms = [
            quality_term("zh", model, cat, ev),
            quality_term("en", model, cat, ev),
            Term(
                "scale",
                model.params_b,
                "B params",
                "published" if model.params_b else "missing",
                f"{model.params_b:g}B parameters" if model.params_b else "parameters unknown",
                model.params_source,
                scale_higher,
            ),
            tokenizer_term(model, ev, mix),
            speed_term(model, fit, request.gpu, ev),
            Term(
                "cost",
                fit.total_gib,
                "GiB",
                fit.kind,
                f"{fit.total_gib:.1f} GiB at {fit.precision} ({fit.method})",
                fit.method,
                False,
            ),
        ]
        terms_by_model[model.id] = [t for t in terms if t.name in weights]

    # throughput floor (needs the speed term's tok/s)
    if request.min_tokens_per_s is not None:
        kept = []
        for item in survivors:
            model = item[0]
            speed = next((t for t in terms_by_model[model.id] if t.name == "speed"), None)
            if speed is None:
                speed = speed_term(model, item[1], request.gpu, ev)
            if speed.unit == "tok/s" and speed.raw is not None:
                if speed.raw < request.min_tokens_per_s:
                    excluded.append(
                        Exclusion(
                            model.id,
                            model.name,
                            "throughput",
                            f"{speed.raw:.1f} tok/s ({speed.kind}) < {request.min_tokens_per_s:g}"
                            " tok/s floor",
                            speed.kind,
                        )
                    )
                    del terms_by_model[model.id]
                    continue
            else:
                item[4].append("throughput floor not checked: GPU bandwidth unknown (name the GPU)")
            kept.append(item)
        survivors = kept

    score_candidates(terms_by_model, weights)
    recs: list[Recommendation] = []
    total_weight = sum(weights.values()) or 1.0
    for model, fit, lic, ft, caveats in survivors:
        terms = terms_by_model[model.id]
        score = sum(t.contribution for t in terms)
        coverage = sum(t.weight for t in terms if t.norm is not None) / total_weight
        tpc_zh = tokens_per_char(model, ev, "zh")
        if tpc_zh and model.context_length:
            usable = int(model.context_length / tpc_zh[0])
            usable_note = (
                f"{model.context_length} tokens ÷ {tpc_zh[0]:.3f} tok/char (measured, {tpc_zh[1]})"
            )
        else:
            usable = None
            usable_note = NOT_MEASURED_ZH if model.context_length else "context length unknown"
        recs.append(
            Recommendation(
                model_id=model.id,
                name=model.name,
                params_b=model.params_b,
                rank=0,
                score=round(score, 4),
                coverage=round(coverage, 4),
                precision=fit.precision,
                memory_gib=round(fit.total_gib, 2),
                memory_kind=fit.kind,
                memory_detail={"per_device_gib": round(fit.per_device_gib, 2), **fit.parts_gib},
                context_length=model.context_length,
                usable_zh_chars=usable,
                usable_zh_chars_note=usable_note,
                license={
                    "allowed": lic.allowed,
                    "id": lic.license_id,
                    "name": lic.license_name,
                    "conditions": list(lic.conditions),
                    "source": lic.source,
                },
                caveats=caveats,
                terms=terms,
                finetune=(
                    {
                        "mode": ft.mode,
                        "per_gpu_gib": round(ft.per_gpu_gib, 2),
                        "total_gib": round(ft.total_gib, 2),
                        "parts_gib": ft.parts_gib,
                        "rule": ft.rule,
                        "kind": ft.kind,
                    }
                    if ft
                    else None
                ),
            )
        )
    recs.sort(key=lambda r: (-r.score, -r.coverage, r.model_id))
    _mark_pareto(recs)
    for i, rec in enumerate(recs, 1):
        rec.rank = i
        rec.why = _why(rec, profile)
    notes = [f"purpose '{profile.name}': {profile.description}", *profile.practice]
    if request.gpu.note:
        notes.append(request.gpu.note)
    return RecommendResult(
        request={
            "gpu": request.gpu.describe(),
            "gpu_count": request.gpu.count,
            "memory_gib_each": round(request.gpu.memory_gib_each, 3),
            "bandwidth_gbs": request.gpu.bandwidth_gbs,
            "purpose": profile.name,
            "lang": mix,
            "context": context,
            "min_tokens_per_s": request.min_tokens_per_s,
            "finetune": request.finetune,
            "precisions": list(precisions),
            "weights": {k: round(v, 4) for k, v in weights.items()},
        },
        profile=profile,
        recommendations=recs,
        excluded=sorted(excluded, key=lambda e: (e.constraint, e.model_id)),
        notes=notes,
        query=request,
    )


def _quality_norm(rec: Recommendation) -> float | None:
    vals = [t.norm for t in rec.terms if t.name.startswith("quality") and t.norm is not None]
    return sum(vals) / len(vals) if vals else None


def _mark_pareto(recs: list[Recommendation]) -> None:
    """Pareto front on (quality ↑, memory ↓) among models with a quality number."""
    pts = [(r, _quality_norm(r)) for r in recs]
    for r, q in pts:
        if q is None:
            continue
        r.pareto = not any(
            q2 is not None
            and q2 >= q
            and o.memory_gib <= r.memory_gib
            and (q2 > q or o.memory_gib < r.memory_gib)
            for o, q2 in pts
            if o is not r
        )


def _why(rec: Recommendation, profile: Profile) -> str:
    top = sorted((t for t in rec.terms if t.contribution > 0), key=lambda t: -t.contribution)[:2]
    lead = ", ".join(f"{t.name} {t.contribution:.2f} ({t.detail})" for t in top)
    missing = [t.name for t in rec.terms if t.norm is None]
    text = f"#{rec.rank} for '{profile.name}': " + (lead or "no term had data")
    text += f"; fits at {rec.precision} in {rec.memory_gib:.1f} GiB"
    if missing:
        text += f"; no data for {', '.join(missing)} (coverage {rec.coverage:.0%})"
    return text


def explain(result: RecommendResult, model_id: str, catalog: Catalog) -> dict[str, Any]:
    """One model's full breakdown: its rank and terms, or why it was excluded, plus its memory
    at every precision on the requested budget."""
    model = catalog.get(model_id)
    out: dict[str, Any] = {"model_id": model.id, "name": model.name, "request": result.request}
    if result.query is not None:
        fits = [
            memory_fit(model, p, result.request["context"], result.query.gpu) for p in PRECISIONS
        ]
        out["memory_by_precision"] = [
            {
                "precision": f.precision,
                "per_device_gib": round(f.per_device_gib, 2),
                "total_gib": round(f.total_gib, 2),
                "fits": f.fits,
                "kind": f.kind,
                "method": f.method,
                "parts_gib": f.parts_gib,
            }
            for f in fits
            if f is not None
        ]
    for rec in result.recommendations:
        if rec.model_id == model.id:
            out.update(status="ranked", of=len(result.recommendations), recommendation=asdict(rec))
            return out
    for exc in result.excluded:
        if exc.model_id == model.id:
            out.update(status="excluded", exclusion=asdict(exc))
            return out
    raise LLMSelectError(f"model {model_id!r} was not considered")
