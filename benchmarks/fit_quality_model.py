#!/usr/bin/env python3
"""Fit the recommender's quality model over the catalog and write ``data/quality_model.json``.

The recommender reads the fitted parameters (it never fits at run time: the fit takes seconds
of CPU, a ranking must take well under one). Re-run after the catalog's scores change, then
``benchmarks/backtest_quality.py``.

Usage: ``python benchmarks/fit_quality_model.py [--rank 2] [--out PATH]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from llmselect.catalog import load_catalog
from llmselect.recommend.quality import MODEL_FILE
from llmselect.recommend.quality_fit import fit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rank", type=int, default=2, help="latent components (2: see backtest)")
    ap.add_argument("--out", type=Path, default=MODEL_FILE)
    args = ap.parse_args()
    qm = fit(load_catalog(), rank=args.rank)
    doc = qm.to_dict()
    doc["meta"]["fitted_by"] = "benchmarks/fit_quality_model.py"
    args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(
        f"wrote {args.out}: rank {qm.rank}, {doc['meta']['n_observations']} scores of "
        f"{doc['meta']['n_lineages']} lineages"
    )


if __name__ == "__main__":
    main()
