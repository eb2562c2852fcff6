"""Readable PyTorch reference decoders, one file per family, built from a catalog ``ArchSpec``.

Families: ``gpt2``, ``llama`` (Llama-2/3, Mistral, Qwen2/3, Yi, InternLM2, DeepSeek, Baichuan2-7B),
``glm`` (ChatGLM2/3, GLM-4), ``bloom``, ``moe`` (Mixtral, Qwen-MoE); registered in
``llmselect.registry.FAMILIES``. Their logits match transformers' implementations on identical
weights (tests/refmodels/). ``gemma`` and ``deepseek`` (latent attention) are registered for
the estimator only: counted and sized, no model to build yet.

A family is ``<family>.py``, a torch-free ``FAMILY`` (``family.Family``: traits, config builder,
parameter count, and the paths of its model class and weight converter), plus, when it brings
its own layers, ``<family>_model.py`` with the nanoGPT-style PyTorch code. The split keeps
``perf estimate`` and ``recommend`` free of torch. A family that reuses existing layers (as GLM
reuses LLaMA's decoder) is one file and one ``FAMILIES`` line. Each model file is
self-contained on purpose: GPT-2 and BLOOM repeat their small attention/MLP blocks so that each
reads on its own, as nanoGPT's ``model.py`` does.

One call contract for every family::

    model = build_model(arch, dtype=torch.bfloat16, device="cuda", seed=0)
    logits, cache = model(input_ids)                        # prefill: (B, T, V)
    logits, cache = model(next_ids, cache=cache)            # decode, reusing the cache
    logits, cache = model(input_ids, logits_to_keep=1)      # prefill as serving does: (B, 1, V)

``attention_mask`` (B, past + T), 1 = token and 0 = padding, is optional; with left padding,
positions are counted over real tokens. ``cache=None`` makes a fresh cache sized to the prompt
that grows as needed; ``model.new_cache(batch, max_len)`` pre-allocates it instead.

Weights: ``build_model`` draws random ones (GPT-2's init scheme, directly on the target
device and dtype); ``load_hf_state_dict`` copies a transformers state dict in;
``load_safetensors_checkpoint`` reads a real checkpoint (safetensors only, never pickle).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from llmselect.errors import LLMSelectError

if TYPE_CHECKING:
    import torch

    from llmselect.arch.family import Family
    from llmselect.arch.spec import ArchSpec
    from llmselect.refmodels.common import DecoderLM

__all__ = ["build_model", "load_hf_state_dict", "load_safetensors_checkpoint"]


def _family(arch: ArchSpec) -> Family:
    from llmselect.arch.family import family

    return family(arch.family)


def _config(arch: ArchSpec):  # type: ignore[no-untyped-def]
    """The family's config dataclass from the catalog numbers."""
    return _family(arch).build_config(arch)


@contextmanager
def _no_default_init() -> Iterator[None]:
    """Skip the default init ``nn`` modules draw at construction. On the meta device it is
    thrown away by ``to_empty`` anyway, and torch's meta ``normal_`` imports ``torch._dynamo``
    (seconds per process, most of a small model's build)."""
    import torch

    saved = {name: getattr(torch.nn.init, name) for name in _TORCH_INITS}
    try:
        for name in _TORCH_INITS:
            setattr(torch.nn.init, name, _keep)
        yield
    finally:
        for name, fn in saved.items():
            setattr(torch.nn.init, name, fn)


_TORCH_INITS = (
    "normal_", "uniform_", "kaiming_uniform_", "kaiming_normal_", "trunc_normal_",
    "xavier_uniform_", "xavier_normal_", "zeros_", "ones_", "constant_",
)  # fmt: skip


def _keep(tensor: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
    return tensor


def _empty_model(arch: ArchSpec, dtype: torch.dtype, device: torch.device | str) -> DecoderLM:
    """The model with uninitialised storage on ``device``: built on the meta device, then
    materialised, so no fp32 CPU copy of a multi-billion-parameter model is ever made."""
    import torch

    fam = _family(arch)
    cfg = fam.build_config(arch)
    with torch.device("meta"), _no_default_init():
        model: DecoderLM = fam.model_class()(cfg)
    model = model.to(dtype=dtype)
    model = model.to_empty(device=device)
    return model.eval()


def build_model(
    arch: ArchSpec,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str = "cpu",
    seed: int | None = 0,
    tiled_init: bool = False,
) -> DecoderLM:
    """A random-weight reference model for ``arch`` (eval mode), on ``device`` in ``dtype``.

    ``dtype`` defaults to float32. ``seed`` fixes the random weights (None: unseeded).
    ``tiled_init`` fills the weights by repeating one random block (see
    ``DecoderLM.init_weights``): same speed and memory, a fraction of the build time.
    """
    import torch

    model = _empty_model(arch, dtype or torch.float32, device)
    model.init_weights(seed, tiled=tiled_init)
    return model


def _copy_in(model: DecoderLM, hf_state_dict: dict[str, torch.Tensor]) -> set[str]:
    """Copy the tensors of one (partial) HF state dict into ``model``; return the names filled."""
    import torch

    from llmselect.arch.family import family

    ours, unknown = family(model.family).convert(hf_state_dict, model.cfg)
    params = dict(model.named_parameters())
    extra = sorted(set(ours) - set(params))
    if unknown or extra:
        what = f"unrecognised checkpoint tensors {unknown[:3]}" if unknown else ""
        what += f" mapped names the model lacks {extra[:3]}" if extra else ""
        raise LLMSelectError(f"{model.family} weights do not fit: {what.strip()}")
    with torch.no_grad():
        for name, src in ours.items():
            param = params[name]
            if tuple(src.shape) != tuple(param.shape):
                raise LLMSelectError(
                    f"{name}: checkpoint shape {tuple(src.shape)} != model {tuple(param.shape)}"
                )
            param.copy_(src)
    return set(ours)


def _check_complete(model: DecoderLM, filled: set[str]) -> None:
    missing = sorted({name for name, _ in model.named_parameters()} - filled)
    if missing:
        raise LLMSelectError(
            f"{model.family} weights do not fit: model parameters not in the checkpoint "
            f"{missing[:3]} ({len(missing)} in all)"
        )


def load_hf_state_dict(model: DecoderLM, hf_state_dict: dict[str, torch.Tensor]) -> DecoderLM:
    """Copy transformers-named weights into ``model`` (renaming, unfusing, transposing).

    Every parameter of the model must be filled and every HF weight placed; otherwise this
    raises LLMSelectError naming the first few offenders. Tensors are cast to the model's dtype.
    """
    _check_complete(model, _copy_in(model, hf_state_dict))
    return model


def _safetensors_files(path: Path) -> list[Path]:
    """The shard files of a checkpoint: a single file, or a folder (index json if present)."""
    if path.is_file():
        if path.suffix != ".safetensors":
            raise LLMSelectError(f"{path}: only .safetensors checkpoints are read (never pickle)")
        return [path]
    if not path.is_dir():
        raise LLMSelectError(f"checkpoint not found: {path}")
    index = path / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError) as exc:
            raise LLMSelectError(f"{index}: unreadable index: {exc}") from exc
        return [path / name for name in sorted(set(weight_map.values()))]
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise LLMSelectError(f"{path}: no .safetensors files (pickled .bin files are refused)")
    return files


def load_safetensors_checkpoint(
    path_or_dir: str | Path,
    arch: ArchSpec,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str = "cpu",
) -> DecoderLM:
    """A reference model for ``arch`` holding the weights of a local safetensors checkpoint.

    Reads a ``.safetensors`` file or a folder of shards (HF names; for GLM also the original
    ChatGLM names). Each shard is loaded straight to ``device`` and copied in before the next.
    """
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    files = _safetensors_files(Path(path_or_dir))
    model = _empty_model(arch, dtype or torch.float32, device)
    filled: set[str] = set()
    for file in files:  # one shard in memory at a time
        try:
            shard = load_file(str(file), device=str(device))
        except (OSError, SafetensorError) as exc:
            raise LLMSelectError(f"{file}: cannot read safetensors: {exc}") from exc
        filled |= _copy_in(model, shard)
        del shard
    _check_complete(model, filled)
    return model
