"""Build: only new or changed text is embedded; a model change re-embeds everything, said clearly."""

from pathlib import Path

import numpy as np

from recommender import Recommender
from recommender.embedding import HashingEmbedder
from recommender.home import Home

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


def test_a_local_build_reads_the_texts_to_embed_a_window_at_a_time(
    home: Path, tmp_path: Path, monkeypatch
) -> None:
    """The plan reads only ids; each window's texts are read when it is embedded, every article
    once, and an article removed meanwhile is passed over with the progress still reaching the end."""
    from recommender.index import build as build_module
    from recommender.store import Store

    monkeypatch.setattr(build_module, "EMBED_WINDOW", 4)
    monkeypatch.setattr(build_module, "CHUNK", 3)
    read: list[list[int]] = []
    texts_to_embed = Store.texts_to_embed

    def recording(self, ids, fields):
        read.append([int(i) for i in ids])
        return texts_to_embed(self, ids, fields)

    monkeypatch.setattr(Store, "texts_to_embed", recording)
    rec: Recommender

    class RemovingEmbedder(CountingEmbedder):
        def embed(self, texts):
            if not self.texts:  # while the first window is embedded, another writer removes one
                assert rec.remove(["9"]) == (["9"], [])
            return super().embed(texts)

    emb = RemovingEmbedder()
    rec = Recommender(home, embedder=emb)
    rows = [article(str(i), f"title {i}", "word " * (11 - i)) for i in range(11)]
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", rows)])
    seen: list[tuple[int, int]] = []
    phases: list[tuple[str, int]] = []  # each phase and how many progress calls came before it
    report = rec.build(
        progress=lambda done, total: seen.append((done, total)),
        phase=lambda name: phases.append((name, len(seen))),
    )

    assert [len(ids) for ids in read] == [4, 4, 3]
    asked = [i for ids in read for i in ids]
    assert len(set(asked)) == len(asked) == 11  # the plan's ids, each once (the removed one too)
    embedded = emb.texts[:10]  # the embed phase comes first (calibration embeds copies later)
    expected = [f"title {i}\n" + ("word " * (11 - i)).strip() for i in range(11) if i != 9]
    assert sorted(embedded) == sorted(expected)
    assert [len(t) for t in embedded[:4]] == sorted(len(t) for t in embedded[:4])  # by length in a window
    assert report.embedded == 10 and report.indexed == 10
    starts = dict(phases)
    embedding, listing = seen[: starts["snapshot"]], seen[starts["neighbours"] :]
    assert embedding[0] == (0, 11) and embedding[-1] == (11, 11)
    assert [done for done, _ in embedding] == sorted(done for done, _ in embedding)
    assert listing[0] == (0, 10) and listing[-1] == (10, 10)  # then the neighbour lists, counted apart
    assert len(seen) == len(embedding) + len(listing)


def test_the_sessions_that_scan_every_text_cap_duckdbs_cache(home: Path, tmp_path: Path) -> None:
    rec = Recommender(home, embedder=HashingEmbedder(64))
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", [article("1", "t", "b")])])
    for count in (False, True):
        with Home(home).writing("test") as store:
            before = store.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
            if count:
                store.count_pending("x", ["title", "body"])
            else:
                store.pending_ids("x", ["title", "body"])
            after = store.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        assert before != after and after.startswith("488.2"), (before, after)  # 512 MB in MiB


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


def test_a_vector_whose_article_is_gone_is_passed_over_by_a_build(home: Path, tmp_path: Path) -> None:
    """The build streams the stored vectors unjoined (a join put them in its hash table): one
    left behind without its article must not reach the index nor stop the build."""
    rec = Recommender(home, embedder=HashingEmbedder(64))
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", [article(str(i), f"t {i}", f"b {i}") for i in range(3)])])
    rec.build()
    with Home(home).writing("test: a stray vector") as store:
        store.con.execute(
            "INSERT INTO embeddings SELECT 999_999, model_fingerprint, text_hash, vector, embedded_at "
            "FROM embeddings ORDER BY article_id LIMIT 1"
        )
        fingerprint = rec.index().meta.model_fingerprint
        streamed = {i for batch in store.embedding_batches(fingerprint) for i in batch.column(0).to_pylist()}
    assert 999_999 in streamed  # as stored: no join
    report = rec.build(full=True)
    assert report.indexed == 3
    assert sorted(rec.index().ids.tolist()) == sorted(a.id for a in map(rec.article, ["0", "1", "2"]))


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


STORY_WORDS = {
    "flood": "সুনামগঞ্জে বন্যায় পানিবন্দি মানুষ ত্রাণ হাওর",
    "cricket": "মিরপুরে শান্তর সেঞ্চুরি জিম্বাবুয়ে টেস্ট জয়",
    "budget": "বাজেটে আয়করের সীমা প্রস্তাব অর্থ উপদেষ্টা",
}


def _story_rows(count: int) -> list[dict]:
    rows = []
    for i in range(count):
        name = list(STORY_WORDS)[i % 3]
        rows.append(
            article(f"{name}-{i}", f"{STORY_WORDS[name]} {i}", f"{STORY_WORDS[name]} খবর {i}", language="bn")
        )
    return rows


def test_a_new_article_gets_lexical_neighbours_after_an_incremental_build(home: Path, tmp_path: Path) -> None:
    from recommender.index.lexical import Lexical

    rec = Recommender(home, embedder=HashingEmbedder(64))
    rows = _story_rows(12)
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", rows)])
    first = rec.build()
    meta = rec.index().meta.lexical
    assert meta is not None and meta.documents == 12 and meta.copy > meta.random_pair and meta.seconds > 0
    rows.append(article("flood-new", STORY_WORDS["flood"], "বন্যায় পানিবন্দি মানুষের কাছে ত্রাণ", language="bn"))
    rec.ingest([write_jsonl(tmp_path / "b.jsonl", rows)])
    second = rec.build()
    assert second.incremental and second.index_path != first.index_path
    catalog = rec.catalog()
    data = Lexical.load(second.index_path)
    assert len(data) == 13
    found, _ = data.neighbours(catalog.row("flood-new"))
    names = [catalog.external_id(int(r)) for r in found]
    assert names and all(name.startswith("flood") for name in names[:3]), names
    # and the new article entered an older flood article's list
    old, _ = data.neighbours(catalog.row("flood-0"))
    assert catalog.row("flood-new") in old.tolist()


def test_lexical_neighbours_of_a_build_stay_in_their_language(home: Path, tmp_path: Path) -> None:
    """The catalog's language codes reach the lexical phase: articles tagged with another language
    never enter each other's lists, though they share every word, full build and incremental."""
    from recommender.index.lexical import Lexical

    rec = Recommender(home, embedder=HashingEmbedder(64))
    rows = _story_rows(12)
    rows += [article(f"en-{r['id']}", r["title"], r["body"], language="en") for r in rows[:6]]
    more = [*rows, article("en-flood-new", STORY_WORDS["flood"], "বন্যায় পানিবন্দি মানুষ ত্রাণ", language="en")]
    for name, batch in (("a", rows), ("b", more)):
        rec.ingest([write_jsonl(tmp_path / f"{name}.jsonl", batch)])
        folder = rec.build().index_path
        catalog = rec.catalog()
        data = Lexical.load(folder)
        assert len(data) == len(batch)
        crossing = [
            (catalog.external_id(row), catalog.external_id(int(other)))
            for row in range(len(data))
            for other in data.neighbours(row)[0]
            if catalog.languages[int(other)] != catalog.languages[row]
        ]
        found = {catalog.external_id(int(r)) for r in data.neighbours(catalog.row("en-flood-0"))[0]}
        assert not crossing and found and all(name.startswith("en-flood") for name in found), (
            crossing,
            found,
        )


def test_the_lexical_files_are_written_when_made_and_read_mapped_by_the_rest_of_the_build(
    tmp_path: Path, monkeypatch
) -> None:
    """The lexical phase makes its large arrays as scratch files in the new build's folder, writes
    its files there at once and hands the rest of the build their memory-mapped arrays (read-only,
    never written again): the same files as a phase that keeps them in memory until the copies
    phase writes them, full and incremental."""
    import pyarrow as pa

    from recommender.index import build as build_module
    from recommender.index import lexical, textdata
    from recommender.index.scratch import Scratch

    seen: list[tuple] = []
    finish = textdata.finish

    def watched(phase, index, *args, **kwargs):
        path = index.path / "lexical_rows.npy"
        before = path.stat().st_ino if path.exists() else None
        finish(phase, index, *args, **kwargs)
        seen.append((phase.written, phase.lexical.rows.flags.writeable, before, path.stat().st_ino))

    monkeypatch.setattr(build_module, "finish_text", watched)
    prepare = build_module.prepare_text
    scratch_folders: list = []  # where the lexical phase's large arrays were made
    empty = Scratch.empty

    def recorded(self, shape, dtype):
        scratch_folders.append(self.folder)
        return empty(self, shape, dtype)

    monkeypatch.setattr(Scratch, "empty", recorded)
    rows = _story_rows(12)
    more = [*rows, article("flood-new", STORY_WORDS["flood"], "বন্যায় পানিবন্দি মানুষের কাছে ত্রাণ", language="bn")]
    folders: dict[str, list[Path]] = {}
    for how in ("mapped", "in memory"):
        if how == "in memory":  # the phase given no folder: it keeps its data until `finish`
            monkeypatch.setattr(build_module, "prepare_text", lambda *a: prepare(*a[:-1], None))
        rec = Recommender(tmp_path / how, embedder=HashingEmbedder(64))
        for name, batch in (("a", rows), ("b", more)):
            rec.ingest([write_jsonl(tmp_path / f"{name}.jsonl", batch)])
            folders.setdefault(how, []).append(rec.build().index_path)
            made, scratch_folders[:] = list(scratch_folders), []
            assert made and all((folder is None) == (how == "in memory") for folder in made), (how, name)
    assert [s[0] for s in seen] == [True, True, False, False]
    assert all(not writeable and before == after for _, writeable, before, after in seen[:2])
    for mapped, kept in zip(folders["mapped"], folders["in memory"], strict=True):
        for name in lexical.FILES[1:]:
            assert np.array_equal(np.load(mapped / name), np.load(kept / name)), name
        terms = [
            pa.ipc.open_file(pa.memory_map(str(f / lexical.FILES[0]))).read_all() for f in (mapped, kept)
        ]
        assert terms[0].equals(terms[1])


def test_without_the_lexical_index_the_build_writes_dense_data_only(home: Path, tmp_path: Path) -> None:
    from recommender.index.lexical import Lexical

    rec = Recommender(home, embedder=HashingEmbedder(64))
    rec.set_setting("lexical_index", "false")
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", _story_rows(6))])
    report = rec.build()
    assert not Lexical.present(report.index_path)
    assert rec.index().meta.lexical is None
    assert rec.related("flood-0", n=3)[0].id.startswith("flood")  # sidebars still work, dense only


def test_without_scipy_the_build_goes_on_dense_only(home: Path, tmp_path: Path, monkeypatch) -> None:
    from recommender.index import textdata
    from recommender.index.lexical import Lexical

    monkeypatch.setattr(textdata, "lexical_available", lambda: False)
    rec = Recommender(home, embedder=HashingEmbedder(64))
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", _story_rows(6))])
    report = rec.build()
    assert not Lexical.present(report.index_path) and rec.index().meta.lexical is None
    assert rec.related("flood-0", n=3)[0].id.startswith("flood")
