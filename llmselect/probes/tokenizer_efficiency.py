"""Probe ``tokenizer_efficiency``: how many tokens a tokenizer spends on Chinese and English.

Target: a ``TokenizerSpec`` (``llmselect.tokenizers``). Text: ``config.corpus`` (a name, a
path, or a corpus registered with ``corpora.register_corpus``), loaded once per process with
``limit=ctx.limit``. ``config.tokenizer_dir`` optionally names a folder to take tokenizer files
from first.

Counting convention: content tokens only: no BOS/EOS, no model prefix tokens (ChatGLM's
[gMASK]/sop), sentencepiece models with their own add_dummy_prefix setting. Characters are
Unicode code points of each stripped segment; words are whitespace-separated.

Metrics (subset ``<corpus>/<lang>``, n = segments):

* ``tokens_per_char`` (tok/char, lower is better), zh and en;
* ``tokens_per_word`` (tok/word, lower is better), en;
* ``utf8_bytes_per_token`` (byte/tok, higher is better), zh and en;
* ``han_single_token_share`` (fraction, higher is better), zh: the number of tokens that are
  exactly one Han character (a leading space or ``▁`` aside) divided by the number of Han
  characters in the text, i.e. the share of Han characters that the tokenizer emits as a
  token of their own (the rest are merged into words or split into bytes);
* ``byte_fallback_token_share`` (fraction, lower is better), zh and en: tokens that are the
  unknown token or whose bytes alone are not complete UTF-8 (sentencepiece ``<0xE8>`` pieces,
  byte-level pieces that cut a character);
* ``zh_en_parity_ratio`` (ratio, lower is better), subset ``<corpus>/zh-en``: tokens of the zh
  side ÷ tokens of the en side, summed over parallel pairs (segments sharing a pair_id);
* ``vocab_size_tokens`` (tokens), subset ``vocab``: the base vocabulary (without added specials).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from llmselect.hardware import usable_cpus
from llmselect.metrics import ChartSpec, Column, MetricSpec
from llmselect.probes.base import Probe, ProbeConfig, RunContext
from llmselect.records import Measurement
from llmselect.tokenizers.base import LoadedTokenizer, is_han
from llmselect.tokenizers.spec import COUNTING_CONVENTION, TokenizerSpec

LANGS = ("zh", "en")


class TokenizerEfficiencyConfig(ProbeConfig):
    """Options of the tokenizer efficiency probe."""

    corpus: str = Field(default="default", description="corpus name or path")
    tokenizer_dir: str | None = Field(
        default=None, description="folder with tokenizer files, tried before the data root"
    )
    threads: int = Field(default=0, ge=0, description="encode_batch threads (0 = all cores)")


def corpus_texts(corpus: Any, lang: str) -> list[str]:
    """Stripped, non-empty segment texts of one language."""
    return [t for t in (s.text.strip() for s in corpus.segments if s.lang == lang) if t]


def lang_segments(corpus: Any, lang: str) -> list[tuple[str | None, str]]:
    """``(pair_id, stripped text)`` of every non-empty segment of one language, in order.

    A pair id seen twice on one side counts its last segment in the parity ratio.
    """
    out: list[tuple[str | None, str]] = []
    for seg in corpus.segments:
        text = seg.text.strip()
        if seg.lang == lang and text:
            out.append((seg.pair_id, text))
    return out


def get_corpus(config_corpus: str, ctx: RunContext) -> Any:
    """The configured corpus, loaded once per process (``corpora.shared_corpus``)."""
    from llmselect.corpora import shared_corpus

    return shared_corpus(config_corpus, limit=ctx.limit)


def get_tokenizer(target: TokenizerSpec, tokenizer_dir: str | None) -> LoadedTokenizer:
    """Load the target family's tokenizer (cached per process)."""
    from llmselect.tokenizers.load import load_tokenizer

    return load_tokenizer(target, Path(tokenizer_dir) if tokenizer_dir else None)


def _per_language(unit: str, fmt: str, ranks: tuple[int, int]) -> tuple[Column, ...]:
    """One summary-table column per language (``LANGS``), headed by the language and unit."""
    return tuple(
        Column(lang, f"{lang}\n[{unit}]", fmt, rank)
        for lang, rank in zip(LANGS, ranks, strict=True)
    )


class TokenizerEfficiencyProbe(Probe[TokenizerEfficiencyConfig, TokenizerSpec]):
    """Tokens per character/word, bytes per token, zh/en parity, Han coverage, fallback."""

    name: ClassVar[str] = "tokenizer_efficiency"
    target_kind: ClassVar[str] = "tokenizer"
    version: ClassVar[int] = 1
    requires: ClassVar[frozenset[str]] = frozenset({"tokenizer"})
    description: ClassVar[str] = (
        "Tokens per char (zh, en), per English word, UTF-8 bytes per token, zh/en token ratio "
        "on parallel text, share of Han chars that are one token, byte-fallback share, vocab size"
    )
    Config = TokenizerEfficiencyConfig
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec(
            "tokens_per_char", "tok/char", False, "tokenizers",
            chart=ChartSpec(
                "tokens-per-char",
                "Tokens per character, Chinese and English, by tokenizer family",
                "Tokens per Unicode character (content tokens, no BOS/EOS); lower is cheaper.",
                series="lang_subset", order=10,
            ),
            label="tokens per character",
            description="content tokens / Unicode characters, per corpus and language",
            table="Efficiency", evidence="tokens_per_char",
            columns=_per_language("tok/char", "{:.3f}", ranks=(20, 30)),
        ),
        MetricSpec(
            "zh_en_parity_ratio", "ratio", False, "tokenizers",
            chart=ChartSpec(
                "zh-en-parity",
                "zh/en parity: Chinese tokens / English tokens for the same text",
                "Token ratio on parallel sentences; 1.0 = Chinese costs as many tokens as English.",
                series="subset_or_metric", order=20,
            ),
            label="zh/en parity",
            description="tokens of the Chinese side / tokens of the English side, parallel text",
            table="Efficiency", columns=(Column("zh-en", "zh÷en\n[ratio]", "{:.3f}", 50),),
        ),
        MetricSpec(
            "han_single_token_share", "fraction", True, "tokenizers",
            label="Han as one token",
            description="share of Han characters that are a single token",
            table="Efficiency", columns=(Column("zh", "Han as 1\ntoken [%]", "{:.1%}", 80),),
        ),
        MetricSpec(
            "vocab_size_tokens", "tokens", None, "tokenizers",
            label="vocabulary", description="tokens in the vocabulary", table="Efficiency",
            columns=(Column("vocab", "vocab\n[tokens]", "{:,.0f}", 10),),
        ),
        MetricSpec(
            "tokens_per_word", "tok/word", False, "tokenizers",
            label="tokens per word", description="content tokens / English words",
            columns=(Column("en", "en\n[tok/word]", "{:.3f}", 40),),
        ),
        MetricSpec(
            "utf8_bytes_per_token", "byte/tok", True, "tokenizers",
            label="bytes per token", description="UTF-8 bytes / content tokens",
            columns=_per_language("byte/tok", "{:.2f}", ranks=(60, 70)),
        ),
        MetricSpec(
            "byte_fallback_token_share", "fraction", False, "tokenizers",
            label="byte fallback", description="share of tokens that are byte-fallback/unknown",
            columns=(Column("zh", "zh byte-\nfallback [%]", "{:.1%}", 90),),
        ),
    )  # fmt: skip

    def run(self, target: TokenizerSpec, ctx: RunContext) -> Iterable[Measurement]:
        cfg = self.config
        corpus = get_corpus(cfg.corpus, ctx)
        tok = get_tokenizer(target, cfg.tokenizer_dir)
        threads = cfg.threads or usable_cpus()
        params: dict[str, Any] = {**tok.describe(), "counting": COUNTING_CONVENTION}
        out: list[Measurement] = []

        def rec(metric: str, value: float, unit: str, hib: bool | None, subset: str, n: int):
            out.append(
                self.record(
                    ctx, target.id, metric, value, unit,
                    higher_is_better=hib, subset=subset, n=n, params=params,
                )
            )  # fmt: skip

        # Each segment is encoded once; the parity ratio reuses the counts by pair id.
        tokens_by_pair: dict[str, dict[str, int]] = {}
        for lang in LANGS:
            segments = lang_segments(corpus, lang)
            if not segments:
                continue
            texts = [text for _pair, text in segments]
            ids = tok.encode_batch(texts, threads)
            for (pair_id, _text), row in zip(segments, ids, strict=True):
                if pair_id is not None:
                    tokens_by_pair.setdefault(pair_id, {})[lang] = len(row)
            stats = text_stats(tok, texts, ids, han=(lang == "zh"))
            subset = f"{corpus.name}/{lang}"
            n = len(texts)
            rec("tokens_per_char", stats["tokens"] / stats["chars"], "tok/char", False, subset, n)
            if lang == "en" and stats["words"]:
                rec(
                    "tokens_per_word",
                    stats["tokens"] / stats["words"],
                    "tok/word",
                    False,
                    subset,
                    n,
                )
            if stats["tokens"]:
                bpt = stats["bytes"] / stats["tokens"]
                rec("utf8_bytes_per_token", bpt, "byte/tok", True, subset, n)
                share = stats["fallback"] / stats["tokens"]
                rec("byte_fallback_token_share", share, "fraction", False, subset, n)
            if lang == "zh" and stats["han_chars"]:
                share = stats["single_han"] / stats["han_chars"]
                rec("han_single_token_share", share, "fraction", True, subset, n)
        pairs = [c for c in tokens_by_pair.values() if "zh" in c and "en" in c]
        en_tokens = sum(c["en"] for c in pairs)
        if pairs and en_tokens:
            ratio = sum(c["zh"] for c in pairs) / en_tokens
            rec("zh_en_parity_ratio", ratio, "ratio", False, f"{corpus.name}/zh-en", len(pairs))
        rec("vocab_size_tokens", tok.vocab_size, "tokens", None, "vocab", 1)
        return out


def text_stats(
    tok: Any, texts: Sequence[str], ids: Sequence[Sequence[int]], han: bool
) -> dict[str, int]:
    """Token, character, word, byte, fallback and Han counts over one language's texts.

    Per-token checks run once per distinct id, so a big corpus costs a set lookup per token.
    """
    counts: dict[int, int] = {}
    for row in ids:
        for i in row:
            counts[i] = counts.get(i, 0) + 1
    fallback = sum(c for i, c in counts.items() if tok.is_fallback(i))
    single_han = sum(c for i, c in counts.items() if tok.single_han(i)) if han else 0
    han_chars = sum(1 for t in texts for ch in t if is_han(ch)) if han else 0
    return {
        "tokens": sum(counts.values()),
        "chars": sum(len(t) for t in texts),
        "words": sum(len(t.split()) for t in texts),
        "bytes": sum(len(t.encode("utf-8")) for t in texts),
        "fallback": fallback,
        "single_han": single_han,
        "han_chars": han_chars,
    }
