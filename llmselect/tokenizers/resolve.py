"""Find a family's files: ``--tokenizer-dir`` → data root → Hugging Face cache → hub.

The first location holding every required file wins; optional files are taken from the same
place. A ``--tokenizer-dir`` that holds some of a family's files (or its folder) but not all is
an error, never a silent fall back to the data root's files. The hub is used only when not
offline (``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE``). When nothing works, one
``LLMSelectError`` lists every location tried and why it failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from llmselect.config import DATA_ROOT_ENV, data_subdir
from llmselect.errors import LLMSelectError
from llmselect.hub import hub_available, offline_reason
from llmselect.tokenizers.spec import TokenizerSpec


@dataclass(frozen=True)
class ResolvedFiles:
    """Where a family's files were found."""

    paths: dict[str, Path]
    origin: str
    tried: list[str] = field(default_factory=list)


def check_tokenizer_dir(tokenizer_dir: Path | None) -> None:
    """An explicit ``--tokenizer-dir`` must exist."""
    if tokenizer_dir is not None and not Path(tokenizer_dir).is_dir():
        raise LLMSelectError(f"--tokenizer-dir {tokenizer_dir} is not a folder")


def _from_folder(spec: TokenizerSpec, folder: Path) -> dict[str, Path] | str:
    missing = [f for f in spec.files if not (folder / f).is_file()]
    if missing:
        return f"{folder} (missing {', '.join(missing)})"
    paths = {f: folder / f for f in spec.files}
    paths.update({f: folder / f for f in spec.optional_files if (folder / f).is_file()})
    return paths


def _meant_for(spec: TokenizerSpec, folder: Path, tokenizer_dir: Path | None) -> bool:
    """The folder was given for this family: its own subfolder, or it holds one of its files."""
    if tokenizer_dir is not None and folder == Path(tokenizer_dir) / spec.folder:
        return folder.is_dir()
    return any((folder / f).is_file() for f in (*spec.files, *spec.optional_files))


def _each_file(
    spec: TokenizerSpec, fetch: Callable[[str, str | None], Path | str]
) -> dict[str, Path] | str:
    """``fetch(name, hub name)`` for each of the family's files: the paths it found, or what it
    said of the first required file it did not find (a missing optional file is left out)."""
    paths: dict[str, Path] = {}
    for name in (*spec.files, *spec.optional_files):
        got = fetch(name, spec.hub_path(name))
        if isinstance(got, Path):
            paths[name] = got
        elif name in spec.files:
            return got
    return paths


def _from_hf_cache(spec: TokenizerSpec) -> dict[str, Path] | str:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return "Hugging Face cache (huggingface_hub not installed)"

    def cached(name: str, hub_name: str | None) -> Path | str:
        found = try_to_load_from_cache(spec.hub_repo, hub_name) if hub_name else None
        if isinstance(found, str):
            return Path(found)
        return f"Hugging Face cache {spec.hub_repo} (no {hub_name or name})"

    return _each_file(spec, cached)


def _from_hub(spec: TokenizerSpec) -> dict[str, Path] | str:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        return "Hugging Face hub (huggingface_hub not installed)"

    def downloaded(name: str, hub_name: str | None) -> Path | str:
        try:
            return Path(hf_hub_download(spec.hub_repo, hub_name))  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - network, auth and 404 errors all mean "not here"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return f"Hugging Face hub {spec.hub_repo}/{hub_name} ({first})"

    return _each_file(spec, downloaded)


def _hugging_face(
    spec: TokenizerSpec, tried: list[str]
) -> Iterator[tuple[str, Callable[[TokenizerSpec], dict[str, Path] | str]]]:
    """The cache, then the hub, as each comes up: the hub is asked whether it answers only
    once the cache has failed. Why one is not looked in goes to ``tried``."""
    if not spec.hub_repo or not any(spec.hub_path(f) for f in spec.files):
        tried.append(f"Hugging Face cache/hub (no {spec.kind} files published for {spec.id})")
        return
    yield "Hugging Face cache", _from_hf_cache
    if hub_available():
        yield "Hugging Face hub", _from_hub
    else:
        tried.append(f"Hugging Face hub {spec.hub_repo} (skipped: {offline_reason()})")


def resolve_files(spec: TokenizerSpec, tokenizer_dir: Path | None = None) -> ResolvedFiles:
    """The family's files from the first location that has them all."""
    tried: list[str] = []
    folders: list[tuple[str, Path]] = []
    if Path(spec.folder).is_absolute():  # a checkpoint's own folder (llmselect.checkpoint)
        folders.append(("checkpoint", Path(spec.folder)))
    if tokenizer_dir is not None:
        check_tokenizer_dir(tokenizer_dir)
        base = Path(tokenizer_dir)
        folders += [("--tokenizer-dir", base / spec.folder), ("--tokenizer-dir", base)]
    root = data_subdir("tokenizers")
    if root is not None:
        folders.append((DATA_ROOT_ENV, root / spec.folder))
    else:
        tried.append(f"{DATA_ROOT_ENV} (not set)")
    for label, folder in folders:
        got = _from_folder(spec, folder)
        if isinstance(got, dict):
            return ResolvedFiles(got, f"{label} {folder}", tried)
        if label == "--tokenizer-dir" and _meant_for(spec, folder, tokenizer_dir):
            # Files the user pointed at are used or refused, never swapped for other ones.
            needs = ", ".join(spec.files)
            raise LLMSelectError(f"--tokenizer-dir: {got}; {spec.id} needs {needs}")
        tried.append(f"{label} {got}")
    for where, find in _hugging_face(spec, tried):
        got = find(spec)
        if isinstance(got, dict):
            return ResolvedFiles(got, f"{where} {spec.hub_repo}", tried)
        tried.append(got)
    raise LLMSelectError(
        f"tokenizer files for {spec.id} ({', '.join(spec.files)}) not found; tried: "
        + "; ".join(tried)
    )


def resolve_all(specs: list[TokenizerSpec], tokenizer_dir: Path | None) -> list[ResolvedFiles]:
    """``resolve_files`` for several families at once. Files lying in ``--tokenizer-dir``
    itself (not in its ``<family>/`` folders) serve any family whose file names they match: one
    ``tokenizer.model`` would be measured as Llama 2 and as ChatGLM3, so a file taken by two
    families is an error naming both."""
    resolved = [resolve_files(spec, tokenizer_dir) for spec in specs]
    if tokenizer_dir is None:
        return resolved
    users: dict[Path, list[str]] = {}
    for spec, found in zip(specs, resolved, strict=True):
        for path in found.paths.values():
            if path.parent == Path(tokenizer_dir) and spec.id not in users.get(path, []):
                users.setdefault(path, []).append(spec.id)
    for path, ids in users.items():
        if len(ids) > 1:
            raise LLMSelectError(
                f"--tokenizer-dir: {path} would be measured as {' and '.join(ids)}; put each "
                f"family's files in {tokenizer_dir}/<family>/ ("
                + ", ".join(f"{x}/" for x in ids)
                + ") or name one of them"
            )
    return resolved
