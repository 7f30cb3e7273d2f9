"""Vectors stream from the store to the build folder in chunks, and every index kind's recall is
measured here against exact search (each query's own article left out), not taken from tune()."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from benchmarks import synthetic
from recommender.errors import IndexNotBuilt, InvalidSetting, RecommenderError
from recommender.index import choose_kind, exact_top, kinds, load_index, recall_at
from recommender.index.kinds import (
    COMPRESSED_FROM,
    DEEP_GRAPH_FROM,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_CONSTRUCTION_DEEP,
    ef_construction_for,
    without_self,
)
from recommender.index.meta import FORMAT_VERSION
from recommender.index.vectors import VectorFile, as_vectors, from_batches, merged
from recommender.store import Store

from .conftest import read_store, write_jsonl
from .test_index import meta, publish
from .test_scale import synthetic_rows

HARD = 12_000  # articles of the hard synthetic corpus (its geometry matches the real crawl's)
QUERIES = 300


def unit(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def batches(ids: np.ndarray, vectors: np.ndarray, size: int, seed: int = 0) -> list[pa.RecordBatch]:
    """(article_id, vector) record batches in a shuffled order, as a store scan returns them."""
    order = np.random.default_rng(seed).permutation(len(ids))
    out = []
    for start in range(0, len(ids), size):
        rows = order[start : start + size]
        column = pa.FixedSizeListArray.from_arrays(pa.array(vectors[rows].ravel()), vectors.shape[1])
        out.append(pa.record_batch([pa.array(ids[rows]), column.cast(pa.list_(pa.float32()))], ["id", "v"]))
    return out


def test_vectors_land_in_id_order_whatever_order_the_store_returns_them(tmp_path: Path) -> None:
    ids = np.arange(10, 1010, 10, dtype=np.int64)
    vectors = unit(100)
    written = from_batches(batches(ids, vectors, 7), ids, tmp_path / "v.npy")
    assert written.shape == (100, 8) and written.dtype == np.float32
    assert np.array_equal(np.load(tmp_path / "v.npy"), vectors)  # a plain .npy file, row i for ids[i]
    assert np.array_equal(np.concatenate([c for _, c in written.chunks(13)]), vectors)
    assert np.array_equal(written.take(np.array([5, 0, 99])), vectors[[5, 0, 99]])

    half = from_batches(batches(ids, vectors, 64), ids, tmp_path / "h.npy", np.float16)
    assert half.dtype == np.float16 and np.abs(half.read(0, 100) - vectors).max() < 1e-3


@pytest.mark.parametrize(
    "damage, message",
    [
        ("missing", "store changed"),
        ("twice", "store changed"),
        ("ragged", "differ in length"),
    ],
)
def test_a_snapshot_that_does_not_add_up_is_refused(tmp_path: Path, damage: str, message: str) -> None:
    ids = np.arange(1, 51, dtype=np.int64)
    vectors = unit(50)
    parts = batches(ids, vectors, 10)
    if damage == "missing":
        parts = parts[:-1]
    elif damage == "twice":
        parts = [*parts, parts[0]]
    else:
        parts = [*parts, batches(np.array([1]), unit(1, dim=4), 1)[0]]
    with pytest.raises(RecommenderError, match=message):
        from_batches(parts, ids, tmp_path / "v.npy")


def test_vectors_of_articles_outside_the_snapshot_are_passed_over(tmp_path: Path) -> None:
    ids = np.arange(1, 51, dtype=np.int64)
    vectors = unit(50)
    strays = batches(np.array([0, 999, 7_000]), unit(3, seed=2), 2)  # articles deleted, say
    mixed = pa.concat_batches([batches(np.array([999, 3]), unit(2, seed=3), 2)[0]])  # one stray, one twin
    parts = [strays[0], *batches(ids, vectors, 10), strays[1]]
    written = from_batches(parts, ids, tmp_path / "v.npy")
    assert np.array_equal(written.read(0, 50), vectors)
    with pytest.raises(RecommenderError, match="store changed"):  # the stray does not hide the twin
        from_batches([*parts, mixed], ids, tmp_path / "w.npy")


def test_an_update_merges_new_vectors_into_the_previous_file(tmp_path: Path) -> None:
    old_ids = np.arange(0, 100, dtype=np.int64)
    old = from_batches(batches(old_ids, unit(100), 100), old_ids, tmp_path / "old.npy")
    new_ids = np.array([105, 3, 101], np.int64)  # 3 re-embedded, two new; 50-59 removed
    new_vectors = unit(3, seed=1)
    ids = np.sort(np.concatenate([np.setdiff1d(old_ids, np.arange(50, 60)), [101, 105]]))
    out = merged(old, old_ids, new_ids, new_vectors, ids, tmp_path / "new.npy", rows=16)
    got = np.load(tmp_path / "new.npy")
    expected = {int(i): v for i, v in zip(old_ids, unit(100), strict=True)}
    expected.update({int(i): v for i, v in zip(new_ids, new_vectors, strict=True)})
    assert out.count == len(ids) and np.array_equal(got, np.stack([expected[int(i)] for i in ids]))


def test_a_build_streams_the_stores_vectors_and_never_fetches_the_whole_matrix(rec, tmp_path, monkeypatch):
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", synthetic_rows(400))])
    real = Store.embeddings

    def only_a_few(self, fingerprint, ids=None):
        assert ids is not None, "a full build must stream the vectors, not fetch them all at once"
        return real(self, fingerprint, ids)

    monkeypatch.setattr(Store, "embeddings", only_a_few)
    rec.build(full=True)
    index = rec.index()
    monkeypatch.undo()
    with read_store(rec.home) as store:
        ids, vectors = store.embeddings(index.meta.model_fingerprint)
    assert np.array_equal(index.ids, ids) and np.array_equal(index.vectors, vectors)


def test_kind_thresholds() -> None:
    assert choose_kind(COMPRESSED_FROM - 1) == "hnsw" and choose_kind(COMPRESSED_FROM) == "hnswsq"
    assert choose_kind(5 * COMPRESSED_FROM) == "hnswsq"  # auto never picks IVF (p99 25.6 ms at 1M)
    assert choose_kind(10, "ivfpq") == "ivfpq" and choose_kind(10, "ivf") == "ivf"
    # how deep the graph is built: deeper as the corpus grows, 400 where the compressed graph starts
    assert ef_construction_for(DEEP_GRAPH_FROM - 1) == HNSW_EF_CONSTRUCTION == 40
    assert ef_construction_for(COMPRESSED_FROM - 1) == HNSW_EF_CONSTRUCTION_DEEP == 100
    assert ef_construction_for(COMPRESSED_FROM) == ef_construction_for(10 * COMPRESSED_FROM) == 400


def test_rescoring_counts_a_twice_held_candidate_once_and_drops_one_the_build_no_longer_holds():
    import faiss

    from recommender.index.kinds import row_lookup, search

    x = unit(40, dim=16, seed=3)
    index = faiss.IndexIDMap(faiss.IndexFlatIP(16))
    ids = np.arange(100, 140, dtype=np.int64)
    index.add_with_ids(x, ids)
    index.add_with_ids(x[:5] * 0.99, ids[:5])  # superseded vectors a graph keeps beside the new ones
    held = np.setdiff1d(ids, [ids[7]])  # article 107 was removed since
    exact = row_lookup(held, x[np.isin(ids, held)])
    found, sims = search(index, x[:10], 12, 45, exact)
    for q in range(10):
        row = found[q][found[q] >= 0]
        assert len(set(row.tolist())) == len(row) == 12 and ids[7] not in row
        assert (row[0] == ids[q]) == (q != 7) and np.allclose(sims[q], exact(row)[1] @ x[q])
    assert np.array_equal(found, search(index, x[:10], 12, 45, exact)[0])


def test_without_self_drops_the_query_and_keeps_k() -> None:
    labels = np.array([[7, 1, 2, 3], [1, 2, 3, 4], [5, 5, 6, -1]])
    assert without_self(labels, np.array([7, 9, 5]), 3).tolist() == [[1, 2, 3], [1, 2, 3], [5, 6, -1]]


@pytest.fixture(scope="module")
def hard() -> np.ndarray:
    """A hard corpus: neighbours as close and as spread as the real crawl's (see benchmarks/synthetic.py)."""
    return synthetic.vectors(HARD)


def measured_recall(index, vectors: np.ndarray, queries: np.ndarray) -> float:
    """recall@10 of the loaded index's own search against exact search, the query left out of both."""
    own = index.ids[queries]
    truth = without_self(index.ids[exact_top(vectors, vectors[queries], 11)], own, 10)
    found = np.stack([np.pad(index.search(vectors[q], 11)[0], (0, 11))[:11] for q in queries])
    return recall_at(without_self(found, own, 10), truth)


@pytest.mark.parametrize("kind", ["hnsw", "hnswsq", "ivf", "ivfpq"])
def test_every_approximate_kind_finds_the_true_neighbours_of_hard_data(tmp_path: Path, hard, kind: str):
    ids = np.arange(1, HARD + 1, dtype=np.int64) * 3  # ids are not row numbers
    folder = publish(tmp_path, ids, hard, replace(meta(HARD, hard.shape[1]), kind=kind))
    index = load_index(tmp_path)
    queries = np.random.default_rng(7).choice(HARD, QUERIES, replace=False)
    recall = measured_recall(index, hard, queries)
    assert recall >= 0.95, f"{kind}: recall@10 {recall:.3f} against exact search"
    saved = json.loads((folder / "meta.json").read_text())
    assert saved["kind"] == kind and saved["params"]["recall_at_10"] >= 0.95
    if kind == "ivfpq":  # codes only in the index; exact vectors as float16 for re-scoring
        assert index.vectors.dtype == np.float16 and saved["format_version"] == FORMAT_VERSION
        assert {"nlist", "m", "nprobe", "rerank"} <= set(saved["params"])
        assert (folder / "vectors.faiss").stat().st_size < hard.nbytes / 4
        # without re-scoring the codes alone do much worse: the exact vectors earn their place
        index.meta.params["rerank"] = 0
        assert measured_recall(index, hard, queries[:100]) < recall - 0.05
    if kind == "hnswsq":  # half a byte a dimension in the index, exact vectors as float16 for re-scoring
        import faiss

        assert index.vectors.dtype == np.float16
        for q in queries[:20]:  # the similarities returned are the exact vectors', not the codes'
            found, sims = index.search(hard[q], 10)
            exact = np.asarray(index.vectors[index.rows(found)], np.float32) @ hard[q]
            assert np.allclose(sims, exact, atol=1e-5) and np.all(np.diff(sims) <= 0)
        # the best `rescore` of the candidates the graph's search kept are re-scored, tuned to
        # the fewest that lose no recall: fewer than efSearch here, and those the graph ranks first
        asked, read = [], index.exact
        index.exact = lambda ids: (asked.append(np.sort(ids)), read(ids))[1]  # type: ignore[method-assign]
        index.search(hard[queries[0]], 10)
        depth, rescore = saved["params"]["efSearch"], saved["params"]["rescore"]
        assert 10 < rescore <= depth and [len(a) for a in asked] == [rescore]
        _, kept = index._index.search(hard[queries[:1]], depth)
        assert np.array_equal(asked[0], np.sort(kept[0][:rescore]))
        # the build's copy phase searches no deeper than it asks (its own search parameters, not
        # the index's): the 12 candidates of a graph search at efSearch 12 are re-scored
        seen: list[np.ndarray] = []
        index.exact = lambda ids: (seen.append(np.sort(ids)), read(ids))[1]  # type: ignore[method-assign]
        shallow, _ = index.search_many(hard[queries[:100]], 11, max_efsearch=12)
        graph = faiss.downcast_index(index._index.index).hnsw
        tuned_depth, graph.efSearch = graph.efSearch, 12
        _, direct = index._index.search(hard[queries[:100]], 12)
        graph.efSearch = tuned_depth
        assert all(np.array_equal(got, np.sort(want)) for got, want in zip(seen, direct, strict=True))
        own = index.ids[queries[:100]]
        truth = without_self(index.ids[exact_top(hard, hard[queries[:100]], 11)], own, 10)
        tuned, _ = index.search_many(hard[queries[:100]], 11)
        shallow_recall = recall_at(without_self(shallow, own, 10), truth)
        tuned_recall = recall_at(without_self(tuned, own, 10), truth)
        print(f"recall@10 at efSearch 12 {shallow_recall:.3f}, tuned {tuned_recall:.3f}")
        assert shallow_recall < tuned_recall - 0.05
        assert {"M", "efConstruction", "efSearch", "bits", "rescore"} <= set(saved["params"])
        graph = faiss.read_index(str(folder / "vectors.faiss"))
        codes = faiss.downcast_index(graph.index).storage
        assert faiss.downcast_index(codes).code_size == hard.shape[1] // 2  # 4 bits a dimension


def test_a_deep_compressed_graph_rescores_the_fewest_candidates_that_keep_its_recall(hard, monkeypatch):
    """Tuned to the end of its ladder (efSearch 1,024, as on large archives), the compressed graph
    re-scores only the best few of its candidates by code: as many as recall needs, no more."""
    monkeypatch.setattr(kinds, "RECALL_TARGET", 1.01)  # out of reach: tuning goes to the end
    ids = np.arange(1, HARD + 1, dtype=np.int64)
    index, params = kinds.build_faiss(ids, hard, "hnswsq")
    depth, rescore = params["efSearch"], params["rescore"]
    assert depth == kinds.HNSWSQ_EF_LADDER[-1] and 10 < rescore < depth
    # what a search of the build re-scores: the tuned few; more when k asks for more (a widening
    # search), and no more than a shallower search keeps (the copy phase's)
    assert kinds.rescored("hnswsq", params, 11) == rescore
    assert kinds.rescored("hnswsq", params, 2 * depth) == 2 * depth
    assert kinds.rescored("hnswsq", {**params, "efSearch": 12}, 11) == 12
    queries = np.sort(np.random.default_rng(0).choice(HARD, kinds.TUNING_QUERIES, replace=False))
    truth = without_self(ids[exact_top(hard, hard[queries], 11)], ids[queries], 10)
    exact = kinds.row_lookup(ids, hard)

    def recall(candidates: int) -> float:
        found, _ = kinds.search(index, hard[queries], 11, candidates, exact)
        return recall_at(without_self(found, ids[queries], 10), truth)

    assert recall(depth) == pytest.approx(params["recall_at_10"], abs=1e-4)
    assert recall(rescore) >= recall(depth)  # nothing lost to re-scoring fewer
    fewer = [r for r in kinds.HNSWSQ_RESCORE_LADDER if 11 <= r < rescore]
    if fewer:
        assert recall(fewer[-1]) < recall(depth)  # and the next fewer would lose some
    assert recall(16) < recall(depth) - 0.02  # the codes' order alone does lose neighbours


def test_a_compressed_graph_lists_deeper_than_it_serves_where_its_serving_depth_falls_short(
    hard, monkeypatch
):
    """Where the serving ladder ends short of the recall target, tuning goes on down the lists
    ladder for the neighbour lists alone, re-scoring as many of their candidates as keep that
    depth's recall: what it records finds what it says (checked against exact search), more than
    the serving depth does and the serving re-scoring would; where the serving depth reaches the
    target, the lists are searched as sidebars are."""
    monkeypatch.setattr(kinds, "HNSWSQ_EF_LADDER", (11,))  # a serving ladder that ends too early
    monkeypatch.setattr(kinds, "HNSWSQ_LISTS_LADDER", (11, 16, 24, 32, 48, 64))
    monkeypatch.setattr(kinds, "RECALL_TARGET", 0.985)
    ids = np.arange(1, HARD + 1, dtype=np.int64)
    index, params = kinds.build_faiss(ids, hard, "hnswsq")
    assert params["efSearch"] == 11 and params["recall_at_10"] < 0.9
    deep, rescore = params["lists_efSearch"], params["lists_rescore"]
    assert deep in (16, 24, 32, 48, 64) and 11 <= rescore <= deep
    listed = kinds.lists_params("hnswsq", params)
    assert (listed["efSearch"], listed["rescore"]) == (deep, rescore)
    queries = np.sort(np.random.default_rng(0).choice(HARD, kinds.TUNING_QUERIES, replace=False))
    truth = without_self(ids[exact_top(hard, hard[queries], 11)], ids[queries], 10)
    exact = kinds.row_lookup(ids, hard)

    def recall(depth: int, candidates: int) -> float:
        found, _ = kinds.search(index, hard[queries], 11, candidates, exact, depth)
        return recall_at(without_self(found, ids[queries], 10), truth)

    assert recall(deep, rescore) == pytest.approx(params["lists_recall_at_10"], abs=1e-4)
    assert params["lists_recall_at_10"] >= 0.985 or deep == 64
    assert recall(deep, rescore) > params["recall_at_10"] + 0.05
    assert recall(deep, params["rescore"]) < recall(deep, rescore)  # the serving re-scoring holds it back
    shallower = [d for d in (16, 24, 32, 48) if d < deep]
    if shallower:
        assert recall(shallower[-1], shallower[-1]) < 0.985  # the first depth that reaches it
    monkeypatch.setattr(kinds, "HNSWSQ_EF_LADDER", (11, 256))  # serving reaches it: lists as deep
    _, served = kinds.build_faiss(ids[:3_000], hard[:3_000], "hnswsq")
    assert served["recall_at_10"] >= 0.985 and served["lists_efSearch"] == served["efSearch"] == 256
    assert served["lists_rescore"] == served["rescore"]
    assert served["lists_recall_at_10"] == served["recall_at_10"]
    assert kinds.lists_params("hnsw", {"efSearch": 64, "lists_efSearch": 512}) == {
        "efSearch": 64,
        "lists_efSearch": 512,
    }


@pytest.mark.parametrize("kind", ["flat", "hnsw", "hnswsq"])
def test_a_loaded_index_maps_its_file_instead_of_copying_it(tmp_path: Path, hard, kind: str) -> None:
    """Serving processes share one copy of an index in the page cache: FAISS maps its codes (and an
    HNSW graph's links) from the file rather than reading them into each process's memory."""
    import faiss

    rows = 3000
    ids = np.arange(rows, dtype=np.int64)
    publish(tmp_path, ids, hard[:rows], replace(meta(rows, hard.shape[1]), kind=kind))
    index = load_index(tmp_path)
    inner = faiss.downcast_index(index._index.index)
    codes = inner if kind == "flat" else faiss.downcast_index(inner.storage)
    assert codes.ntotal == rows and not codes.codes.is_owned
    if kind != "flat":
        assert not inner.hnsw.neighbors.is_owned
    assert index.search(hard[5], 3)[0][0] == 5  # and it searches from the mapped pages


@pytest.mark.parametrize("kind", ["hnsw", "hnswsq", "ivf", "ivfpq"])
def test_an_approximate_index_of_a_handful_of_articles_loads_and_finds_them(tmp_path: Path, kind: str):
    x = unit(6, dim=32, seed=4)
    if kind == "ivfpq":  # its codes cannot be learnt from so few: said in one line
        with pytest.raises(InvalidSetting, match="index_type ivfpq needs at least 256 articles"):
            publish(tmp_path, np.arange(6, dtype=np.int64), x, replace(meta(6, 32), kind=kind))
        return
    publish(tmp_path, np.arange(6, dtype=np.int64), x, replace(meta(6, 32), kind=kind))
    index = load_index(tmp_path)
    for row in range(6):
        found, _ = index.search(x[row], 6)
        assert found[0] == row and sorted(found.tolist()) == list(range(6))


@pytest.mark.parametrize("kind", ["ivf", "ivfpq"])
def test_ivf_lists_filled_with_room_reserved_equal_a_plain_add(hard, kind: str) -> None:
    import faiss

    from recommender.index.kinds import build_faiss

    ids = np.arange(3000, dtype=np.int64) * 7 + 5
    rows = np.asarray(hard[:3000], np.float32)
    built, _ = build_faiss(ids, rows, kind)
    plain = faiss.clone_index(built)
    plain.reset()  # trained the same, lists empty
    plain.add_with_ids(rows, ids)

    def lists(index):
        out = []
        for list_no in range(index.nlist):
            size = index.invlists.list_size(list_no)
            got = faiss.rev_swig_ptr(index.invlists.get_ids(list_no), size).copy()
            codes = faiss.rev_swig_ptr(index.invlists.get_codes(list_no), size * index.code_size).copy()
            out.append((got.tolist(), codes.tobytes()))
        return out

    assert built.ntotal == plain.ntotal == 3000
    assert lists(built) == lists(plain)


def test_a_compressed_build_whose_vectors_do_not_match_its_meta_is_refused(tmp_path: Path, hard) -> None:
    ids = np.arange(2000, dtype=np.int64)
    folder = publish(tmp_path, ids, hard[:2000], replace(meta(2000, hard.shape[1]), kind="ivfpq"))
    np.save(folder / "vectors.npy", np.asarray(hard[:2000], np.float32))  # float32 where float16 belongs
    with pytest.raises(IndexNotBuilt, match=r"does not match its meta\.json"):
        load_index(tmp_path)


def test_vector_sources_read_alike(tmp_path: Path) -> None:
    x = unit(50)
    np.save(tmp_path / "x.npy", x)
    file, array = VectorFile.open(tmp_path / "x.npy"), as_vectors(x)
    for source in (file, array):
        assert source.shape == (50, 8)
        assert np.array_equal(source.read(45, 60), x[45:])
        assert np.array_equal(exact_top(source, x[:3], 2, chunk=7), exact_top(x, x[:3], 2))


def test_the_copy_phase_searches_a_compressed_graph_shallow_a_block_at_a_time(
    tmp_path: Path, hard, monkeypatch
):
    """Without neighbour lists the copy phase searches every article of a full build: no deeper than
    PROPOSE_DEPTH, PROPOSE_CHUNK queries at a time, and it proposes pairs alike enough only."""
    from recommender.index import textdata

    n = 3_000
    publish(
        tmp_path,
        np.arange(1, n + 1, dtype=np.int64),
        hard[:n],
        replace(meta(n, hard.shape[1]), kind="hnswsq"),
    )
    index = load_index(tmp_path)
    calls, search_many = [], index.search_many
    index.search_many = lambda q, k, depth=None: (calls.append((len(q), k, depth)), search_many(q, k, depth))[
        1
    ]  # type: ignore[method-assign]
    monkeypatch.setattr(textdata, "PROPOSE_CHUNK", 1_000)
    pairs, _ = textdata._dense_proposals(index, np.arange(n))
    assert calls == [(1_000, textdata.PROPOSE_NEIGHBOURS + 1, textdata.PROPOSE_DEPTH)] * 3
    calibration = index.meta.calibration
    bar = calibration.similarity_mean + textdata.PROPOSE_RELEVANCE * (
        calibration.near_duplicate_threshold - calibration.similarity_mean
    )
    assert len(pairs) and np.all(pairs[:, 0] != pairs[:, 1])
    cosines = np.einsum("pd,pd->p", hard[pairs[:, 0]], hard[pairs[:, 1]])
    assert np.all(cosines >= bar - 1e-3)
