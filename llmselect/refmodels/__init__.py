"""Readable PyTorch reference decoders, one file per family, built from a catalog ``ArchSpec``.

Families: ``gpt2`` (gpt2.py), ``llama`` (llama.py: Llama-2/3, Mistral, Qwen2, Yi, InternLM2,
DeepSeek, Baichuan2-7B), ``glm`` (glm.py: ChatGLM2/3, GLM-4), ``bloom`` (bloom.py). Their logits
match transformers' implementations on identical weights (tests/refmodels/).

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

    from llmselect.catalog import ArchSpec
    from llmselect.refmodels.common import DecoderLM

__all__ = ["build_model", "load_hf_state_dict", "load_safetensors_checkpoint"]

FAMILIES = ("gpt2", "llama", "glm", "bloom")


def _config(arch: ArchSpec):  # type: ignore[no-untyped-def]
    """The family's config dataclass from the catalog numbers."""
    hd = arch.head_size
    if arch.family == "gpt2":
        from llmselect.refmodels.gpt2 import GPT2Config

        if arch.max_position is None:
            raise LLMSelectError("gpt2 family needs arch.max_position (learned position table)")
        if arch.kv_heads != arch.heads or hd * arch.heads != arch.hidden:
            raise LLMSelectError("gpt2 family needs kv_heads == heads and head_dim == hidden/heads")
        return GPT2Config(
            vocab=arch.vocab,
            hidden=arch.hidden,
            layers=arch.layers,
            heads=arch.heads,
            intermediate=arch.intermediate,
            max_position=arch.max_position,
            tied_embeddings=arch.tied_embeddings,
            norm_eps=arch.norm_eps,
            post_ln=arch.post_ln,
        )
    if arch.family == "bloom":
        from llmselect.refmodels.bloom import BloomConfig

        if arch.kv_heads != arch.heads or hd * arch.heads != arch.hidden:
            raise LLMSelectError("bloom family needs kv_heads == heads, head_dim == hidden/heads")
        return BloomConfig(
            vocab=arch.vocab,
            hidden=arch.hidden,
            layers=arch.layers,
            heads=arch.heads,
            intermediate=arch.intermediate,
            tied_embeddings=arch.tied_embeddings,
            norm_eps=arch.norm_eps,
        )
    if arch.family in ("llama", "glm"):
        from llmselect.refmodels.llama import LlamaConfig

        rotary_dim = int(hd * arch.rope_fraction)
        if rotary_dim % 2 or not 0 < rotary_dim <= hd:
            raise LLMSelectError(f"rope_fraction {arch.rope_fraction} gives odd rotary dim")
        return LlamaConfig(
            vocab=arch.vocab,
            hidden=arch.hidden,
            layers=arch.layers,
            heads=arch.heads,
            kv_heads=arch.kv_heads,
            head_dim=hd,
            intermediate=arch.intermediate,
            rope_theta=arch.rope_theta or 10000.0,
            rotary_dim=rotary_dim,
            rope_interleaved=arch.family == "glm",
            qkv_bias=arch.qkv_bias,
            mlp_bias=arch.mlp_bias,
            tied_embeddings=arch.tied_embeddings,
            norm_eps=arch.norm_eps,
            sliding_window=arch.sliding_window,
        )
    raise LLMSelectError(
        f"no reference implementation for family {arch.family!r} (have: {', '.join(FAMILIES)})"
    )


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

    cfg = _config(arch)
    with torch.device("meta"), _no_default_init():
        if arch.family == "gpt2":
            from llmselect.refmodels.gpt2 import GPT2

            model: DecoderLM = GPT2(cfg)
        elif arch.family == "bloom":
            from llmselect.refmodels.bloom import Bloom

            model = Bloom(cfg)
        elif arch.family == "glm":
            from llmselect.refmodels.glm import GLMTransformer

            model = GLMTransformer(cfg)
        else:
            from llmselect.refmodels.llama import Transformer

            model = Transformer(cfg)
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


def _converter(family: str):  # type: ignore[no-untyped-def]
    if family == "gpt2":
        from llmselect.refmodels.gpt2 import convert_hf_state_dict
    elif family == "bloom":
        from llmselect.refmodels.bloom import convert_hf_state_dict
    elif family == "glm":
        from llmselect.refmodels.glm import convert_hf_state_dict
    elif family == "llama":
        from llmselect.refmodels.llama import convert_hf_state_dict
    else:
        raise LLMSelectError(f"no weight mapping for family {family!r}")
    return convert_hf_state_dict


def _copy_in(model: DecoderLM, hf_state_dict: dict[str, torch.Tensor]) -> set[str]:
    """Copy the tensors of one (partial) HF state dict into ``model``; return the names filled."""
    import torch

    ours, unknown = _converter(model.family)(hf_state_dict, model.cfg)
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
