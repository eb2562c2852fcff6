"""One quality scale with an interval: every model estimated on every benchmark.

Benchmark scores across models are strongly correlated; a few components explain most of the
variance (Ruan et al. 2024, "Observational Scaling Laws", arXiv:2405.10938). The model, per
observed score ``y`` (percent) of a checkpoint in lineage ``L`` (the chain of ``base_model``
links down to its root: a chat model and its base share one pretrained network) on benchmark
``b``::

    y = mu_b + c_b · x_L + a_b · z_L + u_Lb + d_b · f + e

* ``x_L``: covariates of the lineage: log10 of the parameters, release year, and log10 of the
  share of parameters a token uses (0 for a dense model; a mixture of experts holds more
  parameters than it computes with);
* ``z_L ~ N(0, I)``: the lineage's latent abilities (``rank`` components);
* ``u_Lb ~ N(0, sigma_u_b²)``: what the components do not explain for this lineage;
* ``f``: the setting of the score (``settings.Setting``): instruction-tuned, thinking mode,
  run by a third party, zero-shot, shots not stated; ``d_b`` are the fitted offsets (in
  ``data/quality_model.json``), so unlike settings are compared through a documented
  adjustment instead of as equals;
* ``e ~ N(0, sigma_e_b²)``: the noise of one published number on benchmark ``b`` (settings the
  offsets do not capture: shots, prompt, harness).

The global parameters are fitted offline by ``benchmarks/fit_quality_model.py`` (numpy,
``quality_fit``) and shipped as ``data/quality_model.json``; at run time each lineage's
posterior over ``(z_L, u_L)`` is a small Gaussian update in pure Python from its published and
measured scores. A checkpoint's estimate on a benchmark is its expected score in its own tuning,
non-thinking, few-shot with the shots stated, as its publisher would run it; the interval is
the posterior's. No evidence means the prior (covariates only): a wide interval, never a better
score.

Measured scores (``llmselect eval``, percent) enter as observations run by a third party, in
the setting their record states (``settings.measured_setting``: the shots lm-eval ran with, so
a 0-shot score takes the zero-shot offset; the chat template on or off), whose
noise adds their own sampling error to the model's: variance ``sigma_e_b² + s²`` (percentage
points²), since ``sigma_e_b`` was fitted on published full-split numbers and a score from 3
documents is far noisier than one from thousands. ``s`` is lm-eval's standard error where it is
estimable; where it is not (every document scored alike: lm-eval gives 0, stored as unknown) it
comes from the exact 95 % interval stored beside the score (``sampling_error``); a score with
neither is left out of the update, and the quality term says so with the reason. One measured
score per checkpoint and benchmark enters, the most informative stored one, not the newest
(``evidence.chosen_score``: a known sampling error, then the most documents, then the newest;
runs of one benchmark score the same documents, so two would count them twice): a quick
``eval --limit 2`` after a full run leaves the full one counted. How each measured score was
weighted, the run it comes from and the newer runs passed over (``Value.newer``) are part of
the term's detail (``--explain``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from llmselect.catalog import Catalog, ModelSpec
from llmselect.config import PACKAGE_DATA
from llmselect.errors import LLMSelectError
from llmselect.recommend.evidence import Value, documents
from llmselect.recommend.settings import (
    Setting,
    checkpoint_tuning,
    measured_setting,
    read_setting,
)

MODEL_FILE = PACKAGE_DATA / "quality_model.json"
COVARIATES = ("log10_params_b", "release_year", "log10_active_share")
FEATURES = ("instruct", "thinking", "third_party", "zero_shot", "shots_unstated")
LABELS = ("measured", "published", "predicted")  # strongest evidence first
Z90 = 1.6448536269514722  # two-sided 90 % interval of a normal
Z95 = 1.959963984540054  # two-sided 95 % interval of a normal


@dataclass(frozen=True)
class Observation:
    """One score: which lineage and benchmark, the value (percent), its setting and origin, and
    for a measured score its sampling variance (percentage points², added to ``sigma_e_b²``;
    None: left out, its sampling error unknown) with how that was found."""

    lineage: str
    model_id: str
    bench: int  # index into the model's benchmarks
    value: float
    features: tuple[float, ...]
    label: str  # measured | published
    source: str
    setting: Setting
    sampling_var: float | None = 0.0  # a published score's is inside sigma_e_b
    weighting: str = ""

    @property
    def used(self) -> bool:
        return self.sampling_var is not None


@dataclass(frozen=True)
class QualityModel:
    """The fitted global parameters (see the module doc for the symbols)."""

    benchmarks: tuple[str, ...]
    rank: int
    mu: tuple[float, ...]
    coef: tuple[tuple[float, ...], ...]  # per benchmark, over the covariates
    loadings: tuple[tuple[float, ...], ...]  # per benchmark, rank entries
    offsets: tuple[tuple[float, ...], ...]  # per benchmark, over FEATURES
    sigma_u: tuple[float, ...]
    sigma_e: tuple[float, ...]  # per benchmark
    covariate_means: tuple[float, ...]  # see COVARIATES: for centring
    meta: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> QualityModel:
        try:
            return cls(
                benchmarks=tuple(d["benchmarks"]),
                rank=int(d["rank"]),
                mu=tuple(d["mu"]),
                coef=tuple(tuple(r) for r in d["coef"]),
                loadings=tuple(tuple(r) for r in d["loadings"]),
                offsets=tuple(tuple(r) for r in d["offsets"]),
                sigma_u=tuple(d["sigma_u"]),
                sigma_e=tuple(d["sigma_e"]),
                covariate_means=tuple(d["covariate_means"]),
                meta=dict(d.get("meta", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise LLMSelectError(f"quality model file: bad or missing field {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmarks": list(self.benchmarks),
            "rank": self.rank,
            "features": list(FEATURES),
            "covariates": list(COVARIATES),
            "mu": list(self.mu),
            "coef": [list(r) for r in self.coef],
            "loadings": [list(r) for r in self.loadings],
            "offsets": [list(r) for r in self.offsets],
            "sigma_u": list(self.sigma_u),
            "sigma_e": list(self.sigma_e),
            "covariate_means": list(self.covariate_means),
            "meta": dict(self.meta),
        }

    def fixed_part(self, b: int, x: Sequence[float], f: Sequence[float]) -> float:
        """``mu_b + c_b·x + d_b·f``: the part of a score no latent explains."""
        return (
            self.mu[b]
            + sum(c * v for c, v in zip(self.coef[b], x, strict=True))
            + sum(d * v for d, v in zip(self.offsets[b], f, strict=True))
        )

    def design(self, b: int) -> tuple[float, ...]:
        """Row of the latent vector ``(z, u)`` that score ``b`` loads on (cached)."""
        rows = self.__dict__.get("_designs")
        if rows is None:
            rows = []
            for i in range(len(self.benchmarks)):
                row = list(self.loadings[i]) + [0.0] * len(self.benchmarks)
                row[self.rank + i] = 1.0
                rows.append(tuple(row))
            object.__setattr__(self, "_designs", rows)
        return rows[b]


@lru_cache(maxsize=2)
def load_quality_model(path: Path = MODEL_FILE) -> QualityModel:
    """The shipped fitted parameters."""
    try:
        return QualityModel.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as exc:
        raise LLMSelectError(f"quality model file {path}: {exc}") from exc


# ---- covariates, lineages and observations -------------------------------------------------


def lineage_root(model: ModelSpec, catalog: Catalog | None) -> ModelSpec:
    """The root of the ``base_model`` chain (the checkpoint itself when it has no base)."""
    seen = {model.id}
    while model.base_model and catalog is not None:
        base = catalog.find(model.base_model)
        if base is None or base.id in seen:
            break
        seen.add(base.id)
        model = base
    return model


def release_year(model: ModelSpec) -> float | None:
    """``2024-09-19`` → 2024.71; None when the catalog has no date."""
    text = (model.release_date or "").strip()
    try:
        year = int(text[:4])
    except ValueError:
        return None
    month = int(text[5:7]) if len(text) >= 7 and text[5:7].isdigit() else 6
    return year + (month - 0.5) / 12


def active_share(model: ModelSpec) -> float | None:
    """Parameters a token uses over those held (exact counts; 1 for a dense model), or None."""
    if model.arch is None:
        return None
    from llmselect.arch.count import count_model

    try:
        count = count_model(model)
    except LLMSelectError:
        return None
    return count.active / count.total if count.total else None


def covariates(root: ModelSpec, qm: QualityModel) -> tuple[tuple[float, float, float], list[str]]:
    """Centred covariates (``COVARIATES``) of a lineage, and what had to be assumed."""
    notes = []
    params = root.params_b
    if params is None or params <= 0:
        notes.append("parameter count unknown: the covariate is the catalog's mean")
        lp = qm.covariate_means[0]
    else:
        lp = math.log10(params)
    year = release_year(root)
    if year is None:
        notes.append("release date unknown: the covariate is the catalog's mean")
        year = qm.covariate_means[1]
    share = active_share(root)
    if share is None:
        notes.append("active share unknown (no exact count): the covariate is the catalog's mean")
        ls = qm.covariate_means[2]
    else:
        ls = math.log10(share)
    means = qm.covariate_means
    return (lp - means[0], year - means[1], ls - means[2]), notes


def features_of(setting: Setting) -> tuple[float, ...]:
    return (
        1.0 if setting.tuned == "instruct" else 0.0,
        1.0 if setting.thinking else 0.0,
        1.0 if setting.runner != "publisher" else 0.0,
        1.0 if setting.shots == 0 else 0.0,
        1.0 if setting.shots is None else 0.0,
    )


def reference_features(model: ModelSpec) -> tuple[float, ...]:
    """The setting an estimate is given in: the checkpoint's own tuning, non-thinking, as its
    publisher runs it."""
    return (1.0 if checkpoint_tuning(model) == "instruct" else 0.0, 0.0, 0.0, 0.0, 0.0)


def published_observations(
    model: ModelSpec, lineage: str, benchmarks: Sequence[str]
) -> list[Observation]:
    out = []
    for score in model.scores:
        setting = read_setting(score, model)
        if setting is None or setting.benchmark not in benchmarks:
            continue
        out.append(
            Observation(
                lineage,
                model.id,
                benchmarks.index(setting.benchmark),
                float(score.value),
                features_of(setting),
                "published",
                score.source,
                setting,
            )  # fmt: skip
        )
    return out


def sampling_error(v: Value) -> tuple[float | None, str]:
    """A measured score's sampling standard deviation (percentage points) and how it was found,
    from its own evidence only; None when that gives none (the score is then left out)."""
    docs = documents(v.n)
    if v.stderr is not None and v.stderr > 0:
        return v.stderr, f"{docs}, lm-eval's standard error {v.stderr:.2g} pp"
    if v.ci95 is not None:
        low, high = v.ci95
        # At 0 or 100 % lm-eval's standard error is 0 and the exact (Clopper-Pearson) interval
        # is one-sided, which no Gaussian observation is: the sd is the one whose 95 % interval
        # around the score reaches the exact interval's far bound, so the observation never
        # claims more than its documents show (3 of 3 right: 29.2-100 %, 36.1 pp; 1,000 of
        # 1,000: 0.19 pp). The binomial p(1-p)/n would give 0 here: certainty from 3 documents.
        sd = max(v.value - low, high - v.value) / Z95
        return sd, (
            f"{docs}, standard error not estimable: {sd:.1f} pp from the exact 95 % interval "
            f"{low:.1f}-{high:.1f} %"
        )
    why = v.note or (
        "standard error recorded as 0" if v.stderr == 0 else "no standard error recorded"
    )
    return None, f"left out of the estimate: sampling error unknown, {docs}; {why}"


def measured_observation(
    model: ModelSpec, lineage: str, bench: str, v: Value, qm: QualityModel
) -> Observation:
    """A score from the store, weighted by its sampling error (see the module doc)."""
    b = qm.benchmarks.index(bench)
    setting = measured_setting(bench, model, v)
    sd, how = sampling_error(v)
    if sd is not None:
        how += (
            f"; weighted as noise {math.hypot(qm.sigma_e[b], sd):.1f} pp: the model's "
            f"{qm.sigma_e[b]:.1f} pp for one published score and the sampling error combined"
        )
    if v.run:
        how += f"; run {v.run}"
    if v.newer:
        how += "; newer, not used: " + "; ".join(v.newer)
    return Observation(
        lineage, model.id, b, v.value, features_of(setting), "measured", v.source, setting,
        None if sd is None else sd * sd, how,
    )  # fmt: skip


# ---- the Gaussian update -------------------------------------------------------------------


def _cholesky_inverse(a: list[list[float]]) -> list[list[float]]:
    """Inverse of a small symmetric positive-definite matrix (pure Python)."""
    n = len(a)
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = a[i][j] - sum(low[i][k] * low[j][k] for k in range(j))
            low[i][j] = math.sqrt(s) if i == j else s / low[j][j]
    inv_low = [[0.0] * n for _ in range(n)]  # L⁻¹, lower triangular
    for i in range(n):
        inv_low[i][i] = 1.0 / low[i][i]
        for j in range(i):
            inv_low[i][j] = -sum(low[i][k] * inv_low[k][j] for k in range(j, i)) / low[i][i]
    return [
        [sum(inv_low[k][i] * inv_low[k][j] for k in range(max(i, j), n)) for j in range(n)]
        for i in range(n)
    ]


@dataclass(frozen=True)
class Posterior:
    """The posterior of one lineage's latent vector ``(z, u)``: mean and covariance."""

    mean: tuple[float, ...]
    cov: tuple[tuple[float, ...], ...]
    n_obs: int


def posterior(
    qm: QualityModel, x: Sequence[float], observations: Iterable[Observation]
) -> Posterior:
    """Prior ``N(0, diag(1, sigma_u²))`` updated with each observation used (noise variance
    ``sigma_e_b²`` plus its sampling variance)."""
    n = qm.rank + len(qm.benchmarks)
    prec = [[0.0] * n for _ in range(n)]
    for i in range(qm.rank):
        prec[i][i] = 1.0
    for b, s in enumerate(qm.sigma_u):
        prec[qm.rank + b][qm.rank + b] = 1.0 / (s * s)
    rhs = [0.0] * n
    count = 0
    for ob in observations:
        if ob.sampling_var is None:
            continue
        count += 1
        h = qm.design(ob.bench)
        w = 1.0 / (qm.sigma_e[ob.bench] ** 2 + ob.sampling_var)
        r = ob.value - qm.fixed_part(ob.bench, x, ob.features)
        nz = [i for i, v in enumerate(h) if v != 0.0]
        for i in nz:
            rhs[i] += w * h[i] * r
            for j in nz:
                prec[i][j] += w * h[i] * h[j]
    cov = _cholesky_inverse(prec)
    mean = tuple(sum(cov[i][j] * rhs[j] for j in range(n)) for i in range(n))
    return Posterior(mean, tuple(tuple(r) for r in cov), count)


def linear(post: Posterior, g: Sequence[float]) -> tuple[float, float]:
    """Mean and variance of ``g · (z, u)`` under the posterior (``g`` is sparse)."""
    nz = [(i, v) for i, v in enumerate(g) if v]
    mean = sum(v * post.mean[i] for i, v in nz)
    var = sum(vi * post.cov[i][j] * vj for i, vi in nz for j, vj in nz)
    return mean, max(var, 0.0)


def percent(value: float) -> float:
    """A score estimate kept on the benchmark's scale (the linear model knows no ceiling)."""
    return min(max(value, 0.0), 100.0)


# ---- estimates per checkpoint --------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One checkpoint on one benchmark: the estimate, its 90 % interval half-width, the label
    (measured > published > predicted) and the numbers behind it."""

    benchmark: str
    estimate: float
    sd: float
    label: str
    observed: tuple[tuple[float, str, str], ...]  # (value, setting + weighting, source) of own

    @property
    def half90(self) -> float:
        return Z90 * self.sd


@dataclass(frozen=True)
class QualityEstimate:
    """A checkpoint's estimates on every benchmark, and a mean over any benchmark subset."""

    model_id: str
    lineage: str
    cells: dict[str, Cell]
    post: Posterior
    x: tuple[float, ...]
    ref: tuple[float, ...]
    notes: tuple[str, ...]

    def mean_of(self, benches: Sequence[str], qm: QualityModel) -> tuple[float, float]:
        """Mean and standard deviation of the average of ``benches`` (correlations kept).

        The mean is the average of the benchmarks' estimates as shown (each kept on its
        0-100 scale): a prediction past a benchmark's ceiling (107 % on GSM8K) would otherwise
        lift the average above what its own estimates say."""
        idx = [qm.benchmarks.index(b) for b in benches]
        rows = [qm.design(b) for b in idx]
        g = [sum(col) / len(idx) for col in zip(*rows, strict=True)]
        _, var = linear(self.post, g)
        mean = sum(self.cells[qm.benchmarks[b]].estimate for b in idx) / len(idx)
        return mean, math.sqrt(var)


def described(ob: Observation) -> str:
    """An observation's setting and, for a measured score, how it was weighted."""
    how = ob.setting.describe()
    return f"{how}; {ob.weighting}" if ob.weighting else how


class QualityIndex:
    """Estimates for the checkpoints of a catalog, from its published scores and measured ones
    (``(model_id, benchmark) → Value`` with its sampling evidence). Lineages are computed
    lazily and cached: a ranking touches only the candidates'."""

    def __init__(
        self,
        catalog: Catalog,
        measured: Mapping[tuple[str, str], Value] | None = None,
        qm: QualityModel | None = None,
    ) -> None:
        self.catalog = catalog
        self.qm = qm or load_quality_model()
        self.measured = measured or {}
        self._members: dict[str, list[ModelSpec]] | None = None
        self._posts: dict[str, tuple[Posterior, tuple[float, ...], tuple[str, ...]]] = {}
        self._obs: dict[str, list[Observation]] = {}

    def members(self, root_id: str) -> list[ModelSpec]:
        if self._members is None:
            self._members = {}
            for m in self.catalog:
                self._members.setdefault(lineage_root(m, self.catalog).id, []).append(m)
        return self._members.get(root_id, [])

    def observations(self, root: ModelSpec) -> list[Observation]:
        if root.id in self._obs:
            return self._obs[root.id]
        out: list[Observation] = []
        for m in self.members(root.id) or [root]:
            out += published_observations(m, root.id, self.qm.benchmarks)
            for bench in self.qm.benchmarks:
                v = self.measured.get((m.id, bench))
                if v is not None:
                    out.append(measured_observation(m, root.id, bench, v, self.qm))
        self._obs[root.id] = out
        return out

    def estimate(self, model: ModelSpec) -> QualityEstimate:
        root = lineage_root(model, self.catalog)
        if root.id not in self._posts:
            x, notes = covariates(root, self.qm)
            self._posts[root.id] = (posterior(self.qm, x, self.observations(root)), x, tuple(notes))
        post, x, notes = self._posts[root.id]
        own = [o for o in self.observations(root) if o.model_id == model.id]
        ref = reference_features(model)
        cells = {}
        for b, bench in enumerate(self.qm.benchmarks):
            latent, var = linear(post, self.qm.design(b))
            mine = [o for o in own if o.bench == b]
            used = [o.label for o in mine if o.used]
            label = next((lab for lab in LABELS if lab in used), "predicted")
            cells[bench] = Cell(
                bench,
                percent(self.qm.fixed_part(b, x, ref) + latent),
                math.sqrt(var),
                label,
                tuple((o.value, described(o), o.source) for o in mine),
            )
        return QualityEstimate(model.id, root.id, cells, post, x, ref, notes)
