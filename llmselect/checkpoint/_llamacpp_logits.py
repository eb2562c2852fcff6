"""Child process of ``llamacpp.logits_in_child``: next-token logits of prompts in llama.cpp.

Run as ``python -m llmselect.checkpoint._llamacpp_logits REQUEST.json RESULT.json``. llama.cpp is
native code: run here, a crash in it (a signal) ends this child, and the parent reports it as one
error naming the signal instead of losing its own process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def compute(request: dict[str, Any]) -> dict[str, Any]:
    """Per prompt: llama.cpp's tokens from the file's own vocabulary, the next-token logits from
    an empty context, and the greedy tokens continued through llama.cpp's KV cache."""
    from llmselect.checkpoint import llamacpp as engine

    llm = engine.open_model(request["path"], n_ctx=request["n_ctx"], threads=request["threads"])
    out = []
    for prompt in request["prompts"]:
        tokens = llm.tokenize(prompt.encode(), add_bos=False, special=False)
        logits = engine.next_token_logits(llm, tokens)
        greedy = [int(logits.argmax())]
        for _ in range(request["greedy_steps"]):
            llm.eval([greedy[-1]])
            greedy.append(int(engine.last_logits(llm).argmax()))
        out.append({"tokens": tokens, "logits": logits.tolist(), "greedy": greedy})
    llm.close()
    return {"prompts": out, **engine.version_info(), "ggml_system_info": engine.system_info()}


def main(argv: list[str]) -> int:
    """``REQUEST.json RESULT.json``; an exception is written as one line, exit 3."""
    request = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    try:
        result = {"status": "ok", **compute(request)}
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        result = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:500]}
    Path(argv[2]).write_text(json.dumps(result), encoding="utf-8")
    return 0 if result["status"] == "ok" else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv))
