"""Running a real checkpoint: its weights in the reference decoders, the same weights in
transformers, and the logits check between the two that every checkpoint measurement includes.

Used inside the measurement child process (``probes/_latency_worker``); imports torch.

* GGUF: dequantized with the ``gguf`` package (``gguf_weights``) into transformers names, then
  copied into ``llmselect.refmodels`` (``load_hf_state_dict``);
* safetensors: ``load_safetensors_checkpoint``, one shard at a time.

The reference model is built from the checkpoint's own architecture numbers (``rms_norm_eps``,
RoPE theta); RoPE scaling is not implemented by the reference decoders and is refused.
The transformers side reads its configuration from the checkpoint itself (``AutoConfig``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmselect.errors import LLMSelectError

CHECK_PROMPT_TOKENS = 24
# Tolerances of the logits check: fp32 as the parity tests; half precision relative to the
# logit range (rounding of 16-bit activations over dozens of layers).
FP32_ATOL = 1e-4
HALF_RTOL_OF_RANGE = 0.02


def hf_state_dict(spec: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's weights under transformers names (fp32 for GGUF, stored dtype else)."""
    path = Path(spec["checkpoint"])
    if spec.get("checkpoint_format") == "gguf":
        from llmselect.checkpoint.gguf_weights import load_gguf_state_dict
        from llmselect.formats.gguf_file import read_gguf

        return load_gguf_state_dict(read_gguf(path))
    from safetensors.torch import load_file

    from llmselect.formats.safetensors_file import safetensors_files

    out: dict[str, Any] = {}
    for f in safetensors_files(path):
        out.update(load_file(str(f)))
    return out


def load_reference(spec: dict[str, Any], torch_dtype: Any, device: str) -> Any:
    """The reference decoder holding the checkpoint's real weights."""
    from llmselect.arch.spec import ArchSpec
    from llmselect.refmodels import build_model, load_hf_state_dict, load_safetensors_checkpoint

    if spec.get("rope_scaling"):
        raise LLMSelectError(
            f"RoPE scaling {spec['rope_scaling']} is not in the reference decoders; "
            "measure with --engine transformers"
        )
    arch = ArchSpec.model_validate(spec["arch"])
    if spec.get("checkpoint_format") == "gguf":
        sd = hf_state_dict(spec)
        model = build_model(arch, dtype=torch_dtype, device=device, seed=None)
        load_hf_state_dict(model, sd)
        del sd
        return model.eval()
    return load_safetensors_checkpoint(spec["checkpoint"], arch, dtype=torch_dtype,
                                       device=device).eval()  # fmt: skip


def transformers_model(spec: dict[str, Any], torch_dtype: Any, device: str) -> Any:
    """transformers' model for the same checkpoint, with the same weights."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    path = Path(spec["checkpoint"])
    if spec.get("checkpoint_format") == "gguf":
        config = AutoConfig.from_pretrained(str(path.parent), gguf_file=path.name)
        model = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
        sd = hf_state_dict(spec)
        with torch.no_grad():
            missing, unexpected = model.load_state_dict(sd, strict=False)
        if unexpected or [m for m in missing if m != "lm_head.weight"]:
            raise LLMSelectError(f"transformers model does not take the weights: {missing[:3]}")
        model.tie_weights()
        return model.to(device).eval()
    folder = path if path.is_dir() else path.parent
    model = AutoModelForCausalLM.from_pretrained(
        str(folder), dtype=torch_dtype, use_safetensors=True, trust_remote_code=False
    )
    return model.to(device).eval()


def check_logits(model: Any, spec: dict[str, Any], torch_dtype: Any, device: str) -> dict[str, Any]:
    """Compare the reference model's logits with transformers' on the same weights and prompt,
    full sequence and one cached decode step. Returns the max abs difference and the verdict."""
    import torch

    vocab = int(spec["arch"]["vocab"])
    gen = torch.Generator(device="cpu").manual_seed(1234)
    ids = torch.randint(0, vocab, (1, CHECK_PROMPT_TOKENS), generator=gen).to(device)
    hf = transformers_model(spec, torch_dtype, device)
    with torch.inference_mode():
        ours_full, _ = model(ids)
        theirs_full = hf(input_ids=ids).logits
        ours_pre, cache = model(ids[:, :-1])
        ours_step, _ = model(ids[:, -1:], cache=cache)
    diff = max(
        (ours_full.float() - theirs_full.float()).abs().max().item(),
        (ours_step[:, -1].float() - theirs_full[:, -1].float()).abs().max().item(),
    )
    half = torch_dtype != torch.float32
    span = (theirs_full.float().max() - theirs_full.float().min()).item()
    tol = HALF_RTOL_OF_RANGE * span if half else FP32_ATOL
    del hf
    return {
        "logits_max_abs_diff": diff,
        "logits_tolerance": tol,
        "logits_match": diff <= tol,
        "logits_prompt_tokens": CHECK_PROMPT_TOKENS,
        "logits_oracle": "transformers",
    }
