"""Candidate sources of a sidebar: the vector index (nearest neighbours, searched wider when filters
leave too few), the source's precomputed lexical neighbours (index/lexical.py), and the recent
window (new articles that recency could still lift above the n-th pick)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..index.lexical import NEIGHBOURS
from .catalog import Catalog
from .params import RankingParams
from .scorer import best_possible, dense_relevance, lexical_relevance, relevance_needed

FRESH_HALF_LIVES = 2.0  # the recent window: this many default half-lives before as_of
FRESH_LIMIT = 5_000  # newest articles kept as one block: live sidebars score them in one product
FRESH_GATHER_LIMIT = 1_000  # for a past `as_of` their vectors are gathered: keep that cheap
MAX_CANDIDATES = 8_192  # the deepest the widening search goes


@dataclass(frozen=True)
class LexicalNeighbours:
    """The source's lexical neighbours, sorted by row for lookups."""

    rows: np.ndarray
    scores: np.ndarray
    bound: float  # the highest raw score an article outside the list can have

    @classmethod
    def of(cls, catalog: Catalog, params: RankingParams) -> LexicalNeighbours:
        if catalog.lexical is None or params.lexical_weight <= 0:
            return cls(np.zeros(0, np.int64), np.zeros(0, np.float32), params.lexical_random)
        rows, scores = catalog.lexical.neighbours(params.source_row)
        bound = float(scores[-1]) if len(scores) >= NEIGHBOURS else params.lexical_random
        order = np.argsort(rows)
        return cls(rows[order].astype(np.int64), scores[order], bound)

    def lookup(self, rows: np.ndarray) -> np.ndarray:
        """Raw lexical score of each row (0 outside the list)."""
        if len(self.rows) == 0:
            return np.zeros(len(rows), np.float32)
        at = np.minimum(np.searchsorted(self.rows, rows), len(self.rows) - 1)
        return np.where(self.rows[at] == rows, self.scores[at], 0.0).astype(np.float32)


def nearest(catalog: Catalog, vector: np.ndarray, k: int, source: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cosines) of about the k nearest articles, best first (rows -1 for ids not in the
    catalog); the last cosine bounds every article not returned. For a `source` row of the build
    they come from the list the build stored (index/neighbours.py), all of it, when it holds k;
    else from a search of the vector index."""
    if source >= 0:
        listed = catalog.stored_neighbours(source, k - 1)  # the k nearest include the source
        if listed is not None:
            found = _listed(catalog, vector, listed)
            if found is not None:
                return found
    labels, sims = catalog.index.search(vector, k)
    return catalog.rows_of_ids(labels), sims


def _listed(catalog: Catalog, vector: np.ndarray, listed: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A stored list and the fresh articles as alike as its farthest entry, best first; None when
    no entry of the list can bound the rest (every one gone or searched since)."""
    fresh_rows, fresh_vectors = catalog.fresh_block()
    rows = listed[listed >= 0]
    settled = ~np.isin(rows, fresh_rows)  # entries whose vector is the one the list was searched with
    if not settled.any():
        return None
    sims = catalog.vectors_of(rows) @ vector
    # an article not in the list was, when the list was searched, at most as alike as its
    # farthest entry; one searched since (fresh) may be more alike now, so it is scored here
    farthest = float(sims[settled].min())
    if len(fresh_rows):
        rows = np.concatenate([rows, fresh_rows])
        sims = np.concatenate([sims, fresh_vectors @ vector])
        near = sims >= farthest
        rows, sims = rows[near], sims[near]
    order = np.argsort(-sims, kind="stable")
    return rows[order], sims[order]


def relevance_bound(params: RankingParams, lexical: LexicalNeighbours, farthest: float) -> float:
    """The highest relevance an article not yet fetched can have: at most as alike as the farthest
    fetched one, and outside the lexical list."""
    dense = float(dense_relevance(params, np.array([farthest]))[0])
    if params.lexical_weight <= 0:
        return dense
    lex = float(lexical_relevance(params, np.array([lexical.bound]))[0])
    return (1.0 - params.lexical_weight) * dense + params.lexical_weight * lex


def settled(params: RankingParams, worst_pick: float, bound: float) -> bool:
    """True when no article beyond those fetched can outscore the n-th pick."""
    return worst_pick >= best_possible(params, bound)


def recent(
    catalog: Catalog, params: RankingParams, vector: np.ndarray, worst_pick: float, default_half_life: float
) -> np.ndarray:
    """Recent articles alike enough that, brand new and boosted, they could beat the n-th pick."""
    window = FRESH_HALF_LIVES * default_half_life
    rows, sims = catalog.recent_similar(vector, params.as_of, window, FRESH_LIMIT, FRESH_GATHER_LIMIT)
    needed = max(relevance_needed(params, worst_pick), params.min_relevance)
    if params.lexical_weight > 0:  # the lexical share could supply up to lexical_weight of it
        needed = (needed - params.lexical_weight) / (1.0 - params.lexical_weight)
    return rows[sims >= params.sim_floor + needed * (params.sim_ceiling - params.sim_floor)]
