"""Ingest staging: a file's rows go to a temporary table in batches, then into the store in one
transaction, so a file lands whole or not at all (a killed ingest leaves no half file behind) and
memory does not grow with the file. Repeated ids are found here, in SQL, across the whole ingest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from . import sql
from .database import Store


@dataclass(frozen=True)
class Stored:
    """What committing one staged file did."""

    added: int
    updated: int
    unchanged: int
    removed: int


# DuckDB keeps temporary tables in memory up to its memory limit (80% of RAM by default) and
# only then spills them to disk; an ingest caps it so that a big file spills early instead.
MEMORY_LIMIT = "1GB"


class Staging:
    """Temporary tables on the store's connection for one ingest (one or many files)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        row = store.con.execute("SELECT current_setting('memory_limit')").fetchone()
        self._memory_limit = str(row[0]) if row else None
        store.con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        store.con.execute(sql.STAGE_SEEN_CREATE)

    def close(self) -> None:
        """Drop the ingest's tables and give DuckDB its memory limit back."""
        con = self.store.con
        con.execute(sql.STAGE_DROP)
        con.execute("DROP TABLE IF EXISTS ingest_seen")
        if self._memory_limit:
            con.execute("SET memory_limit = $limit", {"limit": self._memory_limit})

    def begin(self) -> None:
        """Start a file: an empty staging table."""
        self.store.con.execute(sql.STAGE_CREATE)

    def append(self, batch: pa.Table) -> None:
        con = self.store.con
        con.register("staged_batch", batch)
        try:
            con.execute(sql.STAGE_APPEND)
        finally:
            con.unregister("staged_batch")

    def repeats(self) -> Iterator[tuple[str, str, str]]:
        """(location, id, where it came first) of every staged row whose id came earlier."""
        con = self.store.con
        con.execute(sql.STAGE_KEEP)
        cursor = con.execute(sql.STAGE_REPEATS)
        while batch := cursor.fetchmany(10_000):
            yield from batch

    def commit(self, filename: str) -> Stored:
        """Store the file's first rows per id (new, changed, removed) in one transaction."""
        con = self.store.con
        con.execute(sql.STAGE_INCOMING)
        con.execute("BEGIN TRANSACTION")
        try:
            classify = sql.CLASSIFY_INCOMING.format(changed=sql.CHANGED_PREDICATE)
            added, updated, unchanged = con.execute(classify).fetchone() or (0, 0, 0)
            con.execute(sql.UPDATE_CHANGED)
            con.execute(sql.INSERT_NEW)
            row = con.execute(sql.STAGE_REMOVALS).fetchone()
            removed = int(row[0]) if row else 0
            if removed:
                con.execute(sql.STAGE_DELETE_EMBEDDINGS)
                con.execute(sql.STAGE_DELETE_ARTICLES)
            if added or updated or removed:
                self.store._bump(articles=True)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute(sql.STAGE_REMEMBER, {"file": filename})
        self.discard()
        return Stored(added, updated, unchanged, removed)

    def discard(self) -> None:
        """Drop what a file staged (after its commit, or when the file turned out unreadable)."""
        self.store.con.execute(sql.STAGE_DROP)
