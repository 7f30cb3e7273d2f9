"""The systems an evaluation puts side by side: the engine, its ablations and the baselines.

A system is any object with a `name`, a `description` and one method,
`recommend(source, n, as_of) -> list[Suggestion]`; adding one is a few lines.
Every system sees the same candidates, through the engine's own visibility filter
(ranking.Visibility over the live build's catalog): not the source itself, nothing published after
`as_of`, nothing removed or blocked, and only the source's language unless the store allows others.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import numpy as np

from .. import ranking
from ..config import Settings
from ..errors import InvalidSetting
from ..ranking import Catalog, Query, Visibility
from ..store import Article, Store
from .lexical import tfidf_matrix


@dataclass(frozen=True)
class Suggestion:
    id: str  # external article id
    score: float
    fallback: bool = False


class System(Protocol):
    name: str
    description: str

    def recommend(self, source: Article, n: int, as_of: datetime | None) -> list[Suggestion]: ...


class Corpus:
    """The stored articles' texts, which the serving catalog does not keep, for the TF-IDF baseline,
    with the fields the beyond-accuracy metrics read. Which articles a system may suggest comes from
    the catalog alone (`candidates`: the engine's Visibility)."""

    def __init__(self, articles: list[Article], texts: list[str]) -> None:
        self.articles = articles
        self.texts = texts
        self.row = {a.external_id: i for i, a in enumerate(articles)}
        self.sections = np.array([a.section or "" for a in articles], dtype=object)
        self.languages = np.array([a.language or "" for a in articles], dtype=object)
        self.published = np.array(
            [a.published_at.timestamp() if a.published_at else np.nan for a in articles], dtype=np.float64
        )
        self._catalog: Catalog | None = None  # the catalog the row map below was made for
        self._catalog_rows_of: np.ndarray | None = None

    @classmethod
    def load(cls, store: Store) -> Corpus:
        return cls(*store.catalog())

    def __len__(self) -> int:
        return len(self.articles)

    def newest(self) -> datetime | None:
        dated = [a.published_at for a in self.articles if a.published_at is not None]
        return max(dated) if dated else None

    def candidates(
        self, source: Article, as_of: datetime | None, same_language: bool, catalog: Catalog
    ) -> np.ndarray:
        """Mask of the articles any system may suggest for `source`: the engine's own Visibility
        (ranking.visibility) over the live build's catalog, mapped to this corpus's rows; articles
        the build lacks are not candidates. There is no other filter."""
        if self._catalog_rows_of is None or self._catalog is not catalog:
            self._catalog = catalog
            self._catalog_rows_of = catalog.rows_of_ids(np.array([a.id for a in self.articles], np.int64))
        rows = self._catalog_rows_of
        mask = np.zeros(len(self), dtype=bool)
        source_row = catalog.find(source.external_id)
        if source_row < 0:
            return mask
        query = Query(as_of=as_of, cross_language=not same_language)
        visibility = Visibility.of(catalog, source_row, query, catalog.settings)
        present = rows >= 0
        mask[present] = visibility.mask(catalog, rows[present])
        return mask


class EngineSystem:
    """The engine itself, with the store's settings or a variant of them (ablations)."""

    def __init__(
        self, name: str, description: str, catalog: Catalog, settings: Settings, preset: str = "default"
    ):
        self.name, self.description = name, description
        self.catalog, self.settings, self.preset = catalog, settings, preset

    def recommend(self, source: Article, n: int, as_of: datetime | None) -> list[Suggestion]:
        query = Query(n=n, as_of=as_of)
        items = ranking.related(self.catalog, source, query, self.settings, preset=self.preset)
        return [Suggestion(r.id, r.score, r.fallback) for r in items]


class LexicalSystem:
    """TF-IDF more-like-this over title and body, the same candidate filters as the engine."""

    name = "lexical"
    description = "TF-IDF more-like-this on title + body (scikit-learn): the Elasticsearch MLT stand-in"

    def __init__(self, corpus: Corpus, same_language: bool, catalog: Catalog) -> None:
        self.corpus, self.same_language, self.catalog = corpus, same_language, catalog
        self.matrix = tfidf_matrix(corpus.texts)

    def recommend(self, source: Article, n: int, as_of: datetime | None) -> list[Suggestion]:
        row = self.corpus.row[source.external_id]
        sims = (self.matrix @ self.matrix[row].T).toarray().ravel()
        keep = self.corpus.candidates(source, as_of, self.same_language, self.catalog) & (sims > 0)
        return _top(self.corpus, np.where(keep, sims, -np.inf), n)


class RecentSectionSystem:
    """The newest articles of the source's own section: what many sites show today."""

    name = "recent-section"
    description = "newest articles of the same section"

    def __init__(self, corpus: Corpus, same_language: bool, catalog: Catalog) -> None:
        self.corpus, self.same_language, self.catalog = corpus, same_language, catalog

    def recommend(self, source: Article, n: int, as_of: datetime | None) -> list[Suggestion]:
        if not source.section:
            return []
        keep = self.corpus.candidates(source, as_of, self.same_language, self.catalog)
        keep &= (self.corpus.sections == source.section) & ~np.isnan(self.corpus.published)
        return _top(self.corpus, np.where(keep, self.corpus.published, -np.inf), n)


class RandomSystem:
    """Random candidates, seeded per source: the floor every other system must clear."""

    name = "random"
    description = "random articles of the same language (seeded)"

    def __init__(self, corpus: Corpus, same_language: bool, seed: int, catalog: Catalog) -> None:
        self.corpus, self.same_language, self.seed, self.catalog = corpus, same_language, seed, catalog

    def recommend(self, source: Article, n: int, as_of: datetime | None) -> list[Suggestion]:
        pool = np.flatnonzero(self.corpus.candidates(source, as_of, self.same_language, self.catalog))
        rng = np.random.default_rng([self.seed, zlib.crc32(source.external_id.encode())])
        picked = rng.choice(pool, size=min(n, len(pool)), replace=False)
        ids = [self.corpus.articles[int(r)].external_id for r in picked]
        return [Suggestion(i, float(len(ids) - rank)) for rank, i in enumerate(ids)]


# name -> (settings changes, description) for the engine and its ablations
ABLATIONS: dict[str, tuple[dict[str, float | str], str]] = {
    "engine": ({}, "the engine as configured: dense + lexical relevance, recency (section boost if set)"),
    "similarity-only": (
        {"recency_weight": 0.0, "section_weight": 0.0, "lexical_weight": 0.0},
        "ablation: dense similarity only (copies by text, fill below the floor)",
    ),
    "hybrid": ({"recency_weight": 0.0, "section_weight": 0.0}, "ablation: dense + lexical relevance only"),
    "section-boost": (
        {"section_weight": 1.0},
        "ablation: the engine with section boosts on (section_weight 1, the default before the CV)",
    ),
    "dense+rules": ({"lexical_weight": 0.0}, "ablation: the engine without the lexical signal"),
    "cosine-copies": ({"copy_rule": "cosine"}, "ablation: the engine with the old cosine copy rule"),
    "no-fill": ({"fill": "none"}, "ablation: the engine showing fewer rather than filling"),
}
PRESET_SYSTEMS = {"legacy": "the engine before issue 9: additive recency, copies by cosine, dense only"}
BASELINES = ("lexical", "recent-section", "random")
SYSTEM_NAMES = (*ABLATIONS, *PRESET_SYSTEMS, *BASELINES)


def make_systems(names: list[str], catalog: Catalog, corpus: Corpus, seed: int) -> list[System]:
    """The named systems, in the order given; the engine's read the live build's catalog."""
    settings = catalog.settings
    same_language = not settings.cross_language
    systems: list[System] = []
    for name in names:
        if name in ABLATIONS:
            changes, description = ABLATIONS[name]
            variant = replace(settings, **changes)  # type: ignore[arg-type]
            systems.append(EngineSystem(name, description, catalog, variant))
        elif name in PRESET_SYSTEMS:
            systems.append(EngineSystem(name, PRESET_SYSTEMS[name], catalog, settings, preset=name))
        elif name == "lexical":
            systems.append(LexicalSystem(corpus, same_language, catalog))
        elif name == "recent-section":
            systems.append(RecentSectionSystem(corpus, same_language, catalog))
        elif name == "random":
            systems.append(RandomSystem(corpus, same_language, seed, catalog))
        else:
            raise InvalidSetting(f"unknown system {name!r}; known: {', '.join(SYSTEM_NAMES)}")
    return systems


def _top(corpus: Corpus, scores: np.ndarray, n: int) -> list[Suggestion]:
    """The n best finite scores, best first, ties broken by article order."""
    finite = np.flatnonzero(np.isfinite(scores))
    if len(finite) == 0:
        return []
    order = finite[np.lexsort((finite, -scores[finite]))][:n]
    return [Suggestion(corpus.articles[int(r)].external_id, float(scores[r])) for r in order]
