"""Whether a decode timing can decide a speed floor: like is compared with like.

A model is ranked at one precision, for one engine (``--engine``) and context (``--context``),
at batch 1; a timing ran at its own (``evidence.TimingSetting``). It decides the floor both ways
(under it excludes, at or over it verifies) only where its dtype, engine and context are the
ranked ones. A mismatch bounds the speed in one direction only where the direction is certain:

* context: decoding one token reads the weights and every cached token, so a step is no faster
  at a longer context. A timing at a longer context than asked is a lower bound on the speed
  (it can verify, never exclude); at a shorter one an upper bound (it can exclude, never verify).
* precision: among plain floats (fp32, 16-bit; in torch bf16 and fp16 read the same bytes in
  the same kind of kernel and count as one, under llama.cpp a type is its own: its BF16 and F16
  kernels differ), a wider dtype reads more bytes per step in the same engine, so its timing is a
  lower bound for a narrower ranked precision and an upper bound for a wider one. Under
  llama.cpp the same holds between a float and a quantized GGUF type: its mat-vec kernels read
  the quantized blocks as stored, and a batch-1 step on a GPU is bandwidth-bound. Under
  transformers it does not: int8 and int4 run in whatever quantization kernel is installed,
  and that kernel, not the bytes, sets the speed (bitsandbytes' LLM.int8() is slower than fp16
  for small batches, Dettmers et al. 2022, arXiv:2208.07339; its nf4 dequantizes each weight
  block every step), so a 16-bit timing says nothing certain of a model ranked at int8 or int4,
  nor the reverse. Two different quantized types are not compared either.
* engine: a timing of another engine than the one ranked for is not compared at all; our
  reference decoder (``llmselect.refmodels``) is a readable implementation several times slower
  than llama.cpp, and no engine is a bound on another. A timing whose engine, dtype or context
  its record does not state decides nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from llmselect.errors import LLMSelectError
from llmselect.memory.dtypes import parse_dtype
from llmselect.memory.ggml_quant import is_gguf_ftype
from llmselect.memory.llamacpp import PRECISION_FTYPES
from llmselect.recommend.evidence import TimingSetting, Value

if TYPE_CHECKING:
    from llmselect.recommend.fit import MemoryFit

AS_STORED = " (as stored)"
DECIDES = {
    (True, True): "the floor",
    (True, False): "a pass only",
    (False, True): "an exclusion only",
    (False, False): "nothing",
}


@dataclass(frozen=True)
class TimingUse:
    """A timing on the requested GPU and what it can decide of the floor for one candidate:
    ``verifies`` (it is a lower bound on the ranked speed, or the ranked setting itself),
    ``excludes`` (an upper bound, or the setting itself); ``why``: each mismatch, in words."""

    timing: Value
    verifies: bool
    excludes: bool
    why: tuple[str, ...]

    @property
    def tok_s(self) -> float:
        return 1000.0 / self.timing.value

    @property
    def setting(self) -> TimingSetting:
        return _stated_setting(self.timing)

    @property
    def decides(self) -> str:
        """``the floor`` (both ways), ``a pass only``, ``an exclusion only`` or ``nothing``."""
        return DECIDES[(self.verifies, self.excludes)]


def timing_use(timing: Value, fit: MemoryFit, context: int) -> TimingUse:
    """What ``timing`` can decide for a model ranked as ``fit`` at ``context`` tokens."""
    setting = _stated_setting(timing)
    checks = (
        _engine(setting.engine, fit.engine),
        _precision(setting.dtype, ranked_dtype(fit), fit.engine),
        _context(setting.context, context),
    )
    return TimingUse(
        timing,
        verifies=all(v for v, _, _ in checks),
        excludes=all(e for _, e, _ in checks),
        why=tuple(why for _, _, why in checks if why),
    )


def _stated_setting(timing: Value) -> TimingSetting:
    """A timing's setting; every field not recorded where the timing has none."""
    return timing.setting or TimingSetting(None, None, None, None)


def ranked_dtype(fit: MemoryFit) -> str:
    """The dtype a model is ranked at, named as a timing of its engine names it: llama.cpp's
    GGUF recipe of the precision (int4 → q4_k_m), a layout as stored without the suffix."""
    name = fit.precision.removesuffix(AS_STORED)
    return PRECISION_FTYPES.get(name, name) if fit.engine == "llama.cpp" else name


def _engine(engine: str | None, ranked: str) -> tuple[bool, bool, str]:
    if engine == ranked:
        return True, True, ""
    if engine is None:
        return False, False, "engine not recorded"
    return False, False, f"{engine} engine, not the {ranked} it is ranked for"


def _precision(dtype: str | None, ranked: str, engine: str) -> tuple[bool, bool, str]:
    if dtype is None:
        return False, False, "dtype not recorded"
    if _canonical(dtype, engine) == _canonical(ranked, engine):
        return True, True, ""
    wide, narrow = _width(dtype, engine), _width(ranked, engine)
    if wide is None or narrow is None or wide == narrow:
        return False, False, f"{dtype}, not the {ranked} it is ranked at"
    if wide > narrow:
        return True, False, f"{dtype}, wider than the {ranked} it is ranked at: a lower bound"
    return False, True, f"{dtype}, narrower than the {ranked} it is ranked at: an upper bound"


def _canonical(dtype: str, engine: str) -> str:
    """In torch, a float dtype by its width's name (bf16 and f16 → fp16); any other name, and
    every llama.cpp type, as written."""
    if engine == "llama.cpp":
        return dtype.lower()
    try:
        dt = parse_dtype(dtype)
    except LLMSelectError:
        return dtype.lower()
    return dtype.lower() if dt.quantized else ("fp32" if dt.bits == 32 else "fp16")


def _width(dtype: str, engine: str) -> int | None:
    """An order on dtypes whose speeds are certainly ordered in ``engine``: plain floats by
    bits; under llama.cpp every quantized GGUF type below them (0); else None."""
    try:
        dt = parse_dtype(dtype)
    except LLMSelectError:
        dt = None
    if dt is not None and not dt.quantized:
        return dt.bits
    return 0 if engine == "llama.cpp" and is_gguf_ftype(dtype) else None


def _context(tokens: int | None, asked: int) -> tuple[bool, bool, str]:
    if tokens is None:
        return False, False, "context not recorded"
    if tokens == asked:
        return True, True, ""
    if tokens > asked:
        return True, False, f"{tokens} tokens of context, more than {asked}: a lower bound"
    return False, True, f"{tokens} tokens of context, fewer than {asked}: an upper bound"


def best_use(uses: list[TimingUse]) -> TimingUse | None:
    """The timing to show: one that decides the most, then the fastest."""
    if not uses:
        return None
    return max(uses, key=lambda u: (u.verifies + u.excludes, u.tok_s))
