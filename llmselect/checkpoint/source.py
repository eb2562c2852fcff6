"""``ModelSource``: a model as resolved, and the readers of checkpoints on disk or on the hub.

``source_from_path`` reads a local path: a ``.gguf`` file, a ``.safetensors`` file (its shard
set and the ``config.json`` beside it), or a folder holding a ``config.json`` (Hugging Face
layout) or a single ``.gguf`` file. ``source_from_hub`` reads a hub id (``org/name``): the
config, tokenizer, license and safetensors files through ``huggingface_hub``, from the local
cache when ``HF_HUB_OFFLINE=1`` (never the network then). Which of these a typed name means,
beside catalog ids and presets, is decided in one place: ``llmselect.targets``.

A ``ModelSource`` is also a probe target (``id``, ``arch``, ``name``). A checkpoint's ``id``
names the checkpoint itself (file or folder name plus the first 12 hex digits of its sha256), so
its records never land under another model's id. Defects (a path that does not exist, a
truncated file, a folder without config, an unsupported architecture) raise ``LLMSelectError``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from llmselect.errors import LLMSelectError

Kind = Literal["catalog", "preset", "folder", "safetensors", "gguf", "hub"]
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
HUB_PATTERNS = [
    "config.json", "generation_config.json", "*.safetensors", "model.safetensors.index.json",
    "tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
    "README.md", "LICENSE*", "*LICENSE*", "*.txt",
]  # fmt: skip
# What sizing a hub model needs (``catalog add``): its config, never its weights.
HUB_CONFIG_PATTERNS = ["config.json", "hf_quant_config.json", "README.md", "LICENSE*",
                       "*LICENSE*"]  # fmt: skip


@dataclass
class ModelSource:
    """A resolved model: a catalog/preset target or a checkpoint on disk."""

    kind: Kind
    id: str  # noqa: A003 - the record key, like ModelSpec.id
    name: str
    arch: Any = None  # ArchSpec, or None when unknown
    path: Path | None = None  # file or folder on disk (checkpoints)
    hub_id: str | None = None
    weight_files: list[Path] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    spec: Any = None  # the catalog ModelSpec, for catalog ids
    params_b: float | None = None
    # exact counts + cache layout + stored bytes (llmselect.arch.sizing.Sizing): from a catalog
    # entry, or computed by transformers from a config.json the families do not read
    sizing: Any = None

    @property
    def is_checkpoint(self) -> bool:
        return self.kind in ("folder", "safetensors", "gguf", "hub")

    @property
    def has_weights(self) -> bool:
        """A checkpoint with weight files (a folder may hold only config.json and a tokenizer:
        its architecture counts, but it has nothing to hash, load or rank as weights)."""
        return self.kind == "gguf" or (self.is_checkpoint and bool(self.weight_files))

    @cached_property
    def gguf(self) -> Any:
        """The ``GGUFFile`` header (GGUF sources only)."""
        if self.kind != "gguf" or self.path is None:
            return None
        from llmselect.formats.gguf_file import read_gguf

        return read_gguf(self.path)

    @property
    def folder(self) -> Path | None:
        """The folder with the checkpoint's side files (card, LICENSE, tokenizer)."""
        if self.path is None:
            return None
        return self.path if self.path.is_dir() else self.path.parent

    @cached_property
    def sha256(self) -> str:
        """sha256 over the weight files (name and bytes, in name order)."""
        digest = hashlib.sha256()
        for f in sorted(self.weight_files):
            digest.update(f.name.encode())
            with f.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 22), b""):  # noqa: B023
                    digest.update(chunk)
        return digest.hexdigest()

    @property
    def checkpoint_ref(self) -> str:
        """Path or hub id, as the user gave it resolved."""
        return self.hub_id or str(self.path)

    def identity(self) -> dict[str, str]:
        """Params that name the exact checkpoint in every record."""
        if not self.is_checkpoint:
            return {}
        if not self.has_weights:
            return {"checkpoint": self.checkpoint_ref, "checkpoint_weights": "none"}
        out = {"checkpoint": self.checkpoint_ref, "checkpoint_sha256": self.sha256,
               "checkpoint_format": "gguf" if self.kind == "gguf" else "safetensors"}  # fmt: skip
        if self.kind == "gguf":
            out["gguf_file_type"] = str(self.gguf_file_type or "")
        return out

    @property
    def gguf_file_type(self) -> str | None:
        if self.gguf is None:
            return None
        from llmselect.memory.ggml_quant import FTYPE_CODES

        code = self.gguf.metadata.get("general.file_type")
        return FTYPE_CODES.get(int(code)) if code is not None else None

    def rope_scaling(self) -> dict[str, Any] | None:
        from llmselect.arch.readers import gguf_rope_scaling, rope_scaling_of

        if self.kind == "gguf":
            return gguf_rope_scaling(self.gguf)
        return rope_scaling_of(self.config) if self.config else None

    def __repr__(self) -> str:
        return f"ModelSource({self.kind}, {self.id!r})"


def looks_like_path(text: str) -> bool:
    """A path rather than a name: starts like one, has a model-file suffix, or exists."""
    return (
        text.startswith((".", "/", "~"))
        or text.lower().endswith((".gguf", ".safetensors", ".json"))
        or os.sep in text.rstrip(os.sep)
        and Path(text).expanduser().exists()
    )


def _read_config(path: Path) -> dict[str, Any]:
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LLMSelectError(f"{path}: unreadable config.json: {exc}") from exc
    if not isinstance(cfg, dict):
        raise LLMSelectError(f"{path}: config.json is not a JSON object")
    return cfg


def with_side_quant_config(cfg: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``cfg`` with NVIDIA ModelOpt's ``hf_quant_config.json`` (a file beside config.json that
    some quantized checkpoints use instead of ``quantization_config``) merged in."""
    side = folder / "hf_quant_config.json"
    if "quantization_config" in cfg or not side.is_file():
        return cfg
    block = _read_config(side).get("quantization")
    if not isinstance(block, dict):
        raise LLMSelectError(f"{side}: no 'quantization' object")
    return {**cfg, "quantization_config": {"quant_method": "modelopt", **block}}


def _short(sha: str) -> str:
    return sha[:12]


def _from_gguf(path: Path) -> ModelSource:
    from llmselect.arch.readers import arch_from_gguf, reads_gguf_architecture
    from llmselect.formats.gguf_file import read_gguf

    header = read_gguf(path)
    sizing = None
    if reads_gguf_architecture(header.architecture):
        arch = arch_from_gguf(header)
    else:  # any architecture llama.cpp writes: its metadata keys and tensor infos
        from llmselect.arch.gguf_sizing import sizing_from_gguf

        arch, sizing = sizing_from_gguf(header)
    src = ModelSource(kind="gguf", id="", name=path.name, arch=arch, path=path,
                      weight_files=[path], sizing=sizing)  # fmt: skip
    src.__dict__["gguf"] = header
    src.id = f"{path.stem}@{_short(src.sha256)}"
    return src


def _from_hf_folder(folder: Path, files: list[Path] | None, kind: Kind) -> ModelSource:
    from llmselect.arch.hf_sizing import check_not_negative, sizing_from_config
    from llmselect.arch.readers import arch_from_hf_config, reads_model_type
    from llmselect.formats.safetensors_file import read_safetensors_header, safetensors_files

    config_path = folder / "config.json"
    if not config_path.is_file():
        raise LLMSelectError(f"{folder}: no config.json (not a Hugging Face checkpoint folder)")
    cfg = with_side_quant_config(_read_config(config_path), folder)
    check_not_negative(cfg, str(config_path))
    sizing = None
    if reads_model_type(cfg):
        arch = arch_from_hf_config(cfg, str(config_path))
        if cfg.get("quantization_config"):  # its stored format's bytes: transformers' layout
            _, sizing = sizing_from_config(cfg, str(config_path))
    else:  # any model_type transformers knows: its own class, no hand-written family
        arch, sizing = sizing_from_config(cfg, str(config_path))
    weights = files if files is not None else safetensors_files(folder)
    for f in weights:
        read_safetensors_header(f)  # refuses truncated or garbled files now, in one line
    name = folder.name if files is None or len(weights) != 1 else weights[0].name
    src = ModelSource(kind=kind, id="", name=name, arch=arch, path=folder if files is None
                      else weights[0], weight_files=weights, config=cfg,
                      sizing=sizing)  # fmt: skip
    src.id = f"{name}@{_short(src.sha256)}" if weights else name
    return src


def source_from_path(text: str) -> ModelSource:
    """The checkpoint at a local path (file or folder); defects are one-line errors."""
    path = Path(text).expanduser()
    if not path.exists():
        raise LLMSelectError(f"no such file or folder: {path}")
    path = path.resolve()
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".gguf":
            return _from_gguf(path)
        if suffix == ".safetensors":
            from llmselect.formats.safetensors_file import safetensors_files

            return _from_hf_folder(path.parent, safetensors_files(path), "safetensors")
        if path.name == "config.json":
            return _from_hf_folder(path.parent, None, "folder")
        raise LLMSelectError(
            f"{path}: not a model file (expected .gguf, .safetensors or a checkpoint folder)"
        )
    if (path / "config.json").is_file():
        return _from_hf_folder(path, None, "folder")
    ggufs = sorted(path.glob("*.gguf"))
    if len(ggufs) == 1:
        return _from_gguf(ggufs[0])
    if len(ggufs) > 1:
        names = ", ".join(g.name for g in ggufs[:4])
        raise LLMSelectError(f"{path}: several .gguf files ({names}); name one")
    raise LLMSelectError(f"{path}: no config.json and no .gguf file (not a checkpoint folder)")


def source_from_hub(repo_id: str, *, config_only: bool = False) -> ModelSource:
    """Download (or find in the cache) the files of a hub checkpoint (``config_only``: its
    config, card and license, no weights)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    from llmselect.hub import hub_available, offline_reason

    offline = not hub_available()  # HF_HUB_OFFLINE, or a hub that does not answer
    try:
        patterns = HUB_CONFIG_PATTERNS if config_only else HUB_PATTERNS
        folder = snapshot_download(repo_id, allow_patterns=patterns, local_files_only=offline)
    except LocalEntryNotFoundError as exc:
        why = (
            f"not in the local cache, and the hub is not used ({offline_reason()})"
            if offline
            else str(exc)
        )
        raise LLMSelectError(f"hub model {repo_id}: {why}".splitlines()[0]) from exc
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise LLMSelectError(f"hub model {repo_id}: {exc}".splitlines()[0]) from exc
    src = _from_hf_folder(Path(folder), None, "hub")
    src.hub_id = repo_id
    src.name = repo_id
    src.id = f"{repo_id}@{_short(src.sha256)}"
    return src
