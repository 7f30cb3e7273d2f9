"""Each article's nearest neighbours, found at build time, so that a sidebar needs no vector search.

A sidebar's first candidate step is "the source's n x overfetch + 10 nearest articles"
(ranking/candidates.py). For an article of the build that answer is known in advance: the build
asks the vector index the same question for every article at once (on all cores) and stores the ids
of its LIST nearest, best first (`neighbour_ids.npy`, one row per catalog row, -1 pads). At 100k
articles that search was most of a sidebar's time.

An incremental build carries the lists over and searches only for its new and re-embedded
articles. Those may also belong in older articles' lists, so their ids are kept as the build's
fresh ids (`neighbour_fresh.npy`) and serving scores them beside every list (one small matrix
product) until a build finds more than `refresh_limit` of them. That build folds them into every
carried list instead (`_fold`): each list becomes the best of its entries and the fresh articles
at least as alike as its farthest entry, exactly what a sidebar reading it beside the fresh ids
found, so the lists need no fresh ids after it. A fold costs one matrix product of every article
against the fresh ones (a full search of every list, which it replaces, costs a deep graph search
an article: hours at a million articles).
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

Progress = Callable[[int, int], None]  # (lists searched or folded, lists to search and fold)
# (index, rows, k) -> (a block of the rows, their k nearest ids as search_many(lists=True) finds
# them) for every row once, blocks in any order: this process (`searched`) or Ray (recommender.scale)
Searcher = Callable[["VectorIndex", np.ndarray, int], Iterator[tuple[np.ndarray, np.ndarray]]]
LIST = 48  # neighbours stored per article: covers n <= 9 at the default overfetch 4 (needs n x 4 + 10)
FILES = ("neighbour_ids.npy", "neighbour_fresh.npy")
DONE_FILE = "neighbour_done.npy"  # while a search is under way: rows whose lists are saved (packed bits)
CHECKPOINT_SECONDS = 30.0  # the search's progress is saved at most this often (and at its end)
REFRESH_FLOOR = 2_000  # fresh ids tolerated before they are folded into every list ...
REFRESH_SHARE = 0.02  # ... or this share of the build, whichever is more ...
# ... but no more than this: every sidebar reads the fresh ids' vectors (15 MB of float32 at
# 10,000), and a fold costs about the same per fresh id however many are folded at once
REFRESH_CAP = 10_000
SEARCH_CHUNK = 4_096  # articles searched per call of the index (bounds the memory of one step)
FOLD_CELLS = 1 << 24  # similarities a fold computes at once (64 MB of float32)
FOLD_ROWS = 1_024  # lists a fold rewrites at once, at most


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
    """How many fresh ids a build carries before it folds them into every list."""
    return max(REFRESH_FLOOR, min(REFRESH_CAP, int(REFRESH_SHARE * articles)))


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
    every list); `changed`: ids new or re-embedded since it (with the previous build's fresh ids,
    folded into every carried list once they are more than `refresh_limit`); `progress(done, to
    do)` after each step of the search and of the fold, counting the lists searched and folded;
    `searcher`: who searches (default: this process, every core; a fold runs here).
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
    carry = _carried(index, previous, changed, lists)  # the same lists and ids when resumed
    if carry is None:
        carry = _Carry(np.zeros(0, np.int64), np.arange(len(index)), fold=False)
    redo = carry.redo if saved is None else carry.redo[~saved[carry.redo]]
    counted = _Counted(progress, len(redo), len(index) - len(carry.redo) if carry.fold else 0)
    _search(index, redo, lists, counted.search, searcher or searched, _Checkpoints(index.path, lists, redo))
    fresh = carry.fresh
    if carry.fold:  # after the search, so that a build killed folding keeps the lists it searched
        kept = np.ones(len(index), bool)
        kept[carry.redo] = False
        unbounded = _fold(index, lists, carry.fresh, np.flatnonzero(kept), counted.fold)
        _search(index, unbounded, lists)
        fresh = np.zeros(0, np.int64)
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


@dataclass(frozen=True)
class _Carry:
    """What an incremental build carries: the fresh ids, the rows whose lists it searches (the
    others' are carried over) and whether it folds the fresh ids into the carried lists."""

    fresh: np.ndarray
    redo: np.ndarray
    fold: bool


def _carried(
    index: VectorIndex, previous: Path | None, changed: np.ndarray, lists: np.ndarray
) -> _Carry | None:
    """What this build carries over from `previous`, the carried lists written into `lists`; None
    when every list is searched."""
    if previous is None or not Neighbours.present(previous):
        return None
    old = Neighbours.load(previous)
    changed = np.asarray(changed, np.int64)
    fresh = np.union1d(old.fresh, changed)
    fresh = fresh[positions(index.ids, fresh) >= 0]  # removed since: nothing to score
    if old.width != lists.shape[1]:
        return None
    old_ids = np.load(previous / "ids.npy", mmap_mode="r")
    to_row = positions(index.ids, old_ids)
    keep = (to_row >= 0) & ~np.isin(old_ids, changed)
    for start in range(0, len(keep), SEARCH_CHUNK * 16):  # a block of rows at a time
        part = np.flatnonzero(keep[start : start + SEARCH_CHUNK * 16]) + start
        lists[to_row[part]] = old.ids[part]
    redo = np.ones(len(index), bool)
    redo[to_row[keep]] = False
    return _Carry(fresh, np.flatnonzero(redo), fold=len(fresh) > refresh_limit(len(index)))


class _Counted:
    """One progress count for the lists' search and the fold after it: (rows searched or
    folded, rows to search and fold)."""

    def __init__(self, progress: Progress | None, search: int, fold: int) -> None:
        self.progress, self.searching, self.total = progress, search, search + fold

    def search(self, done: int, total: int) -> None:
        if self.progress:
            self.progress(done, self.total)

    def fold(self, done: int, total: int) -> None:
        if self.progress:
            self.progress(self.searching + done, self.total)


def _fold(
    index: VectorIndex,
    lists: np.ndarray,
    fresh: np.ndarray,
    rows: np.ndarray,
    progress: Progress | None = None,
) -> np.ndarray:
    """Fold the `fresh` ids into the carried lists of `rows`, a block at a time, and return the
    rows left with nothing to bound them (every entry fresh or gone: to be searched).

    A carried list was searched before the fresh articles were; its entries that are not fresh
    have the vectors they were found with, so an article outside it was at most as alike as its
    farthest such entry (the bound a sidebar relies on: ranking/candidates.py). The folded list is
    the best `width` of those entries and of the fresh articles at least as alike as that entry,
    best first, by the build's vectors: what a sidebar found reading the list beside the fresh
    ids. Every article left out is then at most as alike as the folded list's farthest entry."""
    width = lists.shape[1]
    fresh_rows = positions(index.ids, fresh)
    fresh_rows = fresh_rows[fresh_rows >= 0]
    fresh_ids = index.ids[fresh_rows]
    fresh_vectors = np.asarray(index.vectors[fresh_rows], np.float32)
    is_fresh = np.zeros(len(index), bool)
    is_fresh[fresh_rows] = True
    step = int(min(FOLD_ROWS, max(1, FOLD_CELLS // max(1, len(fresh_rows)))))
    unbounded = []
    if progress:
        progress(0, len(rows))
    for start in range(0, len(rows), step):
        part = rows[start : start + step]
        vectors = np.asarray(index.vectors[part], np.float32)
        listed = np.asarray(lists[part])
        entries = positions(index.ids, listed.ravel()).reshape(len(part), width)
        settled = entries >= 0  # -1: a pad, or an article gone since
        settled[settled] = ~is_fresh[entries[settled]]
        sims = np.full(entries.shape, -np.inf, np.float32)
        at, slot = np.nonzero(settled)
        sims[at, slot] = np.einsum(
            "ij,ij->i", np.asarray(index.vectors[entries[at, slot]], np.float32), vectors[at]
        )
        farthest = np.where(settled, sims, np.inf).min(axis=1)  # inf: nothing bounds this list
        unbounded.append(part[~settled.any(axis=1)])
        alike = vectors @ fresh_vectors.T
        alike[is_fresh[part], positions(fresh_rows, part[is_fresh[part]])] = -np.inf  # itself
        hit, column = np.nonzero(alike >= farthest[:, None])
        at = np.concatenate([at, hit])
        ids = np.concatenate([listed[settled], fresh_ids[column]])
        scores = np.concatenate([sims[settled], alike[hit, column]])
        order = np.lexsort((ids, -scores, at))  # by row, then best first (ties: lower id)
        at, ids = at[order], ids[order]
        rank = np.arange(len(at)) - np.searchsorted(at, at)  # place within its row
        folded = np.full((len(part), width), -1, np.int64)
        folded[at[rank < width], rank[rank < width]] = ids[rank < width]
        lists[part] = folded
        if progress:
            progress(start + len(part), len(rows))
    return np.concatenate(unbounded) if unbounded else np.zeros(0, np.int64)


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
