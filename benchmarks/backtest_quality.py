#!/usr/bin/env python3
"""Leave-one-out backtest of the shipped quality model; writes
``benchmarks/results/quality_backtest.txt``.

Each published score of the catalog is held out in turn and predicted from everything else:
the mean absolute error (points) and the share of held-out values inside their 90 % interval,
overall and per benchmark. ``--refit N`` re-runs the global fit without the held-out value
(N EM iterations, warm-started from the shipped fit) — the honest variant, about a minute of CPU
per iteration; the default keeps the global parameters as fitted.

Usage: ``python benchmarks/backtest_quality.py [--refit 0] [--out PATH]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

from llmselect.catalog import load_catalog
from llmselect.recommend.quality import load_quality_model
from llmselect.recommend.quality_fit import Backtest, backtest

RESULT = Path(__file__).resolve().parent / "results" / "quality_backtest.txt"


def render(bt: Backtest) -> list[str]:
    lines = [
        f"method: {bt.method}",
        f"all: n={bt.n} MAE={bt.mae:.2f} points, inside 90% interval={bt.coverage90:.1%}",
    ]
    for bench, (n, mae, cov) in bt.per_benchmark.items():
        lines.append(f"{bench}: n={n} MAE={mae:.2f} points, inside 90% interval={cov:.1%}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--refit", type=int, default=0, help="EM iterations of the refit per value")
    ap.add_argument("--out", type=Path, default=RESULT)
    args = ap.parse_args()
    qm, catalog = load_quality_model(), load_catalog()
    head = [
        "# quality model backtest (benchmarks/backtest_quality.py)",
        f"# model: rank {qm.rank}, fitted on {qm.meta.get('n_observations')} published scores of "
        f"{qm.meta.get('n_lineages')} lineages ({', '.join(qm.benchmarks)})",
    ]
    lines = render(backtest(catalog, qm))
    if args.refit:
        lines += ["", *render(backtest(catalog, qm, refit_iterations=args.refit))]
    text = "\n".join([*head, *lines]) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text, end="")


if __name__ == "__main__":
    main()
