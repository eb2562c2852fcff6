"""A GGUF file in llama.cpp (through ``llama-cpp-python``, the optional ``llamacpp`` extra).

The engine people run on laptops: the file's own quantized tensors, ggml's CPU kernels, the
weights memory-mapped from the file. ``_llamacpp_worker`` times it on the same points as the
reference decoders; tests compare its next-token logits with ``llmselect.refmodels`` on the
same weights. Nothing here imports torch.

Threads are pinned through both of llama.cpp's knobs: ``n_threads`` (decode) and
``n_threads_batch`` (prompt processing).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

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


def open_model(path: str | Path, n_ctx: int, threads: int, n_batch: int = 512) -> Any:
    """The file loaded as llama.cpp loads it by default (mmap, no mlock), CPU only, with the
    thread count pinned for prompt processing and decoding alike."""
    from llama_cpp import Llama

    return Llama(
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
    )


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
