"""What ranking needs about every article of the live build, as arrays read from the build's files.

A `Catalog` joins one build's snapshot (vectors and catalog columns, memory-mapped: see
index/snapshot.py) with that build's overlay (settings, section values and removals since the
build: index/overlay.py). It is read from files only, so a sidebar makes no database query and a
serving process never opens DuckDB. Row i is the article whose vector is row i of the index.
`Recommender` decides when to load a newer one (see api.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from ..config import Settings
from ..errors import ArticleNotFound
from ..index import VectorIndex, positions
from ..index.overlay import Overlay, SectionValues
from ..index.snapshot import Strings, find_row, load_numeric
from ..store import Article


@dataclass
class Catalog:
    """Column arrays over the live build's articles (ascending internal id), aligned with its vectors."""

    index: VectorIndex
    overlay: Overlay
    settings: Settings
    strings: Strings
    published: np.ndarray  # float64 epoch seconds, NaN = undated
    sections: np.ndarray  # int32 code into section_names, -1 = none
    languages: np.ndarray  # int32 code into language_names, -1 = none
    section_names: list[str]
    language_names: list[str]
    id_hashes: np.ndarray
    id_rows: np.ndarray
    half_life_by_code: np.ndarray = field(init=False)  # per section code, last entry = no section
    section_boosts: np.ndarray = field(init=False)  # per section code: its boost or the default
    removed: np.ndarray | None = field(init=False)  # bool per row: removed from the store since the build

    @classmethod
    def open(cls, index: VectorIndex, overlay: Overlay) -> Catalog:
        """The catalog of a loaded build under one of its overlays."""
        folder = index.path
        return cls(
            index=index,
            overlay=overlay,
            settings=Settings.from_stored(overlay.settings.items()),
            strings=Strings(folder),
            published=load_numeric(folder, "published.npy"),
            sections=load_numeric(folder, "sections.npy"),
            languages=load_numeric(folder, "languages.npy"),
            section_names=list(index.meta.sections),
            language_names=list(index.meta.languages),
            id_hashes=load_numeric(folder, "id_hashes.npy"),
            id_rows=load_numeric(folder, "id_rows.npy"),
        )

    def with_overlay(self, overlay: Overlay) -> Catalog:
        """The same build's columns under a newer overlay: the mapped files and the orderings derived
        from them (newest per section, the recent block) are shared, not made again."""
        fresh = Catalog(
            self.index,
            overlay,
            Settings.from_stored(overlay.settings.items()),
            self.strings,
            self.published,
            self.sections,
            self.languages,
            self.section_names,
            self.language_names,
            self.id_hashes,
            self.id_rows,
        )
        fresh._by_section, fresh._by_time = self._by_section, self._by_time
        return fresh

    def __post_init__(self) -> None:
        values = [self.overlay.sections.get(name, SectionValues()) for name in self.section_names]
        default_half, default_boost = self.settings.half_life_days, self.settings.section_boost
        self.half_life_by_code = np.array(
            [_or(v.half_life_days, default_half) for v in values] + [default_half]
        )
        self.section_boosts = np.array([_or(v.boost, default_boost) for v in values] + [0.0])
        self.removed = None
        if self.overlay.removed:
            rows = positions(self.ids, np.asarray(self.overlay.removed, np.int64))
            self.removed = np.zeros(len(self), bool)
            self.removed[rows[rows >= 0]] = True
        self._by_section: dict[int, np.ndarray] = {}
        self._by_time: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def ids(self) -> np.ndarray:
        return self.index.ids

    def __len__(self) -> int:
        return len(self.index)

    @property
    def version(self) -> tuple[str, int]:
        """(build, data version): moves whenever what a reader sees may have changed."""
        return self.index.path.name, self.overlay.version

    def row(self, external_id: str) -> int:
        """Catalog row of an article of the live build; ArticleNotFound if it has none or was removed."""
        row = find_row(self.id_hashes, self.id_rows, self.strings, external_id)
        if row < 0 or (self.removed is not None and self.removed[row]):
            raise ArticleNotFound(
                f"no article with id {external_id!r} in {self.index.path.parent.parent}: it is not in the "
                "live build (if it was ingested since, run `recommender build`)"
            )
        return row

    def rows_of_ids(self, article_ids: np.ndarray) -> np.ndarray:
        """Catalog row of each internal article id, -1 for ids this build does not hold."""
        return positions(self.ids, article_ids)

    def external_id(self, row: int) -> str:
        return str(self.strings.get("external_id", row))

    def title(self, row: int) -> str:
        return str(self.strings.get("title", row))

    def article(self, row: int) -> Article:
        return Article(
            int(self.ids[row]),
            self.external_id(row),
            self.strings.get("url", row),
            self.title(row),
            self.section_name(row),
            self.language_name(row),
            self.published_at(row),
        )

    # render fields (what a sidebar draws besides the title), from the build's snapshot
    def snippet(self, row: int) -> str | None:
        return self.strings.get("snippet", row)

    def image(self, row: int) -> str | None:
        return self.strings.get("image", row)

    def authors(self, row: int) -> tuple[str, ...]:
        return self.strings.names("authors", row)

    def tags(self, row: int) -> tuple[str, ...]:
        return self.strings.names("tags", row)

    def section_name(self, row: int) -> str | None:
        code = int(self.sections[row])
        return self.section_names[code] if code >= 0 else None

    def language_name(self, row: int) -> str | None:
        code = int(self.languages[row])
        return self.language_names[code] if code >= 0 else None

    def published_at(self, row: int) -> datetime | None:
        value = float(self.published[row])
        return None if np.isnan(value) else datetime.fromtimestamp(value, UTC)

    def half_life_days(self, rows: np.ndarray) -> np.ndarray:
        """Recency half-life of each row: its section's own value, else the default."""
        return self.half_life_by_code[self.sections[rows]]  # code -1 reads the last entry

    def vectors_of(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.index.vectors[rows], np.float32)

    def recent_similar(
        self, vector: np.ndarray, as_of: float, days: float, limit: int, gather_limit: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows published in the `days` before `as_of` (epoch seconds) and their cosine to `vector`.
        The newest `limit` articles are kept as one contiguous block, so for live sidebars this is
        one small matrix product; an older window takes its newest `gather_limit`."""
        if self._by_time is None:
            dated = np.flatnonzero(~np.isnan(self.published))
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

    def newest_in_section(self, code: int) -> np.ndarray:
        """Dated articles of one section, newest first (ties by id), computed once per section."""
        if code not in self._by_section:
            rows = np.flatnonzero((self.sections == code) & ~np.isnan(self.published))
            self._by_section[code] = rows[np.lexsort((self.ids[rows], -self.published[rows]))]
        return self._by_section[code]


def _or(value: float | None, default: float) -> float:
    return default if value is None else float(value)
