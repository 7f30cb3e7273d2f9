"""Texts not in the store, ranked by the same stages: a draft's sidebar (`draft_sidebar`) and the
engine's relevance of two texts (`text_relevance`), both on the scale the sidebar ranks with."""

from __future__ import annotations

import numpy as np

from ..config import Settings
from ..index.lexical import NEIGHBOURS, calibrated, text_neighbours, text_query, text_score
from .candidates import LexicalNeighbours
from .catalog import Catalog
from .params import Query, RankingParams
from .scorer import dense_relevance
from .sidebar import Related, sidebar


def language_code(catalog: Catalog, language: str | None) -> int:
    """The catalog's code of a language name; None: the catalog's most common language."""
    if language is None:
        codes, counts = np.unique(catalog.languages, return_counts=True)
        return int(codes[np.argmax(counts)]) if len(codes) else -1
    names = [name.lower() for name in catalog.language_names]
    return names.index(language.lower()) if language.lower() in names else -3  # matches no article


def draft_sidebar(
    catalog: Catalog, query: Query, vector: np.ndarray, text: str, language: str | None = None
) -> list[Related]:
    """The sidebar of a text not in the store (a draft): its vector and words stand in for a row."""
    query = query.checked()
    code = language_code(catalog, language)
    params = RankingParams.build(catalog, -1, query, language=code)
    lexical = LexicalNeighbours(np.zeros(0, np.int64), np.zeros(0, np.float32), params.lexical_random)
    meta = catalog.lexical_meta
    if catalog.lexical is not None and meta is not None and params.lexical_weight > 0:
        rows, scores = text_neighbours(catalog.lexical, text_query(catalog.lexical, meta, text))
        same = catalog.languages[rows] == code
        rows, scores = rows[same][:NEIGHBOURS], scores[same][:NEIGHBOURS]
        bound = float(scores[-1]) if len(scores) >= NEIGHBOURS else params.lexical_random
        order = np.argsort(rows)
        lexical = LexicalNeighbours(rows[order], scores[order], bound)
    return sidebar(catalog, params, np.asarray(vector, np.float32), lexical)


def text_relevance(
    catalog: Catalog, settings: Settings, vectors: np.ndarray, text_a: str, text_b: str, same_language: bool
) -> float:
    """Relevance of text_b for a sidebar of text_a: the calibrated cosine fused with the calibrated
    lexical score (lexical_weight), dense only across languages; 0..1."""
    params = RankingParams.build(catalog, 0, Query(), settings)
    cosine = float(np.asarray(vectors[0], np.float64) @ np.asarray(vectors[1], np.float64))
    dense = float(dense_relevance(params, np.array([cosine]))[0])
    meta = catalog.lexical_meta
    weight = settings.lexical_weight
    if not same_language or catalog.lexical is None or meta is None or weight <= 0:
        return dense
    query = text_query(catalog.lexical, meta, text_a)
    if query.self_score <= 0:
        return dense  # no uncommon word: the lexical signal says nothing (as for stored sources)
    score = text_score(query, text_query(catalog.lexical, meta, text_b))
    return (1.0 - weight) * dense + weight * float(calibrated(score, meta))
