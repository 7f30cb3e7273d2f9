"""The neighbour lists' search of a build on Ray (`build --ray`; index/neighbours.py).

After the embedding it is what a large build spends most on: at 1M articles in the compressed
graph about 2 hours on 2 cores, against under 5 minutes to build the graph (README, "Scaling out").
Every row's search is independent of the others', so it spreads over a cluster as the embedding
does, and Ray does the scheduling and the retries; nothing here does.

The rows to search are cut into blocks, one Ray task each. A task's worker process opens the new
build's folder once and keeps it for its later tasks (the graph and the vectors are memory-mapped:
the workers of one machine share their pages), searches its block on `threads` cores exactly as the
local search does (`VectorIndex.search_many(lists=True)`), and returns the ids; this process places
each answer in the lists file as it comes back. A block whose task still fails after its retries is
searched here once the others are done, so a build's lists are always whole, and the outcome says
how many blocks that took and why. When the first blocks fail, as many as there are workers, and
none has come back (a cluster that cannot read the folder, say), no more are sent: every block
left is searched here. On a cluster the store's home (where the build folder is) must
be on a path every node reads, as the shards are.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .ray_backfill import RayOptions, _one_line, connect, import_ray, pool_size

if TYPE_CHECKING:
    from ..index.folder import VectorIndex

BlockSearch = Callable[[str, np.ndarray, int, int], np.ndarray]  # (folder, rows, k, threads) -> ids


@dataclass
class ListsOutcome:
    """What the Ray part of the lists' search did."""

    searched: int = 0  # rows whose lists Ray searched
    blocks: int = 0
    workers: int = 0
    seconds: float = 0.0
    here: int = 0  # blocks that failed on Ray after their retries and were searched in this process
    why: str | None = None  # the first such block's reason
    gave_up: bool = False  # the first `workers` blocks all failed: the rest were not sent to Ray

    @property
    def rows_per_second(self) -> float:
        return self.searched / self.seconds if self.seconds > 0 else 0.0


_opened: dict[str, Any] = {}  # in a worker process: the build folder its tasks search


def search_block(folder: str, rows: np.ndarray, k: int, threads: int) -> np.ndarray:
    """In a Ray worker: the k nearest ids of these rows' articles, searched as a build's lists are."""
    index = _opened.get(folder)
    if index is None:
        from ..index.folder import load_folder

        _opened.clear()  # a worker serves one build at a time: an older build's maps are let go
        index = _opened[folder] = load_folder(Path(folder))
    from ..index.neighbours import searched

    return np.concatenate([found for _, found in searched(index, rows, k, threads)])


class RaySearcher:
    """An index.neighbours.Searcher that searches on Ray; `outcome` tells what the last search did.
    Fewer rows than `options.lists_local_below` are searched in this process (Ray costs seconds to
    start). `block_search` is what a task runs (tests give one that fails)."""

    def __init__(self, options: RayOptions | None = None, block_search: BlockSearch = search_block) -> None:
        self.options = options or RayOptions()
        self.block_search = block_search
        self.outcome: ListsOutcome | None = None

    def __call__(
        self, index: VectorIndex, rows: np.ndarray, k: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        from ..index.neighbours import searched

        if len(rows) < self.options.lists_local_below:
            yield from searched(index, rows, k)
            return
        failed: list[np.ndarray] = []
        yield from self._on_ray(index, rows, k, failed)
        for block in failed:  # after Ray is let go: this process has every core again
            yield from searched(index, block, k)

    def _on_ray(
        self, index: VectorIndex, rows: np.ndarray, k: int, failed: list[np.ndarray]
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        ray = import_ray()
        options = self.options
        started_ray = connect(ray, options)
        outcome = self.outcome = ListsOutcome()
        started = time.perf_counter()
        try:
            threads = max(options.threads, 1)
            outcome.workers = pool_size(ray, options)
            size = max(1, options.lists_block)
            blocks = [rows[s : s + size] for s in range(0, len(rows), size)]
            outcome.blocks = len(blocks)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                task = ray.remote(
                    num_cpus=threads, max_retries=max(options.tries - 1, 0), retry_exceptions=True
                )(self.block_search)
            folder = str(index.path)
            waiting = list(range(len(blocks)))[::-1]  # popped from the end: first block first
            running: dict[Any, int] = {}
            while waiting or running:
                if outcome.here >= outcome.workers and not outcome.searched and not outcome.gave_up:
                    outcome.gave_up = True  # Ray cannot search these lists: the rest are searched here
                    failed += [blocks[b] for b in reversed(waiting)]
                    outcome.here += len(waiting)
                    waiting.clear()
                while waiting and len(running) < outcome.workers:  # a block takes seconds to minutes
                    b = waiting.pop()
                    running[task.remote(folder, blocks[b], k, threads)] = b
                if not running:
                    break
                ready, _ = ray.wait(list(running), num_returns=1)
                b = running.pop(ready[0])
                try:
                    found = np.asarray(ray.get(ready[0]), np.int64)
                    if found.shape != (len(blocks[b]), min(k, len(index))):
                        raise ValueError(f"a block of {len(blocks[b])} rows came back as {found.shape} ids")
                except Exception as exc:  # searched here afterwards: never a list left out
                    cause = getattr(exc, "cause", None) or exc  # a task's error wraps its own
                    outcome.here += 1
                    outcome.why = outcome.why or _one_line(cause)
                    failed.append(blocks[b])
                    continue
                outcome.searched += len(blocks[b])
                yield blocks[b], found
        finally:
            outcome.seconds = time.perf_counter() - started
            if started_ray:
                ray.shutdown()


__all__ = ["ListsOutcome", "RaySearcher", "search_block"]
