"""The score of a candidate: one definition (`parts`), which the ranking sums, `score_parts` shows
and `formula` prints.

    relevance = (1 - lexical_weight) * dense + lexical_weight * lexical   (same language)
              = dense                                                      (other languages)
    multiplier (default):  score = similarity_weight * relevance * (1 - w + w * recency)
                                   + section boost - language penalty
    additive (legacy):     score = similarity_weight * relevance + w * recency
                                   + section boost - language penalty

dense: cosine rescaled per model, 0 = as alike as two random articles, 1 = as alike as a
    republished copy (measured at build time, index/calibration.py), clipped to [0, 1];
lexical: the source's BM25 more-like-this score of the candidate on the same scale (0 = random
    same-language pair, 1 = republished copy: index/lexical.py); 0 for candidates outside the
    source's precomputed lexical neighbours;
recency: 0.5 ** (age in days / half-life of the candidate's section) at `as_of`, or
    undated_recency; w = recency_weight;
section boost: the source section's weighted boost when the candidate shares the source's section;
language penalty: cross_language_penalty for a candidate in another language (when allowed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .catalog import Catalog
from .params import RankingParams

FORMULAS = {
    "multiplier": "similarity_weight * relevance * (1 - recency_weight + recency_weight * recency)"
    " + section_boost - language_penalty",
    "additive": "similarity_weight * relevance + recency_weight * recency + section_boost - language_penalty",
}
RELEVANCE = (
    "relevance = (1 - lexical_weight) * dense + lexical_weight * lexical (dense only across languages)"
)


def formula(params: RankingParams) -> str:
    """The formula this call's parameters run, with their values."""
    return (
        f"score = {FORMULAS[params.recency_mode]}\n{RELEVANCE}\n"
        f"similarity_weight={params.similarity_weight:g} recency_weight={params.recency_weight:g} "
        f"lexical_weight={params.lexical_weight:g} min_relevance={params.min_relevance:g} "
        f"copies by {params.copy_rule} fill={params.fill}"
    )


def parts(
    mode: str,
    similarity_weight: float,
    recency_weight: float,
    relevance: np.ndarray | float,
    recency: np.ndarray | float,
    section_boost: np.ndarray | float,
    language_penalty: np.ndarray | float,
) -> dict[str, np.ndarray | float]:
    """The terms whose sum is the score."""
    if mode == "multiplier":
        return {
            "relevance": similarity_weight * relevance * (1.0 - recency_weight),
            "recency": similarity_weight * relevance * recency_weight * recency,
            "section": section_boost,
            "language": -language_penalty,
        }
    return {
        "relevance": similarity_weight * relevance,
        "recency": recency_weight * recency,
        "section": section_boost,
        "language": -language_penalty,
    }


@dataclass(frozen=True)
class Scored:
    """Candidates best first, with the parts of their score."""

    rows: np.ndarray
    similarity: np.ndarray
    dense: np.ndarray
    lexical: np.ndarray
    relevance: np.ndarray
    recency: np.ndarray
    section_boost: np.ndarray
    language_penalty: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


def dense_relevance(params: RankingParams, sims: np.ndarray) -> np.ndarray:
    return np.clip((sims - params.sim_floor) / (params.sim_ceiling - params.sim_floor), 0.0, 1.0)


def lexical_relevance(params: RankingParams, raw: np.ndarray) -> np.ndarray:
    span = max(params.lexical_copy - params.lexical_random, 1e-9)
    return np.clip((raw - params.lexical_random) / span, 0.0, 1.0)


def score(
    catalog: Catalog, params: RankingParams, rows: np.ndarray, sims: np.ndarray, lexical: np.ndarray
) -> Scored:
    """Score candidate rows (cosines `sims`, raw lexical scores `lexical`), best first (ties by id)."""
    sims = np.asarray(sims, np.float64)
    dense = dense_relevance(params, sims)
    lex = lexical_relevance(params, np.asarray(lexical, np.float64))
    sections = catalog.sections[rows]
    same_language = catalog.languages[rows] == params.visibility.language
    weight = params.lexical_weight
    relevance = np.where(same_language, (1.0 - weight) * dense + weight * lex, dense) if weight else dense
    age_days = np.maximum(0.0, params.as_of - catalog.published[rows]) / 86400.0
    with np.errstate(invalid="ignore"):
        recency = np.where(
            np.isnan(age_days),
            params.undated_recency,
            0.5 ** (age_days / params.half_lives[sections]),  # code -1: the last entry
        )
    source_section = params.source_section
    same_section = (sections == source_section) & (source_section >= 0)
    boost = np.where(same_section, params.section_boost, 0.0)
    penalty = np.where(same_language, 0.0, params.cross_language_penalty)
    terms = parts(
        params.recency_mode,
        params.similarity_weight,
        params.recency_weight,
        relevance,
        recency,
        boost,
        penalty,
    )
    total = np.asarray(sum(terms.values()), np.float64)
    order = np.lexsort((catalog.ids[rows], -total))
    return Scored(
        rows[order],
        sims[order],
        dense[order],
        lex[order],
        relevance[order],
        recency[order],
        boost[order],
        penalty[order],
        total[order],
    )


def best_possible(params: RankingParams, relevance: float) -> float:
    """The highest score a candidate of at most this relevance can reach (brand new, boosted)."""
    terms = parts(
        params.recency_mode, params.similarity_weight, params.recency_weight, relevance, 1.0,
        max(params.section_boost, 0.0), 0.0,
    )  # fmt: skip
    return float(sum(terms.values()))


def relevance_needed(params: RankingParams, target: float) -> float:
    """The least relevance with which a brand new, boosted candidate could reach `target`."""
    boost = max(params.section_boost, 0.0)
    w, sw = params.recency_weight, max(params.similarity_weight, 1e-9)
    if params.recency_mode == "multiplier":
        return (target - boost) / sw
    return (target - w - boost) / sw
