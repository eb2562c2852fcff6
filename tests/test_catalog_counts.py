"""Over the whole catalog: every model has an exact count from its architecture or is excluded
with its reason, each recorded total is within 0.5 % of our count, and ``perf estimate`` sizes
every countable model (torch-free)."""

from __future__ import annotations

import json

from _cli import runner

from llmselect.catalog import load_catalog
from llmselect.cli import app
from llmselect.hardware import parse_gpu
from llmselect.recommend import Request, recommend
from llmselect.recommend.fit import exact_count

TOLERANCE = 0.005


def test_recorded_totals_match_our_count() -> None:
    checked, off = 0, []
    for model in load_catalog():
        count, why = exact_count(model)
        if count is None:
            assert why is not None and why.startswith("architecture unknown"), model.id
            continue
        for published in (model.params_exact,):
            if published:
                checked += 1
                if abs(count.total - published) > TOLERANCE * published:
                    off.append((model.id, count.total, published))
    assert not off, off
    assert checked >= 80  # the catalog records exact totals for most checkpoints


def test_every_model_is_ranked_listed_or_excluded_with_its_reason() -> None:
    catalog = load_catalog()
    result = recommend(catalog, Request(gpu=parse_gpu("8xH100"), purpose="research"))
    seen = {r.model_id for r in result.recommendations}
    excluded = {e.model_id: e for e in result.excluded}
    assert seen | set(excluded) == {m.id for m in catalog}
    for model in catalog:
        count, why = exact_count(model)
        if count is None:
            exc = excluded[model.id]
            assert why in [exc.reason, *exc.other_reasons]


def test_cost_train_counts_every_countable_model_by_its_active_parameters() -> None:
    """6·N with N the parameters a token is computed with: all of a dense model, the shared
    parts plus experts_per_token routed experts of a mixture of experts."""
    from llmselect.cost.compute import train_compute

    moe = 0
    for model in load_catalog():
        count, _ = exact_count(model)
        if count is None:
            continue
        comp = train_compute(model, 1e12, 4096)
        assert comp.params_total == count.total, model.id
        assert comp.params_counted == count.active, model.id
        assert comp.dense_flops_per_token == 6 * count.active, model.id
        if model.arch is not None and model.arch.moe is not None:
            moe += 1
            assert count.active < count.total / 3, model.id  # 12.9B of 46.7B, 37.6B of 671B
    assert moe >= 10


def test_perf_estimate_sizes_every_countable_model() -> None:
    ids = [m.id for m in load_catalog() if exact_count(m)[0] is not None]
    result = runner.invoke(app, ["perf", "estimate", "-m", ",".join(ids), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["model_id"] for r in rows] == ids
    by_id = {m.id: m for m in load_catalog()}
    for row in rows:
        count, _ = exact_count(by_id[row["model_id"]])
        assert row["params_total"] == count.total
        assert row["kv_cache_bytes"] > 0
        sizing = by_id[row["model_id"]].sizing
        if sizing is not None and sizing.stored_bytes is not None:  # FP8, MXFP4, ... as stored
            assert row["weights_bytes"] == sizing.stored_bytes
        else:
            assert row["weights_bytes"] >= count.total * 2
