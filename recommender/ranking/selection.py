"""Selection and fill: from scored candidates to the rows of a sidebar.

Selection walks the candidates best first: copies of the source are never shown; a candidate below
`min_relevance` waits for the fill; one that copies an item already picked is dropped. Copies by
text (default): the pair's stored shingle containment (index/copies.py) is at least
copy_containment and they were published less than series_days apart (undated: no time apart), or
it reaches VERBATIM_CONTAINMENT (the same text again) whatever the dates; a pair as alike but
further apart is two items of a daily series (gold prices, weather bulletins), and both may show.
Copies by cosine (the legacy rule, and builds without overlaps): the cosine reaches the calibrated
copy threshold.

Fill, when fewer than n were picked (`fill` setting or query):
    below_floor (default): the best remaining candidates below min_relevance, then the newest
        articles of the source's section, then of its language (dated first, then undated);
    section: the newest dated articles of the source's section only (the old behaviour);
    none: show fewer rather than weak items.
Every filled item is flagged (`Related.fallback`, `Related.fill` says which step gave it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ..index.copies import VERBATIM_CONTAINMENT
from .catalog import Catalog
from .params import RankingParams
from .scorer import Scored

FILL_CHUNK = 256  # newest articles checked per step of a fill walk


@dataclass
class Selection:
    """What selection kept: indices into the scored candidates, and what it ruled out."""

    picked: list[int] = field(default_factory=list)
    below: list[int] = field(default_factory=list)  # below min_relevance, best first
    excluded: set[int] = field(default_factory=set)  # rows never to show (copies)
    rows: list[int] = field(default_factory=list)  # rows shown so far, in order
    vectors: list[np.ndarray] = field(default_factory=list)  # their vectors (cosine rule only)
    copies_of_shown: set[int] = field(default_factory=set)  # rows copying a shown row (text rule)


class Copies:
    """The copy rule of one call: which rows copy the source, or copy each other."""

    def __init__(self, catalog: Catalog, params: RankingParams, source_vector: np.ndarray) -> None:
        self.catalog, self.params, self.vector = catalog, params, source_vector
        self.by_text = params.copy_rule == "text" and catalog.overlaps is not None
        # a text not in the store has no stored overlaps: its copies are found by cosine
        self.source_by_text = self.by_text and params.source_row >= 0
        self.of_source = set(self.partners(params.source_row).tolist()) if self.source_by_text else set()

    def partners(self, row: int) -> np.ndarray:
        """Rows that copy `row` by text (containment and dates)."""
        assert self.catalog.overlaps is not None
        rows, containment = self.catalog.overlaps.of(row)
        if len(rows) == 0:  # most articles share their text with none
            return rows
        published = self.catalog.published
        with np.errstate(invalid="ignore"):
            days = np.abs(published[rows] - published[row]) / 86400.0
        close = np.where(np.isnan(days), 0.0, days) < self.params.series_days
        close |= containment >= VERBATIM_CONTAINMENT  # the same text again: a copy whatever the dates
        return rows[(containment >= self.params.copy_containment) & close]

    def copies_source(self, row: int, similarity: float) -> bool:
        if self.source_by_text:
            return row in self.of_source
        return similarity >= self.params.sim_ceiling

    def copies_shown(self, row: int, selection: Selection) -> bool:
        if self.by_text:
            return row in selection.copies_of_shown
        vector = self.catalog.vectors_of(np.array([row]))[0]
        return any(float(vector @ v) >= self.params.sim_ceiling for v in selection.vectors)

    def show(self, row: int, selection: Selection) -> None:
        selection.rows.append(row)
        if self.by_text:
            selection.copies_of_shown.update(self.partners(row).tolist())
        else:
            selection.vectors.append(self.catalog.vectors_of(np.array([row]))[0])


def select(scored: Scored, params: RankingParams, copies: Copies) -> Selection:
    """Walk the scored candidates best first, keeping good ones that copy neither the source nor a pick."""
    chosen = Selection()
    for i, row in enumerate(scored.rows.tolist()):
        if len(chosen.picked) == params.n:
            break
        if copies.copies_source(row, float(scored.similarity[i])):
            chosen.excluded.add(row)  # a copy of the source: never shown, not even as fill
            continue
        if scored.relevance[i] < params.min_relevance:
            chosen.below.append(i)
            continue
        if copies.copies_shown(row, chosen):
            chosen.excluded.add(row)
            continue
        chosen.picked.append(i)
        copies.show(row, chosen)
    return chosen


def fill(
    catalog: Catalog,
    params: RankingParams,
    scored: Scored,
    chosen: Selection,
    copies: Copies,
    vector: np.ndarray,
) -> list[tuple[int, str]]:
    """(row, fill step) of the items that complete a short sidebar, in order."""
    missing = params.n - len(chosen.picked)
    if missing <= 0 or params.fill == "none":
        return []
    out: list[tuple[int, str]] = []
    taken = set(chosen.rows) | chosen.excluded

    def offer(row: int, similarity: float | None, step: str) -> bool:
        if row in taken:
            return False
        taken.add(row)
        if similarity is None:
            similarity = float(catalog.vectors_of(np.array([row]))[0] @ vector)
        if copies.copies_source(row, similarity) or copies.copies_shown(row, chosen):
            return False
        out.append((row, step))
        copies.show(row, chosen)
        return len(out) == missing

    if params.fill == "below_floor":
        for i in chosen.below:
            if offer(int(scored.rows[i]), float(scored.similarity[i]), "below_floor"):
                return out
    undated = params.fill == "below_floor"
    code = params.source_section
    streams: list[tuple[np.ndarray, str]] = []
    if code >= 0:
        streams.append((catalog.newest_in_section(code, undated=undated), "section"))
    language = params.visibility.language
    if params.fill == "below_floor":
        streams.append((catalog.newest_in_language(language), "language"))
    for rows, step in streams:
        for row in _visible_walk(catalog, params, rows):
            if offer(row, None, step):
                return out
    return out


def _visible_walk(catalog: Catalog, params: RankingParams, rows: np.ndarray) -> Iterator[int]:
    """The visible rows of an array ordered newest first (undated last), in order, checked a chunk
    at a time from the first one not published after as_of."""
    for start in range(_first_not_after(catalog, rows, params.as_of), len(rows), FILL_CHUNK):
        chunk = rows[start : start + FILL_CHUNK]
        yield from chunk[params.visibility.mask(catalog, chunk)].tolist()


def _first_not_after(catalog: Catalog, rows: np.ndarray, as_of: float) -> int:
    """Position of the first row not published after `as_of` in rows ordered newest first with the
    undated last (a bisection: the rows before it are never visible)."""
    lo, hi = 0, len(rows)
    while lo < hi:
        mid = (lo + hi) // 2
        if catalog.published[rows[mid]] > as_of:  # NaN (undated) compares False: it is not after
            lo = mid + 1
        else:
            hi = mid
    return lo


def pin(catalog: Catalog, params: RankingParams, rows: list[int]) -> tuple[list[int], set[int]]:
    """The editors' pins of this source put in place (rows at their positions, cut to n); returns
    the new order and the pinned rows. A pinned article still has to be visible (not removed, not
    published after as_of, in the sidebar's language)."""
    pinned: set[int] = set()
    for row, position in sorted(params.pins, key=lambda p: p[1]):
        if not params.visibility.mask(catalog, np.array([row]))[0]:
            continue
        rows = [r for r in rows if r != row]
        rows.insert(min(max(position, 1), len(rows) + 1) - 1, row)
        pinned.add(row)
    return rows[: params.n], pinned
