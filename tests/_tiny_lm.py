"""Build a tiny random Llama checkpoint with a BPE tokenizer trained on real exam rows.

Used by the lm-eval probe and ``eval`` CLI tests: lm-eval really loads and scores it. The
tokenizer is trained at test time on a few lines of the local C-Eval/CMMLU/MMLU CSVs (read
from the data root, not copied), so Chinese characters and the answer letters are in its vocab.
"""

from __future__ import annotations

import csv
from pathlib import Path

TRAIN_FILES = (
    "cmmlu/dev/agronomy.csv",
    "cmmlu/dev/anatomy.csv",
    "ceval/dev/accountant_dev.csv",
    "ceval/dev/advanced_mathematics_dev.csv",
    "mmlu/dev/abstract_algebra_dev.csv",
    "xcopa_zh/val.zh.jsonl",
)
# A minimal template so the chat-template path can be exercised.
CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant: {% endif %}"
)


def training_lines(datasets_root: Path) -> list[str]:
    lines: list[str] = []
    for rel in TRAIN_FILES:
        path = datasets_root / rel
        assert path.is_file(), f"{path} missing"
        with path.open(encoding="utf-8", newline="") as fh:
            if path.suffix == ".csv":
                lines.extend(" ".join(row) for row in csv.reader(fh))
            else:
                lines.extend(fh.read().splitlines()[:20])
    return lines + ["答案：A B C D\nAnswer: 因为 所以"]


_BUILT: dict[Path, Path] = {}


def tiny_checkpoint(tmp_root: Path, datasets_root: Path) -> Path:
    """One checkpoint per test session, shared by every test file that asks for it."""
    if datasets_root not in _BUILT:
        _BUILT[datasets_root] = build_tiny_checkpoint(tmp_root / "tiny-llama", datasets_root)
    return _BUILT[datasets_root]


def build_tiny_checkpoint(out: Path, datasets_root: Path, *, seed: int = 0) -> Path:
    """Save tokenizer + random LlamaForCausalLM (safetensors) into ``out``; returns ``out``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(training_lines(datasets_root), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    fast.chat_template = CHAT_TEMPLATE
    out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out)
    torch.manual_seed(seed)
    config = LlamaConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=64,
        vocab_size=len(fast),
        max_position_embeddings=2048,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(out, safe_serialization=True)
    return out


def always_answering(letter: str, src: Path, out: Path) -> Path:
    """The tiny checkpoint rewired to answer ``letter`` to every multiple-choice question.

    Every token embeds to the same vector and the layers add nothing to it, so every position
    predicts the same distribution; the output row of the letter's last token is the only one
    that reads that vector, so the letter's continuation is the likeliest of the four on every
    document. Its accuracy on a subject is then the share of the subject's answers that are
    ``letter``, which the data file says independently.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(src)
    model = AutoModelForCausalLM.from_pretrained(src)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.model.embed_tokens.weight.zero_()
        model.model.embed_tokens.weight[:, 0] = 1.0
        model.lm_head.weight.zero_()
        model.lm_head.weight[tok.encode(f" {letter}", add_special_tokens=False)[-1], 0] = 1.0
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out
