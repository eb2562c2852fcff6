"""tokenizers.yaml against the data bundle's MANIFEST.json: ids, folders, files, hashes, names."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from llmselect.errors import LLMSelectError
from llmselect.tokenizers.resolve import resolve_files
from llmselect.tokenizers.spec import resolve_tokenizer_names

REQUIRED_IDS = {
    "llama2", "chatglm3", "chatglm2", "bloom", "qwen", "qwen2", "baichuan2", "yi", "internlm",
    "internlm2", "chinese-llama-2", "mistral", "llama3", "gpt2", "gpt-neox", "glm4", "aquila",
    "deepseek-coder", "falcon", "baichuan", "deepseek-llm", "phi-3", "mpt", "starcoder",
    "deepseek-v3", "llama4", "gemma2", "gemma3", "gemma4", "minicpm3", "mistral-tekken", "qwen3",
    "qwen3.5", "deepseek-v4", "gpt-oss",
}  # fmt: skip


def _manifest_files(manifest: dict) -> dict[tuple[str, str], dict]:
    """(folder, file) → manifest file entry, for families and GGUF entries."""
    out = {}
    for fam in manifest["families"]:
        for f in fam["files"]:
            out[(fam["folder"], f["file"])] = f
    for entry in manifest["gguf"]["entries"]:
        for f in entry["files"]:
            out[(manifest["gguf"]["folder"], f["file"])] = f
    return out


def test_ids_are_exactly_the_promised_families(catalog) -> None:
    assert {s.id for s in catalog} == REQUIRED_IDS


def test_every_manifest_family_is_in_the_catalog(catalog, manifest) -> None:
    ids = {s.id for s in catalog}
    assert {fam["family"] for fam in manifest["families"]} <= ids


def test_files_exist_match_manifest_and_hash(catalog, manifest, tokenizers_root: Path) -> None:
    known = _manifest_files(manifest)
    for spec in catalog:
        for name in (*spec.files, *spec.optional_files):
            path = tokenizers_root / spec.folder / name
            assert path.is_file(), f"{spec.id}: {path} missing"
            entry = known.get((spec.folder, name))
            assert entry is not None, f"{spec.id}: {spec.folder}/{name} not in MANIFEST.json"
            assert path.stat().st_size == entry["size"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]


def test_catalog_licenses_and_kinds_follow_manifest(catalog, manifest) -> None:
    fams = {f["family"]: f for f in manifest["families"]}
    ggufs = {e["files"][0]["file"]: e for e in manifest["gguf"]["entries"]}
    for spec in catalog:
        if spec.kind == "gguf":
            assert spec.license == ggufs[spec.files[0]]["license"]
        else:
            assert spec.license == fams[spec.id]["license"]
            # Qwen3 ships no BPE of its own: it reads Qwen2.5's files (MANIFEST says so).
            shared = spec.options.get("shares_files_of")
            assert spec.folder == fams[str(shared) if shared else spec.id]["folder"]
        assert spec.hub_repo and spec.source


def test_aliases_and_checkpoint_ids_resolve(catalog) -> None:
    pairs = resolve_tokenizer_names(["Llama-2", "chatglm-3", "llama2"])
    assert [s.id for _, s in pairs] == ["llama2", "chatglm3"]
    # A checkpoint id from the model catalog maps to its tokenizer family.
    from llmselect.catalog import load_catalog

    models = [m for m in load_catalog() if m.tokenizer and catalog.find(m.tokenizer)]
    if models:
        model = models[0]
        [(asked, spec)] = resolve_tokenizer_names([model.id])
        assert asked == model.id and spec.id == catalog.get(model.tokenizer).id


def test_unknown_name_suggests(catalog) -> None:
    with pytest.raises(LLMSelectError, match="did you mean.*chatglm3"):
        resolve_tokenizer_names(["chatglm4"])


def test_missing_files_name_every_location(catalog, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LLMSELECT_DATA_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(LLMSelectError) as exc:
        resolve_files(catalog.get("llama2"), tmp_path)
    msg = str(exc.value)
    assert "\n" not in msg
    for part in ("--tokenizer-dir", "LLMSELECT_DATA_ROOT", "Hugging Face cache", "offline"):
        assert part in msg
    with pytest.raises(LLMSelectError, match="not a folder"):
        resolve_files(catalog.get("llama2"), tmp_path / "nope")


def test_hf_cache_layout_is_used(catalog, tmp_path: Path, monkeypatch, tokenizers_root) -> None:
    """A file in the Hugging Face cache layout is found without the data root or network."""
    cache = tmp_path / "hf"
    snap = cache / "models--THUDM--chatglm3-6b" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "tokenizer.model").symlink_to(tokenizers_root / "chatglm3" / "tokenizer.model")
    refs = cache / "models--THUDM--chatglm3-6b" / "refs"
    refs.mkdir()
    (refs / "main").write_text("abc123")
    monkeypatch.delenv("LLMSELECT_DATA_ROOT", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache))
    resolved = resolve_files(catalog.get("chatglm3"))
    assert resolved.paths["tokenizer.model"].name == "tokenizer.model"
    assert "cache" in resolved.origin
