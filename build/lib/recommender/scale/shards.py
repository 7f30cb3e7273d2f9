"""A backfill's work on disk: the articles to embed as Parquet shards, and the vectors coming back.

    <home>/backfill/<fingerprint>/plan.json           model, shard size, every shard's id range and count
    <home>/backfill/<fingerprint>/in/<shard>.parquet  article_id, text, text_hash, shard: still to embed
    <home>/backfill/<fingerprint>/out/<shard>.parquet article_id, text_hash, vector: embedded, not yet stored

A shard's life: exported from DuckDB (in short write sessions, a few shards each) -> embedded by the
workers -> its vectors written to out/ (under a temporary name, then renamed) -> read by DuckDB into
the store in one transaction (several shards at once when they finish together) -> both files
deleted. The files alone say where a backfill stands, so a killed one resumes where it stopped: out/
files are stored first (storing twice is harmless: rows are keyed by article and model), then the
shards still in in/ are embedded. Nothing here imports Ray.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from ..home import Home

BACKFILL_DIR = "backfill"
PLAN_FILE = "plan.json"
SHARD_SIZE = 2_000  # articles per shard: a few minutes of one 2-core worker, seconds of a cluster
SHARDS_PER_SESSION = 25  # shards exported per write session: readers and writers get turns
VECTOR_TYPE = pa.list_(pa.float32())
OUT_SCHEMA = pa.schema([("article_id", pa.int64()), ("text_hash", pa.string()), ("vector", VECTOR_TYPE)])


@dataclass(frozen=True)
class Shard:
    """One Parquet shard of a backfill: `count` articles with ids from `first` to `last`."""

    name: str
    count: int
    first: int
    last: int

    def describe(self) -> str:
        return f"shard {self.name} ({self.count} articles, ids {self.first}-{self.last})"


@dataclass(frozen=True)
class Plan:
    """What a backfill was asked to embed, written once when its shards are exported."""

    fingerprint: str
    model: str
    created: str
    shard_size: int
    shards: tuple[Shard, ...]

    @classmethod
    def read(cls, folder: Path) -> Plan | None:
        try:
            raw = json.loads((folder / PLAN_FILE).read_text(encoding="utf-8"))
            return cls(
                raw["fingerprint"],
                raw["model"],
                raw["created"],
                int(raw["shard_size"]),
                tuple(Shard(**s) for s in raw["shards"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, folder: Path) -> None:
        _atomic_write(folder / PLAN_FILE, json.dumps(asdict(self), indent=1).encode())


class Work:
    """The backfill folder of one model fingerprint: its plan and its shard files."""

    def __init__(self, root: Path, fingerprint: str) -> None:
        self.root = root
        self.folder = root / fingerprint
        self.fingerprint = fingerprint

    @classmethod
    def of(cls, home: Path, fingerprint: str, root: Path | None = None) -> Work:
        """The work of a home's backfill: in <home>/backfill, or <root>/backfill (a folder of ours
        inside `root`, so that clearing old work never touches anything else there)."""
        return cls((root or home) / BACKFILL_DIR, fingerprint)

    def input(self, shard: Shard) -> Path:
        return self.folder / "in" / f"{shard.name}.parquet"

    def output(self, shard: Shard) -> Path:
        return self.folder / "out" / f"{shard.name}.parquet"

    def plan(self) -> Plan | None:
        return Plan.read(self.folder)

    def waiting(self, plan: Plan) -> list[Shard]:
        """Shards still to embed: exported, with no vectors written yet."""
        return [s for s in plan.shards if self.input(s).exists() and not self.output(s).exists()]

    def embedded(self, plan: Plan) -> list[Shard]:
        """Shards whose vectors are written but not yet stored (a killed run left them)."""
        return [s for s in plan.shards if self.output(s).exists()]

    def forget_others(self) -> None:
        """Remove the backfill folders of other models: only a build with that model could use them."""
        if self.root.is_dir():
            for child in self.root.iterdir():
                if child.is_dir() and child.name != self.fingerprint:
                    shutil.rmtree(child, ignore_errors=True)

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.root.rmdir()  # when no other model's backfill is in it


def export(home: Home, work: Work, model: str, fields: list[str], shard_size: int = SHARD_SIZE) -> Plan:
    """Write the articles that need a vector for this model as Parquet shards, and the plan.

    One short session finds their ids; then each session writes up to SHARDS_PER_SESSION shards, so
    the write lock is never held for long. A shard is written under a temporary name and renamed.
    """
    for sub in ("in", "out"):
        shutil.rmtree(work.folder / sub, ignore_errors=True)
        (work.folder / sub).mkdir(parents=True)
    with home.writing("build --ray: planning the backfill") as store:
        ids = store.pending_ids(work.fingerprint, fields)
    groups = [ids[i : i + shard_size] for i in range(0, len(ids), shard_size)]
    shards = tuple(Shard(f"{k:05d}", len(g), int(g[0]), int(g[-1])) for k, g in enumerate(groups) if len(g))
    for start in range(0, len(shards), SHARDS_PER_SESSION):
        batch = shards[start : start + SHARDS_PER_SESSION]
        with home.writing("build --ray: exporting shards") as store:
            tables = [(s, store.texts_to_embed(groups[int(s.name)], fields)) for s in batch]
        for shard, table in tables:
            column = pa.array(np.full(table.num_rows, int(shard.name), np.int32))
            _write_parquet(table.append_column("shard", column), work.input(shard))
    plan = Plan(work.fingerprint, model, datetime.now(UTC).isoformat(), shard_size, shards)
    plan.write(work.folder)
    return plan


def write_vectors(work: Work, shard: Shard, table: pa.Table) -> Path:
    """Write one shard's vectors (article_id, text_hash, vector) to out/, whole or not at all."""
    path = work.output(shard)
    _write_parquet(table.select(OUT_SCHEMA.names).cast(OUT_SCHEMA), path)
    return path


def store_vectors(home: Home, work: Work, shards: list[Shard]) -> int:
    """Read these shards' vectors into the store in one write session (one transaction), then
    delete their files; return the rows stored."""
    if not shards:
        return 0
    with home.writing("build --ray: storing vectors") as store:
        stored = store.save_embeddings_from(work.fingerprint, [work.output(s) for s in shards])
    for shard in shards:
        work.input(shard).unlink(missing_ok=True)
        work.output(shard).unlink(missing_ok=True)
    return stored


class WriteBack:
    """Stores finished shards in batches: at most one write session every `every` seconds."""

    def __init__(
        self, home: Home, work: Work, every: float = 2.0, clock: Callable[[], float] = time.monotonic
    ):
        self.home, self.work, self.every, self.clock = home, work, every, clock
        self.ready: list[Shard] = []
        self.stored = 0
        self._last = clock()

    def add(self, shard: Shard, table: pa.Table) -> None:
        write_vectors(self.work, shard, table)
        self.ready.append(shard)
        if self.clock() - self._last >= self.every:
            self.flush()

    def flush(self) -> None:
        if self.ready:
            self.stored += store_vectors(self.home, self.work, self.ready)
            self.ready = []
        self._last = self.clock()


def _write_parquet(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


__all__ = ["SHARD_SIZE", "Plan", "Shard", "Work", "WriteBack", "export", "store_vectors", "write_vectors"]
