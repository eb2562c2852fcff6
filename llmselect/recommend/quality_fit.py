"""Fit the quality model (``quality.py``) over the catalog's published scores, and backtest it.

Offline only (numpy): ``benchmarks/fit_quality_model.py`` writes ``data/quality_model.json``
and ``benchmarks/backtest_quality.py`` the leave-one-out figures. The recommender reads the
shipped parameters and never imports this module.

Expectation-maximisation: the E-step is each lineage's Gaussian posterior over ``(z, u)``
(``quality.posterior``, the same code the recommender runs); the M-step solves, per benchmark,
the expected least squares for ``mu_b, c_b, d_b, a_b`` (a small ridge on offsets and loadings),
and the variances ``sigma_u_b``, ``sigma_e`` in closed form.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from llmselect.catalog import Catalog, ModelSpec
from llmselect.recommend.quality import (
    FEATURES,
    Z90,
    Observation,
    Posterior,
    QualityModel,
    active_share,
    covariates,
    lineage_root,
    linear,
    posterior,
    published_observations,
    release_year,
)
from llmselect.recommend.settings import BENCHMARKS

RIDGE = 1.0  # on offsets and loadings, in units of one observation


@dataclass
class Lineage:
    root: ModelSpec
    x: tuple[float, ...]
    obs: list[Observation]


def catalog_lineages(
    catalog: Catalog, qm: QualityModel, benchmarks: Sequence[str] = BENCHMARKS
) -> list[Lineage]:
    """Lineages with at least one published score on ``benchmarks``."""
    by_root: dict[str, Lineage] = {}
    for m in sorted(catalog, key=lambda m: m.id):
        root = lineage_root(m, catalog)
        obs = published_observations(m, root.id, benchmarks)
        if root.id not in by_root:
            by_root[root.id] = Lineage(root, covariates(root, qm)[0], [])
        by_root[root.id].obs += obs
    return [lin for lin in by_root.values() if lin.obs]


def covariate_means(catalog: Catalog) -> tuple[float, float, float]:
    """Means of the covariates over lineage roots, for centring."""
    roots = {lineage_root(m, catalog).id: lineage_root(m, catalog) for m in catalog}
    lps = [np.log10(r.params_b) for r in roots.values() if r.params_b]
    years = [y for r in roots.values() if (y := release_year(r)) is not None]
    shares = [np.log10(a) for r in roots.values() if (a := active_share(r)) is not None]
    return float(np.mean(lps)), float(np.mean(years)), float(np.mean(shares))


def _initial(rank: int, means: tuple[float, ...], benchmarks: Sequence[str]) -> QualityModel:
    rng = np.random.default_rng(0)
    nb = len(benchmarks)
    return QualityModel(
        benchmarks=tuple(benchmarks),
        rank=rank,
        mu=(50.0,) * nb,
        coef=((0.0,) * len(means),) * nb,
        loadings=tuple(tuple(float(v) for v in rng.normal(5.0, 1.0, rank)) for _ in range(nb)),
        offsets=((0.0,) * len(FEATURES),) * nb,
        sigma_u=(5.0,) * nb,
        sigma_e=(3.0,) * nb,
        covariate_means=means,
    )


def _m_step(qm: QualityModel, lineages: list[Lineage], posts: list[Posterior]) -> QualityModel:
    k, nb, nf, nc = qm.rank, len(qm.benchmarks), len(FEATURES), len(qm.covariate_means)
    p = 1 + nc + nf + k  # intercept, covariates, offsets, loadings
    mu, coef, offs, loads, sig_u, sig_e = [], [], [], [], [], []
    for b in range(nb):
        xtx = np.zeros((p, p))
        xty = np.zeros(p)
        rows = []
        sq_e, n_e = 0.0, 0
        for lin, post in zip(lineages, posts, strict=True):
            m = np.array(post.mean)
            c = np.array(post.cov)
            zi = list(range(k))
            ui = k + b
            for ob in lin.obs:
                if ob.bench != b:
                    continue
                fixed = np.array([1.0, *lin.x, *ob.features])
                phi = np.concatenate([fixed, m[zi]])
                ezz = np.outer(m[zi], m[zi]) + c[np.ix_(zi, zi)]
                e_phiphi = np.outer(phi, phi)
                e_phiphi[-k:, -k:] = ezz
                e_phiu = phi * m[ui]
                e_phiu[-k:] += c[zi, ui]
                xtx += e_phiphi
                xty += phi * ob.value - e_phiu
                rows.append((ob.value, phi, m[ui], c, zi, ui))
        reg = np.zeros(p)
        reg[1 + nc :] = RIDGE
        w = np.linalg.solve(xtx + np.diag(reg), xty)
        mu.append(float(w[0]))
        coef.append(tuple(float(v) for v in w[1 : 1 + nc]))
        offs.append(tuple(float(v) for v in w[1 + nc : 1 + nc + nf]))
        a = w[1 + nc + nf :]
        loads.append(tuple(float(v) for v in a))
        for y, phi, mu_u, c, zi, ui in rows:  # E[(y - w·phi - u)²]
            g = np.concatenate([a, [1.0]])
            idx = [*zi, ui]
            resid = y - float(w @ phi) - mu_u
            sq_e += resid**2 + float(g @ c[np.ix_(idx, idx)] @ g)
            n_e += 1
        sig_e.append(max(float(np.sqrt(sq_e / n_e)), 0.5) if n_e else qm.sigma_e[b])
        us = [
            post.mean[k + b] ** 2 + post.cov[k + b][k + b]
            for lin, post in zip(lineages, posts, strict=True)
            if any(ob.bench == b for ob in lin.obs)
        ]
        sig_u.append(float(np.sqrt(np.mean(us))) if us else qm.sigma_u[b])
    return QualityModel(
        benchmarks=qm.benchmarks,
        rank=k,
        mu=tuple(mu),
        coef=tuple(coef),
        loadings=tuple(loads),
        offsets=tuple(offs),
        sigma_u=tuple(max(s, 0.5) for s in sig_u),
        sigma_e=tuple(sig_e),
        covariate_means=qm.covariate_means,
        meta=qm.meta,
    )


def fit_lineages(
    lineages: list[Lineage], start: QualityModel, iterations: int = 150, tol: float = 1e-4
) -> QualityModel:
    qm = start
    for _ in range(iterations):
        posts = [posterior(qm, lin.x, lin.obs) for lin in lineages]
        new = _m_step(qm, lineages, posts)
        delta = max(
            abs(a - b)
            for a, b in zip(
                new.mu + new.sigma_u + new.sigma_e, qm.mu + qm.sigma_u + qm.sigma_e, strict=True
            )
        )
        qm = new
        if delta < tol:
            break
    return qm


def fit(catalog: Catalog, rank: int = 2, iterations: int = 150) -> QualityModel:
    """Fit on every published score of the catalog's benchmarks."""
    start = _initial(rank, covariate_means(catalog), BENCHMARKS)
    lineages = catalog_lineages(catalog, start)
    qm = fit_lineages(lineages, start, iterations)
    n_obs = sum(len(lin.obs) for lin in lineages)
    meta = {"n_observations": n_obs, "n_lineages": len(lineages), "catalog_models": len(catalog)}
    return QualityModel(**{**qm.__dict__, "meta": meta})


@dataclass(frozen=True)
class Backtest:
    """Leave-one-out over published values: error and calibration of the 90 % interval."""

    n: int
    mae: float
    coverage90: float
    per_benchmark: dict[str, tuple[int, float, float]]  # n, MAE, coverage
    method: str


def _predict(qm: QualityModel, lin: Lineage, rest: Iterable[Observation], ob: Observation):
    post = posterior(qm, lin.x, rest)
    latent, var = linear(post, qm.design(ob.bench))
    mean = qm.fixed_part(ob.bench, lin.x, ob.features) + latent
    return mean, float(np.sqrt(var + qm.sigma_e[ob.bench] ** 2))


def backtest(catalog: Catalog, qm: QualityModel, refit_iterations: int = 0) -> Backtest:
    """Hold out each published value in turn and predict it from the rest.

    ``refit_iterations=0``: the global parameters stay as fitted (the held-out value still
    shaped them a little); ``> 0``: the global fit is re-run without the value, warm-started
    from ``qm`` for that many EM iterations (an honest, slower leave-one-out).
    """
    lineages = catalog_lineages(catalog, qm, qm.benchmarks)
    errs: list[tuple[str, float, bool]] = []
    for li, lin in enumerate(lineages):
        for j, ob in enumerate(lin.obs):
            rest = lin.obs[:j] + lin.obs[j + 1 :]
            model = qm
            if refit_iterations:
                others = [*lineages[:li], Lineage(lin.root, lin.x, rest), *lineages[li + 1 :]]
                others = [o for o in others if o.obs]
                model = fit_lineages(others, qm, refit_iterations)
            mean, sd = _predict(model, lin, rest, ob)
            err = abs(mean - ob.value)
            errs.append((qm.benchmarks[ob.bench], err, err <= Z90 * sd))
    per = {}
    for bench in qm.benchmarks:
        mine = [(e, inside) for b, e, inside in errs if b == bench]
        if mine:
            per[bench] = (
                len(mine),
                float(np.mean([e for e, _ in mine])),
                float(np.mean([i for _, i in mine])),
            )
    method = (
        f"leave-one-out, global parameters refitted ({refit_iterations} EM iterations, warm start)"
        if refit_iterations
        else "leave-one-out, global parameters as fitted (lineage posterior without the value)"
    )
    return Backtest(
        n=len(errs),
        mae=float(np.mean([e for _, e, _ in errs])),
        coverage90=float(np.mean([i for _, _, i in errs])),
        per_benchmark=per,
        method=method,
    )
