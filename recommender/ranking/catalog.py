"""What ranking needs about every article, held in memory as arrays.

DuckDB stays the source of truth; a `Catalog` is read from it once (one query for the articles, one
for the section settings) and reused for every sidebar until the store or the index changes, so a
sidebar costs no database query at all. `Recommender` decides when to reload (see api.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ..config import Settings
from ..errors import ArticleNotFound
from ..index import VectorIndex, positions
from ..store import Article, Store, sql


@dataclass
class Catalog:
    """Column arrays over the store's articles (ascending id), aligned with the index's vectors."""

    ids: np.ndarray  # int64, ascending
    external_ids: np.ndarray  # object
    titles: np.ndarray  # object
    urls: np.ndarray  # object
    sections: np.ndarray  # int32 code into section_names, -1 = none
    section_names: list[str]
    languages: np.ndarray  # int32 code into language_names, -1 = none
    language_names: list[str]
    published: np.ndarray  # float64 epoch seconds, NaN = undated
    half_life_days: np.ndarray  # float64 per article: its section's half-life or the default
    section_boosts: np.ndarray  # float64 per section code: its boost or the default
    vector_rows: np.ndarray  # int64 per article: row in index.vectors, -1 = not indexed
    index: VectorIndex
    settings: Settings
    store_path: str

    @classmethod
    def load(cls, store: Store, index: VectorIndex, settings: Settings | None = None) -> Catalog:
        settings = settings or store.settings()
        columns = store.con.execute(sql.CATALOG_ARTICLES).fetchnumpy()
        ids = np.asarray(columns["id"], np.int64)
        sections, section_names = _codes(columns["section"])
        languages, language_names = _codes(columns["language"])
        published = np.ma.filled(np.ma.asarray(columns["published"], np.float64), np.nan)
        custom = {
            name: (boost, half) for name, boost, half in store.con.execute(sql.SECTION_SETTINGS).fetchall()
        }
        half_by_code = np.array(
            [_or(custom.get(name, (None, None))[1], settings.half_life_days) for name in section_names]
            + [settings.half_life_days]  # code -1 (no section) reads the last entry
        )
        boosts = np.array(
            [_or(custom.get(name, (None, None))[0], settings.section_boost) for name in section_names] + [0.0]
        )
        return cls(
            ids=ids,
            external_ids=np.asarray(_objects(columns["external_id"]), dtype=object),
            titles=np.asarray(_objects(columns["title"]), dtype=object),
            urls=np.asarray(_objects(columns["url"]), dtype=object),
            sections=sections,
            section_names=section_names,
            languages=languages,
            language_names=language_names,
            published=published,
            half_life_days=half_by_code[sections],
            section_boosts=boosts,
            vector_rows=index.rows(ids),
            index=index,
            settings=settings,
            store_path=str(store.path),
        )

    def __post_init__(self) -> None:
        self._row_of = {str(e): i for i, e in enumerate(self.external_ids)}
        self._by_section: dict[int, np.ndarray] = {}
        self._by_time: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def row(self, external_id: str) -> int:
        try:
            return self._row_of[external_id]
        except KeyError:
            raise ArticleNotFound(f"no article with id {external_id!r} in {self.store_path}") from None

    def rows_of_ids(self, article_ids: np.ndarray) -> np.ndarray:
        """Catalog row of each internal article id, -1 for ids no longer in the store."""
        return positions(self.ids, article_ids)

    def article(self, row: int) -> Article:
        return Article(
            int(self.ids[row]),
            str(self.external_ids[row]),
            self.urls[row],
            str(self.titles[row]),
            self.section_name(row),
            self.language_name(row),
            self.published_at(row),
        )

    def section_name(self, row: int) -> str | None:
        code = int(self.sections[row])
        return self.section_names[code] if code >= 0 else None

    def language_name(self, row: int) -> str | None:
        code = int(self.languages[row])
        return self.language_names[code] if code >= 0 else None

    def published_at(self, row: int) -> datetime | None:
        value = float(self.published[row])
        return None if np.isnan(value) else datetime.fromtimestamp(value, UTC)

    def vectors_of(self, rows: np.ndarray) -> np.ndarray:
        """Vectors of catalog rows that are indexed (callers filter on vector_rows >= 0)."""
        return np.asarray(self.index.vectors[self.vector_rows[rows]], np.float32)

    def recent_similar(
        self, vector: np.ndarray, as_of: float, days: float, limit: int, gather_limit: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Indexed rows published in the `days` before `as_of` (epoch seconds) and their cosine to
        `vector`. The newest `limit` articles are kept as one contiguous block, so for live
        sidebars this is one small matrix product; an older window takes its newest `gather_limit`."""
        if self._by_time is None:
            dated = np.flatnonzero(~np.isnan(self.published) & (self.vector_rows >= 0))
            order = dated[np.argsort(self.published[dated], kind="stable")]
            block = order[-limit:]
            self._by_time = (order, self.published[order], self.vectors_of(block))
        order, times, block_vectors = self._by_time
        hi = int(np.searchsorted(times, as_of, side="right"))
        lo = max(int(np.searchsorted(times, as_of - days * 86400.0, side="left")), hi - limit)
        rows = order[lo:hi]
        start = len(order) - len(block_vectors)  # where the contiguous block begins in `order`
        if lo >= start:
            return rows, block_vectors[lo - start : hi - start] @ vector
        rows = rows[-gather_limit:]  # an older window: gather the vectors of its newest articles
        return rows, self.vectors_of(rows) @ vector

    def max_half_life(self) -> float:
        """The longest recency half-life of any article (sections may have their own)."""
        return float(self.half_life_days.max()) if len(self) else self.settings.half_life_days

    def newest_in_section(self, code: int) -> np.ndarray:
        """Dated articles of one section, newest first (ties by id), computed once per section."""
        if code not in self._by_section:
            rows = np.flatnonzero((self.sections == code) & ~np.isnan(self.published))
            self._by_section[code] = rows[np.lexsort((self.ids[rows], -self.published[rows]))]
        return self._by_section[code]


def _codes(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Dictionary-encode a column of strings (None/masked -> -1)."""
    texts = _objects(values)
    names = sorted({t for t in texts if t is not None})
    code_of = {name: i for i, name in enumerate(names)}
    return np.array([code_of[t] if t is not None else -1 for t in texts], np.int32), names


def _objects(values: np.ndarray) -> list[str | None]:
    if isinstance(values, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(values)
        return [None if m else v for v, m in zip(values.data.tolist(), mask.tolist(), strict=True)]
    return list(values.tolist())


def _or(value: float | None, default: float) -> float:
    return default if value is None else float(value)
