"""Each article's nearest neighbours, found at build time, so that a sidebar needs no vector search.

A sidebar's first candidate step is "the source's n x overfetch + 10 nearest articles"
(ranking/candidates.py). For an article of the build that answer is known in advance: the build
asks the vector index the same question for every article at once (on all cores) and stores the ids
of its LIST nearest, best first (`neighbour_ids.npy`, one row per catalog row, -1 pads). At 100k
articles that search was most of a sidebar's time.

An incremental build carries the lists over and searches only for its new and re-embedded
articles. Those may also belong in older articles' lists, so their ids are kept as the build's
fresh ids (`neighbour_fresh.npy`) and serving scores them beside every list (one small matrix
product) until a build finds more than `refresh_limit` of them and searches every list again.
A list is the index's answer, as approximate as a search at serving time would be; the
compressed graph's lists are searched deeper than its sidebars could search (`lists_efSearch` and
`lists_rescore`, tuned at build time: see kinds.HNSWSQ_LISTS_LADDER), since the build pays that
search once an article and every sidebar then reads the list. A list costs 8 bytes a neighbour
(384 bytes an article: 3.8 GB on disk at 10M articles, memory-mapped; a sidebar reads one row).

The search saves as it goes: after each step (at most every CHECKPOINT_SECONDS) the lists found so
far are written out and then `neighbour_done.npy` marks their rows, so a build killed during the
search (hours for a large archive) resumes it from there (`build(..., resume=True)`), searching only
the rows not marked. The mark goes when the search is whole (`neighbour_fresh.npy` written).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .folder import VectorIndex, positions

Progress = Callable[[int, int], None]  # (articles searched, articles to search)
# (index, rows, k) -> (a block of the rows, their k nearest ids as search_many(lists=True) finds
# them) for every row once, blocks in any order: this process (`searched`) or Ray (recommender.scale)
Searcher = Callable[["VectorIndex", np.ndarray, int], Iterator[tuple[np.ndarray, np.ndarray]]]
LIST = 48  # neighbours stored per article: covers n <= 9 at the default overfetch 4 (needs n x 4 + 10)
FILES = ("neighbour_ids.npy", "neighbour_fresh.npy")
DONE_FILE = "neighbour_done.npy"  # while a search is under way: rows whose lists are saved (packed bits)
CHECKPOINT_SECONDS = 30.0  # the search's progress is saved at most this often (and at its end)
REFRESH_FLOOR = 2_000  # fresh ids tolerated before every list is searched again ...
REFRESH_SHARE = 0.02  # ... or this share of the build, whichever is more
SEARCH_CHUNK = 4_096  # articles searched per call of the index (bounds the memory of one step)


@dataclass(frozen=True)
class Neighbours:
    """The stored lists of one build: `ids[row]` are that row's nearest article ids, best first."""

    ids: np.ndarray  # (articles, LIST) int64, -1 pads; memory-mapped when loaded
    fresh: np.ndarray  # ids searched since every list was last searched, ascending

    @property
    def width(self) -> int:
        return int(self.ids.shape[1])

    @staticmethod
    def present(folder: Path) -> bool:
        return all((folder / name).exists() for name in FILES)

    @classmethod
    def load(cls, folder: Path) -> Neighbours:
        ids = np.load(folder / FILES[0], mmap_mode="r").view(np.ndarray)
        return cls(ids, np.load(folder / FILES[1]))


def refresh_limit(articles: int) -> int:
    """How many fresh ids a build carries before it searches every list again."""
    return max(REFRESH_FLOOR, int(REFRESH_SHARE * articles))


def build(
    index: VectorIndex,
    previous: Path | None,
    changed: np.ndarray,
    progress: Progress | None = None,
    searcher: Searcher | None = None,
    resume: bool = False,
) -> Neighbours | None:
    """Write the lists of the build whose index is `index` into its folder (the lists file is
    filled through a mapping: 8 bytes an article's neighbour that the build does not hold in its
    memory) and return them. `previous`: the live build folder to carry lists from (None: search
    every list); `changed`: ids new or re-embedded since it; `progress(searched, to search)`
    after each step of the search; `searcher`: who searches (default: this process, every core).
    `resume`: this folder's search was under way when its build was killed (with the same
    `previous` and `changed`): the lists it saved are kept and only the other rows are searched."""
    if len(index) < 2:
        return None
    width = min(LIST, len(index) - 1)
    path = index.path / FILES[0]
    if resume and Neighbours.present(index.path):
        return Neighbours.load(index.path)  # killed after the search was whole
    saved = saved_rows(index.path, len(index), width) if resume else None
    if saved is not None:
        lists = np.load(path, mmap_mode="r+")
    else:
        lists = np.lib.format.open_memmap(path, mode="w+", dtype=np.int64, shape=(len(index), width))
        lists.fill(-1)
    carried = _carried(index, previous, changed, lists)  # the same lists and ids when resumed
    fresh, redo = carried if carried is not None else (np.zeros(0, np.int64), np.arange(len(index)))
    if saved is not None:
        redo = redo[~saved[redo]]
    _search(index, redo, lists, progress, searcher or searched, _Checkpoints(index.path, lists, redo))
    lists.flush()
    del lists
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
    with open(index.path / FILES[1], "wb") as handle:
        np.save(handle, fresh)
        handle.flush()
        os.fsync(handle.fileno())
    (index.path / DONE_FILE).unlink(missing_ok=True)
    return Neighbours.load(index.path)


def saved_rows(folder: Path, count: int, width: int) -> np.ndarray | None:
    """Which rows' lists a killed search in `folder` had saved (bool per row), or None when it
    saved nothing usable (no search under way there, or files of another shape)."""
    try:
        packed = np.load(folder / DONE_FILE)
        lists = np.load(folder / FILES[0], mmap_mode="r")
    except (OSError, ValueError):
        return None
    if lists.shape != (count, width) or lists.dtype != np.int64 or packed.shape != ((count + 7) // 8,):
        return None
    return np.unpackbits(packed, count=count).astype(bool)


def saved_count(folder: Path, count: int) -> int:
    """How many of the `count` rows' lists the build folder holds saved (all of them once whole)."""
    if Neighbours.present(folder):
        return count
    saved = saved_rows(folder, count, min(LIST, count - 1)) if count >= 2 else None
    return int(saved.sum()) if saved is not None else 0


class _Checkpoints:
    """Saves the search's progress: the lists file written out first, then the rows marked done
    (written whole under another name and renamed over the last mark), so a mark never names a
    row whose list is not on disk."""

    def __init__(self, folder: Path, lists: np.memmap, redo: np.ndarray) -> None:
        self.path = folder / DONE_FILE
        self.lists = lists
        self.done = np.ones(len(lists), bool)
        self.done[redo] = False
        self.last = time.monotonic()

    def searched(self, rows: np.ndarray, last: bool) -> None:
        self.done[rows] = True
        if last or time.monotonic() - self.last >= CHECKPOINT_SECONDS:
            self.save()

    def save(self) -> None:
        self.lists.flush()  # msync: the lists are on disk before the mark names their rows
        partial = self.path.with_name(DONE_FILE + ".partial")
        with open(partial, "wb") as handle:
            np.save(handle, np.packbits(self.done))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, self.path)
        self.last = time.monotonic()


def _carried(
    index: VectorIndex, previous: Path | None, changed: np.ndarray, lists: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """(fresh ids, rows to search), the lists of the other rows carried over into `lists`; or
    None when every list is searched again."""
    if previous is None or not Neighbours.present(previous):
        return None
    old = Neighbours.load(previous)
    changed = np.asarray(changed, np.int64)
    fresh = np.union1d(old.fresh, changed)
    fresh = fresh[positions(index.ids, fresh) >= 0]  # removed since: nothing to score
    if old.width != lists.shape[1] or len(fresh) > refresh_limit(len(index)):
        return None
    old_ids = np.load(previous / "ids.npy", mmap_mode="r")
    to_row = positions(index.ids, old_ids)
    keep = (to_row >= 0) & ~np.isin(old_ids, changed)
    for start in range(0, len(keep), SEARCH_CHUNK * 16):  # a block of rows at a time
        part = np.flatnonzero(keep[start : start + SEARCH_CHUNK * 16]) + start
        lists[to_row[part]] = old.ids[part]
    redo = np.ones(len(index), bool)
    redo[to_row[keep]] = False
    return fresh, np.flatnonzero(redo)


def searched(
    index: VectorIndex, rows: np.ndarray, k: int, threads: int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The lists' search in this process, SEARCH_CHUNK rows at a time (a Searcher), on every core
    or on `threads` of them (a Ray worker runs it on a block of rows)."""
    for start in range(0, len(rows), SEARCH_CHUNK):
        part = rows[start : start + SEARCH_CHUNK]
        found, _ = index.search_many(
            np.asarray(index.vectors[part], np.float32), k, lists=True, threads=threads
        )
        yield part, found


def _search(
    index: VectorIndex,
    rows: np.ndarray,
    lists: np.ndarray,
    progress: Progress | None = None,
    searcher: Searcher = searched,
    checkpoints: _Checkpoints | None = None,
) -> None:
    """Fill `lists[rows]` with each row's nearest article ids, best first, itself left out, saving
    the progress to `checkpoints` as it goes."""
    width = lists.shape[1]
    if progress:
        progress(0, len(rows))
    done = np.zeros(len(index), bool)
    searched = 0
    for part, found in searcher(index, rows, width + 1):
        keep = (found >= 0) & (found != index.ids[part][:, None])
        order = np.argsort(~keep, axis=1, kind="stable")  # kept hits first, in their order
        lists[part] = np.take_along_axis(np.where(keep, found, -1), order, axis=1)[:, :width]
        done[part] = True
        searched += len(part)
        if checkpoints is not None:
            checkpoints.searched(part, last=searched >= len(rows))
        if progress:
            progress(searched, len(rows))
    if searched != len(rows) or not done[rows].all():  # a searcher's bug: never a list left unfilled
        raise RuntimeError(f"the neighbour lists' search answered {searched} rows for {len(rows)}")
