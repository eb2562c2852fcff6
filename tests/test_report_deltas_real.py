"""Deltas on real measurements: two runs of the same code flag no throughput change; a changed
tokenizer (a real tokenizer.json with merges removed) flags its token counts."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from llmselect.probes.base import RunContext
from llmselect.probes.tokenizer_efficiency import TokenizerEfficiencyProbe
from llmselect.probes.tokenizer_throughput import TokenizerThroughputProbe
from llmselect.records import RunInfo
from llmselect.report import build_report, render_json
from llmselect.tokenizers.load import clear_cache
from llmselect.tokenizers.spec import load_tokenizer_catalog

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)


def _report(records, run_id: str, previous=None):  # type: ignore[no-untyped-def]
    info = RunInfo.collect(run_id, command="test")
    report = build_report(records, info, previous, NOW)
    return report, json.loads(render_json(report))


# Real timings: the verdict depends on the machine being quiet between the two runs, so it sits
# with the heavy checks; the committed example report shows the same on two nightly runs.
@pytest.mark.slow
def test_two_runs_of_the_same_code_flag_no_throughput_change(with_data_root: Path) -> None:
    family = load_tokenizer_catalog().get("llama2")
    probe = TokenizerThroughputProbe(
        TokenizerThroughputProbe.Config(
            corpus="default", repeats=3, processes=3, warmup_s=0.05, min_pass_s=0.05, threads=1
        )
    )
    runs = [list(probe.run(family, RunContext(run_id=r, limit=60))) for r in ("r1", "r2")]
    _first, previous = _report(runs[0], "r1")
    report, _ = _report(runs[1], "r2", previous)
    d = report.deltas
    assert d is not None and d.new == [] and d.missing == []
    timed = [v for v in report.values if v.samples]
    assert len(timed) == 2 * 2 * 5  # 2 languages x 2 modes x (chars, tokens) x (p50, p90) + CPU
    # Every value is compared, or set aside because the machine's load differed (a shared
    # machine), never because anything else changed; and none of the compared ones is flagged.
    assert {m.what for m in d.method_changes} <= {"machine load"}
    assert d.compared + sum(m.values for m in d.method_changes) == len(report.values)
    assert d.timed_compared + d.timed_set_aside == len(timed)
    assert d.flagged == 0, [c for c in d.changes if c.flagged]
    assert all(c.rule == "spread" for c in d.changes if c.metric.endswith("_per_s"))


def test_a_changed_tokenizer_flags_its_token_counts(
    with_data_root: Path, tokenizers_root: Path, tmp_path: Path
) -> None:
    family = load_tokenizer_catalog().get("gpt-neox")
    probe = TokenizerEfficiencyProbe(TokenizerEfficiencyProbe.Config(corpus="default"))
    before = list(probe.run(family, RunContext(run_id="r1", limit=60)))

    changed = tmp_path / "tok" / family.folder
    shutil.copytree(tokenizers_root / family.folder, changed)
    path = changed / family.files[0]
    data = json.loads(path.read_text(encoding="utf-8"))
    data["model"]["merges"] = data["model"]["merges"][:-20000]  # the rarer merges are gone
    path.write_text(json.dumps(data), encoding="utf-8")
    clear_cache()
    changed_probe = TokenizerEfficiencyProbe(
        TokenizerEfficiencyProbe.Config(corpus="default", tokenizer_dir=str(tmp_path / "tok"))
    )
    after = list(changed_probe.run(family, RunContext(run_id="r2", limit=60)))
    clear_cache()

    _first, previous = _report(before, "r1")
    report, _ = _report(after, "r2", previous)
    d = report.deltas
    assert d is not None and d.method_changes == []
    flagged = {(c.metric, c.subset) for c in d.changes if c.flagged}
    assert ("tokens_per_char", "default/en") in flagged and (
        "tokens_per_char",
        "default/zh",
    ) in flagged
    assert all(c.rule == "exact" for c in d.changes)
    # More tokens per character without the merges: the counts really moved.
    by = {(c.metric, c.subset): c for c in d.changes}
    assert (
        by[("tokens_per_char", "default/en")].current
        > by[("tokens_per_char", "default/en")].previous
    )
