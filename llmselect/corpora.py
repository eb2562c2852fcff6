"""Text corpora for the probes: the project's zh/en corpora, local parallel datasets, user files.

``load_corpus(name_or_path)`` accepts

* ``default`` (or ``default:<domain>``): the project's own line-aligned zh/en texts in
  ``corpora/`` (six domains, CC0-1.0), found through ``LLMSELECT_CORPORA`` or the repository's
  ``corpora/`` folder next to the package;
* ``flores200`` (``flores200:dev``, ``flores200:devtest``), ``ntrex128`` and ``tatoeba``: parallel
  datasets read from ``<data root>/datasets/`` (``LLMSELECT_DATA_ROOT``);
* a path to a plain-text file (one segment per line, language guessed per line, see
  ``detect_lang``; lines that are neither Chinese nor English are left out and counted) or a
  JSONL file (``{"text", "lang"?}`` objects or ``{"zh", "en"}`` pairs).

Parallel segments share a ``pair_id`` (``<corpus>/<split or domain>/<1-based line>``), so a probe
can compare the same meaning across languages. Every corpus carries its license for reports.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

from llmselect.config import PACKAGE_DIR, data_subdir
from llmselect.errors import LLMSelectError, one_line
from llmselect.names import lookup, normalize

log = logging.getLogger(__name__)

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

CORPORA_ENV = "LLMSELECT_CORPORA"
MANIFEST_NAME = "corpora.yaml"

# A line is Chinese when at least this share of its letters are Han characters. Chinese text
# mixed with Latin acronyms, identifiers or formulas ("显存 16 GB", "解方程 3x + 7 = 22") stays
# well above it; English with a quoted Chinese word stays well below.
HAN_SHARE_ZH = 0.3

_LIST_HINT = "`default`, `default:<domain>`, `flores200`, `ntrex128`, `tatoeba` or a file path"


# --- records -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    """One line of text: stripped, with its language, domain and (for parallel text) pair id."""

    text: str
    lang: Lang
    domain: str
    pair_id: str | None = None


@dataclass(frozen=True)
class Corpus:
    """A loaded corpus; ``segments`` keep file order (for parallel text: zh, en, zh, en, ...)."""

    name: str
    license: str
    source: str
    segments: list[Segment]
    description: str = ""
    license_source: str = ""

    def __len__(self) -> int:
        return len(self.segments)

    def by_lang(self, lang: str) -> list[Segment]:
        """Segments in one language, in order."""
        if lang not in LANGS:
            raise LLMSelectError(f"unknown language {lang!r}; expected one of {', '.join(LANGS)}")
        return [s for s in self.segments if s.lang == lang]

    def texts(self, lang: str) -> list[str]:
        """The text of every segment in one language."""
        return [s.text for s in self.by_lang(lang)]

    def by_domain(self, domain: str) -> list[Segment]:
        """Segments of one domain, in order."""
        return [s for s in self.segments if s.domain == domain]

    @property
    def domains(self) -> list[str]:
        """Domains in order of first appearance."""
        return list(dict.fromkeys(s.domain for s in self.segments))

    @property
    def is_parallel(self) -> bool:
        """True when at least one zh/en pair is present."""
        return bool(self.pairs())

    def pairs(self) -> list[tuple[Segment, Segment]]:
        """``(zh, en)`` segments sharing a ``pair_id``, in order of first appearance."""
        by_id: dict[str, dict[str, Segment]] = {}
        for seg in self.segments:
            if seg.pair_id is not None:
                by_id.setdefault(seg.pair_id, {}).setdefault(seg.lang, seg)
        return [(p["zh"], p["en"]) for p in by_id.values() if "zh" in p and "en" in p]


@dataclass(frozen=True, slots=True)
class CorpusInfo:
    """One entry of ``list_corpora()``."""

    name: str
    description: str
    license: str
    needs_data_root: bool
    license_source: str = ""


# --- language detection ------------------------------------------------------------------------


def is_han(char: str) -> bool:
    """True for CJK unified ideographs (basic block, extensions A-G, compatibility block)."""
    cp = ord(char)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x323AF
    )


def han_share(text: str) -> float:
    """Han characters / all letters (``str.isalpha``) in ``text``; 0.0 when it has no letters."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if is_han(c)) / len(letters)


# A line is English when at least this share of its letters are Latin (A-Z, a-z) letters.
LATIN_SHARE_EN = 0.5


def latin_share(text: str) -> float:
    """ASCII Latin letters / all letters (``str.isalpha``); 0.0 when it has no letters."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if c.isascii()) / len(letters)


def detect_lang(text: str) -> Lang | None:
    """``zh`` when at least 30% of the letters are Han, ``en`` when at least half are Latin.

    Anything else (emoji or digits only, Cyrillic, Arabic, kana, ...) is neither: ``None``. It is
    not a general language identifier: Latin-script French counts as ``en``.
    """
    if han_share(text) >= HAN_SHARE_ZH:
        return "zh"
    if latin_share(text) >= LATIN_SHARE_EN:
        return "en"
    return None


def _keep_zh_en(segments: list[Segment | None], lines: list[str], path: Path) -> list[Segment]:
    """Drop lines that are neither Chinese nor English, saying how many; none left is an error."""
    kept = [s for s in segments if s is not None]
    other = [line for s, line in zip(segments, lines, strict=True) if s is None]
    if other and not kept:
        raise LLMSelectError(
            f"{path}: no Chinese or English text ({len(other)} lines, e.g. {other[0][:40]!r}); "
            "llmselect measures zh and en only"
        )
    if other:
        log.warning(
            "%s: %d of %d lines are neither Chinese nor English (e.g. %r): left out",
            path,
            len(other),
            len(segments),
            other[0][:40],
        )
    return kept


def _parse_lang(value: object, where: str) -> Lang:
    aliases = {
        "zh": "zh",
        "zh-cn": "zh",
        "zh-hans": "zh",
        "zho-hans": "zh",
        "zho": "zh",
        "cmn": "zh",
        "chinese": "zh",
        "en": "en",
        "en-us": "en",
        "en-gb": "en",
        "eng": "en",
        "eng-latn": "en",
        "english": "en",
    }
    lang = aliases.get(normalize(value)) if isinstance(value, str) else None
    if lang is None:
        raise LLMSelectError(f"{where}: \"lang\" must be 'zh' or 'en', got {value!r}")
    return lang  # type: ignore[return-value]


# --- file reading ------------------------------------------------------------------------------


def _read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 file without their LF/CRLF endings (a BOM is dropped)."""
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"
        raise LLMSelectError(f"corpus file {what}: {path}")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise LLMSelectError(f"cannot read corpus file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise LLMSelectError(
            f"corpus file {path} is not UTF-8 (byte {exc.start}: {exc.reason})"
        ) from exc
    text = text.removeprefix("\ufeff")
    # Split on "\n" only: str.splitlines() would also break on U+2028, form feeds etc. and shift
    # the line alignment of parallel files. CRLF files (NTREX) lose the "\r" here.
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    if not any(line.strip() for line in lines):
        raise LLMSelectError(f"corpus file is empty: {path}")
    return lines


def _parallel_segments(
    zh_lines: list[str],
    en_lines: list[str],
    *,
    id_prefix: str,
    domains: Callable[[int], str],
    where: str,
) -> list[Segment]:
    """Interleave two line-aligned files into zh/en segments sharing ``<id_prefix>/<line>``."""
    if len(zh_lines) != len(en_lines):
        raise LLMSelectError(
            f"{where}: zh has {len(zh_lines)} lines but en has {len(en_lines)}; "
            "parallel files must be line-aligned"
        )
    segments: list[Segment] = []
    for i, (zh, en) in enumerate(zip(zh_lines, en_lines, strict=True), start=1):
        zh, en = zh.strip(), en.strip()
        if not zh or not en:
            raise LLMSelectError(
                f"{where}: line {i} is empty in the {'zh' if not zh else 'en'} file"
            )
        pair_id = f"{id_prefix}/{i}"
        domain = domains(i)
        segments.append(Segment(zh, "zh", domain, pair_id))
        segments.append(Segment(en, "en", domain, pair_id))
    return segments


def _limit_units(segments: list[Segment], limit: int | None) -> list[Segment]:
    """Keep the first ``limit`` units: a pair counts once, an unpaired segment counts once."""
    if limit is None:
        return segments
    seen: set[str | int] = set()
    kept: list[Segment] = []
    for i, seg in enumerate(segments):
        unit: str | int = seg.pair_id if seg.pair_id is not None else i
        if unit not in seen:
            if len(seen) >= limit:
                break
            seen.add(unit)
        kept.append(seg)
    return kept


# --- the project's own corpora (corpora/corpora.yaml) -----------------------------------------


def corpora_root() -> Path:
    """``LLMSELECT_CORPORA`` if set, else the repository's ``corpora/`` next to the package."""
    env = os.environ.get(CORPORA_ENV)
    return Path(env).expanduser().resolve() if env else PACKAGE_DIR.parent / "corpora"


@dataclass(frozen=True)
class _ManifestFile:
    path: str
    lang: Lang
    domain: str
    license: str
    description: str


@dataclass(frozen=True)
class _Manifest:
    root: Path
    name: str
    license: str
    description: str
    files: list[_ManifestFile] = field(default_factory=list)
    domain_descriptions: dict[str, str] = field(default_factory=dict)

    def domains(self) -> list[str]:
        return list(dict.fromkeys(f.domain for f in self.files))


def _read_manifest(root: Path) -> _Manifest:
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise LLMSelectError(
            f"no corpora manifest at {path}; set {CORPORA_ENV} to a folder holding {MANIFEST_NAME}"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise LLMSelectError(f"cannot read {path}: {one_line(exc)}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("files"), list) or not raw["files"]:
        raise LLMSelectError(f"{path}: expected a mapping with a non-empty 'files' list")
    files = []
    for i, entry in enumerate(raw["files"], start=1):
        where = f"{path}: files[{i}]"
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("path", "lang", "domain")
        ):
            raise LLMSelectError(f"{where}: needs string fields path, lang and domain")
        files.append(
            _ManifestFile(
                path=entry["path"],
                lang=_parse_lang(entry["lang"], where),
                domain=entry["domain"],
                license=str(entry.get("license") or raw.get("license") or "unknown"),
                description=str(entry.get("description") or ""),
            )
        )
    return _Manifest(
        root=root,
        name=str(raw.get("name") or root.name),
        license=str(raw.get("license") or "unknown"),
        description=str(raw.get("description") or ""),
        files=files,
        domain_descriptions={str(k): str(v) for k, v in (raw.get("domains") or {}).items()},
    )


def _load_manifest_corpus(root: Path, domain: str | None, limit: int | None) -> Corpus:
    manifest = _read_manifest(root)
    domains = manifest.domains()
    if domain is not None:
        domain = lookup(
            domain,
            {normalize(d): d for d in domains},
            "corpus domain",
            see="domains: " + ", ".join(domains),
        )
        domains = [domain]
    segments: list[Segment] = []
    for dom in domains:
        files = {f.lang: f for f in manifest.files if f.domain == dom}
        where = f"{manifest.name}:{dom}"
        if set(files) == {"zh", "en"}:
            segments += _parallel_segments(
                _read_lines(root / files["zh"].path),
                _read_lines(root / files["en"].path),
                id_prefix=f"{manifest.name}/{dom}",
                domains=lambda _i, d=dom: d,
                where=where,
            )
        else:  # a one-language domain: plain segments, no pairs
            for f in files.values():
                lines = _read_lines(root / f.path)
                segments += [Segment(t.strip(), f.lang, dom) for t in lines if t.strip()]
    licenses = sorted({f.license for f in manifest.files if f.domain in domains})
    return Corpus(
        name=manifest.name if domain is None else f"{manifest.name}:{domain}",
        license=", ".join(licenses) or manifest.license,
        source=str(root / MANIFEST_NAME),
        segments=_limit_units(segments, limit),
        description=manifest.domain_descriptions.get(domain or "", manifest.description),
        license_source=f"{root / MANIFEST_NAME} (license field)",
    )


# --- datasets under <data root>/datasets --------------------------------------------------------


def _dataset_dir(corpus: str, folder: str) -> Path:
    datasets = data_subdir("datasets")
    if datasets is None:
        raise LLMSelectError(
            f"corpus {corpus!r} reads <data root>/datasets/{folder}/; set LLMSELECT_DATA_ROOT "
            "to the folder that holds datasets/"
        )
    path = datasets / folder
    if not path.is_dir():
        raise LLMSelectError(f"corpus {corpus!r}: dataset folder not found: {path}")
    return path


def _flores_domains(folder: Path, split: str, n_lines: int) -> Callable[[int], str]:
    """Per-line domain (wikinews / wikibooks / wikivoyage) from ``metadata_<split>.tsv``."""
    meta = folder / f"metadata_{split}.tsv"
    if not meta.is_file():
        return lambda _i: "wiki"
    rows = [line.split("\t") for line in _read_lines(meta)]
    header, body = rows[0], rows[1:]
    if "domain" not in header or len(body) != n_lines:
        raise LLMSelectError(f"{meta}: expected a 'domain' column and {n_lines} rows")
    col = header.index("domain")
    domains = [row[col].strip() if len(row) > col else "" for row in body]
    return lambda i: domains[i - 1] or "wiki"


def _load_flores200(split: str | None, limit: int | None) -> list[Segment]:
    folder = _dataset_dir("flores200", "flores200")
    segments: list[Segment] = []
    for name in [split] if split else ["dev", "devtest"]:
        zh = _read_lines(folder / name / f"zho_Hans.{name}")
        en = _read_lines(folder / name / f"eng_Latn.{name}")
        segments += _parallel_segments(
            zh,
            en,
            id_prefix=f"flores200/{name}",
            domains=_flores_domains(folder, name, len(zh)),
            where=f"flores200/{name}",
        )
        if limit is not None and len(segments) >= 2 * limit:
            break
    return segments


def _load_ntrex128(split: str | None, limit: int | None) -> list[Segment]:
    folder = _dataset_dir("ntrex128", "ntrex128")
    return _parallel_segments(
        _read_lines(folder / "newstest2019-ref.zho-CN.txt"),
        _read_lines(folder / "newstest2019-src.eng.txt"),
        id_prefix="ntrex128",
        domains=lambda _i: "news",
        where="ntrex128",
    )


def _load_tatoeba(split: str | None, limit: int | None) -> list[Segment]:
    path = _dataset_dir("tatoeba", "tatoeba_cmn_eng") / "cmn.txt"
    segments: list[Segment] = []
    for i, line in enumerate(_read_lines(path), start=1):
        if limit is not None and len(segments) >= 2 * limit:
            break
        fields = line.split("\t")  # English, Chinese, attribution
        if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
            raise LLMSelectError(f"{path}: line {i}: expected English<TAB>Chinese<TAB>attribution")
        pair_id = f"tatoeba/{i}"
        segments.append(Segment(fields[1].strip(), "zh", "everyday", pair_id))
        segments.append(Segment(fields[0].strip(), "en", "everyday", pair_id))
    return segments


@dataclass(frozen=True)
class _Dataset:
    name: str
    folder: str
    description: str
    license: str
    license_source: str
    loader: Callable[[str | None, int | None], list[Segment]]
    splits: tuple[str, ...] = ()


# Licenses as stated by the data bundle: datasets/MANIFEST.json "license" fields and each
# dataset's own README / about file (cited in license_source).
_DATASETS: dict[str, _Dataset] = {
    d.name: d
    for d in (
        _Dataset(
            name="flores200",
            folder="flores200",
            description="FLORES-200 zho_Hans + eng_Latn, dev (997) and devtest (1012) sentences, "
            "Wikinews / Wikibooks (Wikijunior) / Wikivoyage",
            license="CC BY-SA 4.0",
            license_source="datasets/MANIFEST.json flores200.license; facebookresearch/flores "
            "README ('FLORES-200: CC-BY-SA 4.0'); flores200/LICENSE_CC-BY-SA-4.0.txt",
            loader=_load_flores200,
            splits=("dev", "devtest"),
        ),
        _Dataset(
            name="ntrex128",
            folder="ntrex128",
            description="NTREX-128 news (WMT newstest2019 English source + zho-CN reference), "
            "1997 segments",
            license="CC BY-SA 4.0",
            license_source="datasets/ntrex128/README.md ('released under the CC BY-SA 4.0 "
            "license', MicrosoftTranslator/NTREX LICENSE.md); datasets/MANIFEST.json",
            loader=_load_ntrex128,
        ),
        _Dataset(
            name="tatoeba",
            folder="tatoeba_cmn_eng",
            description="Tatoeba cmn-eng sentence pairs (manythings.org, 2021-07-14); short "
            "everyday sentences, Chinese side mixes Simplified and Traditional",
            license="CC BY 2.0 FR",
            license_source="datasets/tatoeba_cmn_eng/_about.txt (tatoeba.org terms of use, "
            "creativecommons.org/licenses/by/2.0); per-row attribution in cmn.txt column 3; "
            "datasets/MANIFEST.json",
            loader=_load_tatoeba,
        ),
    )
}

# Names accepted for the built-in corpora (normalized) → canonical name.
_NAMES: dict[str, str] = {
    "default": "default",
    "flores200": "flores200",
    "flores-200": "flores200",
    "flores": "flores200",
    "ntrex128": "ntrex128",
    "ntrex-128": "ntrex128",
    "ntrex": "ntrex128",
    "tatoeba": "tatoeba",
    "tatoeba-cmn-eng": "tatoeba",
}


def _load_dataset(dataset: _Dataset, split: str | None, limit: int | None) -> Corpus:
    name = dataset.name
    if split is not None:
        if not dataset.splits:
            raise LLMSelectError(f"corpus {name!r} has no splits; use {name!r}")
        split = lookup(
            split,
            {s: s for s in dataset.splits},
            f"{name} split",
            see="splits: " + ", ".join(dataset.splits),
        )
        name = f"{name}:{split}"
    segments = dataset.loader(split, limit)
    return Corpus(
        name=name,
        license=dataset.license,
        source=str(_dataset_dir(dataset.name, dataset.folder)),
        segments=_limit_units(segments, limit),
        description=dataset.description,
        license_source=dataset.license_source,
    )


# --- user files ---------------------------------------------------------------------------------


def _load_plain_text(path: Path) -> list[Segment]:
    domain = path.stem
    lines = [line.strip() for line in _read_lines(path) if line.strip()]
    found = [(line, detect_lang(line)) for line in lines]
    segments = [Segment(line, lang, domain) if lang else None for line, lang in found]
    return _keep_zh_en(segments, lines, path)


def _text_field(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise LLMSelectError(f"{where}: {key!r} must be a non-empty string")
    return value.strip()


def _load_jsonl(path: Path) -> list[Segment]:
    segments: list[Segment | None] = []
    texts: list[str] = []
    pair_lines: dict[str, int] = {}  # a pair id → the line that named it first
    for i, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        where = f"{path}: line {i}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LLMSelectError(f"{where}: invalid JSON ({exc.msg})") from exc
        if not isinstance(obj, dict):
            raise LLMSelectError(f"{where}: expected a JSON object")
        domain = obj.get("domain") if isinstance(obj.get("domain"), str) else path.stem
        if "zh" in obj or "en" in obj:
            zh, en = _text_field(obj, "zh", where), _text_field(obj, "en", where)
            pair_id = f"{path.stem}/{obj.get('id', i)}"
            if pair_id in pair_lines:  # two rows under one id would count as one pair
                raise LLMSelectError(
                    f"{where}: pair {pair_id!r} again (first on line {pair_lines[pair_id]}); "
                    'give each {"zh", "en"} row its own "id", or none'
                )
            pair_lines[pair_id] = i
            segments += [Segment(zh, "zh", domain, pair_id), Segment(en, "en", domain, pair_id)]
            texts += [zh, en]
        elif "text" in obj:
            text = _text_field(obj, "text", where)
            lang = _parse_lang(obj["lang"], where) if "lang" in obj else detect_lang(text)
            segments.append(Segment(text, lang, domain) if lang else None)
            texts.append(text)
        else:
            raise LLMSelectError(f'{where}: expected {{"text": ...}} or {{"zh": ..., "en": ...}}')
    return _keep_zh_en(segments, texts, path)


def _load_path(path: Path, limit: int | None) -> Corpus:
    if path.is_dir():
        if (path / MANIFEST_NAME).is_file():
            return _load_manifest_corpus(path.resolve(), None, limit)
        raise LLMSelectError(
            f"{path} is a folder without {MANIFEST_NAME}; give a .txt or .jsonl file"
        )
    is_jsonl = path.suffix.lower() in {".jsonl", ".ndjson"}
    segments = _load_jsonl(path) if is_jsonl else _load_plain_text(path)
    return Corpus(
        name=path.name,
        license="unknown",
        source=str(path.resolve()),
        segments=_limit_units(segments, limit),
        description=f"user file ({'JSONL' if is_jsonl else 'plain text'})",
        license_source="not recorded for user files",
    )


def _looks_like_path(text: str) -> bool:
    return (
        "/" in text
        or os.sep in text
        or text.startswith((".", "~"))
        or Path(text).suffix.lower() in {".txt", ".jsonl", ".ndjson", ".tsv", ".text"}
    )


# --- public API ---------------------------------------------------------------------------------


_REGISTERED: dict[str, Corpus] = {}


def register_corpus(corpus: Corpus) -> None:
    """Make a corpus built in code loadable by its name (notebooks, tests): probe configs name
    their corpus, so an in-memory one needs a name too. It shadows a built-in of that name."""
    _REGISTERED[corpus.name] = corpus


def unregister_corpus(name: str) -> None:
    """Forget a corpus added with ``register_corpus`` (no-op when absent)."""
    _REGISTERED.pop(name, None)


def load_corpus(name_or_path: str, *, limit: int | None = None) -> Corpus:
    """Load a built-in corpus by name (``default[:domain]``, ``flores200[:split]``, ``ntrex128``,
    ``tatoeba``), a registered one, or a user file (``.txt`` / ``.jsonl``).

    ``limit`` keeps at most that many pairs (parallel text) or segments (other text): smoke runs.
    """
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        raise LLMSelectError(f"limit must be a positive integer, got {limit!r}")
    if name_or_path in _REGISTERED:
        corpus = _REGISTERED[name_or_path]
        return replace(corpus, segments=_limit_units(corpus.segments, limit))
    text = name_or_path.strip()
    if not text:
        raise LLMSelectError(f"empty corpus name; use {_LIST_HINT}")
    base, sep, sub = text.partition(":")
    canonical = _NAMES.get(normalize(base))
    if canonical is not None:
        part = sub.strip() if sep else None
        if sep and not part:
            raise LLMSelectError(f"missing part after ':' in corpus name {text!r}")
        if canonical == "default":
            return _load_manifest_corpus(corpora_root(), part, limit)
        return _load_dataset(_DATASETS[canonical], part, limit)
    path = Path(text).expanduser()
    if path.exists() or _looks_like_path(text):
        return _load_path(path, limit)
    return lookup(text, {}, "corpus", extra_names=["default", *_DATASETS], see=_LIST_HINT)


@lru_cache(maxsize=16)
def _load_once(name_or_path: str, limit: int | None) -> Corpus:
    return load_corpus(name_or_path, limit=limit)


def shared_corpus(name_or_path: str, *, limit: int | None = None) -> Corpus:
    """``load_corpus``, loaded once per process: every probe of a run reads the same text
    (a registered corpus is always read as registered now)."""
    if name_or_path in _REGISTERED:
        return load_corpus(name_or_path, limit=limit)
    return _load_once(name_or_path, limit)


def list_corpora() -> list[CorpusInfo]:
    """The built-in corpora, with one entry per project domain when the manifest is readable."""
    infos: list[CorpusInfo] = []
    try:
        manifest: _Manifest | None = _read_manifest(corpora_root())
    except LLMSelectError:
        manifest = None
    own_source = f"{MANIFEST_NAME} (written for llmselect)"
    infos.append(
        CorpusInfo(
            "default",
            manifest.description if manifest else "the project's zh/en corpora (not found)",
            manifest.license if manifest else "CC0-1.0",
            False,
            own_source,
        )
    )
    if manifest is not None:
        for dom in manifest.domains():
            desc = manifest.domain_descriptions.get(dom, f"{dom} domain of the project corpora")
            infos.append(CorpusInfo(f"default:{dom}", desc, manifest.license, False, own_source))
    for ds in _DATASETS.values():
        infos.append(CorpusInfo(ds.name, ds.description, ds.license, True, ds.license_source))
        for split in ds.splits:
            infos.append(
                CorpusInfo(
                    f"{ds.name}:{split}",
                    f"{ds.description}; {split} split only",
                    ds.license,
                    True,
                    ds.license_source,
                )
            )
    return infos


REFERENCE_CORPORA = ("flores200", "ntrex128", "tatoeba")


def reference_corpus_name(text: str) -> str:
    """The store's name of a published parallel corpus (``flores`` → ``flores200``,
    ``flores200:dev`` stays a split, ``flores200-nfkc`` names a probe's derived view of it);
    anything else (a file, the sample corpus) is refused, because numbers from it are not
    comparable across models and runs."""
    base, sep, sub = text.strip().partition(":")
    canonical = _NAMES.get(normalize(base))
    if canonical is None:  # a derived view: "<reference>-<what the probe did to it>"
        head = next((r for r in REFERENCE_CORPORA if base.startswith(r + "-")), None)
        canonical = base if head and base[len(head) + 1 :] else None
    if canonical is None or canonical.split("-")[0] not in REFERENCE_CORPORA:
        raise LLMSelectError(
            f"--corpus {text!r}: only reference corpora ({', '.join(REFERENCE_CORPORA)}) "
            "count as tokenizer evidence"
        )
    return f"{canonical}:{sub.strip()}" if sep and sub.strip() else canonical
