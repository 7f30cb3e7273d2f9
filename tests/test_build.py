"""Build: only new or changed text is embedded; a model change re-embeds everything, said clearly."""

from pathlib import Path

import numpy as np

from recommender import Recommender
from recommender.embedding import HashingEmbedder

from .conftest import article, read_store, use_model, write_jsonl


class CountingEmbedder(HashingEmbedder):
    def __init__(self, dimension: int = 64) -> None:
        super().__init__(dimension)
        self.texts: list[str] = []

    def embed(self, texts):
        self.texts.extend(texts)
        return super().embed(texts)


def test_only_new_or_changed_text_is_embedded(home: Path, tmp_path: Path) -> None:
    emb = CountingEmbedder()
    rec = Recommender(home, embedder=emb)
    rows = [article(str(i), f"title {i}", f"body {i}") for i in range(4)]
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", rows)])
    assert rec.build().embedded == 4
    emb.texts.clear()

    rows[0]["body"] = "body zero, rewritten"
    rows[1]["section"] = "sports"  # metadata only: no new embedding needed
    rows.append(article("new", "new title", "new body"))
    rec.ingest([write_jsonl(tmp_path / "b.jsonl", rows)])
    report = rec.build()
    assert report.embedded == 2 and report.indexed == 5
    assert sum("rewritten" in t for t in emb.texts) >= 1
    assert not any(t == "title 1\nbody 1" for t in emb.texts)


def test_model_change_reembeds_everything(home: Path, tmp_path: Path) -> None:
    rec = Recommender(home, embedder=HashingEmbedder(64))
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", [article(str(i), f"t {i}", f"b {i}") for i in range(3)])])
    first = rec.build()
    assert not first.model_changed
    rec._embedder = HashingEmbedder(32)
    second = rec.build()
    assert second.model_changed and second.embedded == 3
    assert rec.index().meta.dimension == 32


def test_removed_articles_leave_the_index(home: Path, tmp_path: Path) -> None:
    rec = Recommender(home, embedder=HashingEmbedder(64))
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", [article(str(i), f"t {i}", f"b {i}") for i in range(3)])])
    rec.build()
    removed, unknown = rec.remove(["1", "zzz"])
    assert removed == ["1"] and unknown == ["zzz"]
    rec.build()
    index = rec.index()
    assert len(index) == 2
    with read_store(home) as store:
        ids, vectors = store.embeddings(index.meta.model_fingerprint)
    assert len(ids) == 2 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_store_is_usable_by_others_while_a_build_embeds(home: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from recommender.store import DB_FILENAME

    peek = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
        "print(con.execute('SELECT count(*) FROM articles').fetchall()[0][0])"
    )
    seen: list[str] = []

    class PeekingEmbedder(HashingEmbedder):
        def embed(self, texts):
            # Another process opens the store for writing: it fails if the build holds the lock.
            done = subprocess.run(
                [sys.executable, "-c", peek, str(home / DB_FILENAME)], capture_output=True, text=True
            )
            seen.append(done.stdout.strip() or done.stderr.strip().splitlines()[-1])
            return super().embed(texts)

    rec = Recommender(home, embedder=PeekingEmbedder(64))
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", [article(str(i), f"t {i}", f"b {i}") for i in range(3)])])
    rec.build()
    assert seen[0] == "3", seen


def test_a_long_lived_recommender_picks_up_a_newer_index(home: Path, tmp_path: Path) -> None:
    server = Recommender(home, embedder=HashingEmbedder(64))
    server.ingest(
        [write_jsonl(tmp_path / "a.jsonl", [article(str(i), f"t {i}", f"b {i}") for i in range(3)])]
    )
    server.build()
    assert len(server.index()) == 3
    worker = Recommender(home, embedder=HashingEmbedder(64))  # a second handle (processes: test_processes.py)
    worker.ingest([write_jsonl(tmp_path / "b.jsonl", [article("new", "new", "new body")])])
    worker.build()
    assert len(server.index()) == 4


def test_a_model_that_fails_to_build_is_not_kept(home: Path, tmp_path: Path) -> None:
    import pytest

    from recommender.errors import ModelUnavailable

    use_model(home, "hashing:64")
    rec = Recommender(home)
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", [article("1", "t", "b")])])
    rec.build()
    with pytest.raises(ModelUnavailable):
        rec.build(model="hashing:2")  # an impossible model
    assert rec.settings().model == "hashing:64"
    assert rec.related("1") == []  # still serving with the old model
