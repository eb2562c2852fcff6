"""An llmselect plugin written as a third party would: nothing in ``llmselect`` names it.

It adds, through the entry-point groups of ``llmselect.registry``:

* a tokenizer kind, ``hf-auto``: a tokenizer folder loaded by transformers' ``AutoTokenizer``
  (local files, built-in classes only), and one tokenizer family that uses it;
* a model family, ``smollm``: SmolLM2, built from LLaMA's layers, with the 135M preset copied
  from its published ``config.json``; it also reads SmolLM3 checkpoints (``model_type``
  ``smollm3``, whose NoPE layers hold the same tensors), so ``inspect`` and ``perf estimate``
  understand their ``config.json``;
* an executor, ``threads``: units on a pool of threads in this process (for units that wait
  on I/O, such as hub downloads or licence look-ups), with one option, ``workers``;
* a probe, ``tokenizer_nfkc``, with one metric: tokens per character after NFKC normalisation
  (full-width punctuation and digits folded to ASCII, as many Chinese pipelines do first). It
  declares its own report section, summary table, chart, and that the recommender may read it
  as tokens per character.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from llmselect.arch.family import Family
from llmselect.arch.readers import need
from llmselect.arch.spec import ArchSpec
from llmselect.executors.base import Executor, ExecutorOptions
from llmselect.metrics import ChartSpec, MetricSpec
from llmselect.probes.base import Probe, ProbeConfig, RunContext
from llmselect.records import Measurement
from llmselect.refmodels import llama
from llmselect.tokenizers.kinds import TokenizerKind
from llmselect.tokenizers.spec import TokenizerSpec
from llmselect.units import Unit, run_unit

# --- tokenizer kind ---------------------------------------------------------------------


def load_with_transformers(spec: Any, files: dict[str, Path]) -> Any:
    """transformers' ``AutoTokenizer`` on the local folder (no hub, never remote code)."""
    from transformers import AutoTokenizer

    from llmselect.tokenizers.hf_json import HFTokenizer

    folder = files[spec.files[0]].parent
    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)
    return HFTokenizer(spec.id, "hf-auto", files, tok.backend_tokenizer)


HF_AUTO = TokenizerKind(
    name="hf-auto",
    description="a tokenizer folder loaded by transformers' AutoTokenizer (built-in classes only)",
    load=load_with_transformers,
    families=(
        {
            "id": "mistral-hf-auto",
            "name": "Mistral 7B v0.1/v0.2, through transformers",
            "kind": "hf-auto",
            "folder": "mistral",
            "files": ["tokenizer_config.json", "tokenizer.json", "special_tokens_map.json"],
            "license": "Apache-2.0",
            "source": "hf:mistralai/Mistral-7B-Instruct-v0.2 (tokenizer files)",
        },
    ),
)

# --- model family -----------------------------------------------------------------------


def read_smollm3_config(cfg: Any, where: str) -> ArchSpec:
    """SmolLM3's ``config.json``: LLaMA's tensors; every ``no_rope_layer_interval``-th layer
    skips RoPE, which changes no parameter and no cache size."""
    heads = int(need(cfg, where, "num_attention_heads"))
    return ArchSpec(
        family="smollm",
        model_type="smollm3",
        hidden=int(need(cfg, where, "hidden_size")),
        layers=int(need(cfg, where, "num_hidden_layers")),
        heads=heads,
        kv_heads=int(cfg.get("num_key_value_heads") or heads),
        intermediate=int(need(cfg, where, "intermediate_size")),
        vocab=int(need(cfg, where, "vocab_size")),
        tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        max_position=cfg.get("max_position_embeddings"),
        rope_theta=float(need(cfg, where, "rope_theta")),
        qkv_bias=bool(cfg.get("attention_bias", False)),
        mlp_bias=bool(cfg.get("mlp_bias", False)),
        norm_eps=float(need(cfg, where, "rms_norm_eps")),
        source=f"{where} (model_type smollm3)",
    )


SMOLLM = Family(
    name="smollm",
    description="SmolLM2: LLaMA layout (RMSNorm, RoPE, SwiGLU, GQA), tied embeddings",
    traits=llama.TRAITS,
    build_config=llama.build_config,
    model="llmselect.refmodels.llama_model:Transformer",
    hf_config_types=frozenset({"smollm3"}),
    from_hf_config=read_smollm3_config,
    gguf_architectures=frozenset(),  # SmolLM3 GGUF files: llmselect's generic GGUF reader
    presets={
        "135m": {
            "hidden": 576, "layers": 30, "heads": 9, "kv_heads": 3, "intermediate": 1536,
            "vocab": 49152, "tied_embeddings": True, "max_position": 8192,
            "rope_theta": 100000.0, "norm_eps": 1e-5, "checkpoint": "SmolLM2-135M",
            "source": "https://huggingface.co/HuggingFaceTB/SmolLM2-135M/blob/main/config.json",
        },
    },
)  # fmt: skip

# --- executor ---------------------------------------------------------------------------


class ThreadsOptions(ExecutorOptions):
    """Options of the ``threads`` executor."""

    workers: int = Field(default=4, ge=1, le=64, description="Threads running units at once.")


class ThreadsExecutor(Executor):
    """Units on a thread pool; at most ``workers`` taken from the runner at a time, so the
    runner's deadline still stops the feed."""

    name: ClassVar[str] = "threads"
    description: ClassVar[str] = "a pool of threads in this process (units that wait on I/O)"
    Options = ThreadsOptions

    def run(self, units: Iterable[Unit], ctx: RunContext) -> Iterator[tuple[Unit, list[Any]]]:
        feed = iter(units)
        with ThreadPoolExecutor(self.options.workers) as pool:  # type: ignore[attr-defined]
            running: dict[Future[list[Any]], Unit] = {}
            while True:
                while len(running) < self.options.workers:  # type: ignore[attr-defined]
                    unit = next(feed, None)
                    if unit is None:
                        break
                    running[pool.submit(run_unit, unit, ctx)] = unit
                if not running:
                    return
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    yield running.pop(future), future.result()


# --- probe and its metric ---------------------------------------------------------------


class NFKCConfig(ProbeConfig):
    """Options of ``tokenizer_nfkc``."""

    corpus: str = Field(default="default", description="Corpus name or path.")


class NFKCTokensProbe(Probe[NFKCConfig, TokenizerSpec]):
    """Tokens per character of NFKC-normalised text."""

    name: ClassVar[str] = "tokenizer_nfkc"
    target_kind: ClassVar[str] = "tokenizer"
    description: ClassVar[str] = "Tokens per character after NFKC normalisation"
    Config = NFKCConfig
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec(
            "nfkc_tokens_per_char",
            "tok/char",
            False,
            "normalization",
            chart=ChartSpec(
                "nfkc-tokens-per-char",
                "Tokens per character of NFKC-normalised text",
                "Full-width forms folded before tokenizing; lower is cheaper.",
                series="lang_subset",
                order=15,
            ),
            label="tokens per char (NFKC)",
            table="NFKC-normalised text",
            evidence="tokens_per_char",
        ),
    )

    def run(self, target: TokenizerSpec, ctx: RunContext) -> Iterator[Measurement]:
        from llmselect.corpora import shared_corpus
        from llmselect.tokenizers.load import load_tokenizer

        corpus = shared_corpus(self.config.corpus, limit=ctx.limit)
        tok = load_tokenizer(target)
        for lang in ("zh", "en"):
            texts = [
                unicodedata.normalize("NFKC", s.text.strip())
                for s in corpus.segments
                if s.lang == lang and s.text.strip()
            ]
            if not texts:
                continue
            tokens = sum(len(ids) for ids in tok.encode_batch(texts))
            chars = sum(len(t) for t in texts)
            yield self.record(
                ctx,
                target.id,
                "nfkc_tokens_per_char",
                tokens / chars,
                "tok/char",
                higher_is_better=False,
                subset=f"{corpus.name}-nfkc/{lang}",
                n=len(texts),
            )
