"""From nearest-neighbour candidates to a sidebar: score, filter, drop copies, fill if short.

    score = similarity_weight * relevance + recency_weight * recency + section boost
            - language penalty

relevance: cosine rescaled per model, 0 = as alike as two random articles, 1 = as alike as a
    republished copy (both measured at build time, see index/calibration.py), clipped to [0, 1];
recency: 0.5 ** (age in days / half-life of the candidate's section), age measured at `as_of`;
section boost: the source section's boost when the candidate shares the source's section;
language penalty: cross_language_penalty for a candidate in another language (when allowed).
The formula is written once as SQL (sql.RANKING: printable, and the reference the tests hold this
module to) and evaluated here in numpy over the in-memory catalog (catalog.py), so that a sidebar
makes no database query. Weights and section values come from the store through the catalog.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ..config import Settings
from ..errors import InvalidSetting
from ..index import VectorIndex
from ..store import Article
from .catalog import Catalog

# Candidates come from the vector index by similarity alone. When an article beyond the fetched
# ones could still outscore the n-th pick on recency (a new follow-up in a long-running story),
# the newest articles of the last FRESH_HALF_LIVES half-lives (at most FRESH_LIMIT) are scored too.
FRESH_HALF_LIVES = 2.0
FRESH_LIMIT = 5_000  # newest articles kept as one block: live sidebars score them in one product
FRESH_GATHER_LIMIT = 1_000  # for a past `as_of` their vectors are gathered: keep that cheap
MAX_CANDIDATES = 8_192  # the deepest the widening search goes
MAX_N = 1_000  # the longest list one call may ask for


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
    relevance: float  # similarity rescaled for this model (see module docstring)
    recency: float
    section_boost: float
    language_penalty: float = 0.0
    fallback: bool = False  # True: filled in from the newest same-section articles
    # what a sidebar draws besides the title (render fields, from the build's snapshot)
    snippet: str | None = None  # the summary, else the body's opening, cut (index/snippet.py)
    image: str | None = None  # an http(s) url
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["published_at"] = self.published_at.isoformat() if self.published_at else None
        return data


def score_parts(item: Related, settings: Settings) -> dict[str, float]:
    """The weighted terms whose sum is `item.score`: what the CLI's table and its --json both show."""
    return {
        "relevance": settings.similarity_weight * item.relevance,
        "recency": settings.recency_weight * item.recency,
        "section": item.section_boost,
        "language": -item.language_penalty if item.language_penalty else 0.0,
    }


@dataclass(frozen=True)
class Query:
    """What a caller may ask of one sidebar besides its length."""

    n: int = 5
    as_of: datetime | None = None  # default: now; later articles are never shown
    cross_language: bool | None = None  # default: the store's setting
    max_age_days: float | None = None
    exclude_sections: tuple[str, ...] = field(default_factory=tuple)

    def checked(self) -> Query:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or not 1 <= self.n <= MAX_N:
            raise InvalidSetting(f"n must be a whole number from 1 to {MAX_N}, got {self.n!r}")
        age = self.max_age_days
        if age is not None and (isinstance(age, bool) or not isinstance(age, int | float)):
            raise InvalidSetting(f"max age must be a number of days, got {age!r}")
        if age is not None and not (math.isfinite(age) and age > 0):  # NaN fails both tests
            raise InvalidSetting(f"max age must be a finite number of days above 0, got {age}")
        return self


def ranking_params(source: Article, query: Query, settings: Settings, index: VectorIndex) -> dict[str, Any]:
    """The parameters of sql.RANKING except the candidates themselves."""
    calibration = index.meta.calibration
    ceiling = settings.duplicate_threshold(calibration.near_duplicate_threshold)
    as_of = query.as_of or datetime.now(UTC)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    cross = settings.cross_language if query.cross_language is None else query.cross_language
    return {
        "source_id": source.id,
        "source_section": source.section,
        "source_language": source.language,
        "as_of": as_of,
        "sim_floor": calibration.similarity_mean,
        "sim_ceiling": max(ceiling, calibration.similarity_mean + 1e-6),
        "undated_recency": settings.undated_recency,
        "half_life_days": settings.half_life_days,
        "section_boost": settings.section_boost,
        "section_weight": settings.section_weight,
        "max_age_days": query.max_age_days,
        "exclude_sections": [s.lower() for s in query.exclude_sections],
        "cross_language": cross,
        "cross_language_penalty": settings.cross_language_penalty,
        "similarity_weight": settings.similarity_weight,
        "recency_weight": settings.recency_weight,
    }


def related(
    catalog: Catalog, source: Article, query: Query, settings: Settings | None = None
) -> list[Related]:
    """The sidebar for `source`: best candidates first, then fallback fill if fewer than n.

    `settings` replaces the store's own for this call (evaluation runs ablations this way).
    """
    query = query.checked()
    settings = settings or catalog.settings
    index = catalog.index
    source_row = catalog.row(source.external_id)
    vector = catalog.vectors_of(np.array([source_row]))[0]
    params = ranking_params(source, query, settings, index)
    duplicate = params["sim_ceiling"]
    k = query.n * settings.overfetch + 10
    fresh = np.zeros(0, np.int64)
    code = int(catalog.sections[source_row])
    boost = settings.section_weight * float(catalog.section_boosts[code]) if code >= 0 else 0.0
    while True:
        labels, sims = index.search(vector, k + 1)
        rows = catalog.rows_of_ids(labels)
        scored = score(catalog, np.union1d(rows, fresh) if len(fresh) else rows, vector, params, source_row)
        picked, picked_vectors, seen = _select(catalog, scored, query.n, settings, duplicate)
        if k + 1 >= min(len(index), MAX_CANDIDATES) or _below_bar(sims, params, settings):
            break  # (past MAX_CANDIDATES, fallback fills rather than searching ever deeper)
        if len(picked) >= query.n:
            if len(fresh) or _settled(picked[query.n - 1].score, sims, params, boost):
                break
            # A story with more close articles than were fetched: a new follow-up deeper down
            # could still win on recency, so recent articles close enough to do so join, once.
            fresh = _fresh(catalog, vector, params, settings, picked[query.n - 1].score, boost)
            if len(fresh) == 0:
                break
            continue
        k *= 4  # filters removed too much: widen the net
    if len(picked) < query.n:
        picked += _fill(catalog, params, vector, source_row, query.n - len(picked), seen, picked_vectors)
    return picked[: query.n]


def _settled(worst_pick: float, sims: np.ndarray, params: dict[str, Any], boost: float) -> bool:
    """True when no article beyond the fetched ones can outscore the n-th pick, even one at most as
    similar as the farthest fetched, published just now and given the section boost."""
    floor, ceiling = params["sim_floor"], params["sim_ceiling"]
    relevance = min(1.0, max(0.0, (float(sims[-1]) - floor) / (ceiling - floor)))
    best = params["similarity_weight"] * relevance + params["recency_weight"] + boost
    return worst_pick >= best


def _fresh(
    catalog: Catalog,
    vector: np.ndarray,
    params: dict[str, Any],
    settings: Settings,
    worst_pick: float,
    boost: float,
) -> np.ndarray:
    """Recent articles similar enough that, brand new and boosted, they could beat the n-th pick."""
    window = FRESH_HALF_LIVES * settings.half_life_days
    rows, sims = catalog.recent_similar(
        vector, params["as_of"].timestamp(), window, FRESH_LIMIT, FRESH_GATHER_LIMIT
    )
    floor, ceiling = params["sim_floor"], params["sim_ceiling"]
    needed = (worst_pick - params["recency_weight"] - boost) / max(params["similarity_weight"], 1e-9)
    needed = max(needed, settings.min_relevance)
    return rows[sims >= floor + needed * (ceiling - floor)]


@dataclass(frozen=True)
class Scored:
    """Candidates that passed the filters, best first, with the parts of their score (sql.RANKING)."""

    rows: np.ndarray
    similarity: np.ndarray
    relevance: np.ndarray
    recency: np.ndarray
    section_boost: np.ndarray
    language_penalty: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


def score(
    catalog: Catalog, rows: np.ndarray, source_vector: np.ndarray, params: dict[str, Any], source_row: int
) -> Scored:
    """sql.RANKING in numpy: filter the candidate rows, score them, order best first (ties by id)."""
    rows = rows[(rows >= 0) & (rows != source_row)]
    rows = rows[_visible(catalog, rows, params, source_row)]
    sims = catalog.vectors_of(rows) @ source_vector if len(rows) else np.zeros(0, np.float32)
    return _scored(catalog, rows, sims.astype(np.float64), params, source_row)


def _visible(catalog: Catalog, rows: np.ndarray, params: dict[str, Any], source_row: int) -> np.ndarray:
    """The WHERE clause of sql.RANKING: time, age, excluded sections, language."""
    as_of = params["as_of"].timestamp()
    published = catalog.published[rows]
    keep = ~(published > as_of)  # undated (NaN) stay
    if catalog.removed is not None:
        keep &= ~catalog.removed[rows]  # removed from the store since the build
    if params["max_age_days"] is not None:
        keep &= (as_of - published) <= params["max_age_days"] * 86400  # undated fail, as in SQL
    if params["exclude_sections"]:
        excluded = [c for c, name in enumerate(catalog.section_names) if name in params["exclude_sections"]]
        keep &= ~np.isin(catalog.sections[rows], excluded)
    if not params["cross_language"]:
        keep &= catalog.languages[rows] == catalog.languages[source_row]
    return keep


def _scored(
    catalog: Catalog, rows: np.ndarray, sims: np.ndarray, params: dict[str, Any], source_row: int
) -> Scored:
    floor, ceiling = params["sim_floor"], params["sim_ceiling"]
    relevance = np.clip((sims - floor) / (ceiling - floor), 0.0, 1.0)
    age_days = np.maximum(0.0, params["as_of"].timestamp() - catalog.published[rows]) / 86400.0
    with np.errstate(invalid="ignore"):
        recency = np.where(
            np.isnan(age_days), params["undated_recency"], 0.5 ** (age_days / catalog.half_life_days(rows))
        )
    source_section = int(catalog.sections[source_row])
    same_section = (catalog.sections[rows] == source_section) & (source_section >= 0)
    boost = params["section_weight"] * catalog.section_boosts[source_section] if source_section >= 0 else 0.0
    section_boost = np.where(same_section, boost, 0.0)
    penalty = np.where(
        catalog.languages[rows] == catalog.languages[source_row], 0.0, params["cross_language_penalty"]
    )
    total = (
        params["similarity_weight"] * relevance + params["recency_weight"] * recency + section_boost - penalty
    )
    order = np.lexsort((catalog.ids[rows], -total))
    return Scored(
        rows[order],
        sims[order],
        relevance[order],
        recency[order],
        section_boost[order],
        penalty[order],
        total[order],
    )


def _below_bar(sims: np.ndarray, params: dict[str, Any], settings: Settings) -> bool:
    """True when the farthest candidate fetched is already below min_relevance: deeper ones are weaker."""
    if len(sims) == 0:
        return True
    floor, ceiling = params["sim_floor"], params["sim_ceiling"]
    return (float(sims[-1]) - floor) / (ceiling - floor) < settings.min_relevance


def _select(
    catalog: Catalog, scored: Scored, n: int, settings: Settings, duplicate: float
) -> tuple[list[Related], list[np.ndarray], set[int]]:
    """Walk scored rows best first, keeping good ones that copy neither the source nor a pick."""
    picked: list[Related] = []
    vectors: list[np.ndarray] = []
    seen: set[int] = set()
    for i, row in enumerate(scored.rows.tolist()):
        if len(picked) == n:
            break
        if scored.similarity[i] >= duplicate:
            seen.add(row)  # a copy of the source: never shown, not even as fallback
            continue
        if scored.relevance[i] < settings.min_relevance:
            continue
        seen.add(row)
        vec = catalog.vectors_of(np.array([row]))[0]
        if any(float(vec @ v) >= duplicate for v in vectors):
            continue
        picked.append(_related(catalog, scored, i))
        vectors.append(vec)
    return picked, vectors, seen


def _fill(
    catalog: Catalog,
    params: dict[str, Any],
    source_vector: np.ndarray,
    source_row: int,
    missing: int,
    seen: set[int],
    picked_vectors: list[np.ndarray],
) -> list[Related]:
    """Newest same-section articles (sql.FALLBACK), scored by the same formula, marked as fallback."""
    code = int(catalog.sections[source_row])
    if code < 0:
        return []
    duplicate = params["sim_ceiling"]
    candidates = catalog.newest_in_section(code)
    candidates = candidates[(candidates != source_row) & ~np.isin(candidates, list(seen))]
    candidates = candidates[_visible(catalog, candidates, params, source_row)]
    out: list[Related] = []
    for row in candidates.tolist():
        vec = catalog.vectors_of(np.array([row]))[0]
        sim = float(vec @ source_vector)
        if sim >= duplicate or any(float(vec @ v) >= duplicate for v in picked_vectors):
            continue
        scored = _scored(catalog, np.array([row]), np.array([sim]), params, source_row)
        out.append(_related(catalog, scored, 0, fallback=True))
        picked_vectors.append(vec)
        if len(out) == missing:
            break
    return out


def _related(catalog: Catalog, scored: Scored, i: int, fallback: bool = False) -> Related:
    row = int(scored.rows[i])
    article = catalog.article(row)
    return Related(
        id=article.external_id,
        title=article.title,
        url=article.url,
        section=article.section,
        language=article.language,
        published_at=article.published_at,
        score=float(scored.score[i]),
        similarity=float(scored.similarity[i]),
        relevance=float(scored.relevance[i]),
        recency=float(scored.recency[i]),
        section_boost=float(scored.section_boost[i]),
        language_penalty=float(scored.language_penalty[i]),
        fallback=fallback,
        snippet=catalog.snippet(row),
        image=catalog.image(row),
        authors=catalog.authors(row),
        tags=catalog.tags(row),
    )
