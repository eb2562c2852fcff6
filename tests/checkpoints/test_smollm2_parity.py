"""Our LLaMA reference decoder on the real SmolLM2 weights equals transformers' LlamaForCausalLM
(fp32, atol 1e-4): a Chinese and an English sentence, full sequence and token-by-token decoding
with the KV cache. Our side dequantizes the GGUF with the ``gguf`` package and undoes llama.cpp's
q/k permutation; transformers' side uses its own GGUF loader on the same file."""

from __future__ import annotations

from typing import Any

import pytest
import torch

ATOL = 1e-4
SENTENCES = {
    "zh": "北京是中华人民共和国的首都，也是全国的政治和文化中心。",
    "en": "The quick brown fox jumps over the lazy dog near the river bank.",
}


@pytest.fixture(scope="session")
def models(smollm2_reference: Any, hf_gguf: dict[str, Any]) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM

    ours = smollm2_reference
    theirs = AutoModelForCausalLM.from_config(hf_gguf["config"], dtype=torch.float32)
    missing, unexpected = theirs.load_state_dict(hf_gguf["tensors"], strict=False)
    assert missing == ["lm_head.weight"] and not unexpected  # tied to the embedding
    theirs.tie_weights()
    return ours, theirs.eval()


def test_dequantized_weights_equal_transformers_loader(
    our_state_dict: dict[str, torch.Tensor], hf_gguf: dict[str, Any]
) -> None:
    theirs = hf_gguf["tensors"]
    assert set(our_state_dict) == set(theirs)
    for name, w in our_state_dict.items():
        torch.testing.assert_close(w, theirs[name], rtol=0, atol=0, msg=name)


def test_checkpoint_config_values_reach_the_reference(smollm2_source: Any) -> None:
    arch = smollm2_source.arch
    assert arch.norm_eps == pytest.approx(1e-5) and arch.rope_theta == 100000.0
    assert smollm2_source.rope_scaling() is None


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_logits_match_transformers(
    models: tuple[Any, Any], hf_gguf: dict[str, Any], lang: str
) -> None:
    ours, theirs = models
    ids = torch.tensor([hf_gguf["tokenizer"].encode(SENTENCES[lang], add_special_tokens=False)])
    assert ids.shape[1] >= 10
    with torch.inference_mode():
        expected = theirs(input_ids=ids).logits
        full, _ = ours(ids)
        torch.testing.assert_close(full, expected, rtol=0, atol=ATOL)
        # incremental: a 4-token prompt, then one token at a time through each side's KV cache
        logits, cache = ours(ids[:, :4])
        out = theirs(input_ids=ids[:, :4], use_cache=True)
        torch.testing.assert_close(logits, out.logits, rtol=0, atol=ATOL)
        past = out.past_key_values
        for t in range(4, ids.shape[1]):
            logits, cache = ours(ids[:, t : t + 1], cache=cache)
            out = theirs(input_ids=ids[:, t : t + 1], past_key_values=past, use_cache=True)
            past = out.past_key_values
            torch.testing.assert_close(logits, out.logits, rtol=0, atol=ATOL, msg=f"step {t}")
    assert expected.abs().max() > 1.0  # real, non-degenerate logits
