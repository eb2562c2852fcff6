"""A small lm-eval ``TemplateLM`` over an already-loaded transformers causal LM.

lm-eval's own ``HFLM`` needs ``accelerate`` (and builds its own model from a path); this
adapter scores a model object we loaded ourselves (``trust_remote_code=False``, safetensors)
with the same request semantics: summed continuation log-probs and greedy flags for
``loglikelihood``, disjoint rolling windows for ``loglikelihood_rolling`` and greedy
generation cut at the stop strings for ``generate_until``. lm-eval keeps doing the rest
(prompts, few-shot, metrics, standard errors).
Imports lm_eval and torch: import this module only inside a probe's ``run``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812

from llmselect.eval.requests import Generation, RequestLoops


class TransformersLM(RequestLoops):
    """lm-eval model over ``(model, tokenizer)``; right-padded batches, causal backend."""

    backend = "causal"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        batch_size: int = 1,
        max_length: int | None = None,
        name: str = "",
        progress: Any = None,
    ) -> None:
        super().__init__()
        # progress(done, total): called as requests finish (loglikelihood and generation).
        self.progress = progress
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = max(1, int(batch_size))
        self._device = next(model.parameters()).device
        config_len = getattr(model.config, "max_position_embeddings", None) or 2048
        self.max_length = int(max_length or min(config_len, 4096))
        self._name = name or getattr(model.config, "_name_or_path", "") or "model"
        if self.tokenizer.pad_token_id is None:
            self._pad_id = self.tokenizer.eos_token_id or 0
        else:
            self._pad_id = self.tokenizer.pad_token_id

    # ------------------------------------------------------------ tokenizer
    @property
    def eot_token_id(self) -> int:
        eos = self.tokenizer.eos_token_id
        return int(eos) if eos is not None else self._pad_id

    @property
    def prefix_token_id(self) -> int:
        bos = self.tokenizer.bos_token_id
        return int(bos) if bos is not None else self.eot_token_id

    @property
    def tokenizer_name(self) -> str:
        return str(getattr(self.tokenizer, "name_or_path", "") or self._name).replace("/", "__")

    def tok_encode(
        self, string: str, add_special_tokens: bool | None = None, **kwargs: Any
    ) -> list[int]:
        """Unless told, the tokenizer's own rule for special tokens (Gemma adds BOS, SmolLM2
        adds nothing), not twice when the text already starts with BOS; as lm-eval's HFLM."""
        if add_special_tokens is None:
            bos = self.tokenizer.bos_token
            add_special_tokens = not (bos and string.startswith(bos))
        return list(self.tokenizer.encode(string, add_special_tokens=add_special_tokens))

    def tok_decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def apply_chat_template(
        self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        return self.tokenizer.apply_chat_template(
            chat_history, tokenize=False, add_generation_prompt=add_generation_prompt
        )

    # ------------------------------------------------------------ scoring
    def _input(self, context: list[int], continuation: list[int]) -> tuple[int, ...]:
        """Model input for one request: context + continuation minus the last token, cut left."""
        return tuple((context + continuation)[-(self.max_length + 1) :][:-1])

    @torch.inference_mode()
    def _forward(self, inputs: list[tuple[int, ...]], tails: list[int]) -> list[torch.Tensor]:
        """Log-probs of the last ``tails[i]`` positions of each input (right-padded batch)."""
        width = max(len(x) for x in inputs)
        ids = torch.full((len(inputs), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(inputs), width), dtype=torch.long)
        for i, inp in enumerate(inputs):
            ids[i, : len(inp)] = torch.tensor(inp, dtype=torch.long)
            mask[i, : len(inp)] = 1
        logits = self.model(
            input_ids=ids.to(self._device), attention_mask=mask.to(self._device)
        ).logits  # (B, T, V)
        out = []
        for i, (inp, tail) in enumerate(zip(inputs, tails, strict=True)):
            rows = logits[i, len(inp) - tail : len(inp)].float()  # (tail, V)
            out.append(F.log_softmax(rows, dim=-1).cpu())
        return out

    def _score_batch(self, batch: list[tuple[list[int], list[int]]]) -> list[tuple[float, bool]]:
        """Log-prob of each continuation given its context, and whether it is the greedy one."""
        inputs = [self._input(c, x) for c, x in batch]
        rows = self._forward(inputs, [len(x) for _, x in batch])
        return [self._score(r, x) for r, (_, x) in zip(rows, batch, strict=True)]

    @staticmethod
    def _score(rows: torch.Tensor, continuation: list[int]) -> tuple[float, bool]:
        cont = torch.tensor(continuation[-rows.shape[0] :], dtype=torch.long)
        greedy = bool((rows.argmax(dim=-1) == cont).all())
        return float(rows.gather(1, cont.unsqueeze(1)).sum()), greedy

    def _loglikelihood_tokens(
        self, requests: list[tuple[tuple[str, str], list[int], list[int]]], **kwargs: Any
    ) -> list[tuple[float, bool]]:
        # Requests with the same model input (a multiple-choice question with one-token answers
        # A/B/C/D) share one forward pass, as HFLM's group-by-context does. Longest first, so
        # each batch pads little; results go back in request order.
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, (_, context, continuation) in enumerate(requests):
            groups.setdefault(self._input(context, continuation), []).append(i)
        unique = sorted(groups, key=len, reverse=True)
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        done = 0
        for start in range(0, len(unique), self.batch_size):
            inputs = unique[start : start + self.batch_size]
            tails = [max(len(requests[i][2]) for i in groups[inp]) for inp in inputs]
            for inp, rows in zip(inputs, self._forward(inputs, tails), strict=True):
                for i in groups[inp]:
                    cont = requests[i][2]
                    res = self._score(rows[rows.shape[0] - len(cont) :], cont)
                    results[i] = res
                    self.cache_hook.add_partial("loglikelihood", requests[i][0], res)
                done += len(groups[inp])
            if self.progress is not None:
                self.progress(done, len(requests))
        return [r for r in results if r is not None]

    def _windows_loglikelihood(self, windows: list[tuple[list[int], list[int]]]) -> float:
        scores = []
        for start in range(0, len(windows), self.batch_size):
            scores.extend(self._score_batch(windows[start : start + self.batch_size]))
        return sum(s for s, _ in scores)

    @torch.inference_mode()
    def _generate(self, gen: Generation) -> str:
        ids = torch.tensor([gen.context_ids], dtype=torch.long, device=self._device)
        generated = self.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=gen.max_new,
            do_sample=False,
            pad_token_id=self._pad_id,
            stop_strings=gen.until or None,
            tokenizer=self.tokenizer if gen.until else None,
        )
        return self.tok_decode(generated[0, len(gen.context_ids) :].tolist())

    def get_model_info(self) -> dict[str, Any]:
        return {"model_name": self._name, "model_num_parameters": self.model.num_parameters()}
