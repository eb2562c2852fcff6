"""What both lm-eval adapters (transformers, llama.cpp) read from lm-eval's requests: the rolling
windows of a ``loglikelihood_rolling`` text and the settings of a ``generate_until`` request, and
``RequestLoops``, which walks those two kinds of request the same way for both."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

from lm_eval import utils as lm_utils
from lm_eval.api.model import TemplateLM


def rolling_windows(lm: Any, text: str) -> list[tuple[list[int], list[int]]]:
    """(context, continuation) token windows covering ``text``, as lm-eval's HFLM scores it."""
    return [
        lm_utils.make_disjoint_window(w)
        for w in lm_utils.get_rolling_token_windows(
            token_list=lm.tok_encode(text, add_special_tokens=False),
            prefix_token=lm.prefix_token_id,
            max_seq_len=lm.max_length,
            context_len=1,
        )
    ]


@dataclass(frozen=True)
class Generation:
    """One ``generate_until`` request: its context ids (cut to leave room for the answer), the
    stop strings and the most tokens to generate."""

    context_ids: list[int]
    until: list[str]
    max_new: int

    def cut(self, text: str) -> str:
        """``text`` up to the first stop string."""
        for stop in self.until:
            text = text.split(stop)[0]
        return text


def generation(lm: Any, context: str, gen_kwargs: Any) -> Generation:
    """A ``generate_until`` request's context, stop strings and length (lm-eval's defaults)."""
    kwargs = dict(gen_kwargs or {})
    until = kwargs.pop("until", None) or []
    until = [until] if isinstance(until, str) else list(until)
    max_new = int(kwargs.pop("max_gen_toks", 256))
    keep = max(1, lm.max_length - max_new)  # room left for the generated tokens
    ids = lm.tok_encode(context)[-keep:] or [lm.prefix_token_id]
    return Generation(ids, until, max_new)


class RequestLoops(TemplateLM):
    """The ``loglikelihood_rolling`` and ``generate_until`` loops of both adapters: each adapter
    scores a text's windows (``_windows_loglikelihood``) and generates greedily
    (``_generate``) its own way; caching, the stop-string cut and progress are the same."""

    progress: Any  # progress(done, total), or None

    @abstractmethod
    def _windows_loglikelihood(self, windows: list[tuple[list[int], list[int]]]) -> float:
        """Summed log-prob of every window's continuation."""

    @abstractmethod
    def _generate(self, gen: Generation) -> str:
        """Greedy text after ``gen.context_ids``, up to ``gen.max_new`` tokens (not yet cut)."""

    def loglikelihood_rolling(self, requests: Any, disable_tqdm: bool = False) -> list[float]:
        out = []
        for req in requests:
            (text,) = req.args
            out.append(self._windows_loglikelihood(rolling_windows(self, text)))
        return out

    def generate_until(self, requests: Any, disable_tqdm: bool = False) -> list[str]:
        out = []
        for req in requests:
            context, gen_kwargs = req.args
            gen = generation(self, context, gen_kwargs)
            text = gen.cut(self._generate(gen))
            out.append(text)
            self.cache_hook.add_partial("generate_until", (context, gen_kwargs), text)
            if self.progress is not None:
                self.progress(len(out), len(requests))
        return out
