"""The BLOOM tokenizer cache: the cached build encodes exactly like a fresh rebuild."""

from __future__ import annotations

from pathlib import Path

from llmselect.tokenizers.bloom import build_bloom, cache_path, load_bloom


def test_cached_build_matches_rebuild_and_is_keyed_by_content(
    tokenizers_root: Path, flores_lines: dict[str, list[str]], tmp_path: Path
) -> None:
    merges = tokenizers_root / "bloom" / "merges.txt"
    cached = cache_path(merges)
    assert not cached.exists()  # a fresh LLMSELECT_HOME per test
    first = load_bloom("bloom", {"merges.txt": merges}, "merges.txt")
    assert cached.is_file() and cached.stat().st_size > 1_000_000
    again = load_bloom("bloom", {"merges.txt": merges}, "merges.txt")  # from the cache file
    fresh = build_bloom(merges)
    texts = flores_lines["zh"] + flores_lines["en"]
    want = [e.ids for e in fresh.encode_batch(texts, add_special_tokens=False)]
    assert [first.encode(t) for t in texts] == want
    assert [again.encode(t) for t in texts] == want
    assert again.vocab_size == fresh.get_vocab_size(with_added_tokens=False) == 250680

    edited = tmp_path / "merges.txt"
    lines = merges.read_text(encoding="utf-8").splitlines(keepends=True)
    edited.write_text("".join(lines[:-1]), encoding="utf-8")  # one merge fewer
    assert cache_path(edited) != cached
