"""An lm-eval ``TemplateLM`` over a GGUF file in llama.cpp (``llama-cpp-python``).

The file's own quantized tensors run in ggml's CPU kernels, as people run the model; lm-eval
keeps doing prompts, few-shot, metrics and standard errors. Request semantics match
``TransformersLM``: summed continuation log-probs and greedy flags for ``loglikelihood``,
disjoint windows for ``loglikelihood_rolling``, greedy generation cut at the stop strings for
``generate_until``. Tokens come from the file's tokenizer with its own BOS rule
(``tokenizer.ggml.add_bos_token``), as lm-eval's HFLM uses the tokenizer's default.

Speed without changing a score: the KV cache keeps the longest common token prefix of the
previous context (all choices of a question, and few-shot examples shared by a subject, are
processed once), and logits are computed only at the positions that are scored.
Imports lm_eval, numpy and llama_cpp (never torch): import it only inside a probe's ``run``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from llmselect.checkpoint import llamacpp
from llmselect.errors import LLMSelectError
from llmselect.eval.requests import Generation, RequestLoops


def _log_softmax_at(row: np.ndarray, token: int) -> tuple[float, bool]:
    """Log-probability of ``token`` under one row of logits, and whether it is the argmax."""
    top = float(row.max())
    lse = top + float(np.log(np.exp(row - top, dtype=np.float64).sum()))
    return float(row[token]) - lse, bool(int(row.argmax()) == token)


class LlamaCppLM(RequestLoops):
    """lm-eval model over a GGUF file opened in llama.cpp (CPU, ``threads`` threads)."""

    backend = "causal"

    def __init__(
        self,
        path: str | Path,
        *,
        threads: int = 1,
        max_length: int = 2048,
        n_batch: int = 512,
        name: str = "",
        progress: Any = None,
    ) -> None:
        super().__init__()
        import llama_cpp

        self._lib = llama_cpp
        self.progress = progress
        self.path = Path(path)
        self.max_length = int(max_length)
        self.n_batch = int(n_batch)
        self.threads = int(threads)
        # swa_full: a sliding-window cache (Gemma 3) can then drop a suffix and keep the prefix.
        self.llm = llamacpp.open_model(
            self.path, n_ctx=self.max_length, threads=threads, n_batch=self.n_batch,
            swa_full=True,
        )  # fmt: skip
        self._ctx = self.llm._ctx.ctx
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        vocab = self.llm._model.vocab
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(vocab))
        self.add_bos = bool(llama_cpp.llama_vocab_get_add_bos(vocab))
        self._bos = int(llama_cpp.llama_vocab_bos(vocab))
        self._eos = int(llama_cpp.llama_vocab_eos(vocab))
        self._bos_text = self.tok_decode([self._bos], special=True) if self._bos >= 0 else ""
        self._name = name or self.path.stem
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self._cached: list[int] = []  # tokens whose keys/values sit in sequence 0
        self._last_row: np.ndarray | None = None  # logits after the last cached token

    def __del__(self) -> None:
        batch = getattr(self, "_batch", None)
        free = getattr(getattr(self, "_lib", None), "llama_batch_free", None)
        if batch is not None and callable(free):  # not at interpreter exit (module torn down)
            free(batch)
            self._batch = None

    # ------------------------------------------------------------ tokenizer
    @property
    def eot_token_id(self) -> int:
        return self._eos

    @property
    def prefix_token_id(self) -> int:
        return self._bos if self._bos >= 0 else self._eos

    @property
    def tokenizer_name(self) -> str:
        return self._name

    def tok_encode(
        self, string: str, add_special_tokens: bool | None = None, **kwargs: Any
    ) -> list[int]:
        """The file's tokenizer; BOS by its own rule unless told, or the text already has it."""
        ids = self.llm.tokenize(string.encode("utf-8"), add_bos=False, special=True)
        add = self.add_bos if add_special_tokens is None else add_special_tokens
        if add and self._bos >= 0 and not (self._bos_text and string.startswith(self._bos_text)):
            ids = [self._bos, *ids]
        return list(ids)

    def tok_decode(self, tokens: list[int], special: bool = False) -> str:
        return self.llm.detokenize(tokens, special=special).decode("utf-8", errors="replace")

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return self.llm.metadata.get("tokenizer.chat_template")

    def apply_chat_template(
        self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        """The file's own template (``tokenizer.chat_template``), rendered with jinja2."""
        import jinja2

        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise LLMSelectError(f"{self.path.name} has no chat template; use --no-chat-template")
        env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        return env.from_string(template).render(
            messages=chat_history,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.tok_decode([self._bos], special=True) if self._bos >= 0 else "",
            eos_token=self.tok_decode([self._eos], special=True),
        )

    # ------------------------------------------------------------ llama.cpp primitives
    def _row(self, i: int) -> np.ndarray:
        ptr = self._lib.llama_get_logits_ith(self._ctx, i)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    def _decode(self, tokens: list[int], start: int, want: set[int]) -> dict[int, np.ndarray]:
        """Evaluate ``tokens`` at positions ``start..``; logits rows for the offsets in ``want``."""
        rows: dict[int, np.ndarray] = {}
        batch = self._batch
        for lo in range(0, len(tokens), self.n_batch):
            chunk = tokens[lo : lo + self.n_batch]
            batch.n_tokens = len(chunk)
            for j, tok in enumerate(chunk):
                batch.token[j] = tok
                batch.pos[j] = start + lo + j
                batch.n_seq_id[j] = 1
                batch.seq_id[j][0] = 0
                batch.logits[j] = (lo + j) in want
            if self._lib.llama_decode(self._ctx, batch) != 0:
                raise LLMSelectError(f"llama.cpp could not evaluate {len(chunk)} tokens")
            for j in range(len(chunk)):
                if (lo + j) in want:
                    rows[lo + j] = self._row(j)
        return rows

    def _truncate(self, start: int) -> None:
        """Drop the cached positions from ``start`` on (the whole cache if that fails)."""
        if start < len(self._cached):
            if start == 0 or not self._lib.llama_memory_seq_rm(self._mem, 0, start, -1):
                self._lib.llama_memory_clear(self._mem, True)
                start = 0
            self._cached = self._cached[:start]

    def _set_context(self, context: list[int]) -> np.ndarray:
        """Cache ``context`` (reusing the longest common prefix); its last logits row."""
        if context == self._cached and self._last_row is not None:
            return self._last_row
        common = 0
        for a, b in zip(self._cached, context, strict=False):
            if a != b:
                break
            common += 1
        common = min(common, len(context) - 1)  # re-evaluate at least the last token
        self._truncate(common)
        common = len(self._cached)
        rows = self._decode(context[common:], common, {len(context) - common - 1})
        self._cached = list(context)
        self._last_row = rows[len(context) - common - 1]
        return self._last_row

    def _score(self, context: list[int], continuation: list[int]) -> tuple[float, bool]:
        """Summed log-prob of ``continuation`` after ``context`` and whether it is all greedy."""
        last = self._set_context(context)
        rows = [last]
        if len(continuation) > 1:
            start = len(context)
            got = self._decode(continuation[:-1], start, set(range(len(continuation) - 1)))
            rows += [got[i] for i in range(len(continuation) - 1)]
            if not self._lib.llama_memory_seq_rm(self._mem, 0, start, -1):
                self._lib.llama_memory_clear(self._mem, True)  # context re-evaluated next time
                self._cached, self._last_row = [], None
        total, greedy = 0.0, True
        for row, tok in zip(rows, continuation, strict=True):
            lp, top = _log_softmax_at(row, tok)
            total += lp
            greedy = greedy and top
        return total, greedy

    def _fit(self, context: list[int], continuation: list[int]) -> tuple[list[int], list[int]]:
        """Cut the context on the left so that context + continuation fits the window."""
        continuation = continuation[-self.max_length :]
        room = self.max_length - len(continuation)
        context = context[-room:] if room > 0 else []
        if not context:  # the first continuation token becomes the context
            context, continuation = continuation[:1], continuation[1:]
        return context, continuation

    # ------------------------------------------------------------ lm-eval requests
    def _loglikelihood_tokens(
        self, requests: list[tuple[tuple[str, str], list[int], list[int]]], **kwargs: Any
    ) -> list[tuple[float, bool]]:
        # Sorted by context tokens, so neighbours share the longest prefixes; results go back
        # in request order.
        order = sorted(range(len(requests)), key=lambda i: requests[i][1])
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        for done, i in enumerate(order, start=1):
            key, context, continuation = requests[i]
            context, continuation = self._fit(list(context), list(continuation))
            res = self._score(context, continuation) if continuation else (0.0, True)
            results[i] = res
            self.cache_hook.add_partial("loglikelihood", key, res)
            if self.progress is not None and (done % 16 == 0 or done == len(requests)):
                self.progress(done, len(requests))
        return [r for r in results if r is not None]

    def _windows_loglikelihood(self, windows: list[tuple[list[int], list[int]]]) -> float:
        return sum(self._score(list(c), list(x))[0] for c, x in windows)

    def _generate(self, gen: Generation) -> str:
        row = self._set_context(gen.context_ids)
        generated: list[int] = []
        text = ""
        for _ in range(gen.max_new):
            tok = int(row.argmax())
            if tok == self._eos:
                break
            generated.append(tok)
            text = self.tok_decode(generated)
            if any(stop in text for stop in gen.until):
                break
            pos = len(self._cached)
            row = self._decode([tok], pos, {0})[0]
            self._cached.append(tok)
            self._last_row = row
        return text

    def get_model_info(self) -> dict[str, Any]:
        return {"model_name": self._name, "engine": "llama.cpp", **llamacpp.version_info()}
