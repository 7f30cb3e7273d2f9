"""The store's schema as numbered, append-only migrations, applied in order when a store opens.

Never edit a migration that has shipped: add a new one at the end of MIGRATIONS instead.
"""

from __future__ import annotations

from typing import NamedTuple

import duckdb


class Migration(NamedTuple):
    version: int
    name: str
    sql: str


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "articles, embeddings, sections, settings",
        """
        CREATE SEQUENCE article_ids START 1;
        CREATE TABLE articles (
            id BIGINT PRIMARY KEY DEFAULT nextval('article_ids'),  -- shared with FAISS
            external_id VARCHAR NOT NULL UNIQUE,                     -- the caller's id
            url VARCHAR,
            title VARCHAR NOT NULL,
            body VARCHAR NOT NULL,
            section VARCHAR,
            language VARCHAR,
            published_at TIMESTAMPTZ,
            updated_at TIMESTAMPTZ,
            content_hash VARCHAR NOT NULL,
            ingested_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE embeddings (
            article_id BIGINT PRIMARY KEY,
            model_fingerprint VARCHAR NOT NULL,
            text_hash VARCHAR NOT NULL,
            vector FLOAT[] NOT NULL,
            embedded_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE sections (
            name VARCHAR PRIMARY KEY,
            boost DOUBLE,
            half_life_days DOUBLE
        );
        CREATE TABLE settings (
            key VARCHAR PRIMARY KEY,
            value VARCHAR NOT NULL
        );
        """,
    ),
    Migration(
        2,
        "default section settings for common news sections",
        """
        -- Fast-moving sections go stale sooner; features and opinion keep their value longer.
        INSERT INTO sections VALUES
            ('sports', NULL, 3), ('national', NULL, 5), ('politics', NULL, 7),
            ('international', NULL, 7), ('economy', NULL, 10), ('business', NULL, 10),
            ('entertainment', NULL, 10), ('technology', NULL, 14), ('opinion', NULL, 30),
            ('lifestyle', NULL, 30);
        """,
    ),
    Migration(
        3,
        "embeddings kept per (article, model fingerprint)",
        """
        -- A model switch embeds into rows of its own; the old model's rows stay until the new
        -- model's build is live, so a switch that fails or is killed leaves the old model whole.
        CREATE TABLE embeddings_by_model (
            article_id BIGINT NOT NULL,
            model_fingerprint VARCHAR NOT NULL,
            text_hash VARCHAR NOT NULL,
            vector FLOAT[] NOT NULL,
            embedded_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (article_id, model_fingerprint)
        );
        INSERT INTO embeddings_by_model
            SELECT article_id, model_fingerprint, text_hash, vector, embedded_at FROM embeddings;
        DROP TABLE embeddings;
        ALTER TABLE embeddings_by_model RENAME TO embeddings;
        """,
    ),
    Migration(
        4,
        "render fields (image, summary, authors, tags) and editors' controls (pins, blocks)",
        """
        -- What a sidebar draws besides the title; NULL / empty where a source has none.
        ALTER TABLE articles ADD COLUMN image VARCHAR;
        ALTER TABLE articles ADD COLUMN summary VARCHAR;
        ALTER TABLE articles ADD COLUMN authors VARCHAR[];
        ALTER TABLE articles ADD COLUMN tags VARCHAR[];
        -- Sidebars of this section's articles show this section only.
        ALTER TABLE sections ADD COLUMN same_section_only BOOLEAN;
        -- Editors' controls, by external id (they survive a re-ingest, and may name an article
        -- that comes back after a removal).
        CREATE TABLE pins (
            source VARCHAR NOT NULL,      -- the sidebar's article
            article VARCHAR NOT NULL,     -- shown in it
            position INTEGER NOT NULL,    -- 1 = first
            pinned_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (source, article)
        );
        CREATE TABLE blocks (
            source VARCHAR NOT NULL,      -- the sidebar it is kept out of; '' = every sidebar
            article VARCHAR NOT NULL,
            blocked_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (source, article)
        );
        """,
    ),
]


def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every migration the database has not seen yet; return the versions applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS _migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)"
    )
    done = {row[0] for row in con.execute("SELECT version FROM _migrations").fetchall()}
    applied = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO _migrations (version, name) VALUES (?, ?)",
                [migration.version, migration.name],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied
