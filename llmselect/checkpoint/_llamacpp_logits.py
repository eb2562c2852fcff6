"""Child process of ``llamacpp.logits_in_child``: next-token logits of prompts in llama.cpp.

Run as ``python -m llmselect.checkpoint._llamacpp_logits REQUEST.json RESULT.json`` (the workers'
contract, ``llmselect.childproc``). llama.cpp is native code: run here, a crash in it (a signal)
ends this child, and the parent reports it as one error naming the signal instead of losing its
own process.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from llmselect.childproc import serve


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
    """``REQUEST.json RESULT.json`` through the workers' contract (``childproc.serve``)."""
    return serve(argv, json.loads, lambda request: {"status": "ok", **compute(request)})


if __name__ == "__main__":
    sys.exit(main(sys.argv))
