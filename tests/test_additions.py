"""The catalog addition records (scripts/additions): every record is complete, its config copy is
the file whose sha256 it records, its licence and tokenizer ids exist, its dates parse, and the
catalog gains at least 30 models released from 2025-08 on."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ADDITIONS = ROOT / "scripts" / "additions"
DATA = ROOT / "llmselect" / "data"
RECORDS = sorted(ADDITIONS.glob("*.yaml"))
SOURCE_RE = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}:\S+$")
UNSOURCED = "not sourced"
# The day the records were last collected (a new pass moves it): no release date lies after it.
# A fixed day, not date.today(), so the check does not depend on the clock of the machine.
COLLECTED_BY = dt.date(2026, 12, 6)


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _ids(name: str) -> set[str]:
    return {row["id"] for row in yaml.safe_load((DATA / name).read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def records() -> dict[str, dict]:
    return {p.stem: _load(p) for p in RECORDS}


def test_there_are_records():
    assert len(RECORDS) >= 30


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.stem)
def test_record_is_complete(path: Path):
    rec = _load(path)
    assert rec["id"] == path.stem == rec["id"].lower()
    for key in ("name", "family", "variant", "hf_repo"):
        assert isinstance(rec[key], str) and rec[key].strip(), key
    # the tuning agrees with the variant the card states (a pretrained checkpoint is base)
    assert rec["tuning"] == ("base" if rec["variant"].startswith("pretrained") else "instruct")
    assert rec["revision"] is not None or rec["revision_note"]
    for key in ("context_source", "release_date_source", "languages_source"):
        assert isinstance(rec[key], str) and rec[key].strip(), key
    assert isinstance(rec["scores"], list) and isinstance(rec["notes"], list)
    assert any(n.startswith("Config check (transformers") for n in rec["notes"])
    pub = rec["params_published"]
    assert pub["source"] and ("total" in pub and "active" in pub)


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.stem)
def test_config_copy_matches_the_recorded_hash(path: Path):
    cfg = _load(path)["config"]
    assert SOURCE_RE.match(cfg["source"]), cfg["source"]
    file = ADDITIONS / cfg["file"]
    assert file.is_file(), file
    raw = file.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == cfg["sha256"]
    assert json.loads(raw)["model_type"] == cfg["model_type"]
    assert cfg["note"]


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.stem)
def test_licence_and_tokenizer_ids_are_known(path: Path):
    rec = _load(path)
    lic = rec["license"]
    assert lic["id"] in _ids("licenses.yaml"), lic["id"]
    assert lic["commercial"] in ("yes", "no", "conditional")
    assert lic["source"]
    tok = rec["tokenizer"]
    if tok["family"] is None:
        assert tok["source"] and "no " in tok["source"].lower(), "null tokenizer needs a reason"
    else:
        assert tok["family"] in _ids("tokenizers.yaml"), tok["family"]
        assert tok["source"]


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.stem)
def test_values_parse_or_say_why_not(path: Path):
    rec = _load(path)
    if rec["release_date"] is None:
        assert rec["release_date_source"].startswith(UNSOURCED)
    else:
        day = dt.date.fromisoformat(rec["release_date"])
        assert dt.date(2025, 1, 1) <= day <= COLLECTED_BY, day
    if rec["context_length"] is None:
        assert rec["context_source"].startswith(UNSOURCED)
    else:
        assert isinstance(rec["context_length"], int) and rec["context_length"] > 0
    if rec["languages"] is None:
        assert rec["languages_source"].startswith(UNSOURCED)
    else:
        assert rec["languages"] and all(re.fullmatch(r"[a-z]{2,3}", c) for c in rec["languages"])
    for score in rec["scores"]:
        assert isinstance(score["value"], (int, float)), score
        for key in ("benchmark", "setting", "source", "model", "thinking"):
            assert score[key], (key, score)
        assert "shots" in score and "split" in score


def test_ids_are_unique_and_new(records: dict[str, dict]):
    catalog = _ids("catalog.yaml")
    assert not set(records) & catalog, set(records) & catalog


def test_thirty_models_from_2025_08_on(records: dict[str, dict]):
    recent = [
        rid
        for rid, rec in records.items()
        if rec["release_date"] and dt.date.fromisoformat(rec["release_date"]) >= dt.date(2025, 8, 1)
    ]
    assert len(recent) >= 30, sorted(recent)


def test_every_config_copy_belongs_to_a_record(records: dict[str, dict]):
    used = {(ADDITIONS / rec["config"]["file"]).resolve() for rec in records.values()}
    assert set(p.resolve() for p in (ADDITIONS / "configs").glob("*.json")) == used


@pytest.mark.slow
@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.stem)
def test_config_loads_in_transformers(path: Path):
    """The copy is a config transformers reads: AutoConfig.for_model on its model_type, as the
    record's Config check note says (a model_type transformers lacks must be said there)."""
    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    rec = _load(path)
    cfg = json.loads((ADDITIONS / rec["config"]["file"]).read_bytes())
    model_type = cfg.pop("model_type")
    check = next(n for n in rec["notes"] if n.startswith("Config check (transformers"))
    if model_type not in CONFIG_MAPPING_NAMES:
        assert "Unrecognized model identifier" in check or model_type in check
        return
    conf = AutoConfig.for_model(model_type, **cfg)
    assert conf.model_type == model_type
