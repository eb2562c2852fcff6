"""Suite files: schema, lookup by name, planning (target kinds, shared settings), time budget."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import Field

from llmselect.errors import LLMSelectError
from llmselect.probes.base import Probe, ProbeConfig, RunContext
from llmselect.records import Measurement
from llmselect.store import iter_records, read_run_info
from llmselect.suite import (
    build_plan,
    find_suite,
    load_suite,
    parse_suite,
    run_suite,
)


@dataclass(frozen=True)
class Thing:
    id: str


class CountConfig(ProbeConfig):
    corpora: list[str] = Field(default=["default"], description="corpora")
    scale: float = Field(default=1.0, description="multiplier")


class CountProbe(Probe):
    """Tokenizer-kind fake: one record per corpus."""

    name = "count"
    target_kind = "tokenizer"
    Config = CountConfig

    def run(self, target: Any, ctx: RunContext) -> Iterable[Measurement]:
        for corpus in self.config.corpora:
            yield self.record(ctx, target.id, "chars", len(target.id) * self.config.scale, "char",
                              subset=corpus)  # fmt: skip


class SizeProbe(Probe):
    """Model-kind fake without a corpora field."""

    name = "size"
    Config = ProbeConfig

    def run(self, target: Any, ctx: RunContext) -> Iterable[Measurement]:
        yield self.record(ctx, target.id, "size_b", 7.0, "B", kind="published", source="test")


PROBES: dict[str, type] = {"count": CountProbe, "size": SizeProbe}
TOKENIZERS = [Thing("tok-a"), Thing("tok-b"), Thing("tok-c")]
MODELS = [Thing("model-x"), Thing("model-y")]


def loader(name: str) -> type:
    if name == "broken":
        raise LLMSelectError("cannot load probe 'broken' from nowhere:Missing: no module")
    return PROBES[name]


def _pick(items: list[Thing]):  # type: ignore[no-untyped-def]
    def resolve(names):  # type: ignore[no-untyped-def]
        if names is None:
            return list(items)
        table = {t.id: t for t in items}
        missing = [n for n in names if n not in table]
        if missing:
            raise LLMSelectError(f"unknown target {missing[0]!r}")
        return [table[n] for n in names]

    return resolve


RESOLVERS = {"tokenizer": _pick(TOKENIZERS), "model": _pick(MODELS)}
KNOWN = {"count", "size", "broken"}


def plan_of(raw: dict) -> Any:
    return build_plan(parse_suite(raw, "test"), probe_loader=loader, resolvers=RESOLVERS,
                      known_probes=KNOWN)  # fmt: skip


def test_plan_order_kinds_and_shared_settings() -> None:
    plan = plan_of(
        {
            "name": "t",
            "tokenizers": ["tok-b", "tok-a"],
            "corpora": ["flores200", "default"],
            "probes": [
                {"probe": "count"},
                {"probe": "size"},
                {"probe": "count", "targets": ["tok-c"], "config": {"corpora": ["x"], "scale": 2}},
            ],
        }
    )
    rows = [(u.probe.name, u.target.id) for u in plan.units]
    assert rows == [
        ("count", "tok-b"), ("count", "tok-a"), ("size", "model-x"), ("size", "model-y"),
        ("count", "tok-c"),
    ]  # fmt: skip
    assert plan.units[0].probe.config.corpora == ["flores200", "default"]  # shared setting
    assert plan.units[-1].probe.config.corpora == ["x"]  # the entry's own config wins
    assert plan.units[0].key != plan.units[-1].key
    assert plan.problems == []


def test_suite_hash_is_stable_and_tracks_content() -> None:
    raw = {"name": "t", "probes": [{"probe": "count"}]}
    a, b = parse_suite(raw, "a"), parse_suite(dict(raw), "b")
    assert a.hash == b.hash and len(a.hash) == 12
    raw2 = {"name": "t", "probes": [{"probe": "count", "config": {"scale": 3}}]}
    assert parse_suite(raw2, "c").hash != a.hash


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "t", "probes": []}, "probes: List should have at least 1 item"),
        ({"name": "t", "probes": [{"probe": "count"}], "color": 1}, "color: Extra inputs"),
        ({"name": "t", "probes": [{"probe": "nope"}]}, "unknown probe 'nope'"),
        ({"name": "t", "probes": [{"probe": "count", "config": {"bogus": 1}}]}, "count: bogus"),
        ({"name": "t", "probes": [{"probe": "size", "targets": ["zz"]}]}, "unknown target 'zz'"),
        ({"name": "t", "limits": {"max_minutes": -1}, "probes": [{"probe": "size"}]},
         "limits.max_minutes"),
        (["not", "a", "mapping"], "a suite is a mapping"),
        ({"name": "t", "executor": {"name": "nope"}, "probes": [{"probe": "size"}]},
         "executor: unknown executor 'nope'"),
        ({"name": "t", "executor": {"name": "ray", "adress": "auto"},
          "probes": [{"probe": "size"}]},
         "executor: executor 'ray' has no option 'adress'"),
        ({"name": "t", "executor": {"name": "slurm", "cpus": 0}, "probes": [{"probe": "size"}]},
         "executor: executor 'slurm' option cpus=0: Input should be greater than or equal to 1"),
    ],
)  # fmt: skip
def test_bad_suites_are_one_line_errors(raw: Any, message: str) -> None:
    with pytest.raises(LLMSelectError, match=message.replace("(", r"\(")):
        plan_of(raw)


def test_executor_block_is_not_part_of_the_plan_hash() -> None:
    """Where units run is not what they are: a suite run locally may resume on a cluster."""
    base = {"name": "t", "probes": [{"probe": "size"}]}
    on_slurm = {**base, "executor": {"name": "slurm", "partition": "gpu"}}
    assert parse_suite(on_slurm, "t").hash == parse_suite(base, "t").hash


def test_probe_that_fails_to_load_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    plan = plan_of({"name": "t", "probes": [{"probe": "size"}, {"probe": "broken"}]})
    assert [u.target.id for u in plan.units] == ["model-x", "model-y"]
    assert [(p.probe, p.targets) for p in plan.problems] == [("broken", ["all"])]
    result = run_suite(plan.suite, plan=plan, results_root=tmp_path)
    assert result.failed and result.load_errors == 1 and result.ok == 2
    errors = [r for r in iter_records(result.run_dir) if r.status == "error"]
    assert [(r.probe, r.model_id) for r in errors] == [("broken", "all")]
    assert "_unit" not in errors[0].params  # a resume tries it again


def test_find_suite_by_name_and_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "mini.yaml").write_text(yaml.safe_dump({"name": "mini", "probes": [{"probe": "x"}]}))
    monkeypatch.setenv("LLMSELECT_SUITES", str(suites))
    assert find_suite("mini") == suites / "mini.yaml"
    assert find_suite(str(suites / "mini.yaml")) == suites / "mini.yaml"
    assert load_suite("mini").name == "mini"
    with pytest.raises(LLMSelectError, match="unknown suite 'nightlyy'; known: mini"):
        find_suite("nightlyy")
    with pytest.raises(LLMSelectError, match="suite file not found"):
        find_suite(str(tmp_path / "nope" / "x.yaml"))
    (suites / "broken.yaml").write_text("name: [unclosed")
    with pytest.raises(LLMSelectError, match="cannot read suite"):
        load_suite("broken")


def test_time_budget_skips_the_rest_and_resume_runs_it(tmp_path: Path) -> None:
    raw = {"name": "t", "limits": {"max_minutes": 1}, "probes": [{"probe": "count"}]}
    plan = plan_of(raw)
    ticks = iter([0.0, 30.0, 90.0])  # start, after unit 1, after unit 2 (over 60 s)
    result = run_suite(plan.suite, plan=plan, results_root=tmp_path, clock=lambda: next(ticks))
    assert (result.ok, result.out_of_time) == (2, 1)
    skipped = [r for r in iter_records(result.run_dir) if r.status == "skipped"]
    assert [r.model_id for r in skipped] == ["tok-c"]
    assert "time budget of 1 min" in (skipped[0].error or "")

    again = run_suite(plan.suite, plan=plan_of(raw), results_root=tmp_path,
                      resume_run_id=result.run_id)  # fmt: skip
    assert (again.resumed, again.ok, again.out_of_time) == (2, 1, 0)
    ok_targets = sorted({r.model_id for r in iter_records(result.run_dir) if r.status == "ok"})
    assert ok_targets == ["tok-a", "tok-b", "tok-c"]


def test_run_info_carries_suite_name_and_hash(tmp_path: Path) -> None:
    plan = plan_of({"name": "t", "probes": [{"probe": "size"}]})
    result = run_suite(plan.suite, plan=plan, results_root=tmp_path, limit=3)
    info = read_run_info(result.run_dir)
    assert info is not None and info.suite == "t" and info.suite_hash == plan.suite.hash
    assert info.finished_at is not None


def test_resume_refuses_a_changed_suite(tmp_path: Path) -> None:
    plan = plan_of({"name": "t", "probes": [{"probe": "size"}]})
    result = run_suite(plan.suite, plan=plan, results_root=tmp_path)
    other = plan_of({"name": "t", "probes": [{"probe": "count"}]})
    with pytest.raises(LLMSelectError, match="start a new run"):
        run_suite(other.suite, plan=other, results_root=tmp_path, resume_run_id=result.run_id)
    with pytest.raises(LLMSelectError, match="no run 'nope' to resume"):
        run_suite(other.suite, plan=other, results_root=tmp_path, resume_run_id="nope")


class OneCorpusConfig(ProbeConfig):
    corpus: str = Field(default="default", description="one corpus")


class OneCorpusProbe(Probe):
    name = "one_corpus"
    target_kind = "tokenizer"
    Config = OneCorpusConfig

    def run(self, target: Any, ctx: RunContext) -> Iterable[Measurement]:
        yield self.record(ctx, target.id, "x", 1.0, "unit", subset=self.config.corpus)


def test_suite_corpora_expand_a_single_corpus_field() -> None:
    PROBES["one_corpus"] = OneCorpusProbe
    try:
        plan = build_plan(
            parse_suite(
                {
                    "name": "t",
                    "tokenizers": ["tok-a", "tok-b"],
                    "corpora": ["default", "flores200"],
                    "probes": [
                        {"probe": "one_corpus"},
                        {"probe": "one_corpus", "targets": ["tok-c"], "config": {"corpus": "x"}},
                    ],
                },
                "t",
            ),
            probe_loader=loader,
            resolvers=RESOLVERS,
            known_probes={"one_corpus"},
        )
    finally:
        del PROBES["one_corpus"]
    rows = [(u.probe.config.corpus, u.target.id) for u in plan.units]
    assert rows == [
        ("default", "tok-a"), ("default", "tok-b"), ("flores200", "tok-a"),
        ("flores200", "tok-b"), ("x", "tok-c"),
    ]  # fmt: skip
    assert len({u.key for u in plan.units}) == 3  # one unit key per config


# --- the project's own suites and workflow ------------------------------------------------

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["nightly", "smoke"])
def test_project_suites_plan_with_the_real_probes_and_catalogs(name: str) -> None:
    from llmselect.catalog import load_catalog
    from llmselect.tokenizers import load_tokenizer_catalog

    spec = load_suite(name)
    plan = build_plan(spec)
    assert plan.problems == [], plan.problems
    probes = {u.probe.name for u in plan.units}
    assert {"tokenizer_efficiency", "memory_estimate", "license", "reference_latency"} <= probes
    eff = [u for u in plan.units if u.probe.name == "tokenizer_efficiency"]
    families = len(load_tokenizer_catalog()) if spec.tokenizers == "all" else len(spec.tokenizers)
    assert len(eff) == families * len(spec.corpora or [None])
    lic = [u for u in plan.units if u.probe.name == "license"]
    assert len(lic) == (len(load_catalog()) if spec.models == "all" else len(spec.models))
    assert spec.limits.max_minutes is not None and spec.limits.max_minutes <= 25


def test_nightly_workflow_runs_the_suite_within_30_minutes() -> None:
    wf = yaml.safe_load((REPO / ".github" / "workflows" / "nightly.yml").read_text())
    job = wf["jobs"]["nightly"]
    assert job["timeout-minutes"] == 30
    assert wf[True]["schedule"][0]["cron"]  # YAML 1.1 reads the `on:` key as True
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "scripts/setup.sh all" in runs
    assert "llmselect run --suite nightly" in runs and "llmselect report" in runs
    assert "benchmarks/check_report_html.py" in runs
    uses = [step.get("uses", "") for step in job["steps"]]
    assert any(u.startswith("actions/setup-python") for u in uses)
    upload = next(
        s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")
    )
    assert "reports/" in upload["with"]["path"]
    assert job["env"]["LLMSELECT_DATA_ROOT"]
