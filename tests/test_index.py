"""The index on disk: metadata checked on load, and a failed build leaves the old one serving."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from recommender import Recommender
from recommender.embedding import HashingEmbedder
from recommender.errors import IndexNotBuilt, ModelMismatch
from recommender.index import Calibration, IndexMeta, index_root, load_index, switch, write_build
from recommender.index.folder import POINTER, RETIRED, clean

from .conftest import article, use_model, write_jsonl


def meta(count: int, dim: int = 4, model: str = "m", fingerprint: str = "f") -> IndexMeta:
    return IndexMeta(
        model, fingerprint, dim, count, "2025-01-01T00:00:00+00:00", "0", Calibration(0.1, 0.1, 0.9, "test")
    )


def publish(home: Path, ids: np.ndarray, vectors: np.ndarray, meta: IndexMeta) -> Path:
    """Write a build folder and make it live, as a build does (no store involved)."""
    articles = pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "external_id": [f"e{i}" for i in ids],
            "url": [None] * len(ids),
            "title": [f"t{i}" for i in ids],
            "section": [None] * len(ids),
            "language": ["en"] * len(ids),
            "published": pa.array([None] * len(ids), pa.float64()),
        }
    )
    folder = write_build(home, ids, vectors, meta, articles)
    switch(home, folder)
    return folder


def unit_rows(n: int, dim: int = 4) -> np.ndarray:
    x = np.random.default_rng(0).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_roundtrip_search_and_vectors(tmp_path: Path) -> None:
    ids = np.array([10, 20, 30], np.int64)
    vectors = unit_rows(3)
    publish(tmp_path, ids, vectors, meta(3))
    index = load_index(tmp_path, expect_model="m", expect_fingerprint="f")
    found, sims = index.search(vectors[1], 3)
    assert found[0] == 20 and sims[0] == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(index.vector(30), vectors[2])
    assert index.vector(99) is None
    assert index.meta.count == 3 and index.meta.calibration.near_duplicate_threshold == 0.9


def test_a_catalog_of_other_articles_is_refused(tmp_path: Path) -> None:
    """The catalog rows must describe the build's own ids, row for row, or nothing is written."""
    ids = np.array([10, 20, 30], np.int64)
    other = pa.table({"id": pa.array([10, 20, 31], pa.int64()), "external_id": ["a", "b", "c"],
                      "url": [None] * 3, "title": ["x"] * 3, "section": [None] * 3,
                      "language": ["en"] * 3, "published": pa.array([None] * 3, pa.float64())})  # fmt: skip
    with pytest.raises(ValueError, match="catalog"):
        write_build(tmp_path, ids, unit_rows(3), meta(3), other)
    assert not (index_root(tmp_path) / POINTER).exists()


def test_not_built_and_mismatches(tmp_path: Path) -> None:
    with pytest.raises(IndexNotBuilt, match="recommender build"):
        load_index(tmp_path)
    publish(tmp_path, np.array([1], np.int64), unit_rows(1), meta(1))
    with pytest.raises(ModelMismatch, match=r"built with model 'm'.*configured for 'other'"):
        load_index(tmp_path, expect_model="other")
    with pytest.raises(ModelMismatch, match="fingerprint"):
        load_index(tmp_path, expect_model="m", expect_fingerprint="g")


def test_metadata_is_beside_the_vectors(tmp_path: Path) -> None:
    folder = publish(tmp_path, np.array([1, 2], np.int64), unit_rows(2), meta(2))
    data = json.loads((folder / "meta.json").read_text())
    assert {"model", "model_fingerprint", "dimension", "count", "built_at", "package_version"} <= set(data)
    assert (folder / "vectors.faiss").stat().st_size > 0


def test_new_build_replaces_old_one_which_stays_for_a_grace_period(tmp_path: Path) -> None:
    first = publish(tmp_path, np.array([1], np.int64), unit_rows(1), meta(1))
    second = publish(tmp_path, np.array([1, 2], np.int64), unit_rows(2), meta(2))
    assert (index_root(tmp_path) / POINTER).read_text() == second.name
    assert len(load_index(tmp_path)) == 2
    assert (first / RETIRED).exists() and not (second / RETIRED).exists()
    assert clean(tmp_path, grace_seconds=60) == [] and first.exists()  # a reader may still open it
    assert clean(tmp_path, grace_seconds=0) == [first.name] and second.exists()


def test_failed_build_leaves_previous_index_serving(tmp_path: Path, monkeypatch) -> None:
    use_model(tmp_path / "s", "hashing:64")
    rec = Recommender(tmp_path / "s", embedder=HashingEmbedder(64))
    rows = [article(str(i), f"story {i}", f"shared words story number {i}") for i in range(5)]
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", rows)])
    rec.build()
    before = [r.id for r in rec.related("1", n=3)]

    rec.ingest([write_jsonl(tmp_path / "b.jsonl", [article("9", "story 9", "shared words story nine")])])
    import faiss

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(faiss, "write_index", crash)
    with pytest.raises(OSError, match="disk full"):
        rec.build()
    monkeypatch.undo()

    fresh = Recommender(tmp_path / "s")
    assert [r.id for r in fresh.related("1", n=3)] == before
    assert len(fresh.index()) == 5
    # The work that was done survives: the next build only indexes, it embeds nothing again.
    fresh.close()
    report = rec.build()
    assert report.embedded == 0 and report.indexed == 6


def test_a_reader_whose_build_vanishes_before_it_opens_it_reads_current_again(
    tmp_path: Path, monkeypatch
) -> None:
    from recommender.index import folder as folder_module

    first = publish(tmp_path, np.array([1], np.int64), unit_rows(1), meta(1))
    second = publish(tmp_path, np.array([1, 2], np.int64), unit_rows(2), meta(2))
    (index_root(tmp_path) / POINTER).write_text(first.name)
    real = folder_module.load_folder
    calls = []

    def switched_and_cleaned_meanwhile(folder, *args):
        calls.append(folder.name)
        if len(calls) == 1:  # another process switched to `second` and removed `first` just now
            (index_root(tmp_path) / POINTER).write_text(second.name)
            import shutil

            shutil.rmtree(first)
        return real(folder, *args)

    monkeypatch.setattr(folder_module, "load_folder", switched_and_cleaned_meanwhile)
    assert len(load_index(tmp_path)) == 2 and calls == [first.name, second.name]


def test_what_killed_builds_leave_behind_is_cleaned(tmp_path: Path) -> None:
    live = publish(tmp_path, np.array([1], np.int64), unit_rows(1), meta(1))
    root = index_root(tmp_path)
    (root / ".building-abc123").mkdir()
    (root / ".CURRENT.1a2b3c4d").write_text("half")
    (root / "20250101T000000-deadbeef").mkdir()  # renamed into place, never made live
    removed = clean(tmp_path)
    assert sorted(removed) == [".CURRENT.1a2b3c4d", ".building-abc123", "20250101T000000-deadbeef"]
    assert sorted(p.name for p in root.iterdir()) == sorted([POINTER, live.name])
