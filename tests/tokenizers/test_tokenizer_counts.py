"""Token counts of every family and every GGUF file against MANIFEST.json, and the test
vectors: llama.cpp's .inp/.out ids and transformers' BLOOM ids (from the bundle's README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmselect.tokenizers.gguf_fmt import load_gguf

SEPARATOR = "\n__ggml_vocab_test__\n"


def _vectors(gguf_dir: Path, name: str) -> list[tuple[str, list[int]]]:
    texts = (gguf_dir / f"ggml-vocab-{name}.gguf.inp").read_text(encoding="utf-8").split(SEPARATOR)
    outs = (gguf_dir / f"ggml-vocab-{name}.gguf.out").read_text(encoding="utf-8").splitlines()
    assert len(outs) == 46 and len(texts) >= 46
    return [(t, [int(x) for x in o.split()]) for t, o in zip(texts, outs, strict=False)]


def test_every_family_matches_manifest_counts(catalog, manifest, load_family) -> None:
    zh, en = manifest["test_sentences"]["zh"], manifest["test_sentences"]["en"]
    fams = {f["family"]: f["verified"] for f in manifest["families"]}
    ggufs = {
        e["files"][0]["file"]: e["verified"] for e in manifest["gguf"]["entries"] if "verified" in e
    }
    for spec in catalog:
        verified = ggufs[spec.files[0]] if spec.kind == "gguf" else fams[spec.id]
        tok = load_family(spec.id)
        assert len(tok.encode(zh)) == verified["tokens_zh"], spec.id
        assert len(tok.encode(en)) == verified["tokens_en"], spec.id
        assert tok.vocab_size == verified.get("vocab_size_base", verified["vocab_size"]), spec.id


@pytest.fixture(scope="session")
def all_ggufs(manifest, tokenizers_root: Path, catalog, load_family) -> dict[str, object]:
    """Every GGUF file in the bundle (also those outside the catalog), rebuilt once."""
    gguf_dir = tokenizers_root / manifest["gguf"]["folder"]
    in_catalog = {s.files[0]: s.id for s in catalog if s.kind == "gguf"}
    out = {}
    for entry in manifest["gguf"]["entries"]:
        name = entry["files"][0]["file"]
        if name in in_catalog:
            out[entry["name"]] = load_family(in_catalog[name])
        elif name.endswith(".gguf"):
            out[entry["name"]] = load_gguf(entry["name"], {name: gguf_dir / name}, name)
    assert len(out) == 12
    return out


def test_every_gguf_entry_matches_manifest_counts(manifest, all_ggufs) -> None:
    zh, en = manifest["test_sentences"]["zh"], manifest["test_sentences"]["en"]
    for entry in manifest["gguf"]["entries"]:
        if entry["name"] not in all_ggufs:
            continue
        tok, verified = all_ggufs[entry["name"]], entry["verified"]
        assert len(tok.encode(zh)) == verified["tokens_zh"], entry["name"]
        assert len(tok.encode(en)) == verified["tokens_en"], entry["name"]
        assert tok.vocab_size == verified["vocab_size"] == entry["gguf_metadata"]["n_tokens"]


def test_gguf_llama_cpp_vectors(manifest, all_ggufs, tokenizers_root: Path) -> None:
    gguf_dir = tokenizers_root / "gguf"
    checked = 0
    for name, tok in all_ggufs.items():
        if not (gguf_dir / f"ggml-vocab-{name}.gguf.out").is_file():
            continue
        for text, ids in _vectors(gguf_dir, name):
            assert tok.encode(text) == ids, (name, text)
        checked += 1
    assert checked == 10


@pytest.mark.parametrize(
    ("family", "vectors"), [("llama3", "llama-bpe"), ("qwen", "qwen2"), ("qwen2", "qwen2")]
)
def test_family_llama_cpp_vectors(family, vectors, load_family, tokenizers_root: Path) -> None:
    tok = load_family(family)
    for text, ids in _vectors(tokenizers_root / "gguf", vectors):
        assert tok.encode(text) == ids, text


def test_bloom_transformers_ids(load_family) -> None:
    """transformers' BLOOM tokenizer test ids (quoted in the bundle README)."""
    tok = load_family("bloom")
    assert tok.tok.encode("The quick brown fox</s>").ids == [2175, 23714, 73173, 144252, 2]
    assert tok.tok.encode("jumps over the lazy dog</s>").ids == [
        77, 132619, 3478, 368, 109586, 35433, 2,
    ]  # fmt: skip
    assert tok.vocab_size == 250680


def test_manifest_pieces_match(catalog, manifest, load_family) -> None:
    """Token strings (not only counts) agree for the sentencepiece families."""
    zh = manifest["test_sentences"]["zh"]
    for fam in manifest["families"]:
        if fam["tokenizer_kind"] != "sentencepiece":
            continue
        tok = load_family(fam["family"])
        pieces = [tok.sp.id_to_piece(i) for i in tok.encode(zh)]
        assert pieces == fam["verified"]["pieces_zh"], fam["family"]


@pytest.mark.slow  # GGUFReader itself needs seconds for a 30k vocabulary
def test_fast_gguf_reader_agrees_with_gguf_package(tokenizers_root: Path) -> None:
    from gguf import GGUFReader

    from llmselect.tokenizers.gguf_fmt import read_gguf_vocab

    path = tokenizers_root / "gguf" / "ggml-vocab-bert-bge.gguf"
    ours = read_gguf_vocab(path)
    reader = GGUFReader(str(path))
    for key in ("model", "tokens", "token_type"):
        assert ours[key] == reader.fields[f"tokenizer.ggml.{key}"].contents(), key


@pytest.mark.parametrize("family", ["mistral-tekken", "llama4", "qwen3.5", "gpt-oss"])
def test_tiktoken_style_pieces_match(family, manifest, load_family) -> None:
    """Tekken (ids shifted past 1000 control tokens), Llama 4 and gpt-oss (O200K regex) and
    Qwen3.5 (its config's regex, NFC) split the test sentences into the same pieces as the
    reference loaders recorded in MANIFEST.json."""
    verified = next(f for f in manifest["families"] if f["family"] == family)["verified"]
    tok = load_family(family)
    for lang in ("zh", "en"):
        ids = tok.encode(manifest["test_sentences"][lang])
        pieces = [tok.token_bytes(i).decode("utf-8") for i in ids]
        assert pieces == verified[f"pieces_{lang}"], lang


def test_deepseek_v4_pieces_match(manifest, load_family) -> None:
    """Byte-level pieces of the test sentences as the tokenizers library recorded them."""
    verified = next(f for f in manifest["families"] if f["family"] == "deepseek-v4")["verified"]
    tok = load_family("deepseek-v4")
    for lang in ("zh", "en"):
        pieces = [tok.tok.id_to_token(i) for i in tok.encode(manifest["test_sentences"][lang])]
        assert pieces == verified[f"pieces_{lang}"], lang
