"""``tokenizer_efficiency`` on a small in-test corpus: every number re-derived here from the
sentencepiece library called directly on the real Llama-2 and ChatGLM3 files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmselect.corpora import Corpus, Segment, register_corpus, unregister_corpus
from llmselect.probes.base import RunContext
from llmselect.probes.tokenizer_efficiency import TokenizerEfficiencyProbe
from llmselect.tokenizers.spec import load_tokenizer_catalog
from llmselect.units import Unit, run_unit

PAIRS = [
    ("大语言模型的选型需要结合自身的目的和资源决定。",
     "Choosing a base model depends on your purpose and your compute budget."),
    ("  市政府周二宣布，三条新地铁线路将于明年年底前开通。 ",
     "The city announced on Tuesday that three new metro lines will open by the end of next year."),
    ("请把这段代码的注释翻译成英文。", "Please translate the comments in this code into English."),
]  # fmt: skip


@pytest.fixture(scope="module")
def corpus() -> Iterator[Corpus]:
    segs = []
    for i, (zh, en) in enumerate(PAIRS):
        segs += [Segment(zh, "zh", "test", f"p{i}"), Segment(en, "en", "test", f"p{i}")]
    segs.append(Segment("只有中文的一句话。", "zh", "test", None))  # unpaired: not in parity
    unit = Corpus("unit", "CC0", "written for this test", segs)
    register_corpus(unit)  # probes name their corpus in their config
    yield unit
    unregister_corpus("unit")


def _han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _run(family: str, corpus, tokenizers_root: Path):
    ctx = RunContext(run_id="t")
    spec = load_tokenizer_catalog().get(family)
    config = TokenizerEfficiencyProbe.Config(corpus=corpus.name, tokenizer_dir=str(tokenizers_root))
    return {(r.metric, r.subset): r for r in TokenizerEfficiencyProbe(config).run(spec, ctx)}


@pytest.mark.parametrize("family", ["llama2", "chatglm3"])
def test_values_match_sentencepiece(family, corpus, tokenizers_root: Path) -> None:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(tokenizers_root / family / "tokenizer.model"))
    recs = _run(family, corpus, tokenizers_root)
    zh = [s.text.strip() for s in corpus.segments if s.lang == "zh"]
    en = [s.text.strip() for s in corpus.segments if s.lang == "en"]
    zh_ids = [sp.encode(t) for t in zh]
    en_ids = [sp.encode(t) for t in en]
    n_zh, n_en = sum(map(len, zh_ids)), sum(map(len, en_ids))

    r = recs[("tokens_per_char", "unit/zh")]
    assert r.value == pytest.approx(n_zh / sum(len(t) for t in zh))
    assert (r.unit, r.kind, r.higher_is_better, r.n) == ("tok/char", "measured", False, 4)
    assert r.params["tokenizer_kind"] == "sentencepiece"
    model = (tokenizers_root / family / "tokenizer.model").read_bytes()
    assert r.params["tokenizer_sha256"] == hashlib.sha256(model).hexdigest()[:12]
    assert recs[("tokens_per_char", "unit/en")].value == pytest.approx(
        n_en / sum(len(t) for t in en)
    )
    words = sum(len(t.split()) for t in en)
    assert recs[("tokens_per_word", "unit/en")].value == pytest.approx(n_en / words)
    zh_bytes = sum(len(t.encode()) for t in zh)
    assert recs[("utf8_bytes_per_token", "unit/zh")].value == pytest.approx(zh_bytes / n_zh)
    paired = [sp.encode(z.strip()) for z, _ in PAIRS], [sp.encode(e.strip()) for _, e in PAIRS]
    ratio = sum(map(len, paired[0])) / sum(map(len, paired[1]))
    parity = recs[("zh_en_parity_ratio", "unit/zh-en")]
    assert parity.value == pytest.approx(ratio) and parity.n == 3

    # Han single-token share: pieces that are one Han char (▁ aside) ÷ Han chars in the text.
    pieces = [p for t in zh for p in sp.encode(t, out_type=str)]
    single = sum(1 for p in pieces if len(p.lstrip("\u2581")) == 1 and _han(p.lstrip("\u2581")))
    han_chars = sum(1 for t in zh for ch in t if _han(ch))
    share = recs[("han_single_token_share", "unit/zh")]
    assert share.value == pytest.approx(single / han_chars) and share.higher_is_better is True
    # Byte fallback: byte pieces of multi-byte characters (<0x80 bytes are whole characters).
    fallback = sum(
        1
        for ids in zh_ids
        for i in ids
        if sp.is_byte(i) and int(sp.id_to_piece(i)[3:5], 16) >= 0x80
    )
    assert recs[("byte_fallback_token_share", "unit/zh")].value == pytest.approx(fallback / n_zh)
    assert recs[("vocab_size_tokens", "vocab")].value == sp.get_piece_size()


def test_llama2_falls_back_to_bytes_and_chatglm3_does_not(corpus, tokenizers_root: Path) -> None:
    llama = _run("llama2", corpus, tokenizers_root)
    glm = _run("chatglm3", corpus, tokenizers_root)
    key = ("byte_fallback_token_share", "unit/zh")
    assert llama[key].value > 0.05 and glm[key].value == 0.0
    assert llama[("tokens_per_char", "unit/zh")].value > glm[("tokens_per_char", "unit/zh")].value


def test_byte_level_families_count_partial_characters(corpus, tokenizers_root: Path) -> None:
    """GPT-2 splits Han characters into byte-level pieces: those are fallback tokens."""
    recs = _run("gpt2", corpus, tokenizers_root)
    assert recs[("byte_fallback_token_share", "unit/zh")].value > 0.3
    assert recs[("byte_fallback_token_share", "unit/en")].value == 0.0


def test_broken_tokenizer_becomes_error_record(corpus, tmp_path: Path, tokenizers_root) -> None:
    (tmp_path / "llama2").mkdir()
    (tmp_path / "llama2" / "tokenizer.model").write_bytes(b"not a sentencepiece model")
    from llmselect.tokenizers.load import clear_cache

    clear_cache()
    ctx = RunContext(run_id="t")
    config = TokenizerEfficiencyProbe.Config(corpus=corpus.name, tokenizer_dir=str(tmp_path))
    unit = Unit(load_tokenizer_catalog().get("llama2"), TokenizerEfficiencyProbe(config))
    [rec] = run_unit(unit, ctx)
    assert rec.status == "error" and "sentencepiece" in (rec.error or "")
    clear_cache()
