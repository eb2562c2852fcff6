#!/usr/bin/env bash
# Full set-up and the default test tier (includes the checks on real tokenizers and data
# under $LLMSELECT_DATA_ROOT).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh all
.venv/bin/ruff check llmselect tests benchmarks
.venv/bin/ruff format --check llmselect tests benchmarks
.venv/bin/python -m pytest "$@"
