"""A GGUF file in llama.cpp (through ``llama-cpp-python``, the optional ``llamacpp`` extra).

The engine people run on laptops: the file's own quantized tensors, ggml's CPU kernels, the
weights memory-mapped from the file. ``_llamacpp_worker`` times it on the same points as the
reference decoders; tests compare its next-token logits with ``llmselect.refmodels`` on the
same weights. Nothing here imports torch.

Threads are pinned through both of llama.cpp's knobs: ``n_threads`` (decode) and
``n_threads_batch`` (prompt processing).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llmselect.childproc import run_child
from llmselect.errors import LLMSelectError

ENGINE = "llama.cpp"
DISTRIBUTION = "llama-cpp-python"
# The llama.cpp commit each llama-cpp-python release vendors, from that release's CHANGELOG.md
# ("update llama.cpp to ggml-org/llama.cpp@<commit>"); the built library reports its commit as
# "unknown" when compiled from the sdist, so the release is the only handle at run time.
VENDORED_LLAMA_CPP = {"0.3.36": "ggml-org/llama.cpp@0c1e57098"}


def installed_version() -> str | None:
    """llama-cpp-python's version, or None when the extra is not installed."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


def require() -> str:
    """The installed version, or a one-line error saying how to install the extra."""
    version = installed_version()
    if version is None:
        raise LLMSelectError(
            "--engine llama.cpp needs llama-cpp-python: pip install 'llmselect[llamacpp]' "
            "(builds llama.cpp from source; bash scripts/setup.sh all installs it)"
        )
    return version


def version_info() -> dict[str, str]:
    """What every llama.cpp record carries: the binding's version and the llama.cpp it vendors."""
    version = require()
    vendored = VENDORED_LLAMA_CPP.get(version)
    return {
        "engine": ENGINE,
        "llama_cpp_python": version,
        "llama_cpp": vendored or f"vendored by llama-cpp-python {version} (commit not recorded)",
    }


@contextlib.contextmanager
def _without_extra_buffer_types() -> Iterator[None]:
    """Load models with llama.cpp's extra CPU buffer types off (``use_extra_bufts=False``: no
    AMX or repacked weight buffers). Measured: a build that uses them segfaults on an Intel Xeon
    VM that lists AMX flags, on any prompt longer than one token, and runs with them off. The
    binding's ``Llama`` does not expose the field, so its default model parameters are patched
    while the model loads (this runs in a measurement child, never in a caller's process)."""
    import llama_cpp.llama_cpp as api

    default = api.llama_model_default_params

    def params() -> Any:
        p = default()
        p.use_extra_bufts = False
        return p

    api.llama_model_default_params = params
    try:
        yield
    finally:
        api.llama_model_default_params = default


def open_model(path: str | Path, n_ctx: int, threads: int, n_batch: int = 512, **extra: Any) -> Any:
    """The file loaded as llama.cpp loads it by default (mmap, no mlock), CPU only, with the
    thread count pinned for prompt processing and decoding alike, and the extra CPU buffer types
    off (see ``_without_extra_buffer_types``); ``extra`` goes to ``Llama``."""
    from llama_cpp import Llama

    with _without_extra_buffer_types():
        llm = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_batch=n_batch,
            n_ubatch=n_batch,
            n_threads=threads,
            n_threads_batch=threads,
            n_gpu_layers=0,
            use_mmap=True,
            use_mlock=False,
            logits_all=False,  # the last position's logits only, as the other engines' prefill
            seed=0,
            verbose=False,
            **extra,
        )
    if llm.model_params.use_extra_bufts:  # the binding changed how it builds its parameters
        llm.close()
        raise LLMSelectError("llama-cpp-python ignored use_extra_bufts=False; refusing to run")
    return llm


def clear(llm: Any) -> None:
    """Forget the context: an empty KV cache, as a new request starts with."""
    llm.reset()
    llm._ctx.kv_cache_clear()


def last_logits(llm: Any) -> Any:
    """The logits of the last evaluated position, a float32 numpy array (n_vocab,)."""
    import numpy as np

    n_vocab = llm.n_vocab()
    row = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(n_vocab,))
    return row.copy()


def next_token_logits(llm: Any, tokens: list[int]) -> Any:
    """Logits after ``tokens`` from an empty context (the prompt processed in one call)."""
    clear(llm)
    llm.eval(tokens)
    return last_logits(llm)


def system_info() -> str:
    """ggml's CPU feature line (``AVX2 = 1 | AVX512 = 1 | ...``): which kernels ran."""
    import llama_cpp

    raw = llama_cpp.llama_print_system_info()
    return (raw.decode() if isinstance(raw, bytes) else str(raw)).strip()


LOGITS_CHILD = "llmselect.checkpoint._llamacpp_logits"


def logits_in_child(
    path: str | Path,
    prompts: list[str],
    greedy_steps: int = 0,
    n_ctx: int = 128,
    threads: int = 1,
    timeout_s: float = 600,
) -> list[dict[str, Any]]:
    """Per prompt, computed by llama.cpp in a child process: ``tokens`` (the file's own
    tokenization), ``logits`` (float32 numpy array (n_vocab,), next token from an empty context)
    and ``greedy`` (that argmax plus ``greedy_steps`` more through llama.cpp's KV cache). A crash
    in llama.cpp fails this call with one line naming the signal; the caller's process lives."""
    import numpy as np

    require()
    request = {"path": str(path), "prompts": prompts, "greedy_steps": greedy_steps,
               "n_ctx": n_ctx, "threads": threads}  # fmt: skip
    result = run_child(LOGITS_CHILD, json.dumps(request), timeout_s=timeout_s, label=ENGINE)
    if result["status"] != "ok":  # "llama.cpp child died with SIGSEGV", or its exception
        raise LLMSelectError(str(result["error"]))
    for row in result["prompts"]:
        row["logits"] = np.asarray(row["logits"], dtype=np.float32)
    return list(result["prompts"])
