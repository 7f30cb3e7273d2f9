"""Numbered, append-only migrations: a store made by an older schema is upgraded in place, whole."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest

from recommender import Recommender
from recommender.embedding import HashingEmbedder
from recommender.errors import IndexNotBuilt
from recommender.index.overlay import SectionValues
from recommender.ingest.normalize import content_hash
from recommender.store import DB_FILENAME
from recommender.store.migrations import MIGRATIONS

from .conftest import read_store


def test_migrations_are_numbered_in_order() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert len({m.name for m in MIGRATIONS}) == len(MIGRATIONS)


def old_store(home: Path, version: int) -> HashingEmbedder:
    """A store as the package made it when `version` was the newest migration, with data in it."""
    home.mkdir(parents=True)
    con = duckdb.connect(str(home / DB_FILENAME))
    con.execute(
        "CREATE TABLE _migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)"
    )
    for migration in MIGRATIONS[:version]:
        con.execute(migration.sql)
        con.execute(
            "INSERT INTO _migrations (version, name) VALUES (?, ?)", [migration.version, migration.name]
        )
    embedder = HashingEmbedder(32)
    texts = []
    for i in range(6):
        title, body = f"Old story {i}", f"Words of the old story number {i} about floods"
        con.execute(
            "INSERT INTO articles (external_id, url, title, body, section, language, published_at,"
            " content_hash) VALUES (?, ?, ?, ?, 'national', 'en', TIMESTAMPTZ '2025-11-01 10:00:00+00', ?)",
            [f"old-{i}", f"https://x.test/{i}", title, body, content_hash(title, body)],
        )
        texts.append(f"{title}\n{body}")
    vectors = embedder.embed(texts)
    for i, vector in enumerate(vectors, start=1):
        con.execute(
            "INSERT INTO embeddings (article_id, model_fingerprint, text_hash, vector)"
            " VALUES (?, ?, sha256(?), ?)",
            [i, embedder.fingerprint(), texts[i - 1], vector.tolist()],
        )
    con.execute("INSERT INTO settings VALUES ('model', 'hashing:32'), ('recency_weight', '0.5')")
    con.execute("UPDATE sections SET boost = 0.3, half_life_days = 4 WHERE name = 'national'")
    con.close()
    return embedder


def test_a_store_of_schema_2_is_upgraded_in_place_and_keeps_its_data(tmp_path: Path) -> None:
    home = tmp_path / "old"
    embedder = old_store(home, version=2)
    rec = Recommender(home)
    rec.set_setting("undated_recency", "0.2")  # the first write upgrades it
    with read_store(home) as store:
        versions = [r[0] for r in store.con.execute("SELECT version FROM _migrations ORDER BY 1").fetchall()]
        assert versions == [m.version for m in MIGRATIONS]
        ids, vectors = store.embeddings(embedder.fingerprint())
        assert list(ids) == [1, 2, 3, 4, 5, 6]
        assert np.allclose(
            vectors[2], embedder.embed(["Old story 2\nWords of the old story number 2 about floods"])[0]
        )
        assert store.count_pending(embedder.fingerprint(), ["title", "body"]) == 0  # nothing to embed again
        settings = store.settings()
        assert (settings.model, settings.recency_weight, settings.undated_recency) == ("hashing:32", 0.5, 0.2)
        assert store.section_values()["national"] == SectionValues(0.3, 4.0)
    report = rec.build()
    assert report.embedded == 0 and report.indexed == 6
    assert next(r.id for r in rec.related("old-1", n=2)).startswith("old-")


def test_reading_an_old_schema_says_how_to_upgrade(tmp_path: Path) -> None:
    home = tmp_path / "old"
    old_store(home, version=2)
    with pytest.raises(Exception, match="older schema: run any write command"):
        Recommender(home).settings()


def test_a_build_folder_of_an_older_format_asks_for_a_build(tmp_path: Path) -> None:
    home = tmp_path / "old"
    old_store(home, version=2)
    folder = home / "index" / "20250101T000000-00000000"
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({"format_version": 2, "model": "hashing:32"}))
    (home / "index" / "CURRENT").write_text(folder.name)
    with pytest.raises(IndexNotBuilt, match="run `recommender build`"):
        Recommender(home).related("old-1")
    Recommender(home).build()
    assert Recommender(home).related("old-1", n=1)


def test_a_store_of_schema_3_gains_render_fields_and_editors_tables(tmp_path: Path) -> None:
    home = tmp_path / "old"
    old_store(home, version=3)
    rec = Recommender(home)
    rec.set_setting("snippet_chars", "30")  # the first write upgrades it
    with read_store(home) as store:
        row = store.con.execute(
            "SELECT image, summary, authors, tags FROM articles WHERE external_id = 'old-1'"
        ).fetchone()
        assert row == (None, None, None, None)
        assert store.con.execute("SELECT count(*) FROM pins").fetchone() == (0,)
        assert store.con.execute("SELECT count(*) FROM blocks").fetchone() == (0,)
    rec.build()
    item = rec.related("old-1", n=1)[0]
    assert item.snippet == "Words of the old story number…" and item.image is None and item.tags == ()
