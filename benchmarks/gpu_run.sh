#!/usr/bin/env bash
# One prepared GPU run (see benchmarks/gpu_run.py): LLaMA-family 0.5B-8B, bf16, prefill 512/2048,
# decode 128, reference and transformers engines; writes reports/perf/<date>-<gpu>/.
# Run from the repository root on a machine with one GPU: bash benchmarks/gpu_run.sh
# On a CPU: bash benchmarks/gpu_run.sh --dry-run --out /tmp/gpu-dry-run
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python
export PYTHONPATH="${PYTHONPATH:-$PWD}"
exec "$PY" benchmarks/gpu_run.py "$@"
