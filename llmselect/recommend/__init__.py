"""The recommender: registered constraints, then registered score terms, over the catalog.

``pipeline.recommend`` is the whole idea in a page; ``constraints`` and ``terms`` hold one small
function per rule (each a registry entry); ``profiles`` reads the purpose data; ``evidence``
reads the result store (through its latest-value index) and the shipped tokenizer baseline;
``settings`` reads how each score was obtained and ``quality`` puts every model on one quality
scale with an interval (fitted offline by ``quality_fit``); ``score`` normalises by value and
ranks by a lower quantile; ``fit`` sizes a model with the exact memory estimator; ``result``
shapes the answer.
"""

from __future__ import annotations

from llmselect.recommend.evidence import (
    Evidence,
    evidence_from_latest,
    evidence_from_records,
    load_baseline,
    load_evidence,
)
from llmselect.recommend.pipeline import FINETUNE_MODES, Query, recommend
from llmselect.recommend.profiles import (
    LANGS,
    PRECISIONS,
    Profile,
    Request,
    get_profile,
    load_profiles,
    parse_lang_mix,
    term_weights,
)
from llmselect.recommend.result import Exclusion, Recommendation, RecommendResult, explain
from llmselect.recommend.terms import ScoreTerm, Term

__all__ = [
    "FINETUNE_MODES",
    "LANGS",
    "PRECISIONS",
    "Evidence",
    "Exclusion",
    "Profile",
    "Query",
    "Recommendation",
    "RecommendResult",
    "Request",
    "ScoreTerm",
    "Term",
    "evidence_from_latest",
    "evidence_from_records",
    "explain",
    "get_profile",
    "load_baseline",
    "load_evidence",
    "load_profiles",
    "parse_lang_mix",
    "recommend",
    "term_weights",
]
