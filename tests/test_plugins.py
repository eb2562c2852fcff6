"""A plugin from outside the package adds a metric, a tokenizer kind and a model family.

``tests/plugins/llmselect_example_plugin.py`` is registered through the entry-point groups only;
no file of llmselect names it. Its items must show up in ``tokenize-bench``, ``perf estimate``,
the report and ``recommend``, with numbers checked against an outside source.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest
from _cli import invoke_json, runner

from llmselect.cli import app

PLUGIN = "llmselect_example_plugin"
ENTRY_POINTS = {
    "llmselect.probes": {"tokenizer_nfkc": f"{PLUGIN}:NFKCTokensProbe"},
    "llmselect.tokenizer_kinds": {"hf-auto": f"{PLUGIN}:HF_AUTO"},
    "llmselect.families": {"smollm": f"{PLUGIN}:SMOLLM"},
    "llmselect.executors": {"threads": f"{PLUGIN}:ThreadsExecutor"},
}


@pytest.fixture()
def example_plugin(monkeypatch: pytest.MonkeyPatch, with_data_root: Path) -> None:
    """Install the example plugin's entry points and allow third-party plugins."""
    from llmselect.tokenizers.spec import load_tokenizer_catalog

    monkeypatch.syspath_prepend(str(Path(__file__).parent / "plugins"))
    monkeypatch.setenv("LLMSELECT_PLUGINS", "")
    real = metadata.entry_points

    def entry_points(**kw: str):  # type: ignore[no-untyped-def]
        group = kw.get("group")
        if group in ENTRY_POINTS:
            return [
                metadata.EntryPoint(name=n, value=v, group=group)
                for n, v in ENTRY_POINTS[group].items()
            ]
        return real(**kw)

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    load_tokenizer_catalog.cache_clear()
    yield
    load_tokenizer_catalog.cache_clear()


def test_plugin_items_are_invisible_without_the_plugin() -> None:
    from llmselect.registry import FAMILIES, PROBES, TOKENIZER_KINDS

    assert "hf-auto" not in TOKENIZER_KINDS.names()
    assert "smollm" not in FAMILIES.names()
    assert "tokenizer_nfkc" not in PROBES.names()


def test_plugin_kind_counts_match_the_manifest(example_plugin: None, tokenizers_root: Path) -> None:
    """The plugin's loader gives the counts and pieces recorded for Mistral (MANIFEST.json)."""
    from llmselect.tokenizers import load_tokenizer_catalog
    from llmselect.tokenizers.load import load_tokenizer

    manifest = json.loads((tokenizers_root / "MANIFEST.json").read_text(encoding="utf-8"))
    family = next(f for f in manifest["families"] if f["family"] == "mistral")
    verified = family["verified"]
    tok = load_tokenizer(load_tokenizer_catalog().get("mistral-hf-auto"))
    zh = "大语言模型的选型需要结合自身的目的和资源决定。"
    en = "Choosing a base model depends on your purpose and your compute budget."
    assert len(tok.encode(zh)) == verified["tokens_zh"]
    assert len(tok.encode(en)) == verified["tokens_en"]


def test_tokenize_bench_lists_and_runs_the_plugin_kind(example_plugin: None) -> None:
    listed = runner.invoke(app, ["tokenize-bench", "--list"])
    assert listed.exit_code == 0 and "mistral-hf-auto" in listed.stdout
    out = invoke_json(
        ["tokenize-bench", "-m", "mistral-hf-auto", "--no-throughput", "--limit", "20", "--json"]
    )
    assert out["tokenizers"] == {"mistral-hf-auto": "mistral-hf-auto"}
    tpc = {
        r["subset"]: r["value"]
        for r in out["records"]
        if r["metric"] == "tokens_per_char" and r["status"] == "ok"
    }
    assert set(tpc) == {"default/zh", "default/en"} and all(v > 0 for v in tpc.values())


def test_perf_estimate_counts_the_plugin_family_as_transformers_does(
    example_plugin: None,
) -> None:
    """``smollm:135m`` from the plugin's preset; its parameter count is transformers' own."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    (row,) = invoke_json(["perf", "estimate", "-m", "smollm:135m", "--json"])
    config = LlamaConfig(
        hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
        intermediate_size=1536, vocab_size=49152, tie_word_embeddings=True,
        max_position_embeddings=8192, rope_theta=100000.0,
    )  # fmt: skip
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    assert row["params_total"] == sum(p.numel() for p in model.parameters())
    assert row["kind"] == "estimated" and row["weights_bytes"] == 2 * row["params_total"]


def test_the_plugin_family_reads_its_own_checkpoints(example_plugin: None, tmp_path: Path) -> None:
    """A config.json whose model_type only the plugin family declares (``smollm3``): ``perf
    estimate`` reads it through the plugin and counts what transformers' own SmolLM3 class
    holds."""
    import torch
    from transformers import SmolLM3Config, SmolLM3ForCausalLM

    config = dict(
        model_type="smollm3", hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=96, vocab_size=300, rope_theta=5000000.0,
        rms_norm_eps=1e-6, max_position_embeddings=256, tie_word_embeddings=True,
        no_rope_layer_interval=4,
    )  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(config))
    (row,) = invoke_json(["perf", "estimate", "-m", str(tmp_path), "--json"])
    with torch.device("meta"):
        # special-token ids shape no tensor; the class default pad id exceeds this vocab
        model = SmolLM3ForCausalLM(SmolLM3Config(**config, pad_token_id=None))
    assert row["params_total"] == sum(p.numel() for p in model.parameters())


def test_report_and_recommend_read_the_plugin_metric(example_plugin: None, tmp_path: Path) -> None:
    """The plugin's declared metric gets its own report section, table and chart, and the
    recommender reads it as tokens per character (its declared evidence role) when asked for
    that view of a reference corpus (``--corpus flores200-nfkc``)."""
    from llmselect.probes.base import RunContext
    from llmselect.records import RunInfo, new_run_id
    from llmselect.registry import PROBES
    from llmselect.runner import execute
    from llmselect.store import RunWriter
    from llmselect.tokenizers import load_tokenizer_catalog
    from llmselect.units import plan

    probes = [
        PROBES.load("tokenizer_efficiency")(),
        PROBES.load("tokenizer_nfkc")(PROBES.load("tokenizer_nfkc").Config(corpus="flores200")),
    ]
    writer = RunWriter(RunInfo.collect(new_run_id(), command="test"))
    units = plan([load_tokenizer_catalog().get("qwen2")], probes)
    summary = execute(units, RunContext(run_id=writer.run_info.run_id, limit=30), writer)
    assert summary.ok == 2 and summary.errors == 0
    nfkc = [r for r in summary.records if r.metric == "nfkc_tokens_per_char"]
    assert {r.subset for r in nfkc} == {"flores200-nfkc/zh", "flores200-nfkc/en"}

    out = tmp_path / "reports"
    run_id = writer.run_info.run_id  # not a suite run: named, as `report` asks for those
    rep = runner.invoke(app, ["report", "--run", run_id, "--out", str(out), "--json"])
    assert rep.exit_code == 0, rep.output
    (day,) = [p for p in out.iterdir() if p.is_dir()]
    md = (day / "report.md").read_text(encoding="utf-8")
    assert "## Normalization" in md and "### NFKC-normalised text" in md
    assert "nfkc_tokens_per_char flores200-nfkc/zh (tok/char, measured)" in md
    assert 'data-chart="nfkc-tokens-per-char"' in (day / "report.html").read_text(encoding="utf-8")

    result = invoke_json(
        ["recommend", "--gpu", "80GB", "--purpose", "commercial", "--top", "200", "--json",
         "--corpus", "flores200-nfkc"]
    )  # fmt: skip
    terms = [
        t
        for rec in result["recommendations"]
        if rec["model_id"].startswith("qwen2.5")
        for t in rec["terms"]
        if t["name"] == "tokenizer"
    ]
    assert terms and all("flores200-nfkc/zh" in t["source"] for t in terms)


def test_the_plugin_executor_runs_a_suite_as_the_local_one_does(
    example_plugin: None, tmp_path: Path
) -> None:
    """``--executor threads -X workers=2`` from the plugin: the same records as in process."""
    from llmselect.store import iter_records

    def values(run_dir: str) -> list[tuple[object, ...]]:
        return sorted(
            (r.model_id, r.metric, r.subset, r.value)
            for r in iter_records(Path(run_dir))
            if r.status == "ok"
        )

    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: threads-check\ntokenizers: [llama2, qwen2, chatglm3]\nlimits: {limit: 5}\n"
        "probes:\n  - probe: tokenizer_efficiency\n"
    )
    runs = {}
    for name, extra in (("local", []), ("threads", ["-X", "workers=2"])):
        args = ["run", "-s", str(suite), "--executor", name, *extra, "--json"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        runs[name] = values(json.loads(result.stdout)["run_dir"])
    assert runs["threads"] == runs["local"] and len(runs["local"]) > 10
