"""Corpora: the project's manifest and texts, the local parallel datasets, user files, errors.

Expected values come from the files themselves (hashlib, raw bytes, the data bundle's
MANIFEST.json), never from ``llmselect.corpora`` again.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from llmselect.corpora import Corpus, list_corpora, load_corpus
from llmselect.errors import LLMSelectError

CORPORA = Path(__file__).resolve().parents[1] / "corpora"
DOMAINS = {"news", "technical", "legal", "conversation", "code_comments", "math"}
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
ASCII_LETTER = re.compile(r"[A-Za-z]")
ZH_PUNCT = re.compile(r"[，。：；？！、（）“”]")


@pytest.fixture(autouse=True)
def _project_corpora(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMSELECT_CORPORA", raising=False)


def _manifest() -> dict:
    return yaml.safe_load((CORPORA / "corpora.yaml").read_text(encoding="utf-8"))


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def _dataset_manifest(datasets_root: Path, name: str) -> dict:
    manifest = json.loads((datasets_root / "MANIFEST.json").read_text(encoding="utf-8"))
    return next(d for d in manifest["datasets"] if d["name"] == name)


# --- the project's own corpora ------------------------------------------------------------------


def test_manifest_matches_files() -> None:
    manifest = _manifest()
    assert manifest["license"] == "CC0-1.0"
    assert "written for llmselect" in manifest["license_note"].lower()
    files = manifest["files"]
    assert {f["domain"] for f in files} == DOMAINS
    assert set(manifest["domains"]) == DOMAINS
    for entry in files:
        data = (CORPORA / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
        assert b"\r" not in data and not data.startswith(b"\xef\xbb\xbf")
        assert data.endswith(b"\n")
        lines = data.decode("utf-8").split("\n")[:-1]
        assert len(lines) == entry["lines"], entry["path"]
        assert sum(len(line.strip()) for line in lines) == entry["chars"], entry["path"]
        assert all(line.strip() for line in lines), f"empty line in {entry['path']}"
        assert entry["license"] == "CC0-1.0" and entry["description"]
        assert entry["lang"] in {"zh", "en"}
        assert Path(entry["path"]).parts[0] == entry["domain"]


def test_each_domain_is_a_line_aligned_zh_en_pair() -> None:
    by_domain: dict[str, dict[str, int]] = {}
    for entry in _manifest()["files"]:
        by_domain.setdefault(entry["domain"], {})[entry["lang"]] = entry["lines"]
    for domain, counts in by_domain.items():
        assert set(counts) == {"zh", "en"}, domain
        assert counts["zh"] == counts["en"], domain
        assert 40 <= counts["zh"] <= 60, domain


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_zh_lines_are_chinese_and_en_lines_are_english(domain: str) -> None:
    zh_lines = _lines(CORPORA / domain / "zh.txt")
    en_lines = _lines(CORPORA / domain / "en.txt")
    han_total = latin_total = 0
    for zh in zh_lines:
        han, latin = len(HAN.findall(zh)), len(ASCII_LETTER.findall(zh))
        han_total, latin_total = han_total + han, latin_total + latin
        assert han / (han + latin) >= 0.3, zh  # mixed lines (code, formulas) still mostly Han
    assert han_total / (han_total + latin_total) >= 0.75
    # Chinese punctuation, not ASCII commas/periods, on most lines.
    assert sum(bool(ZH_PUNCT.search(zh)) for zh in zh_lines) >= 0.8 * len(zh_lines)
    for en in en_lines:
        assert not HAN.search(en), en
        letters = [c for c in en if c.isalpha()]
        assert sum(c.isascii() for c in letters) >= 0.9 * len(letters), en
    # A translation is not a copy.
    assert all(zh != en for zh, en in zip(zh_lines, en_lines, strict=True))


def test_load_default_pairs_every_line_of_every_domain() -> None:
    corpus = load_corpus("default")
    manifest = _manifest()
    assert corpus.license == "CC0-1.0"
    assert set(corpus.domains) == DOMAINS
    pairs = corpus.pairs()
    assert len(pairs) == sum(f["lines"] for f in manifest["files"] if f["lang"] == "zh")
    assert len(corpus.by_lang("zh")) == len(corpus.by_lang("en")) == len(pairs)
    for domain in DOMAINS:
        zh_file = _lines(CORPORA / domain / "zh.txt")
        en_file = _lines(CORPORA / domain / "en.txt")
        domain_pairs = [p for p in pairs if p[0].domain == domain]
        assert [zh.text for zh, _ in domain_pairs] == [line.strip() for line in zh_file]
        assert [en.text for _, en in domain_pairs] == [line.strip() for line in en_file]
        zh, en = domain_pairs[0]
        assert (zh.lang, en.lang) == ("zh", "en")
        assert zh.pair_id == en.pair_id == f"default/{domain}/1"


def test_load_one_domain_and_limit() -> None:
    math = load_corpus("default:math")
    assert math.name == "default:math" and math.domains == ["math"]
    assert len(math.pairs()) == len(_lines(CORPORA / "math" / "zh.txt"))
    small = load_corpus("default", limit=7)
    assert len(small.pairs()) == 7 and len(small.segments) == 14
    assert small.pairs()[0][1].text == _lines(CORPORA / "news" / "en.txt")[0]


def test_corpora_env_var_and_folder_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "mine"
    (root / "chat").mkdir(parents=True)
    (root / "chat" / "zh.txt").write_text("你好。\n谢谢！\n", encoding="utf-8")
    (root / "chat" / "en.txt").write_text("Hello.\nThanks!\n", encoding="utf-8")
    files = [
        {"path": "chat/zh.txt", "lang": "zh", "domain": "chat", "license": "CC0-1.0"},
        {"path": "chat/en.txt", "lang": "en", "domain": "chat", "license": "CC0-1.0"},
    ]
    (root / "corpora.yaml").write_text(
        yaml.safe_dump({"name": "mine", "license": "CC0-1.0", "files": files}), encoding="utf-8"
    )
    by_folder = load_corpus(str(root))
    monkeypatch.setenv("LLMSELECT_CORPORA", str(root))
    by_env = load_corpus("default")
    for corpus in (by_folder, by_env):
        assert [(zh.text, en.text) for zh, en in corpus.pairs()] == [
            ("你好。", "Hello."),
            ("谢谢！", "Thanks!"),
        ]
    assert by_env.pairs()[1][0].pair_id == "mine/chat/2"


def test_misaligned_project_files_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "corpora"
    shutil.copytree(CORPORA, root)
    with (root / "legal" / "en.txt").open("a", encoding="utf-8") as f:
        f.write("One extra clause.\n")
    monkeypatch.setenv("LLMSELECT_CORPORA", str(root))
    with pytest.raises(LLMSelectError, match=r"default:legal: zh has \d+ lines but en has \d+"):
        load_corpus("default")
    monkeypatch.setenv("LLMSELECT_CORPORA", str(tmp_path / "nowhere"))
    with pytest.raises(LLMSelectError, match="LLMSELECT_CORPORA"):
        load_corpus("default")


# --- datasets from the data root --------------------------------------------------------------


def test_flores200_dev_and_devtest(with_data_root: Path, datasets_root: Path) -> None:
    flores = datasets_root / "flores200"
    corpus = load_corpus("flores200")
    pairs = corpus.pairs()
    assert len(pairs) == 997 + 1012
    assert corpus.license == "CC BY-SA 4.0"
    assert corpus.license in _dataset_manifest(datasets_root, "flores200")["license"]
    for split, first, last in (("dev", 0, 996), ("devtest", 997, 2008)):
        zh_lines = (flores / split / f"zho_Hans.{split}").read_text(encoding="utf-8").splitlines()
        en_lines = (flores / split / f"eng_Latn.{split}").read_text(encoding="utf-8").splitlines()
        zh, en = pairs[first]
        assert (zh.text, en.text) == (zh_lines[0].strip(), en_lines[0].strip())
        assert zh.pair_id == en.pair_id == f"flores200/{split}/1"
        assert pairs[last][0].text == zh_lines[-1].strip()
        assert pairs[last][0].pair_id == f"flores200/{split}/{len(zh_lines)}"
    metadata = (flores / "metadata_dev.tsv").read_text(encoding="utf-8").splitlines()
    assert pairs[0][0].domain == metadata[1].split("\t")[1]
    assert len(load_corpus("flores200:devtest").pairs()) == 1012
    assert len(load_corpus("flores200", limit=5).pairs()) == 5


def test_flores200_needs_the_data_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMSELECT_DATA_ROOT", raising=False)
    with pytest.raises(LLMSelectError, match="set LLMSELECT_DATA_ROOT"):
        load_corpus("flores200")


def test_flores200_missing_file_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "datasets" / "flores200" / "dev").mkdir(parents=True)
    monkeypatch.setenv("LLMSELECT_DATA_ROOT", str(tmp_path))
    with pytest.raises(LLMSelectError, match=r"not found: .*zho_Hans\.dev"):
        load_corpus("flores200:dev")


def test_ntrex128_crlf_lines(with_data_root: Path, datasets_root: Path) -> None:
    raw_zh = (datasets_root / "ntrex128" / "newstest2019-ref.zho-CN.txt").read_bytes()
    raw_en = (datasets_root / "ntrex128" / "newstest2019-src.eng.txt").read_bytes()
    assert b"\r\n" in raw_zh and b"\r\n" in raw_en  # the case under test
    corpus = load_corpus("ntrex128")
    pairs = corpus.pairs()
    assert len(pairs) == 1997 == raw_en.count(b"\r\n")
    assert not any("\r" in s.text for s in corpus.segments)
    assert pairs[0][0].text == raw_zh.split(b"\r\n")[0].decode("utf-8").strip()
    assert pairs[-1][1].text == raw_en.split(b"\r\n")[1996].decode("utf-8").strip()
    assert corpus.license in _dataset_manifest(datasets_root, "ntrex128")["license"]


def test_tatoeba_pairs(with_data_root: Path, datasets_root: Path) -> None:
    path = datasets_root / "tatoeba_cmn_eng" / "cmn.txt"
    en, zh, _attribution = path.read_text(encoding="utf-8").split("\n")[0].split("\t")
    corpus = load_corpus("tatoeba", limit=3)
    assert len(corpus.pairs()) == 3
    assert (corpus.pairs()[0][0].text, corpus.pairs()[0][1].text) == (zh, en)
    full = load_corpus("tatoeba")
    assert (
        len(full.pairs()) == _dataset_manifest(datasets_root, "tatoeba_cmn_eng")["verified"]["rows"]
    )
    assert full.license == "CC BY 2.0 FR"
    assert full.license in _dataset_manifest(datasets_root, "tatoeba_cmn_eng")["license"]


# --- user files --------------------------------------------------------------------------------


def test_plain_text_file_detects_language_per_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    lines = [
        "今天的会议改到下午三点。",
        "",
        "The meeting moved to 3 p.m.",
        "显存需要 16 GB，请使用 GPU 运行。",
        "The word 中文 appears once here.",
    ]
    path.write_bytes("\r\n".join(lines).encode("utf-8") + b"\r\n")
    corpus = load_corpus(str(path))
    assert [(s.text, s.lang) for s in corpus.segments] == [
        ("今天的会议改到下午三点。", "zh"),
        ("The meeting moved to 3 p.m.", "en"),
        ("显存需要 16 GB，请使用 GPU 运行。", "zh"),
        ("The word 中文 appears once here.", "en"),
    ]
    assert corpus.pairs() == [] and all(s.pair_id is None for s in corpus.segments)
    assert corpus.name == "notes.txt" and corpus.license == "unknown"
    assert len(load_corpus(str(path), limit=2).segments) == 2


def test_jsonl_file_with_pairs_and_single_segments(tmp_path: Path) -> None:
    rows = [
        {"zh": "请稍等一下。", "en": "Please wait a moment."},
        {"text": "这一行没有标注语言。"},
        {"text": "Labelled English.", "lang": "en", "domain": "misc"},
        {"zh": "谢谢。", "en": "Thank you.", "id": "t2"},
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n")
    corpus = load_corpus(str(path))
    assert [(zh.text, en.text, zh.pair_id) for zh, en in corpus.pairs()] == [
        ("请稍等一下。", "Please wait a moment.", "mixed/1"),
        ("谢谢。", "Thank you.", "mixed/t2"),
    ]
    assert [(s.text, s.lang, s.domain) for s in corpus.segments if s.pair_id is None] == [
        ("这一行没有标注语言。", "zh", "mixed"),
        ("Labelled English.", "en", "misc"),
    ]
    limited = load_corpus(str(path), limit=2)  # one pair + one single segment
    assert [s.text for s in limited.segments] == [
        "请稍等一下。",
        "Please wait a moment.",
        rows[1]["text"],
    ]


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "ok"}\n{"text": \n', r"line 2: invalid JSON"),
        ('{"text": "ok"}\n["a list"]\n', r"line 2: expected a JSON object"),
        ('{"zh": "只有中文"}\n', r"line 1: 'en' must be a non-empty string"),
        ('{"text": "hi", "lang": "fr"}\n', r"line 1: \"lang\" must be 'zh' or 'en'"),
        ('{"body": "hi"}\n', r"line 1: expected \{\"text\""),
        ("\n  \n", r"corpus file is empty"),
        # One id on two rows would pair only the last one's sides: parity over 1 pair, not 2.
        ('{"id": 7, "zh": "你好。", "en": "Hello."}\n{"id": 7, "zh": "谢谢。", "en": "Thanks."}\n',
         r"line 2: pair 'bad/7' again \(first on line 1\); give each"),
        ('{"id": 2, "zh": "你好。", "en": "Hello."}\n{"zh": "谢谢。", "en": "Thanks."}\n',
         r"line 2: pair 'bad/2' again \(first on line 1\)"),
    ],
)  # fmt: skip
def test_bad_jsonl_lines(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LLMSelectError, match=message) as info:
        load_corpus(str(path))
    assert "\n" not in str(info.value)


def test_bad_names_and_files(tmp_path: Path) -> None:
    with pytest.raises(LLMSelectError, match="did you mean default"):
        load_corpus("defualt")
    with pytest.raises(LLMSelectError, match="did you mean flores200"):
        load_corpus("flores20")
    with pytest.raises(LLMSelectError, match="did you mean math"):
        load_corpus("default:maths")
    with pytest.raises(LLMSelectError, match="did you mean devtest"):
        load_corpus("flores200:devtst")
    with pytest.raises(LLMSelectError, match="not found"):
        load_corpus(str(tmp_path / "missing.txt"))
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(LLMSelectError, match="empty"):
        load_corpus(str(tmp_path / "empty.txt"))
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(LLMSelectError, match="not UTF-8"):
        load_corpus(str(tmp_path / "latin1.txt"))
    with pytest.raises(LLMSelectError, match="positive integer"):
        load_corpus("default", limit=0)
    with pytest.raises(LLMSelectError, match="unknown language"):
        load_corpus("default:news").by_lang("fr")


def test_list_corpora() -> None:
    infos = {info.name: info for info in list_corpora()}
    assert {"default", "flores200", "ntrex128", "tatoeba"} <= set(infos)
    assert {f"default:{d}" for d in DOMAINS} <= set(infos)
    assert not infos["default"].needs_data_root and infos["default"].license == "CC0-1.0"
    assert infos["flores200"].needs_data_root and infos["flores200"].license == "CC BY-SA 4.0"
    assert infos["tatoeba"].license == "CC BY 2.0 FR"
    for name in ("flores200", "ntrex128", "tatoeba"):
        assert infos[name].license_source


def test_corpus_is_frozen() -> None:
    corpus = load_corpus("default:news", limit=1)
    assert isinstance(corpus, Corpus)
    with pytest.raises(AttributeError):
        corpus.name = "other"  # type: ignore[misc]
