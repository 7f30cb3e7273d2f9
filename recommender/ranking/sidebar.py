"""A sidebar in four stages: candidates -> scorer -> selection -> fill (and editors' pins).

    candidates.py  nearest neighbours (widened when filters leave too few), the source's lexical
                   neighbours, and the recent window
    scorer.py      the one score definition (printed by `formula`, shown by `score_parts`)
    selection.py   relevance floor, copies of the source and within the list, daily series, fill
All four read one frozen `RankingParams` (params.py), made once per call from the settings, the
overlay and the query; nothing here queries a database (catalog.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from ..config import Settings
from ..store import Article
from . import candidates as sources
from .catalog import Catalog
from .params import MAX_N, Query, RankingParams
from .scorer import Scored, parts, score
from .selection import Copies, fill, pin, select

PRESETS = ("default", "legacy")


@dataclass(frozen=True)
class Related:
    """One sidebar entry, with the parts of its score so that it can be explained."""

    id: str
    title: str
    url: str | None
    section: str | None
    language: str | None
    published_at: datetime | None
    score: float
    similarity: float  # raw cosine to the source article
    relevance: float  # dense and lexical relevance fused (see scorer.py), 0..1
    recency: float
    section_boost: float
    language_penalty: float = 0.0
    fallback: bool = False  # True: filled in below the relevance floor or from the newest articles
    dense: float = 0.0  # the cosine rescaled for this model, 0..1
    lexical: float = 0.0  # the lexical more-like-this score on the same scale, 0..1
    fill: str | None = None  # the fill step that gave it: below_floor, section or language
    pinned: bool = False  # put here by an editor's pin
    # what a sidebar draws besides the title (render fields, from the build's snapshot)
    snippet: str | None = None  # the summary, else the body's opening, cut (index/snippet.py)
    image: str | None = None  # an http(s) url
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["published_at"] = self.published_at.isoformat() if self.published_at else None
        return data


class Weights(Protocol):
    similarity_weight: float
    recency_weight: float
    recency_mode: str


def score_parts(item: Related, weights: Weights | Settings) -> dict[str, float]:
    """The weighted terms whose sum is `item.score` (scorer.parts): the CLI's table and its --json."""
    terms = parts(
        weights.recency_mode, weights.similarity_weight, weights.recency_weight, item.relevance,
        item.recency, item.section_boost, item.language_penalty,
    )  # fmt: skip
    return {name: float(value) for name, value in terms.items()}


def related(
    catalog: Catalog,
    source: Article,
    query: Query,
    settings: Settings | None = None,
    preset: str = "default",
) -> list[Related]:
    """The sidebar for `source`: best candidates first, then fill if fewer than n.

    `settings` replaces the store's own for this call (evaluation runs ablations this way);
    `preset` "legacy" runs the engine as it was before issue 9 (RankingParams.legacy).
    """
    query = query.checked()
    source_row = catalog.row(source.external_id)
    make = RankingParams.legacy if preset == "legacy" else RankingParams.build
    return sidebar(catalog, make(catalog, source_row, query, settings))


def sidebar(
    catalog: Catalog,
    params: RankingParams,
    vector: np.ndarray | None = None,
    lexical: sources.LexicalNeighbours | None = None,
) -> list[Related]:
    """The four stages for one set of parameters; a text not in the store brings its own vector
    and lexical neighbours."""
    source = params.source_row if vector is None else -1  # its stored lists fit its stored vector
    if vector is None:
        vector = catalog.vectors_of(np.array([params.source_row]))[0]
    if lexical is None:
        lexical = sources.LexicalNeighbours.of(catalog, params)
    size = min(len(catalog.index), sources.MAX_CANDIDATES)
    k = params.n * params.overfetch + 10
    fresh = np.zeros(0, np.int64)
    copies = Copies(catalog, params, vector)
    while True:
        rows, sims = sources.nearest(catalog, vector, k + 1, source)
        scored = _score(catalog, params, np.concatenate([rows, lexical.rows, fresh]), vector, lexical)
        chosen = select(scored, params, copies)
        if k + 1 >= size or len(sims) == 0:
            break
        bound = sources.relevance_bound(params, lexical, float(sims[-1]))
        if bound < params.min_relevance:
            break  # the farthest fetched is below the floor already: deeper ones are weaker
        if len(chosen.picked) >= params.n:
            worst = float(scored.score[chosen.picked[-1]])
            if len(fresh) or sources.settled(params, worst, bound):
                break
            # A story with more close articles than were fetched: a new follow-up deeper down
            # could still win on recency, so recent articles close enough to do so join, once.
            fresh = sources.recent(catalog, params, vector, worst, float(params.half_lives[-1]))
            if len(fresh) == 0:
                break
            continue
        k *= 4  # filters removed too much: widen the net
    filled = fill(catalog, params, scored, chosen, copies, vector)
    return _items(catalog, params, scored, chosen.picked, filled, vector, lexical)


def _score(
    catalog: Catalog,
    params: RankingParams,
    rows: np.ndarray,
    vector: np.ndarray,
    lexical: sources.LexicalNeighbours,
) -> Scored:
    rows = np.unique(rows[rows >= 0])
    rows = rows[params.visibility.mask(catalog, rows)]
    sims = catalog.vectors_of(rows) @ vector if len(rows) else np.zeros(0, np.float32)
    return score(catalog, params, rows, sims, lexical.lookup(rows))


def _items(
    catalog: Catalog,
    params: RankingParams,
    scored: Scored,
    picked: list[int],
    filled: list[tuple[int, str]],
    vector: np.ndarray,
    lexical: sources.LexicalNeighbours,
) -> list[Related]:
    """The Related entries: picks, then fill, then the editors' pins put in place."""
    steps: dict[int, str | None] = {int(scored.rows[i]): None for i in picked}
    steps.update({row: step for row, step in filled})
    order, pinned = pin(catalog, params, list(steps))
    if not order:
        return []
    at = {int(r): (scored, i) for i, r in enumerate(scored.rows.tolist()) if r in steps or r in pinned}
    missing = np.array([r for r in order if r not in at], np.int64)  # filled from the newest, pinned
    if len(missing):
        more = score(catalog, params, missing, catalog.vectors_of(missing) @ vector, lexical.lookup(missing))
        at.update({int(r): (more, i) for i, r in enumerate(more.rows.tolist())})
    return [_related(catalog, *at[row], steps.get(row), row in pinned) for row in order]


def _related(catalog: Catalog, scored: Scored, i: int, step: str | None, pinned: bool) -> Related:
    row = int(scored.rows[i])
    return Related(
        id=catalog.external_id(row),
        title=catalog.title(row),
        url=catalog.strings.get("url", row),
        section=catalog.section_name(row),
        language=catalog.language_name(row),
        published_at=catalog.published_at(row),
        score=float(scored.score[i]),
        similarity=float(scored.similarity[i]),
        relevance=float(scored.relevance[i]),
        recency=float(scored.recency[i]),
        section_boost=float(scored.section_boost[i]),
        language_penalty=float(scored.language_penalty[i]),
        fallback=step is not None and not pinned,
        dense=float(scored.dense[i]),
        lexical=float(scored.lexical[i]),
        fill=step if not pinned else None,
        pinned=pinned,
        snippet=catalog.snippet(row),
        image=catalog.image(row),
        authors=catalog.authors(row),
        tags=catalog.tags(row),
    )


__all__ = ["MAX_N", "PRESETS", "Query", "Related", "related", "score_parts", "sidebar"]
