"""Archives beyond one machine: the embedding of a build done on Ray (`recommender build --ray`),
and its neighbour lists' search (ray_lists.py).

The articles to embed are exported from DuckDB as Parquet shards, embedded by a Ray Data pipeline
whose workers load the same embedder the local build uses, and the vectors come back as Parquet that
DuckDB reads into the store, one short write session per finished shard or batch of shards (the
write-back is a writer like any other: ingest, readers and serving go on meanwhile). A killed
backfill resumes at the shards not yet stored. After it, the build goes on as a local one would:
what was ingested meanwhile is embedded locally, then snapshot, calibration and index; the neighbour
lists of the new index are searched on Ray too (blocks of rows as tasks, a failed block searched
locally), then the build switches.

Ray is an extra (`pip install 'recommender[ray]'`): nothing here imports it until a backfill runs.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..embedding import Embedder
from ..errors import BackfillFailed, MissingExtra
from .ray_backfill import Outcome, RayOptions, embed_shards, recipe_for
from .ray_lists import ListsOutcome, RaySearcher
from .shards import Plan, Shard, Work, WriteBack, export, store_vectors

if TYPE_CHECKING:
    from ..home import Home

MAX_ROUNDS = 3  # plans run back to back while more than a shard's worth is still waiting
SHOWN_FAILURES = 5

Progress = Callable[[int, int], None]


@dataclass
class BackfillReport:
    """What `build --ray` embedded before the rest of the build."""

    embedded: int = 0
    stored: int = 0
    seconds: float = 0.0
    ray_seconds: float = 0.0
    first_batch_seconds: float | None = None  # start-up: until the first vectors came back
    shards: int = 0
    workers: int = 0
    resumed: int = 0  # shards a killed run had left, finished now
    rounds: list[Outcome] = field(default_factory=list)

    @property
    def articles_per_second(self) -> float:
        return self.embedded / self.ray_seconds if self.ray_seconds > 0 else 0.0


def require_ray() -> None:
    """MissingExtra at once (before any lock is taken) when Ray is not installed."""
    if importlib.util.find_spec("ray") is None:
        raise MissingExtra("ray", "build --ray")


def backfill(
    home: Home,
    embedder: Embedder,
    fingerprint: str,
    fields: list[str],
    options: RayOptions | None = None,
    progress: Progress | None = None,
) -> BackfillReport:
    """Embed, on Ray, every article that has no current vector for this model, and store the vectors.

    Resumes a killed backfill of the same model first. Raises BackfillFailed naming the shards that
    failed after their retries (everything else is stored, and the next run retries only those).
    """
    require_ray()
    options = options or RayOptions()
    shard_size = options.shard_size
    work = Work.of(home.path, fingerprint, options.shards_dir)
    work.forget_others()
    report = BackfillReport()
    started = time.perf_counter()
    recipe = recipe_for(embedder)
    for _ in range(MAX_ROUNDS):
        plan = work.plan()
        todo: list[Shard] = []
        if plan is not None:
            leftovers = work.embedded(plan)
            report.stored += store_vectors(home, work, leftovers)
            todo = work.waiting(plan)
            report.resumed += len(leftovers) + len(todo)
        if not todo:
            plan = export(home, work, embedder.name, fields, shard_size)
            todo = list(plan.shards)
        if not todo or (report.rounds and sum(s.count for s in todo) <= shard_size):
            break  # nothing left, or few enough for the local embedding that follows
        write_back = WriteBack(home, work, options.write_back_seconds)
        outcome = embed_shards(work, todo, recipe, options, write_back, progress)
        report.rounds.append(outcome)
        report.embedded += outcome.embedded
        report.stored += write_back.stored
        report.ray_seconds += outcome.seconds
        report.shards += len(todo)
        report.workers = outcome.workers
        if report.first_batch_seconds is None:
            report.first_batch_seconds = outcome.first_batch_seconds
        if outcome.failed:
            raise BackfillFailed(
                _failure_message(plan, outcome.failed, len(todo), options), sorted(outcome.failed)
            )
    work.clear()
    report.seconds = time.perf_counter() - started
    return report


def _failure_message(plan: Plan | None, failed: dict[str, str], total: int, options: RayOptions) -> str:
    shards = {s.name: s for s in plan.shards} if plan else {}
    shown = [
        f"{shards[name].describe() if name in shards else 'shard ' + name}: {why}"
        for name, why in sorted(failed.items())[:SHOWN_FAILURES]
    ]
    more = f"; and {len(failed) - SHOWN_FAILURES} more" if len(failed) > SHOWN_FAILURES else ""
    tries = f"{options.tries} tries per batch, {options.passes} passes"
    return (
        f"{len(failed)} of {total} shards failed after {tries} and were not stored: "
        + "; ".join(shown)
        + more
        + ". The other shards are stored; `recommender build --ray` again retries only these."
    )


def engine(options: RayOptions | None = None) -> Callable[..., BackfillReport]:
    """The build's backfill hook (index.build.Backfill): `backfill` with these options."""

    def run(
        home: Home, embedder: Embedder, fingerprint: str, fields: list[str], progress: Progress | None
    ) -> BackfillReport:
        return backfill(home, embedder, fingerprint, fields, options, progress)

    return run


__all__ = ["BackfillReport", "ListsOutcome", "RayOptions", "RaySearcher", "backfill", "engine", "require_ray"]
