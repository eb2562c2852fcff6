"""License detection for a local checkpoint folder (or GGUF file) that is not in the catalog.

Three kinds of evidence: a GGUF file's own ``general.license`` metadata, the model card's YAML
front matter (``license:`` / ``license_name:`` in ``README.md``) and the license files
(``LICENSE*``, ``MODEL_LICENSE``, ``* LICENSE AGREEMENT``), matched by text fingerprints. Text
that matches no fingerprint is reported as unknown, never as permissive. A recognised permissive
text (Apache-2.0, MIT) with words outside the standard wording is never "yes": an added clause
that restricts use makes the verdict unknown, other added text makes it conditional, and the
verdict quotes the words. A card's ``base_model:`` that the catalog holds is evidence too: a
derivative stays bound by its base model's license. When sources disagree, the more restrictive
verdict is reported.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from llmselect.catalog import Catalog, LicenseRef, ModelSpec, load_catalog
from llmselect.errors import LLMSelectError
from llmselect.licenses.fingerprints import match_text
from llmselect.licenses.table import LicenseTable, load_licenses
from llmselect.licenses.verdict import LicenseVerdict, verdict

# Hugging Face model-card license identifiers → license table ids.
CARD_LICENSES = {
    "apache-2.0": "apache-2.0",
    "mit": "mit",
    "llama2": "llama2-community",
    "llama3": "llama3-community",
    "llama3.1": "llama3.1-community",
    "llama3.2": "llama3.2-community",
    "llama3.3": "llama3.3-community",
    "llama4": "llama4-community",
    "bigscience-bloom-rail-1.0": "bigscience-bloom-rail-1.0",
    "gemma": "gemma-terms",
}
# ``license: other`` with a ``license_name`` naming the agreement.
CARD_LICENSE_NAMES = {
    "tongyi-qianwen": "tongyi-qianwen",
    "tongyi-qianwen-research": "tongyi-qianwen-research",
    "qwen": "qwen-license-2024",
    "qwen-research": "qwen-research-2024",
    "deepseek": "deepseek-license-1.0",
    "deepseek-license": "deepseek-license-1.0",
    "yi-license": "yi-license",
    "chatglm3-6b": "chatglm3-6b-license",
    "chatglm2-6b": "chatglm2-6b-license",
}
LICENSE_FILE = re.compile(r"^(LICEN[CS]E|MODEL_LICEN[CS]E|COPYING)|LICEN[CS]E|AGREEMENT", re.I)
MAX_TEXT_BYTES = 2_000_000
RESTRICTIVENESS = {"no": 0, "unknown": 1, "conditional": 2, "yes": 3}


class Evidence(BaseModel):
    """One piece of evidence: a file and what it says."""

    model_config = ConfigDict(frozen=True)

    file: str
    method: str = Field(description="model card | text fingerprint | base model | unreadable")
    license_id: str | None
    version: str | None = None
    detail: str
    added_text: str | None = Field(
        default=None, description="words beyond the standard text of a recognised license"
    )
    restrictive: bool = Field(default=False, description="the added words restrict use")


class LicenseDetection(BaseModel):
    """What the folder's files say about its license, and the resulting verdict."""

    model_config = ConfigDict(frozen=True)

    path: str
    license_id: str | None
    evidence: list[Evidence]
    verdict: LicenseVerdict
    conflict: bool = False


def _front_matter(readme: Path) -> dict[str, object]:
    text = readme.read_text(encoding="utf-8", errors="replace")
    m = re.match(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", text, re.S)
    if not m:
        return {}
    import yaml  # only a local checkpoint's card needs it, not the recommender's verdicts

    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _card_evidence(readme: Path) -> Evidence | None:
    meta = _front_matter(readme)
    raw = meta.get("license")
    if raw is None:
        return None
    value = str(raw[0] if isinstance(raw, list) and raw else raw).strip().lower()
    name = str(meta.get("license_name") or "").strip().lower()
    license_id = CARD_LICENSE_NAMES.get(name) if value == "other" else CARD_LICENSES.get(value)
    detail = f"license: {value}" + (f", license_name: {name}" if name else "")
    return Evidence(file=readme.name, method="model card", license_id=license_id, detail=detail)


def _base_model(folder: Path) -> ModelSpec | None:
    """The catalog model named by the card's ``base_model:`` (first one when it is a list)."""
    readme = folder / "README.md"
    if not readme.is_file():
        return None
    raw = _front_matter(readme).get("base_model")
    name = raw[0] if isinstance(raw, list) and raw else raw
    return load_catalog().find(str(name)) if isinstance(name, str) and name else None


# Where the standard wording of a permissive license starts and ends (normalized text); words
# outside these bounds, other than copyright lines and the title, are not part of the license.
STANDARD_BOUNDS = {
    "apache-2.0": (
        "apache license",
        ("limitations under the license.", "end of terms and conditions"),
    ),
    "mit": ("permission is hereby granted", ("other dealings in the software.",)),
}
RESTRICTIVE_WORDS = re.compile(
    r"commercial|prohibit|not permitted|not allowed|may not|must not|shall not|forbid|"
    r"restrict|only for|research purposes|without (?:prior |written )*permission|non-?profit"
)
TITLE_OR_COPYRIGHT = re.compile(r"^(?:the )?mit license(?: \(mit\))?$|copyright|\(c\)|all rights")


def added_text(license_id: str, text: str) -> tuple[str | None, bool]:
    """Words of ``text`` outside the standard wording of ``license_id`` (None when there are
    none or the license has no known bounds), and whether they restrict use."""
    from llmselect.licenses.fingerprints import normalize_text

    if license_id not in STANDARD_BOUNDS:
        return None, False
    start_phrase, end_phrases = STANDARD_BOUNDS[license_id]
    norm = normalize_text(text)
    start = norm.find(start_phrase)
    ends = [norm.rfind(p) + len(p) for p in end_phrases if norm.rfind(p) >= 0]
    if start < 0 or not ends:
        return None, False
    outside = norm[:start] + " . " + norm[max(ends) :]
    sentences = [x.strip(" .") for x in re.split(r"(?<=[.!?;:])\s+|\n", outside)]
    extra = [x for x in sentences if x and not TITLE_OR_COPYRIGHT.search(x)]
    if not extra:
        return None, False
    words = " ".join(extra)
    return words[:300], bool(RESTRICTIVE_WORDS.search(words))


def _gguf_evidence(path: Path) -> list[Evidence]:
    """``general.license`` of a GGUF file (its own metadata, never a fingerprint of the binary)."""
    from llmselect.formats.gguf_file import read_gguf

    value = read_gguf(path).metadata.get("general.license")
    if not value:
        return [Evidence(file=path.name, method="GGUF metadata", license_id=None,
                         detail="no general.license in the GGUF metadata")]  # fmt: skip
    key = str(value).strip().lower()
    return [
        Evidence(
            file=path.name,
            method="GGUF metadata",
            license_id=CARD_LICENSES.get(key),
            detail=f"general.license: {value}",
        )
    ]


def _file_evidence(path: Path) -> list[Evidence]:
    if path.suffix.lower() == ".pdf":
        return [
            Evidence(
                file=path.name,
                method="unreadable",
                license_id=None,
                detail="PDF license text is not read; check it by hand",
            )
        ]
    data = path.read_bytes()[:MAX_TEXT_BYTES]
    matches = match_text(data.decode("utf-8", errors="replace"))
    if not matches:
        return [
            Evidence(
                file=path.name,
                method="text fingerprint",
                license_id=None,
                detail="text matches no known license",
            )
        ]
    text = data.decode("utf-8", errors="replace")
    found = []
    for m in matches:
        extra, restrictive = added_text(m.license_id, text)
        detail = f"contains {m.evidence!r}"
        if extra:
            detail += f"; plus words outside the standard text: {extra[:120]!r}"
        found.append(
            Evidence(
                file=path.name,
                method="text fingerprint",
                license_id=m.license_id,
                version=m.version,
                detail=detail,
                added_text=extra,
                restrictive=restrictive,
            )
        )
    return found


def license_files(folder: Path) -> list[Path]:
    """License-like files directly in ``folder`` (not README or use policies)."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and LICENSE_FILE.search(p.name) and not p.name.lower().startswith("readme")
    )


def _verdict_for(
    license_id: str | None,
    version: str | None,
    name: str,
    purpose: str,
    on: date | None,
    table: LicenseTable,
    where: str | None = None,
) -> LicenseVerdict:
    lic = table.find(license_id)
    if on is None and lic is not None and version is not None:
        # An older revision's text gives that revision's terms.
        for terms in lic.history:
            if terms.version == version:
                on = terms.effective_date
    ref = LicenseRef(
        id=license_id,
        commercial=lic.commercial if lic else None,
        source=where or f"detected in {name}",
    )
    spec = ModelSpec(id=name, name=name, family="local", license=ref)
    return verdict(spec, purpose, on, catalog=Catalog([spec]), licenses=table)


def _through_base(
    base: ModelSpec, name: str, purpose: str, on: date | None, table: LicenseTable, why: str
) -> tuple[LicenseVerdict, Evidence]:
    """The verdict of the catalog's ``base`` model for the checkpoint ``name``, and its
    evidence (the card's ``base_model:``)."""
    v = verdict(base, purpose, on, licenses=table)
    v = v.model_copy(
        update={
            "model_id": name,
            "resolved_via": base.id,
            "notes": [*v.notes, f"{why}; base model {base.id} applies"],
        }
    )
    found = Evidence(
        file="README.md",
        method="base model",
        license_id=v.license_id,
        detail=f"base_model: {base.hf_repo or base.id} (catalog {base.id})",
    )
    return v, found


def _limit_by_added_text(v: LicenseVerdict, e: Evidence) -> LicenseVerdict:
    """Never promise more than the text: added words turn a yes into unknown (restrictive)
    or conditional (anything else), quoting them."""
    if v.allowed != "yes" and not (e.restrictive and v.allowed == "conditional"):
        return v
    quoted = f"{e.file} adds to the {e.license_id} text: {e.added_text!r}"
    if e.restrictive:
        return v.model_copy(
            update={"allowed": "unknown",
                    "conditions": [*v.conditions, f"{quoted}; it restricts use, read it first"]}
        )  # fmt: skip
    return v.model_copy(
        update={"allowed": "conditional", "conditions": [*v.conditions, f"{quoted}; check it"]}
    )


def detect(
    path: Path | str,
    purpose: str = "commercial",
    on: date | None = None,
    *,
    licenses: LicenseTable | None = None,
) -> LicenseDetection:
    """Identify the license of a local checkpoint folder (or a single license file)."""
    root = Path(path).expanduser()
    if not root.exists():
        raise LLMSelectError(f"no such file or folder: {root}")
    table = licenses or load_licenses()
    evidence: list[Evidence] = []
    if root.is_file() and root.suffix.lower() == ".gguf":
        evidence += _gguf_evidence(root)
    elif root.is_file():
        evidence += _file_evidence(root)
    else:
        readme = root / "README.md"
        if readme.is_file():
            card = _card_evidence(readme)
            if card:
                evidence.append(card)
        for f in license_files(root):
            evidence += _file_evidence(f)
    name = root.name or str(root)
    base = _base_model(root) if root.is_dir() else None
    if not evidence:
        if base is not None:
            # A fine-tune without license files of its own carries its base model's license.
            v, found = _through_base(base, name, purpose, on, table, "no license of its own")
            return LicenseDetection(
                path=str(root), license_id=v.license_id, evidence=[found], verdict=v
            )
        v = _verdict_for(None, None, name, purpose, on, table)
        v = v.model_copy(update={"conditions": ["No model card license and no license file."]})
        return LicenseDetection(path=str(root), license_id=None, evidence=[], verdict=v)
    within = f"{name}/" if root.is_dir() else ""  # a file given alone is named once
    candidates = {
        (e.license_id, e.version): _verdict_for(
            e.license_id, e.version, name, purpose, on, table,
            where=f"{within}{e.file} ({e.method}: {e.detail})"[:300],
        )
        for e in evidence
    }  # fmt: skip
    for e in evidence:
        if e.added_text:
            key = (e.license_id, e.version)
            candidates[key] = _limit_by_added_text(candidates[key], e)
    # One file may bundle several texts (code + weights); files disagree when their first
    # (main) license differs.
    main_per_file: dict[str, str | None] = {}
    for e in evidence:
        main_per_file.setdefault(e.file, e.license_id)
    if base is not None:
        # A derivative stays bound by its base model's license, whatever its own card says.
        v, found = _through_base(base, name, purpose, on, table, "its base model's terms bind it")
        evidence.append(found)
        candidates.setdefault((v.license_id, "base model"), v)
        main_per_file[f"{found.file} ({found.method})"] = v.license_id
    ids = set(main_per_file.values())
    # The most restrictive reading wins: unknown text never upgrades a verdict.
    chosen_key = min(candidates, key=lambda k: RESTRICTIVENESS[candidates[k].allowed])
    chosen = candidates[chosen_key]
    conflict = len(ids) > 1
    if conflict:
        named = ", ".join(sorted(str(i) for i in ids))
        chosen = chosen.model_copy(
            update={"notes": [*chosen.notes, f"files disagree ({named}); most restrictive shown"]}
        )
    return LicenseDetection(
        path=str(root),
        license_id=chosen_key[0],
        evidence=evidence,
        verdict=chosen,
        conflict=conflict,
    )
