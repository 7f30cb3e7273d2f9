"""Embedding a backfill's shards on Ray Data: `read_parquet` -> `map_batches` with the embedder
loaded once per actor -> vectors back to this process, which writes each finished shard as Parquet
and has DuckDB store it (see shards.py). Ray does the scheduling; nothing here does.

Each worker builds the same embedder the local build uses (same model, backend, prefix, input
length) and checks its fingerprint against the build's: a node with another version of the package
or the model fails its batches with that message instead of storing different vectors. A batch that
raises is tried again in the worker; a shard with a batch that still fails is run again in a later
pass on fresh workers, and after that reported by id, never silently dropped.
"""

from __future__ import annotations

import functools
import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..embedding import Embedder, SentenceTransformerEmbedder
from ..errors import MissingExtra
from .shards import SHARD_SIZE, VECTOR_TYPE, Shard, Work, WriteBack

Recipe = Callable[[], Embedder]  # picklable: builds the embedder inside a worker
Progress = Callable[[int, int], None]  # (articles embedded so far, articles to embed)


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide a backfill runs.

    address: None starts a local Ray on this machine; "auto" or "ray://host:port" joins a cluster.
    workers: embedding actors (default: as many as the CPUs allow, `threads` each, one CPU left for
    reading shards). threads: CPUs (and model threads) per worker. batch_size: articles per call.
    tries: attempts per batch inside a worker; passes: runs over the failed shards on fresh workers.
    shard_size: articles per Parquet shard. shards_dir: where the shards are written (in its
    subfolder backfill/; default <home>/backfill); on a cluster, a path every node can read (NFS).
    The neighbour lists' search (ray_lists.py) runs as many tasks at once, of `threads` CPUs and
    `lists_block` rows each, when at least `lists_local_below` rows are to be searched (fewer: in
    this process).
    """

    address: str | None = None
    shard_size: int = SHARD_SIZE
    shards_dir: Path | None = None
    workers: int | None = None
    threads: int = 1
    batch_size: int = 256
    tries: int = 2
    passes: int = 2
    write_back_seconds: float = 2.0
    lists_block: int = 16_384
    lists_local_below: int = 20_000


@dataclass
class Outcome:
    """What the Ray part of a backfill did."""

    embedded: int = 0
    seconds: float = 0.0
    first_batch_seconds: float | None = None  # from start to the first vectors back (start-up cost)
    failed: dict[str, str] | None = None  # shard name -> why
    workers: int = 0


def recipe_for(embedder: Embedder) -> Recipe:
    """How a worker makes this embedder: the sentence-transformers model is rebuilt there from its
    settings (with the backend this process resolved, so a worker that cannot run it says so);
    any other embedder is sent as it is."""
    if isinstance(embedder, SentenceTransformerEmbedder):
        return functools.partial(
            SentenceTransformerEmbedder,
            embedder.name,
            prefix=embedder.prefix,
            max_seq_length=embedder.max_seq_length,
            batch_size=embedder.batch_size,
            cache_dir=embedder.cache_dir,
            backend=embedder.resolved_backend(),
        )
    return functools.partial(_given, embedder)


def _given(embedder: Embedder) -> Embedder:
    return embedder


class EmbedBatches:
    """A Ray Data actor: loads the embedder once, then embeds batches of shard rows."""

    def __init__(self, recipe: Recipe, fingerprint: str, threads: int, tries: int) -> None:
        self.tries = max(1, tries)
        self.problem: str | None = None
        self.embedder: Embedder | None = None
        try:
            _limit_threads(threads, recipe)
            self.embedder = recipe()
            found = self.embedder.fingerprint()
            if found != fingerprint:
                self.problem = (
                    f"this worker's model differs from the build's (fingerprint {found}, not {fingerprint}): "
                    "install the same recommender version and model on every node"
                )
        except Exception as exc:  # reported with every batch: the shards fail by id, not silently
            self.problem = f"the worker could not load the model: {_one_line(exc)}"

    def __call__(self, batch: pa.Table) -> pa.Table:
        """Vectors of a batch's texts, or per row the reason they could not be made. Ray Data may
        put rows of several shards in one batch: when the batch fails, each shard's rows are tried
        on their own, so one shard's bad article does not fail the shards that shared its batch."""
        texts = batch.column("text").to_pylist()
        n = batch.num_rows
        errors: list[str | None] = [self.problem] * n
        vectors: np.ndarray | None = None
        if self.problem is None:
            vectors, error = self._embed(texts)
            if vectors is None:
                shard_of = np.asarray(batch.column("shard").to_numpy(zero_copy_only=False))
                vectors, errors = self._by_shard(texts, shard_of, error)
            else:
                errors = [None] * n
        if vectors is None:
            column = pa.nulls(n, VECTOR_TYPE)
        else:
            flat = pa.array(vectors.astype(np.float32, copy=False).ravel())
            missing = pa.array([e is not None for e in errors])
            column = pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1], mask=missing).cast(VECTOR_TYPE)
        return pa.table(
            {
                "article_id": batch.column("article_id"),
                "shard": batch.column("shard"),
                "text_hash": batch.column("text_hash"),
                "vector": column,
                "error": pa.array(errors, pa.string()),
            }
        )

    def _by_shard(
        self, texts: list[str], shard_of: np.ndarray, error: str | None
    ) -> tuple[np.ndarray | None, list[str | None]]:
        """A failed batch tried again shard by shard: (vectors, None where they are good), or per
        row why not; a batch of one shard keeps the error it had."""
        groups = [np.flatnonzero(shard_of == key) for key in np.unique(shard_of)]
        if len(groups) == 1:
            return None, [error] * len(texts)
        vectors: np.ndarray | None = None
        errors: list[str | None] = [None] * len(texts)
        for rows in groups:
            part, why = self._embed([texts[i] for i in rows])
            if part is None:
                for bad in rows.tolist():
                    errors[bad] = why
                continue
            if vectors is None:
                vectors = np.zeros((len(texts), part.shape[1]), np.float32)
            vectors[rows] = part
        return vectors, errors

    def _embed(self, texts: list[str]) -> tuple[np.ndarray | None, str | None]:
        """(vectors, None), or (None, why) after `tries` attempts."""
        assert self.embedder is not None
        error: str | None = None
        for _ in range(self.tries):
            try:
                return _checked(self.embedder.embed(texts), len(texts)), None
            except Exception as exc:
                error = _one_line(exc)
        return None, error


def _checked(vectors: Any, count: int) -> np.ndarray:
    matrix = np.asarray(vectors, np.float32)
    if matrix.ndim != 2 or len(matrix) != count or not np.all(np.isfinite(matrix)):
        raise ValueError(f"the embedder returned {matrix.shape} values for {count} texts, or non-finite ones")
    return matrix


def _limit_threads(threads: int, recipe: Recipe) -> None:
    """One worker uses `threads` cores: the int8 model's and torch's thread pools are set to it."""
    if threads <= 0:
        return
    os.environ["OMP_NUM_THREADS"] = str(threads)
    target = getattr(recipe, "func", None)
    if target is SentenceTransformerEmbedder:
        from ..embedding import backends

        backends.OV_CONFIG["INFERENCE_NUM_THREADS"] = str(threads)
        try:
            import torch

            torch.set_num_threads(threads)
        except ImportError:
            pass


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip().rstrip(":")


def import_ray() -> Any:
    """Ray, quiet and without usage reporting; MissingExtra when it is not installed."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no telemetry, ever, by default
    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")  # Ray's own C++ notices on stderr
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise MissingExtra("ray", "build --ray") from exc
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return ray


def connect(ray: Any, options: RayOptions) -> bool:
    """Join the cluster at `options.address`, or start a local Ray; True when this call started it
    (and must shut it down). A session already open in this process is used as it is."""
    if ray.is_initialized():
        return False
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR, "configure_logging": False}
    if options.address in (None, "", "local"):
        cores = os.cpu_count() or 1
        workers = options.workers or max(1, cores // max(options.threads, 1))
        # one logical CPU beyond the workers' for Ray Data's light listing and reading tasks
        ray.init(num_cpus=workers * max(options.threads, 1) + 1, include_dashboard=False, **quiet)
    else:
        ray.init(address=options.address, **quiet)
    return True


def pool_size(ray: Any, options: RayOptions) -> int:
    """Workers to start: as asked, else what the cluster's CPUs hold, one CPU left for reading."""
    if options.workers:
        return options.workers
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(1, (cpus - 1) // max(options.threads, 1))


def embed_shards(
    work: Work,
    shards: list[Shard],
    recipe: Recipe,
    options: RayOptions,
    write_back: WriteBack,
    progress: Progress | None = None,
) -> Outcome:
    """Embed these shards on Ray, storing each as it completes; return what happened, with the
    shards that still failed after every pass."""
    ray = import_ray()
    started_ray = connect(ray, options)
    outcome = Outcome()
    started = time.perf_counter()
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        outcome.workers = pool_size(ray, options)
        total = sum(s.count for s in shards)
        todo = list(shards)
        failed: dict[str, str] = {}
        for _ in range(max(1, options.passes)):
            failed = _one_pass(
                ray, work, todo, recipe, options, outcome, write_back, total, progress, started
            )
            todo = [s for s in todo if s.name in failed]
            if not todo:
                break
        write_back.flush()
        outcome.failed = failed
    finally:
        outcome.seconds = time.perf_counter() - started
        if started_ray:
            ray.shutdown()
    return outcome


def _one_pass(
    ray: Any,
    work: Work,
    shards: list[Shard],
    recipe: Recipe,
    options: RayOptions,
    outcome: Outcome,
    write_back: WriteBack,
    total: int,
    progress: Progress | None,
    started: float,
) -> dict[str, str]:
    """One Ray Data run over `shards`; returns the shards that failed in it, with the reason."""
    by_name = {int(s.name): s for s in shards}
    parts: dict[int, list[pa.Table]] = {k: [] for k in by_name}
    have = dict.fromkeys(by_name, 0)
    failed: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Ray's advice about pool sizes and deprecations: not for users
        data = ray.data.read_parquet([str(work.input(s)) for s in shards], override_num_blocks=len(shards))
        embedded = data.map_batches(
            EmbedBatches,
            fn_constructor_kwargs={
                "recipe": recipe,
                "fingerprint": work.fingerprint,
                "threads": options.threads,
                "tries": options.tries,
            },
            batch_size=options.batch_size,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=outcome.workers),
            num_cpus=max(options.threads, 1),
        )
        try:
            for batch in embedded.iter_batches(batch_format="pyarrow", batch_size=None):
                if outcome.first_batch_seconds is None:
                    outcome.first_batch_seconds = time.perf_counter() - started
                _collect(batch, by_name, parts, have, failed, write_back, outcome)
                if progress:
                    progress(outcome.embedded, total)
        except Exception as exc:  # the run itself broke (a node lost, say): what is unfinished failed
            reason = f"the Ray run failed: {_one_line(exc)}"
            for key, shard in by_name.items():
                if key in parts and shard.name not in failed:
                    failed[shard.name] = reason
    for key, shard in by_name.items():
        if key in parts and shard.name not in failed:  # rows went missing: never drop them silently
            failed[shard.name] = f"{have[key]} of {shard.count} articles came back"
    return failed


def _collect(
    batch: pa.Table,
    by_name: dict[int, Shard],
    parts: dict[int, list[pa.Table]],
    have: dict[int, int],
    failed: dict[str, str],
    write_back: WriteBack,
    outcome: Outcome,
) -> None:
    """Sort one batch of results into their shards; write each shard out when it is complete."""
    shard_column = np.asarray(batch.column("shard").to_numpy(zero_copy_only=False))
    for key in np.unique(shard_column).tolist():
        if key not in parts:
            continue  # the shard already failed in this pass
        shard = by_name[key]
        rows = batch.filter(pa.array(shard_column == key))
        problems = [e for e in rows.column("error").to_pylist() if e]
        if problems:
            failed[shard.name] = problems[0]
            outcome.embedded -= have[key]  # its earlier batches will be embedded again
            del parts[key]
            continue
        parts[key].append(rows)
        have[key] += rows.num_rows
        outcome.embedded += rows.num_rows
        if have[key] >= shard.count:
            table = pa.concat_tables(parts.pop(key))
            ids = table.column("article_id").to_numpy()
            if table.num_rows != shard.count or len(np.unique(ids)) != shard.count:
                failed[shard.name] = f"{table.num_rows} rows came back for {shard.count} articles"
                outcome.embedded -= have[key]
                continue
            write_back.add(shard, table)


__all__ = ["EmbedBatches", "Outcome", "RayOptions", "embed_shards", "import_ray", "recipe_for"]
