"""The DuckDB store: articles, their embeddings, section settings and engine settings.

DuckDB is the source of truth; builds derive the serving snapshot from it. One file per home
directory, migrated to the current schema whenever it is opened for writing. A Store is opened for
one short session at a time (see home.py): writers under the home's write lock, readers read-only.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from ..config import Settings, check_section_values, format_value
from ..errors import ArticleNotFound, InvalidSetting, RecommenderError
from ..index.overlay import SectionValues
from . import sql
from .migrations import MIGRATIONS, apply_migrations

DB_FILENAME = "recommender.duckdb"
MAX_PIN_POSITION = 50  # a pin lower than this would never be seen in a sidebar
LOCK_WAIT_SECONDS = 30.0  # how long to wait for another process (e.g. a build saving a chunk)
SNAPSHOT_BATCH = 65_536  # rows whose snippets a build makes at a time (their leads held meanwhile)
SCAN_MEMORY = "512MB"  # DuckDB's cache while a build streams the store out (see _cap_cache)


@dataclass(frozen=True)
class Article:
    """The fields of a stored article that ranking and display need (not its body)."""

    id: int
    external_id: str
    url: str | None
    title: str
    section: str | None
    language: str | None
    published_at: datetime | None


@dataclass(frozen=True)
class SectionInfo:
    """A section with its article count and its effective boost and recency half-life."""

    name: str
    articles: int
    boost: float
    half_life_days: float
    custom_boost: bool
    custom_half_life: bool


@dataclass(frozen=True)
class UpsertCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


class Store:
    """One DuckDB file: open it with `Store.open(home)`; every query lives in sql.py."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.con = con
        self.path = path

    @classmethod
    def open(cls, home: Path, read_only: bool = False, wait_seconds: float = LOCK_WAIT_SECONDS) -> Store:
        """Open the store of a home; for writing, it is created and migrated as needed."""
        path = home / DB_FILENAME
        if read_only:
            con = _connect(path, wait_seconds, read_only=True)
            _check_schema(con, path)
        else:
            home.mkdir(parents=True, exist_ok=True)
            con = _connect(path, wait_seconds)
            apply_migrations(con)
        return cls(con, path)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- settings ---------------------------------------------------------------------------
    def settings(self) -> Settings:
        return Settings.from_stored(self.stored_settings().items())

    def stored_settings(self) -> dict[str, str]:
        """The settings set explicitly, in their stored text form (bookkeeping keys left out)."""
        rows = self.con.execute("SELECT key, value FROM settings WHERE NOT starts_with(key, '_')")
        return dict(rows.fetchall())

    def set_setting(self, key: str, raw: str | None, transaction: bool = True) -> Settings:
        """Store one setting; the whole result is validated (cross-field rules too) before writing.
        `transaction=False` when the caller holds one."""
        updated = self._settings_without(key).with_value(key, raw)
        value = format_value(getattr(updated, key))
        if transaction:
            self.con.execute("BEGIN TRANSACTION")
        self.con.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [key, value])
        self._bump()
        if transaction:
            self.con.execute("COMMIT")
        return updated

    def reset_setting(self, key: str) -> Settings:
        """Forget a stored setting: its default applies again (works even if the stored value is bad)."""
        if key not in Settings.keys():
            raise InvalidSetting(f"unknown setting {key!r}; known: {', '.join(Settings.keys())}")
        updated = self._settings_without(key)
        self.con.execute("BEGIN TRANSACTION")
        self.con.execute("DELETE FROM settings WHERE key = ?", [key])
        self._bump()
        self.con.execute("COMMIT")
        return updated

    def _settings_without(self, key: str) -> Settings:
        return Settings.from_stored((k, v) for k, v in self.stored_settings().items() if k != key)

    def state(self, key: str) -> str | None:
        """Internal bookkeeping values (last built model, ...) kept beside the settings."""
        row = _first(self.con.execute("SELECT value FROM settings WHERE key = ?", ["_" + key]))
        return row[0] if row else None

    def set_state(self, key: str, value: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", ["_" + key, value])

    # --- sections ---------------------------------------------------------------------------
    def sections(self) -> list[SectionInfo]:
        s = self.settings()
        return [
            SectionInfo(
                name,
                count,
                s.section_boost if boost is None else boost,
                s.half_life_days if half_life is None else half_life,
                boost is not None,
                half_life is not None,
            )
            for name, count, boost, half_life in self.con.execute(sql.SECTIONS).fetchall()
        ]

    def section_values(self) -> dict[str, SectionValues]:
        """Sections with a value of their own (None = the default applies)."""
        rows = self.con.execute(sql.SECTION_SETTINGS).fetchall()
        return {name: SectionValues(boost, half, bool(only)) for name, boost, half, only in rows}

    def set_section(self, name: str, boost: float | None, half_life_days: float | None) -> None:
        if not name.strip():
            raise InvalidSetting("section name is empty")
        check_section_values(boost, half_life_days)
        params = {"name": name.strip().lower(), "boost": boost, "half_life": half_life_days}
        self.con.execute("BEGIN TRANSACTION")
        self.con.execute(sql.UPSERT_SECTION, params)
        self._bump()
        self.con.execute("COMMIT")

    def set_same_section_only(self, name: str, only: bool) -> None:
        """Sidebars of this section's articles show this section only (or, False, any section)."""
        if not name.strip():
            raise InvalidSetting("section name is empty")
        self.con.execute("BEGIN TRANSACTION")
        self.con.execute(sql.SET_SAME_SECTION_ONLY, {"name": name.strip().lower(), "only": bool(only)})
        self._bump()
        self.con.execute("COMMIT")

    # --- editors' controls: pins and blocks, by external id -----------------------------------
    def pin(self, source: str, article: str, position: int) -> None:
        """Show `article` at `position` (1 = first) in `source`'s sidebar; both must be stored."""
        if (
            isinstance(position, bool)
            or not isinstance(position, int)
            or not 1 <= position <= MAX_PIN_POSITION
        ):
            raise InvalidSetting(
                f"position must be a whole number from 1 to {MAX_PIN_POSITION}, got {position!r}"
            )
        if source == article:
            raise InvalidSetting("an article cannot be pinned into its own sidebar")
        self._require_articles([source, article])
        self._control(sql.UPSERT_PIN, {"source": source, "article": article, "position": position})

    def unpin(self, source: str, article: str) -> bool:
        """Take a pin away; False when there was none."""
        return self._control(sql.DELETE_PIN, {"source": source, "article": article})

    def block(self, article: str, source: str | None = None) -> None:
        """Keep `article` out of `source`'s sidebar, or (source None) out of every sidebar."""
        self._require_articles([article] if source is None else [article, source])
        self._control(sql.UPSERT_BLOCK, {"source": source or "", "article": article})

    def unblock(self, article: str, source: str | None = None) -> bool:
        """Take a block away; False when there was none."""
        return self._control(sql.DELETE_BLOCK, {"source": source or "", "article": article})

    def pins(self) -> list[tuple[str, str, int]]:
        """Every pin as (source, article, position)."""
        return [(s, a, int(p)) for s, a, p in self.con.execute(sql.PINS).fetchall()]

    def blocks(self) -> list[tuple[str | None, str]]:
        """Every block as (source, article); source None = every sidebar."""
        return [(s or None, a) for s, a in self.con.execute(sql.BLOCKS).fetchall()]

    def _require_articles(self, external_ids: list[str]) -> None:
        found = {r[0] for r in self.con.execute(sql.EXISTING_IDS, {"ids": external_ids}).fetchall()}
        missing = [i for i in external_ids if i not in found]
        if missing:
            raise ArticleNotFound(f"no article with id {missing[0]!r} in the store")

    def _control(self, statement: str, params: dict[str, Any]) -> bool:
        """Run one write to pins or blocks in a transaction; True when it changed a row."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            rows = self.con.execute(statement, params).fetchall()
            changed = bool(rows) or "RETURNING" not in statement  # an upsert always counts
            if changed:
                self._bump()
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return changed

    # --- articles ---------------------------------------------------------------------------
    def article(self, external_id: str) -> Article:
        row = _first(self.con.execute(sql.ARTICLE_BY_EXTERNAL_ID, [external_id]))
        if row is None:
            raise ArticleNotFound(f"no article with id {external_id!r} in {self.path}")
        return Article(*row)

    def upsert(self, incoming: pa.Table) -> UpsertCounts:
        """Insert new articles and update changed ones, in one transaction."""
        self.con.register("incoming", incoming)
        try:
            self.con.execute("BEGIN TRANSACTION")
            classify = sql.CLASSIFY_INCOMING.format(changed=sql.CHANGED_PREDICATE)
            added, updated, unchanged = _first(self.con.execute(classify)) or (0, 0, 0)
            self.con.execute(sql.UPDATE_CHANGED)
            self.con.execute(sql.INSERT_NEW)
            if added or updated:
                self._bump(articles=True)
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self.con.unregister("incoming")
        return UpsertCounts(added, updated, unchanged)

    def remove(self, external_ids: list[str]) -> tuple[list[str], list[str]]:
        """Delete articles (and their embeddings); return (removed ids, ids that were not there)."""
        params = {"ids": list(external_ids)}
        found = {r[0] for r in self.con.execute(sql.EXISTING_IDS, params).fetchall()}
        self.con.execute("BEGIN TRANSACTION")
        self.con.execute(sql.DELETE_EMBEDDINGS_OF, params)
        self.con.execute(sql.DELETE_ARTICLES, params)
        if found:
            self._bump(articles=True)
        self.con.execute("COMMIT")
        return [i for i in external_ids if i in found], [i for i in external_ids if i not in found]

    # --- embeddings -------------------------------------------------------------------------
    def pending_ids(self, fingerprint: str, fields: list[str]) -> np.ndarray:
        """Ids of the articles without a current embedding for this model (none stored, or one of
        another text), ascending."""
        query = sql.PENDING_IDS.format(text=_text_expression(fields))
        self._cap_cache()  # a scan of every article's text
        column = self.con.execute(query, {"fingerprint": fingerprint}).fetchnumpy()["id"]
        return np.asarray(column, np.int64)

    def texts_to_embed(self, ids: np.ndarray, fields: list[str]) -> pa.Table:
        """(article_id, text, text_hash) of these articles, ascending id: the text the model reads
        and its hash (a window of a local build's embedding, or one shard of a backfill)."""
        query = sql.TEXTS_TO_EMBED.format(text=_text_expression(fields))
        params = {"ids": [int(i) for i in ids]}
        return self.con.sql(query, params=params).to_arrow_table()

    def save_embeddings_from(self, fingerprint: str, paths: list[Path]) -> int:
        """Store the vectors in these Parquet files (article_id, text_hash, vector), in one
        transaction; return the number of rows stored."""
        if not paths:
            return 0
        params = {"fingerprint": fingerprint, "paths": [str(p) for p in paths]}
        self.con.execute("BEGIN TRANSACTION")
        try:
            row = _first(self.con.execute(sql.SAVE_EMBEDDINGS_FROM_PARQUET, params))
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        return int(row[0]) if row else 0

    def count_pending(self, fingerprint: str, fields: list[str]) -> int:
        query = sql.COUNT_PENDING.format(text=_text_expression(fields))
        self._cap_cache()
        row = _first(self.con.execute(query, {"fingerprint": fingerprint}))
        return int(row[0]) if row else 0

    def save_embeddings(
        self, fingerprint: str, ids: list[int], text_hashes: list[str], vectors: np.ndarray
    ) -> None:
        table = pa.table(
            {
                "article_id": pa.array(ids, pa.int64()),
                "text_hash": pa.array(text_hashes, pa.string()),
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(vectors.astype(np.float32).ravel()), vectors.shape[1]
                ).cast(pa.list_(pa.float32())),
            }
        )
        self.con.register("incoming_embeddings", table)
        try:
            self.con.execute(sql.SAVE_EMBEDDINGS, {"fingerprint": fingerprint})
        finally:
            self.con.unregister("incoming_embeddings")

    def texts(self, ids: list[int]) -> dict[int, tuple[str, str]]:
        """id -> (title, body) for the given internal ids."""
        rows = self.con.execute(sql.TEXTS, {"ids": [int(i) for i in ids]}).fetchall()
        return {int(i): (title, body) for i, title, body in rows}

    def catalog(self) -> tuple[list[Article], list[str]]:
        """Every article (ordered by id) and its title + body text."""
        rows = self.con.execute(sql.CATALOG).fetchall()
        return [Article(*row[:-1]) for row in rows], [row[-1] for row in rows]

    def embeddings(self, fingerprint: str, ids: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(int64 ids, float32 matrix) of every article embedded with this model, or of `ids`."""
        params: dict[str, Any]
        if ids is None:
            query, params = sql.CURRENT_EMBEDDINGS, {"fingerprint": fingerprint}
        else:
            query, params = sql.EMBEDDINGS_OF, {"fingerprint": fingerprint, "ids": [int(i) for i in ids]}
        columns = self.con.execute(query, params).fetchnumpy()
        found = np.asarray(columns["article_id"], np.int64)
        if len(found) == 0:
            return found, np.zeros((0, 0), np.float32)
        return found, np.stack(list(columns["vector"])).astype(np.float32)

    def embedding_batches(self, fingerprint: str, rows: int = 8192) -> pa.RecordBatchReader:
        """(article_id, vector) of every vector stored for this model, in storage order, as record
        batches: a build streams them to disk instead of holding the matrix. A vector whose article
        is gone is not filtered out here: a join to the articles builds a hash table of the vectors
        (held under DuckDB's cap, but 2.5 times the time at 1M articles); the build passes over such
        a vector instead (index/vectors.from_batches)."""
        self._cap_cache()
        relation = self.con.sql(sql.STORED_EMBEDDINGS, params={"fingerprint": fingerprint})
        return relation.to_arrow_reader(rows)

    def _cap_cache(self) -> None:
        """Cap DuckDB's cache for the rest of this session, so that a scan of every article or
        every vector of a large store does not leave the pages it read in this process."""
        self.con.execute(f"SET memory_limit = '{SCAN_MEMORY}'")

    def embedded_ids(self, fingerprint: str, since: datetime | None = None) -> np.ndarray:
        """Ids of articles with a current embedding for this model (saved at or after `since`)."""
        if since is None:
            cursor = self.con.execute(sql.EMBEDDED_IDS, {"fingerprint": fingerprint})
        else:
            cursor = self.con.execute(sql.EMBEDDED_SINCE, {"fingerprint": fingerprint, "since": since})
        return np.asarray(cursor.fetchnumpy()["article_id"], np.int64)

    # --- change tracking --------------------------------------------------------------------
    def data_version(self) -> int:
        """A counter that every write to articles, sections or settings moves on."""
        return int(self.state("data_version") or 0)

    def articles_version(self) -> int:
        """A counter that every write to articles moves on (what a build snapshots)."""
        return int(self.state("articles_version") or 0)

    def _bump(self, articles: bool = False) -> None:
        self.set_state("data_version", str(self.data_version() + 1))
        if articles:
            self.set_state("articles_version", str(self.articles_version() + 1))

    def missing_ids(self, ids: np.ndarray) -> np.ndarray:
        """Those of `ids` (internal article ids) that are no longer in the store."""
        if len(ids) == 0:
            return np.zeros(0, np.int64)
        self.con.register("wanted_ids", pa.table({"id": pa.array(np.asarray(ids, np.int64))}))
        try:
            found = self.con.execute(sql.MISSING_IDS).fetchnumpy()["id"]
        finally:
            self.con.unregister("wanted_ids")
        return np.asarray(found, np.int64)

    # --- snapshot ---------------------------------------------------------------------------
    def snapshot_rows(self, fingerprint: str) -> pa.RecordBatchReader:
        """The catalog columns of every article embedded with this model, in no set order, read
        SNAPSHOT_BATCH rows at a time while this session is open; `snippet` (index/snippet.py) stands
        in for the summary and the body's opening (index/snapshot.CatalogWriter puts them in order)."""
        from ..index.snippet import LEAD_FACTOR, with_snippets

        limit = self.settings().snippet_chars
        params = {"fingerprint": fingerprint, "lead_chars": limit * LEAD_FACTOR}
        self._cap_cache()
        rows = self.con.sql(sql.SNAPSHOT_ARTICLES, params=params).to_arrow_reader(SNAPSHOT_BATCH)
        return with_snippets(rows, limit)

    def delete_other_embeddings(self, fingerprint: str) -> int:
        """Drop the vectors of every other model (after a model switch went live)."""
        rows = self.con.execute(sql.DELETE_OTHER_EMBEDDINGS, {"fingerprint": fingerprint}).fetchall()
        return len(rows)

    # --- ranking ----------------------------------------------------------------------------
    def rank(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the ranking query (sql.RANKING) over FAISS candidates; rows best first."""
        return self._dicts(sql.RANKING, params)

    def fallback(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self._dicts(sql.FALLBACK, params)

    def _dicts(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        used = set(re.findall(r"\$(\w+)", query))  # DuckDB refuses parameters a query does not use
        cursor = self.con.execute(query, {k: v for k, v in params.items() if k in used})
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    # --- stats ------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        cursor = self.con.execute(sql.STATS)
        names = [d[0] for d in cursor.description]
        out = dict(zip(names, _first(cursor) or (), strict=True))
        out["languages"] = dict(self.con.execute(sql.LANGUAGES).fetchall())
        return out


def _connect(path: Path, wait_seconds: float, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, waiting a little while a process outside our locks holds it."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                first = str(exc).splitlines()[0]
                raise RecommenderError(f"cannot open store {path}: {first}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    con.execute("SET TimeZone = 'UTC'")
    return con


def _first(cursor: duckdb.DuckDBPyConnection) -> Any:
    """The first row of a result, which is read to the end: DuckDB refuses other work on a
    connection (registering a table, say) while a result is unfinished."""
    rows = cursor.fetchall()
    return rows[0] if rows else None


def _check_schema(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """A store opened read-only cannot be migrated: say so rather than fail on a missing column."""
    try:
        row = _first(con.execute("SELECT max(version) FROM _migrations"))
    except duckdb.Error:
        row = None
    if not row or row[0] is None or int(row[0]) < MIGRATIONS[-1].version:
        con.close()
        raise RecommenderError(
            f"the store {path} has an older schema: run any write command "
            "(e.g. `recommender build`) to upgrade it"
        )


def _text_expression(fields: list[str]) -> str:
    try:
        return sql.TEXT_EXPRESSIONS[tuple(fields)]
    except KeyError as exc:
        raise InvalidSetting(f"text_fields {','.join(fields)!r} is not supported") from exc
