"""The shipped FLORES-200 baseline: one entry per tokenizer family, made from the files the data
root holds, and equal to what the tokenizer_efficiency probe measures on the same corpus."""

from __future__ import annotations

import pytest

from llmselect.probes.base import RunContext
from llmselect.probes.tokenizer_efficiency import TokenizerEfficiencyProbe
from llmselect.recommend import load_baseline
from llmselect.tokenizers.load import load_tokenizer
from llmselect.tokenizers.spec import load_tokenizer_catalog


def test_every_tokenizer_family_has_a_dated_baseline(tokenizers_root) -> None:  # type: ignore[no-untyped-def]
    baseline = load_baseline()
    families = {spec.id for spec in load_tokenizer_catalog()}
    assert families <= {fam for fam, _ in baseline.values}
    assert "FLORES-200 dev+devtest" in baseline.label and "llmselect" in baseline.label
    for spec in load_tokenizer_catalog():  # the same files, byte for byte
        assert load_tokenizer(spec).fingerprint == baseline.fingerprints[spec.id], spec.id


@pytest.mark.parametrize("family", ["qwen2", "llama2", "qwen3.5"])
def test_baseline_equals_the_probe_on_flores200(family: str, tokenizers_root) -> None:  # type: ignore[no-untyped-def]
    spec = load_tokenizer_catalog().get(family)
    probe = TokenizerEfficiencyProbe(TokenizerEfficiencyProbe.Config(corpus="flores200"))
    records = list(probe.run(spec, RunContext(run_id="t")))
    measured = {
        r.subset.rsplit("/", 1)[-1]: r.value for r in records if r.metric == "tokens_per_char"
    }
    baseline = load_baseline()
    for lang in ("zh", "en"):
        assert baseline.values[(family, lang)] == pytest.approx(measured[lang], abs=1e-5)
