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
from ..index.copies import Overlaps
from ..index.lexical import Lexical, LexicalMeta
from ..index.neighbours import Neighbours
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
    section_values: list[SectionValues] = field(init=False)  # the overlay's values per section code
    half_life_by_code: np.ndarray = field(init=False)  # per section code, last entry = no section
    section_boosts: np.ndarray = field(init=False)  # per section code: its boost or the default
    removed: np.ndarray | None = field(init=False)  # bool per row: removed from the store since the build
    lexical: Lexical | None = None  # the build's lexical index (None: dense relevance only)
    overlaps: Overlaps | None = None  # the build's text overlaps (None: copies by cosine)
    neighbours: Neighbours | None = None  # each row's nearest, found at build time (None: search)

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
            lexical=_lexical(index),
            overlaps=_overlaps(index),
            neighbours=_neighbours(index),
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
            self.lexical,
            self.overlaps,
            self.neighbours,
        )
        fresh._by_section, fresh._by_time = self._by_section, self._by_time
        fresh._by_language, fresh._fresh = self._by_language, self._fresh
        return fresh

    def __post_init__(self) -> None:
        values = [self.overlay.sections.get(name, SectionValues()) for name in self.section_names]
        self.section_values = values
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
        self._by_section: dict[tuple[int, bool], np.ndarray] = {}
        self._by_language: dict[int, np.ndarray] = {}
        self._blocked = np.zeros(0, np.int64)
        if self.overlay.blocked:
            found = [self.find(i) for i in self.overlay.blocked]
            self._blocked = np.array([r for r in found if r >= 0], np.int64)
        self._by_time: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._fresh: tuple[np.ndarray, np.ndarray] | None = None

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

    def stored_neighbours(self, row: int, k: int) -> np.ndarray | None:
        """Rows of the nearest articles of `row` (itself left out) in the list the build stored, best
        first (-1 for an article no longer in the build): the whole list, when it holds at least k;
        else None, as when the build stored no lists. Articles searched since the lists were
        (`fresh_block`) may be missing from them."""
        stored = self.neighbours
        if stored is None or k > stored.width:
            return None
        return self.rows_of_ids(np.asarray(stored.ids[row]))

    def fresh_block(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, vectors) of the articles searched since the stored lists were: they may belong in
        any list, so they are candidates of every sidebar that reads one (index/neighbours.py)."""
        if self._fresh is None:
            ids = self.neighbours.fresh if self.neighbours is not None else np.zeros(0, np.int64)
            rows = self.rows_of_ids(ids)
            rows = rows[rows >= 0]
            self._fresh = (rows, self.vectors_of(rows))
        return self._fresh

    @property
    def lexical_meta(self) -> LexicalMeta | None:
        return self.index.meta.lexical

    def find(self, external_id: str) -> int:
        """Catalog row of an article, -1 when this build does not hold it (or it was removed)."""
        row = find_row(self.id_hashes, self.id_rows, self.strings, external_id)
        return -1 if row < 0 or (self.removed is not None and self.removed[row]) else row

    def blocked_rows(self, source: str | None) -> np.ndarray:
        """Rows kept out of `source`'s sidebar by editors: blocked everywhere or from this source."""
        wanted = self.overlay.blocks.get(source, ()) if source is not None else ()
        own = [r for r in (self.find(i) for i in wanted) if r >= 0]
        return np.union1d(self._blocked, np.array(own, np.int64)) if own else self._blocked

    def newest_in_section(self, code: int, undated: bool = False) -> np.ndarray:
        """Dated articles of one section, newest first (ties by id), then with `undated` the undated
        ones by id; computed once per section."""
        key = (code, undated)
        if key not in self._by_section:
            self._by_section[key] = _newest(self, self.sections == code, undated)
        return self._by_section[key]

    def newest_in_language(self, code: int) -> np.ndarray:
        """Articles of one language, dated ones newest first, then undated ones by id."""
        if code not in self._by_language:
            self._by_language[code] = _newest(self, self.languages == code, True)
        return self._by_language[code]


def _newest(catalog: Catalog, where: np.ndarray, undated: bool) -> np.ndarray:
    dated = np.flatnonzero(where & ~np.isnan(catalog.published))
    dated = dated[np.lexsort((catalog.ids[dated], -catalog.published[dated]))]
    if not undated:
        return dated
    return np.concatenate([dated, np.flatnonzero(where & np.isnan(catalog.published))])


def _lexical(index: VectorIndex) -> Lexical | None:
    """The build's lexical index when its meta.json anchors it and its files match the build."""
    meta = index.meta.lexical
    if meta is None or not Lexical.present(index.path) or not meta.copy > meta.random_pair:
        return None
    data = Lexical.load(index.path)
    return data if len(data) == len(index) and data.rows.shape[0] == len(index) else None


def _overlaps(index: VectorIndex) -> Overlaps | None:
    from ..index.textdata import copies_present

    if not copies_present(index.path):
        return None
    overlaps = Overlaps.load(index.path)
    return overlaps if len(overlaps) == len(index) else None


def _neighbours(index: VectorIndex) -> Neighbours | None:
    """The build's stored neighbour lists when present and one row per article."""
    if not Neighbours.present(index.path):
        return None
    lists = Neighbours.load(index.path)
    return lists if lists.ids.shape[0] == len(index) else None


def _or(value: float | None, default: float) -> float:
    return default if value is None else float(value)
