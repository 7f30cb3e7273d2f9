"""FAISS index kinds chosen by corpus size, and their tuning for recall.

Exact search (flat) while it is fast enough, then HNSW (built deeper from 300k articles), then,
from 2M articles, the compressed graph (`hnswsq`): an HNSW graph over 4-bit scalar-quantized codes
(half a byte a dimension instead of four) whose best candidates are re-scored with the exact vectors,
stored as float16 and memory-mapped, so that serving memory grows by the codes and the graph, not by
float32 x N. The other compressed kind (`ivfpq`, only when set) keeps product-quantized codes in
IVF lists: smaller still, but at 1M hard synthetic articles it searched at p99 25.6 ms for recall@10
0.971, over the 20 ms bar (README "Scaling out"). IVF (`ivf`) is only built when set. The search
depth of an approximate kind (and how many candidates a compressed kind re-scores) is tuned at build
time until recall@10 against exact search, the query itself left out, reaches RECALL_TARGET on a
sample (the compressed graph's re-scoring depth then to the fewest candidates that keep that
recall); the result is recorded in the build's meta.json. Where the compressed graph's ladder ends
short of the target, tuning goes deeper for the build's neighbour lists alone (`lists_efSearch`:
searched once an article at build time, then read by its sidebars; see neighbours.py). Every kind
is filled from its vectors in chunks (see vectors.py): no full copy of the matrix.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidSetting
from .vectors import Vectors, as_vectors

KINDS = ("auto", "flat", "hnsw", "hnswsq", "ivf", "ivfpq")
GRAPH_KINDS = ("hnsw", "hnswsq")  # HNSW graphs: updated in place, cannot delete (superseded vectors stay)
COMPRESSED_KINDS = ("hnswsq", "ivfpq")  # codes in the index, exact float16 vectors for re-scoring
FLAT_UP_TO = 20_000  # exact search below this size: a few milliseconds at most
# HNSW over float32 vectors below this size, the compressed graph from here on. At 1M hard
# synthetic articles (2-core box) HNSW reached recall@10 0.955 at p99 8.8 ms, IVF 0.908 at p99
# 40.8 ms (README "Scaling out"); but HNSW holds float32 vectors and its graph in memory: ~1.8 GB a
# million articles, ~18 GB at 10M. The compressed graph's codes are an eighth of the vectors' bytes,
# and a serving process maps them: at 1M it held 61 MB of its own, recall@10 0.959 at efSearch 1,024,
# p99 15.6 ms (build peak 1,217 MB vs HNSW's 2,389); at 2M it needs the deeper graph below (README).
COMPRESSED_FROM = 2_000_000
# One thread per search: a sidebar is one query, and OpenMP's hand-offs cost more than they save
# (measured: p50 0.5 ms with one thread vs 9 ms with two on a busy 2-core machine, 5k articles).
SEARCH_THREADS = 1
RECALL_TARGET = 0.97  # recall@10 against exact search that tuning aims for (the bar is 0.95)
TUNING_QUERIES = 200
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
# A deeper construction from DEEP_GRAPH_FROM articles: at 1M, efConstruction 40 reached recall@10
# 0.919 at efSearch 512, 100 reached 0.955 (built in 967 s instead of 511 s on 2 cores).
HNSW_EF_CONSTRUCTION_DEEP = 100
DEEP_GRAPH_FROM = 300_000
# Deeper still from DEEPER_GRAPH_FROM (where `auto` builds the compressed graph): at 2M the graph
# built with efConstruction 100 reached recall@10 0.925 at efSearch 1,024 (0.949 only at 2,048),
# built with 200 it reached 0.951 at 768 and 0.960 at 1,024 (scratch runs, 300 queries; README).
# Built with 400 (benchmarks/graph_growth.py, 300 queries, README "Scaling out"): on the first 1M
# of the 2M corpus 0.976 at 512 and 0.987 at 1,024 (200: 0.951, 0.971); on the first 2M of the 5M
# corpus 0.963 at 1,024 and 0.979 at 2,048 (200: 0.926 at 1,024). Its filling takes twice to three
# times as long, but the neighbour lists, searched once an article, reach the target shallower.
HNSW_EF_CONSTRUCTION_DEEPER = 400
DEEPER_GRAPH_FROM = COMPRESSED_FROM
HNSW_EF_LADDER = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
# The compressed graph: SQ_BITS-bit codes a dimension, HNSWSQ_M links a node. It re-scores every
# candidate its search keeps (efSearch of them), so its ladder starts deeper and goes further. On
# 200k hard synthetic vectors (scratch experiment, re-scored, query left out) 4-bit codes with M 32
# found what 8-bit codes did (recall@10 0.956 vs 0.955 at efSearch 256) in 88 MB instead of 125;
# M 16 lost recall (0.902): the links, not the code precision, decide which candidates are found.
SQ_BITS = 4
HNSWSQ_M = 32
HNSWSQ_EF_LADDER = (32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
# How many of those candidates, best by their codes first, are re-scored: tuning takes the fewest of
# these that lose none of the recall of re-scoring all efSearch of them. On the 2M hard synthetic
# graph (benchmarks/graph_search.py, 300 queries, 3 rounds) the best 512 found what all did at
# efSearch 768 to 2,048 (recall@10 0.973 at 2,048, p50 17.2-19.1 ms against 20.3-22.6 ms), the best
# 256 lost 0.002 and the best 128 about 0.01; by their codes alone the graph's best 10 held 0.70.
HNSWSQ_RESCORE_LADDER = (16, 32, 64, 128, 256, 512)
# The compressed graph's neighbour lists (index/neighbours.py) are searched once an article at build
# time and then read by every sidebar, so they may search deeper than a sidebar could: where the
# serving ladder ends short of RECALL_TARGET, tuning goes on down this one for the lists alone
# ("lists_efSearch" in meta.json). On the 2M hard synthetic graph (benchmarks/graph_search.py, 300
# queries, the best 512 re-scored) recall@10 was 0.964 at efSearch 1,024, 0.969 at 1,536 and 0.973
# at 2,048 (p50 17.2-19.1 ms an article on one thread); at 5M 0.948 at 3,072 (README).
HNSWSQ_LISTS_LADDER = (1536, 2048, 3072)
SQ_TRAIN_ROWS = 65_536  # rows sampled to learn each dimension's range
IVF_NPROBE_LADDER = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
# Bytes per vector of the IVF-PQ kind: 96 sub-quantizers of 8 bits (4 dimensions each at 384).
# On the 100k hard synthetic store 48 bytes reached recall@10 0.953 only at nprobe 128 with 1,024
# re-scored candidates, 96 bytes 0.970 at nprobe 128 with 352 (scratch experiment, see README).
PQ_M = 96
PQ_TRAIN_MIN = 256  # 8-bit codes: each sub-quantizer learns 256 centroids
# (nprobe, rerank) for the IVF-PQ kind, cheapest first: rerank x k candidates are re-scored.
# It goes on to probing a quarter of the lists at 16k lists (1M+ articles spread thin over them).
PQ_LADDER = (
    (8, 8), (16, 8), (32, 8), (48, 16), (64, 16), (96, 16), (128, 32), (192, 32), (256, 32),
    (384, 32), (512, 64), (768, 64), (1024, 64), (1536, 96), (2048, 128), (4096, 128),
)  # fmt: skip
RERANK_CAP = 2048  # candidates re-scored at most, unless k itself asks for more (a widening search)
TRAIN_ROWS_PER_LIST = 64
COMPRESSED_DTYPE = np.float16
# article ids -> (those of them the build holds, their exact vectors as float32 rows)
Exact = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def choose_kind(count: int, setting: str = "auto") -> str:
    """The index kind for a corpus of this size (`setting` overrides unless "auto")."""
    if setting not in KINDS:
        raise InvalidSetting(f"index_type must be one of {', '.join(KINDS)}, got {setting!r}")
    if setting != "auto":
        return setting
    if count < FLAT_UP_TO:
        return "flat"
    return "hnsw" if count < COMPRESSED_FROM else "hnswsq"


def ef_construction_for(count: int) -> int:
    """How deep an HNSW graph of this many articles is built (efConstruction)."""
    if count >= DEEPER_GRAPH_FROM:
        return HNSW_EF_CONSTRUCTION_DEEPER
    return HNSW_EF_CONSTRUCTION_DEEP if count >= DEEP_GRAPH_FROM else HNSW_EF_CONSTRUCTION


def hnsw_graph(index: Any) -> Any:
    """The HNSW graph inside an index of a graph kind (an id map around it)."""
    import faiss

    return faiss.downcast_index(index.index)


def vector_dtype(kind: str) -> np.dtype:
    """How a build of this kind stores its exact vectors: float16 for the compressed kinds."""
    return np.dtype(COMPRESSED_DTYPE if kind in COMPRESSED_KINDS else np.float32)


def rescored(kind: str, params: dict[str, Any], k: int) -> int:
    """How many candidates a search for k of a build of this kind re-scores with the exact vectors
    (0: none, the index's own scores are exact). The compressed graph re-scores all efSearch
    candidates its search kept, or the best `rescore` of them by their codes where tuning set it
    (the graph's search is the same whatever it is asked for: its best candidates come first);
    IVF-PQ re-scores `rerank` x k, at most RERANK_CAP unless k itself asks for more."""
    if kind == "hnswsq":  # the best `rescore` of them by code, where tuning found that enough
        depth = int(params["efSearch"])
        return max(k, min(depth, int(params.get("rescore", depth))))
    if kind == "ivfpq":
        return max(k, min(k * int(params["rerank"]), RERANK_CAP))
    return 0


def mapped_reading(kind: str) -> int:
    """faiss.read_index flags that memory-map a build's index of this kind instead of copying it
    into the process: an IVF kind's lists, or the codes of the others (a flat index's vectors, an
    HNSW graph's links and vectors or codes). FAISS maps one or the other, not both at once."""
    import faiss

    return int(faiss.IO_FLAG_MMAP if kind in ("ivf", "ivfpq") else faiss.IO_FLAG_MMAP_IFC)


def nlist_for(count: int) -> int:
    """IVF lists for a corpus: about 4 sqrt(n), a power of two, at most 16384; ~39 training rows each."""
    nlist = int(min(16384, max(64, 2 ** round(np.log2(4 * np.sqrt(max(count, 1)))))))
    return max(1, min(nlist, count // 39))


@contextmanager
def all_cores(threads: int | None = None) -> Iterator[None]:
    """Bulk work (training, adding, tuning) uses every core, or `threads` of them where a worker
    shares its machine with others; single sidebar searches use one."""
    import faiss

    faiss.omp_set_num_threads(threads or os.cpu_count() or 1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(SEARCH_THREADS)


def build_faiss(
    ids: np.ndarray, vectors: np.ndarray | Vectors, kind: str, seed: int = 0, folder: Path | None = None
) -> tuple[Any, dict[str, Any]]:
    """A FAISS index of the given kind over these vectors (a matrix, or a vector file read in
    chunks), its search depth tuned for recall. `folder`: a graph is saved there as it is filled,
    and a graph a killed fill saved there is gone on from (index/filling.py)."""
    with all_cores():
        return _build_faiss(np.ascontiguousarray(ids, np.int64), as_vectors(vectors), kind, seed, folder)


def _build_faiss(
    ids: np.ndarray, vectors: Vectors, kind: str, seed: int, folder: Path | None
) -> tuple[Any, dict[str, Any]]:
    from . import filling

    folder = folder if kind in GRAPH_KINDS else None
    saved = filling.resumed(folder, ids, vectors.dimension) if folder is not None else None
    if saved is not None:
        index, held = saved
        params = graph_params(kind, len(ids))
    else:
        (index, params), held = empty_index(kind, len(ids), vectors, seed), 0
    if kind in ("ivf", "ivfpq"):
        _fill_lists(index, ids, vectors)
    else:
        filling.fill(index, ids, vectors, held, folder)
    params.update(tune(index, kind, ids, vectors, seed))
    return index, params


def graph_params(kind: str, count: int, links: int | None = None) -> dict[str, Any]:
    """How a graph kind's index of `count` articles is built (meta.json's params before tuning)."""
    params: dict[str, Any] = {"bits": SQ_BITS} if kind == "hnswsq" else {}
    params["M"] = links or (HNSW_M if kind == "hnsw" else HNSWSQ_M)
    params["efConstruction"] = ef_construction_for(count)
    return params


def empty_index(
    kind: str, count: int, vectors: Vectors, seed: int = 0, links: int | None = None
) -> tuple[Any, dict[str, Any]]:
    """The index a build of `count` articles starts from, trained on a sample of `vectors` where its
    kind learns codes, and its build parameters; nothing added yet. `links`: a graph kind's M
    other than its own (for benchmarks)."""
    import faiss

    dim = vectors.dimension
    params: dict[str, Any] = {}
    index: Any
    if kind == "flat":
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    elif kind in GRAPH_KINDS:
        graph: Any
        params = graph_params(kind, count, links)
        if kind == "hnsw":
            graph = faiss.IndexHNSWFlat(dim, params["M"], faiss.METRIC_INNER_PRODUCT)
        else:
            quantizer = getattr(faiss.ScalarQuantizer, f"QT_{SQ_BITS}bit")
            graph = faiss.IndexHNSWSQ(dim, quantizer, params["M"], faiss.METRIC_INNER_PRODUCT)
            sample = np.random.default_rng(seed).permutation(count)[:SQ_TRAIN_ROWS]
            graph.train(vectors.take(np.sort(sample)))  # each dimension's range, for its codes
        graph.hnsw.efConstruction = params["efConstruction"]
        index = faiss.IndexIDMap(graph)
    elif kind in ("ivf", "ivfpq"):
        nlist = nlist_for(count)
        quantizer = faiss.IndexFlatIP(dim)
        if kind == "ivf":
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        else:
            if count < PQ_TRAIN_MIN:
                raise InvalidSetting(
                    f"index_type ivfpq needs at least {PQ_TRAIN_MIN} articles to learn its codes, "
                    f"this build has {count}: set index_type auto"
                )
            m = PQ_M if dim % PQ_M == 0 else next(k for k in (32, 24, 16, 8, 4, 2, 1) if dim % k == 0)
            index = faiss.IndexIVFPQ(quantizer, dim, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
            params["m"] = m
        sample = np.random.default_rng(seed).permutation(count)[: nlist * TRAIN_ROWS_PER_LIST]
        index.train(vectors.take(np.sort(sample)))
        params["nlist"] = nlist
    else:
        raise InvalidSetting(f"unknown index kind {kind!r}")
    return index, params


def _fill_lists(index: Any, ids: np.ndarray, vectors: Vectors) -> None:
    """Fill a trained IVF index with room for each list reserved first: a list grown one chunk at
    a time doubles its capacity as it goes, which held ~1.3x the index at the end and ~1.6x at
    the peak (measured at 200k). One pass assigns every vector to its list, each list's room is
    reserved (a std::vector keeps its capacity when sized back to 0), and a second pass adds the
    vectors with their lists already known (the lists and their order are the same as a plain add)."""
    import faiss

    lists = np.empty(len(ids), np.int64)
    for start, chunk in vectors.chunks():
        _, nearest = index.quantizer.search(np.ascontiguousarray(chunk, np.float32), 1)
        lists[start : start + len(chunk)] = nearest[:, 0]
    counts = np.bincount(lists, minlength=index.nlist)
    for list_no in np.flatnonzero(counts):
        index.invlists.resize(int(list_no), int(counts[list_no]))
        index.invlists.resize(int(list_no), 0)
    for start, chunk in vectors.chunks():
        rows = np.ascontiguousarray(chunk, np.float32)
        stop = start + len(rows)
        chunk_ids, chunk_lists = ids[start:stop], np.ascontiguousarray(lists[start:stop])
        index.add_core(
            len(rows), faiss.swig_ptr(rows), faiss.swig_ptr(chunk_ids), faiss.swig_ptr(chunk_lists)
        )


def search(
    index: Any,
    queries: np.ndarray,
    k: int,
    rescore: int = 0,
    exact: Exact | None = None,
    efsearch: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(ids, similarities) of the k best rows per query, best first; -1 pads.

    With `rescore`, that many candidates are taken from the index and re-scored with their exact
    vectors (`exact(ids)`; see `rescored`): a compressed kind's codes only choose the candidates.
    A candidate the index holds twice (a graph keeps superseded vectors) counts once, and one the
    build no longer holds is dropped. `efsearch`: a graph kind searched at this depth instead of
    its tuned one, for this call only.
    """
    queries = np.ascontiguousarray(np.asarray(queries, np.float32).reshape(-1, index.d))
    depth = None
    if efsearch is not None:
        import faiss

        depth = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
        depth.efSearch = int(efsearch)
    if not rescore:
        sims, labels = index.search(queries, k, params=depth)
        return labels, sims
    assert exact is not None, "re-scoring needs the exact vectors"
    _, candidates = index.search(queries, max(k, rescore), params=depth)
    return _rescore(candidates, queries, k, exact)


def _rescore(
    candidates: np.ndarray, queries: np.ndarray, k: int, exact: Exact
) -> tuple[np.ndarray, np.ndarray]:
    """(ids, exact similarities) of the k best of each query's candidates (-1 ids: none)."""
    labels = np.full((len(queries), k), -1, np.int64)
    sims = np.full((len(queries), k), -np.inf, np.float32)
    for q, row in enumerate(candidates):
        found, rows = exact(np.unique(row[row >= 0]))  # ascending: the rows are read in file order
        if len(found) == 0:
            continue
        scores = rows @ queries[q]
        best = np.argsort(-scores, kind="stable")[:k]
        labels[q, : len(best)], sims[q, : len(best)] = found[best], scores[best]
    return labels, sims


def tune(
    index: Any, kind: str, ids: np.ndarray, vectors: np.ndarray | Vectors, seed: int = 0
) -> dict[str, Any]:
    """The cheapest search depth (and, for a compressed kind, re-scoring depth) whose recall@10
    against exact search reaches RECALL_TARGET on sampled articles, each query's own article left
    out of both lists (it would count as a free hit)."""
    vectors = as_vectors(vectors)
    if kind == "flat":
        return {"recall_at_10": 1.0}
    if len(vectors) <= 11:  # the first step searches every vector of so few
        return {**_ladder(kind)[0], "recall_at_10": 1.0}
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(vectors), min(TUNING_QUERIES, len(vectors)), replace=False))
    queries = vectors.take(picked)
    truth = without_self(ids[exact_top(vectors, queries, 11)], ids[picked], 10)
    exact = row_lookup(ids, vectors)
    recall, params = 0.0, {}
    for params in _ladder(kind):
        set_search_depth(index, kind, params.get("efSearch") or params["nprobe"])
        rescore = rescored(kind, params, 11)
        found, _ = search(index, queries, 11, rescore, exact if rescore else None)
        recall = recall_at(without_self(found, ids[picked], 10), truth)
        if recall >= RECALL_TARGET:
            break
    if kind == "hnswsq":
        params = {**params, **_fewest_rescored(index, queries, ids[picked], truth, exact, recall)}
        params.update(_lists_depth(index, params, queries, ids[picked], truth, exact, recall))
    return {**params, "recall_at_10": round(recall, 4)}


def _fewest_rescored(
    index: Any,
    queries: np.ndarray,
    own: np.ndarray,
    truth: np.ndarray,
    exact: Exact,
    recall: float,
    depth: int | None = None,
) -> dict[str, int]:
    """{"rescore": R}: the fewest of a compressed graph's efSearch candidates (at `depth`, or the
    depth it is set to), best by their codes first, whose re-scoring loses none of `recall`, that
    of all of them."""
    depth = depth or hnsw_graph(index).hnsw.efSearch
    candidates, _ = search(index, queries, max(11, depth), efsearch=depth)  # the best R: its first R
    for rescore in (r for r in HNSWSQ_RESCORE_LADDER if 11 <= r < depth):
        found, _ = _rescore(candidates[:, :rescore], queries, 11, exact)
        if recall_at(without_self(found, own, 10), truth) >= recall:
            return {"rescore": rescore}
    return {"rescore": max(11, depth)}


def _lists_depth(
    index: Any,
    params: dict[str, Any],
    queries: np.ndarray,
    own: np.ndarray,
    truth: np.ndarray,
    exact: Exact,
    recall: float,
) -> dict[str, Any]:
    """How a compressed graph's neighbour lists are searched: {"lists_efSearch", "lists_rescore",
    "lists_recall_at_10"}. The serving depth and re-scoring where they reached RECALL_TARGET; else
    the first depth of HNSWSQ_LISTS_LADDER that does (or the ladder's end), re-scoring the fewest
    of its candidates that keep the recall of re-scoring all (the serving re-scoring, tuned at a
    shallower depth, may hold it back)."""
    depth = int(params["efSearch"])
    rescore = int(params.get("rescore", depth))
    for deeper in HNSWSQ_LISTS_LADDER:
        if recall >= RECALL_TARGET:
            break
        if deeper <= depth:
            continue
        found, _ = search(index, queries, 11, deeper, exact, deeper)
        recall, depth, rescore = recall_at(without_self(found, own, 10), truth), deeper, deeper
    if depth != int(params["efSearch"]):
        rescore = _fewest_rescored(index, queries, own, truth, exact, recall, depth)["rescore"]
    return {"lists_efSearch": depth, "lists_rescore": rescore, "lists_recall_at_10": round(recall, 4)}


def lists_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The search settings a build's neighbour lists are found with: a compressed graph's lists
    depth and re-scoring where tuning set them, else the build's own settings."""
    if kind != "hnswsq" or "lists_efSearch" not in params:
        return params
    return {**params, "efSearch": int(params["lists_efSearch"]), "rescore": int(params["lists_rescore"])}


def _ladder(kind: str) -> list[dict[str, int]]:
    """The search settings tuning tries for a kind, cheapest first."""
    if kind == "ivfpq":
        return [{"nprobe": nprobe, "rerank": rerank} for nprobe, rerank in PQ_LADDER]
    if kind == "hnswsq":
        return [{"efSearch": ef} for ef in HNSWSQ_EF_LADDER]
    if kind == "hnsw":
        return [{"efSearch": ef} for ef in HNSW_EF_LADDER]
    return [{"nprobe": nprobe} for nprobe in IVF_NPROBE_LADDER]


def row_lookup(ids: np.ndarray, vectors: np.ndarray | Vectors) -> Exact:
    """exact(article ids) -> (those of them in `ids`, their rows of `vectors` as float32); `ids`
    ascending, as in a build."""
    from .folder import positions

    source = as_vectors(vectors)

    def exact(wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = positions(ids, wanted)
        held = rows >= 0
        return np.asarray(wanted)[held], source.take(rows[held])

    return exact


def without_self(labels: np.ndarray, own: np.ndarray, k: int) -> np.ndarray:
    """Each row of `labels` without its query's own id (first occurrence), cut to k; -1 pads."""
    out = np.full((len(labels), k), -1, np.int64)
    for q, row in enumerate(labels):
        hits = np.flatnonzero(row == own[q])
        rest = np.delete(row, hits[:1]) if len(hits) else row
        out[q, : min(k, len(rest))] = rest[:k]
    return out


def set_search_depth(index: Any, kind: str, value: int) -> None:
    if kind in GRAPH_KINDS:
        hnsw_graph(index).hnsw.efSearch = int(value)
    elif kind in ("ivf", "ivfpq"):
        index.nprobe = int(value)


def exact_top(vectors: np.ndarray | Vectors, queries: np.ndarray, k: int, chunk: int = 65536) -> np.ndarray:
    """Row numbers of the exact k nearest rows for each query (brute force, in chunks)."""
    queries = np.asarray(queries, np.float32)
    best_sims = np.full((len(queries), k), -np.inf, np.float32)
    best_rows = np.zeros((len(queries), k), np.int64)
    for start, rows in as_vectors(vectors).chunks(chunk):
        sims = queries @ rows.T
        top = np.argpartition(-sims, min(k, sims.shape[1] - 1), axis=1)[:, :k]
        merged_sims = np.concatenate([best_sims, np.take_along_axis(sims, top, 1)], axis=1)
        merged_rows = np.concatenate([best_rows, top + start], axis=1)
        keep = np.argsort(-merged_sims, axis=1)[:, :k]
        best_sims = np.take_along_axis(merged_sims, keep, 1)
        best_rows = np.take_along_axis(merged_rows, keep, 1)
    return best_rows


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each query's true neighbours that were found."""
    hits = [len(set(f[f >= 0]) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits)) if hits else 1.0
