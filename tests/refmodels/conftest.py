"""Shared parity checks: our reference decoders against transformers on identical weights.

Every check compares logits in fp32 with atol 1e-4, as the transformers model tests do.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

ATOL = 1e-4


@dataclass
class Parity:
    """Parity checks between a reference model ``ref`` and a transformers model ``hf``."""

    ref: torch.nn.Module
    hf: torch.nn.Module
    vocab: int

    def ids(self, batch: int, length: int, seed: int = 1) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        return torch.randint(0, self.vocab, (batch, length), generator=gen)

    @torch.no_grad()
    def hf_logits(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        kwargs: dict[str, torch.Tensor] = {}
        if mask is not None:
            # positions counted over real tokens, as GenerationMixin does for left padding
            kwargs["attention_mask"] = mask
            kwargs["position_ids"] = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
        return self.hf(input_ids=ids, use_cache=False, **kwargs).logits

    def full_sequence(self, batch: int = 2, length: int = 12) -> None:
        ids = self.ids(batch, length)
        with torch.no_grad():
            ours, cache = self.ref(ids)
        assert ours.shape == (batch, length, self.vocab)
        assert cache.length == length
        torch.testing.assert_close(ours, self.hf_logits(ids), atol=ATOL, rtol=0)
        # Prefill as serving does: the last position's logits only, as transformers gives them.
        with torch.no_grad():
            last, cache = self.ref(ids, logits_to_keep=1)
            hf_last = self.hf(input_ids=ids, use_cache=False, logits_to_keep=1).logits
        assert last.shape == (batch, 1, self.vocab) and cache.length == length
        torch.testing.assert_close(last, hf_last, atol=ATOL, rtol=0)

    def incremental(self, batch: int = 2, length: int = 10, prompt: int = 4) -> None:
        """Prefill ``prompt`` tokens, then decode one at a time: equals the full pass and HF."""
        ids = self.ids(batch, length, seed=2)
        with torch.no_grad():
            full, _ = self.ref(ids)
            for cache in (None, self.ref.new_cache(batch, length)):  # lazy and pre-allocated
                steps = []
                logits, cache = self.ref(ids[:, :prompt], cache=cache)
                steps.append(logits)
                for t in range(prompt, length):
                    logits, cache = self.ref(ids[:, t : t + 1], cache=cache)
                    steps.append(logits)
                stepped = torch.cat(steps, dim=1)
                assert cache.length == length
                torch.testing.assert_close(stepped, full, atol=ATOL, rtol=0)
        torch.testing.assert_close(stepped, self.hf_logits(ids), atol=ATOL, rtol=0)

    def left_padded(self, lengths: tuple[int, ...] = (9, 5, 2), decode: int = 3) -> None:
        """A left-padded batch equals each row run alone, on the real tokens; then decoding a
        few tokens with the cache and the extended mask still equals the unpadded runs."""
        total = max(lengths) + decode
        rows = [self.ids(1, n + decode, seed=10 + i)[0] for i, n in enumerate(lengths)]
        width = max(lengths)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, (row, n) in enumerate(zip(rows, lengths, strict=True)):
            ids[i, width - n :] = row[:n]
            mask[i, width - n :] = 1
        with torch.no_grad():
            padded, cache = self.ref(ids, attention_mask=mask)
            hf_padded = self.hf_logits(ids, mask)
            decoded = []
            for t in range(decode):
                mask = torch.cat([mask, torch.ones(len(rows), 1, dtype=torch.long)], dim=1)
                step_ids = torch.stack([row[n + t] for row, n in zip(rows, lengths, strict=True)])
                logits, cache = self.ref(step_ids[:, None], attention_mask=mask, cache=cache)
                decoded.append(logits)
            assert cache.length == total
            for i, (row, n) in enumerate(zip(rows, lengths, strict=True)):
                alone, _ = self.ref(row[None])  # (1, n + decode, V)
                torch.testing.assert_close(padded[i, width - n :], alone[0, :n], atol=ATOL, rtol=0)
                torch.testing.assert_close(
                    hf_padded[i, width - n :], alone[0, :n], atol=ATOL, rtol=0
                )
                stepped = torch.cat([d[i] for d in decoded])
                torch.testing.assert_close(stepped, alone[0, n:], atol=ATOL, rtol=0)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    """Tiny models gain nothing from intra-op threads; on a busy 2-core machine the thread
    hand-offs cost more than the arithmetic."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def parity():  # type: ignore[no-untyped-def]
    """Factory: ``parity(ref, hf, vocab)`` -> Parity, with both models in eval mode."""

    def make(ref: torch.nn.Module, hf: torch.nn.Module, vocab: int) -> Parity:
        return Parity(ref.eval(), hf.eval(), vocab)

    return make
