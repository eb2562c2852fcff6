"""``tokenizer_throughput``: schema, units, p50/p90 siblings and the token counts behind them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmselect.corpora import Corpus, Segment, register_corpus, unregister_corpus
from llmselect.probes.base import RunContext
from llmselect.probes.tokenizer_throughput import TokenizerThroughputProbe
from llmselect.tokenizers.spec import load_tokenizer_catalog

PAIRS = [
    ("大语言模型的选型需要结合自身的目的和资源决定。",
     "Choosing a base model depends on your purpose and your compute budget."),
    ("请把这段代码的注释翻译成英文。", "Please translate the comments in this code into English."),
    ("今天的会议推迟到下午三点。", "Today's meeting is postponed to three in the afternoon."),
]  # fmt: skip


@pytest.fixture(scope="module")
def corpus() -> Iterator[Corpus]:
    segs = [Segment(z, "zh", "test", str(i)) for i, (z, _) in enumerate(PAIRS)]
    segs += [Segment(e, "en", "test", str(i)) for i, (_, e) in enumerate(PAIRS)]
    unit = Corpus("unit", "CC0", "test", segs * 20)
    register_corpus(unit)  # probes name their corpus in their config
    yield unit
    unregister_corpus("unit")


@pytest.mark.parametrize("family", ["llama2", "qwen", "gpt-neox"])
def test_records(family, corpus, tokenizers_root: Path) -> None:
    ctx = RunContext(run_id="t")
    where = {"corpus": corpus.name, "tokenizer_dir": str(tokenizers_root)}
    probe = TokenizerThroughputProbe(
        TokenizerThroughputProbe.Config(
            repeats=3, processes=2, threads=2, warmup_s=0.0, min_pass_s=0.02, **where
        )
    )
    recs = {(r.metric, r.subset): r for r in probe.run(load_tokenizer_catalog().get(family), ctx)}
    expected = {
        f"{mode}_{what}_per_s{suffix}"
        for mode in ("single", "batch")
        for what in ("chars", "tokens")
        for suffix in ("", "_p90")
    }
    expected |= {"single_chars_per_cpu_s", "batch_chars_per_cpu_s"}
    for lang in ("zh", "en"):
        got = {m for m, s in recs if s == f"unit/{lang}"}
        assert got == expected
        for mode in ("single", "batch"):
            p50 = recs[(f"{mode}_chars_per_s", f"unit/{lang}")]
            p90 = recs[(f"{mode}_chars_per_s_p90", f"unit/{lang}")]
            assert p50.value > 0 and p90.value <= p50.value
            assert p50.unit == "chars/s" and p50.higher_is_better and p50.kind == "measured"
            assert p50.params["mode"] == mode and p50.params["repeats"] == 3
            assert p50.n == 60
            # Every pass of both processes is kept; the value is the rate at the median pass.
            assert p50.params["processes"] == 2
            assert len(p50.samples) == 2 * 3 and p90.samples == p50.samples
            assert min(p50.samples) <= p50.value <= max(p50.samples)
            assert p50.params["loops"] >= 1 and p50.params["isolation"] == "child process"
            cpu = recs[(f"{mode}_chars_per_cpu_s", f"unit/{lang}")]
            assert cpu.unit == "chars/CPU-s" and len(cpu.samples) == 6 and cpu.value > 0
            threads = p50.params["threads"]
            assert threads == 1 if mode == "single" else threads >= 1
        # tokens/s and chars/s come from the same passes.
        single = recs[("single_tokens_per_s", f"unit/{lang}")]
        chars = recs[("single_chars_per_s", f"unit/{lang}")]
        assert single.value / chars.value == pytest.approx(
            single.params["tokens"] / single.params["chars"]
        )


def test_token_count_matches_library(corpus, tokenizers_root: Path) -> None:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(tokenizers_root / "llama2" / "tokenizer.model"))
    ctx = RunContext(run_id="t")
    where = {"corpus": corpus.name, "tokenizer_dir": str(tokenizers_root)}
    probe = TokenizerThroughputProbe(
        TokenizerThroughputProbe.Config(
            repeats=1, processes=1, warmup_s=0.0, min_pass_s=0.0, **where
        )
    )
    recs = list(probe.run(load_tokenizer_catalog().get("llama2"), ctx))
    zh = [s.text.strip() for s in corpus.segments if s.lang == "zh"]
    rec = next(r for r in recs if r.subset == "unit/zh" and r.metric == "batch_tokens_per_s")
    assert rec.params["tokens"] == sum(len(sp.encode(t)) for t in zh)
    assert rec.params["chars"] == sum(len(t) for t in zh)


def test_worker_spec_is_typed(tmp_path: Path) -> None:
    """The child refuses a spec with a misspelt field (a typed model, not a loose dict)."""
    import json
    import subprocess
    import sys

    from llmselect.probes.throughput_spec import ThroughputSpec

    spec = ThroughputSpec(
        tokenizer=load_tokenizer_catalog().get("llama2").model_dump(mode="json"),
        texts={"en": ["hello"]}, threads=1, repeats=1, warmup_s=0.0, min_pass_s=0.0,
    ).model_dump(mode="json")  # fmt: skip
    spec["repeat"] = spec.pop("repeats")
    spec_path, result_path = tmp_path / "spec.json", tmp_path / "result.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "llmselect.probes._throughput_worker", str(spec_path),
         str(result_path)], capture_output=True, text=True, check=False,
    )  # fmt: skip
    result = json.loads(result_path.read_text(encoding="utf-8"))
    assert proc.returncode == 3 and result["status"] == "error"
    assert "repeats" in result["error"] and "repeat" in result["error"]


def test_quick_timing_is_one_process_and_labelled(corpus, tokenizers_root: Path) -> None:
    probe = TokenizerThroughputProbe(
        TokenizerThroughputProbe.Config(
            corpus=corpus.name, tokenizer_dir=str(tokenizers_root), timing="quick",
            repeats=3, processes=3, threads=1, warmup_s=0.0,
        )
    )  # fmt: skip
    recs = list(probe.run(load_tokenizer_catalog().get("llama2"), RunContext(run_id="t")))
    assert recs and all(r.params["timing"] == "quick" for r in recs)
    # processes=3 is overridden: one fresh process, passes capped at the quick length.
    assert all(r.params["processes"] == 1 and len(r.samples) == 3 for r in recs)
    assert all(r.params["min_pass_s"] <= 0.1 for r in recs)
