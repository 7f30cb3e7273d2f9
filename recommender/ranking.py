"""From nearest-neighbour candidates to a sidebar: score, filter, drop copies, fill if short.

    score = similarity_weight * relevance + recency_weight * recency + section boost
            - language penalty

relevance: cosine rescaled per model, 0 = as alike as two random articles, 1 = as alike as a
    republished copy (both measured at build time, see calibration.py), clipped to [0, 1];
recency: 0.5 ** (age in days / half-life of the candidate's section), age measured at `as_of`;
section boost: the source section's boost when the candidate shares the source's section;
language penalty: cross_language_penalty for a candidate in another language (when allowed).
The formula itself is the SQL in sql.RANKING; weights and section values come from the store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from .config import Settings
from .errors import IndexNotBuilt, InvalidSetting
from .index import VectorIndex
from .store import Article, Store


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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["published_at"] = self.published_at.isoformat() if self.published_at else None
        return data


@dataclass(frozen=True)
class Query:
    """What a caller may ask of one sidebar besides its length."""

    n: int = 5
    as_of: datetime | None = None  # default: now; later articles are never shown
    cross_language: bool | None = None  # default: the store's setting
    max_age_days: float | None = None
    exclude_sections: tuple[str, ...] = field(default_factory=tuple)

    def checked(self) -> Query:
        if self.n < 1:
            raise InvalidSetting(f"n must be at least 1, got {self.n}")
        if self.max_age_days is not None and self.max_age_days <= 0:
            raise InvalidSetting(f"max age must be positive, got {self.max_age_days}")
        return self


def ranking_params(source: Article, query: Query, settings: Settings, index: VectorIndex) -> dict[str, Any]:
    """The parameters of sql.RANKING except the candidates themselves."""
    calibration = index.meta.calibration
    ceiling = settings.near_duplicate_threshold or calibration.near_duplicate_threshold
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
    store: Store, index: VectorIndex, source: Article, query: Query, settings: Settings | None = None
) -> list[Related]:
    """The sidebar for `source`: best candidates first, then fallback fill if fewer than n.

    `settings` replaces the store's own for this call (evaluation runs ablations this way).
    """
    query = query.checked()
    settings = settings or store.settings()
    vector = index.vector(source.id)
    if vector is None:
        raise IndexNotBuilt(
            f"article {source.external_id!r} is newer than the index: run `recommender build`"
        )
    params = ranking_params(source, query, settings, index)
    duplicate = params["sim_ceiling"]
    picked: list[Related] = []
    picked_vectors: list[np.ndarray] = []
    seen: set[int] = set()
    k = query.n * settings.overfetch + 10
    while True:
        ids, sims = index.search(vector, k + 1)
        rows = store.rank({**params, "ids": ids.tolist(), "sims": sims.astype(float).tolist()})
        picked, picked_vectors, seen = _select(rows, index, query.n, settings, duplicate)
        if len(picked) >= query.n or k + 1 >= len(index) or _below_bar(sims, params, settings):
            break
        k *= 4  # filters removed too much: widen the net
    if len(picked) < query.n:
        picked += _fill(store, index, params, vector, query.n - len(picked), seen, picked_vectors, duplicate)
    return picked[: query.n]


def _below_bar(sims: np.ndarray, params: dict[str, Any], settings: Settings) -> bool:
    """True when the farthest candidate fetched is already below min_relevance: deeper ones are weaker."""
    if len(sims) == 0:
        return True
    floor, ceiling = params["sim_floor"], params["sim_ceiling"]
    return (float(sims[-1]) - floor) / (ceiling - floor) < settings.min_relevance


def _select(
    rows: list[dict[str, Any]], index: VectorIndex, n: int, settings: Settings, duplicate: float
) -> tuple[list[Related], list[np.ndarray], set[int]]:
    """Walk scored rows best first, keeping good ones that copy neither the source nor a pick."""
    picked: list[Related] = []
    vectors: list[np.ndarray] = []
    seen: set[int] = set()
    for row in rows:
        if len(picked) == n:
            break
        if row["similarity"] >= duplicate:
            seen.add(row["id"])  # a copy of the source: never shown, not even as fallback
            continue
        if row["relevance"] < settings.min_relevance:
            continue
        vec = index.vector(row["id"])
        seen.add(row["id"])
        if vec is not None and any(float(vec @ v) >= duplicate for v in vectors):
            continue
        picked.append(_related(row))
        if vec is not None:
            vectors.append(vec)
    return picked, vectors, seen


def _fill(
    store: Store,
    index: VectorIndex,
    params: dict[str, Any],
    source_vector: np.ndarray,
    missing: int,
    seen: set[int],
    picked_vectors: list[np.ndarray],
    duplicate: float,
) -> list[Related]:
    """Newest same-section articles, scored by the same query, marked as fallback."""
    rows = store.fallback(
        {**params, "exclude_ids": sorted(seen | {params["source_id"]}), "limit": missing * 4 + 10}
    )
    out: list[Related] = []
    for row in rows:
        vec = index.vector(row["id"])
        sim = float(vec @ source_vector) if vec is not None else params["sim_floor"]
        if vec is not None and (sim >= duplicate or any(float(vec @ v) >= duplicate for v in picked_vectors)):
            continue
        scored = store.rank({**params, "ids": [row["id"]], "sims": [sim]})
        if not scored:
            continue
        out.append(_related(scored[0], fallback=True))
        if vec is not None:
            picked_vectors.append(vec)
        if len(out) == missing:
            break
    return out


def _related(row: dict[str, Any], fallback: bool = False) -> Related:
    return Related(
        id=row["external_id"],
        title=row["title"],
        url=row["url"],
        section=row["section"],
        language=row["language"],
        published_at=row["published_at"],
        score=float(row["score"]),
        similarity=float(row["similarity"]),
        relevance=float(row["relevance"]),
        recency=float(row["recency"]),
        section_boost=float(row["section_boost"]),
        language_penalty=float(row["language_penalty"]),
        fallback=fallback,
    )
