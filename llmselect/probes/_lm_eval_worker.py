"""Child process of ``lm_eval_scores`` with the llama.cpp engine: spec JSON in (the GGUF file,
the probe's config, the data folder), lm-eval's results JSON out (``childproc`` contract).

Run as ``python -m llmselect.probes._lm_eval_worker SPEC.json RESULT.json``; llama.cpp loads
only here, never in the process that runs the probe.
"""

from __future__ import annotations

import json
import sys

from llmselect.childproc import serve
from llmselect.probes.lm_eval_scores import score_gguf

if __name__ == "__main__":
    raise SystemExit(serve(sys.argv, json.loads, score_gguf))
