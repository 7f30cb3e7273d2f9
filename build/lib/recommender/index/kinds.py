"""FAISS index kinds chosen by corpus size, and their tuning for recall.

Exact search (flat) while it is fast enough, then HNSW, then IVF; the search depth of an
approximate kind is tuned at build time until recall@10 against exact search reaches
RECALL_TARGET on a sample, and the result is recorded in the build's meta.json.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..errors import InvalidSetting

KINDS = ("auto", "flat", "hnsw", "ivf")
FLAT_UP_TO = 20_000  # exact search below this size: a few milliseconds at most
HNSW_UP_TO = 300_000  # HNSW above; IVF from here on (HNSW builds too slowly on small machines)
# One thread per search: a sidebar is one query, and OpenMP's hand-offs cost more than they save
# (measured: p50 0.5 ms with one thread vs 9 ms with two on a busy 2-core machine, 5k articles).
SEARCH_THREADS = 1
RECALL_TARGET = 0.97  # recall@10 against exact search that tuning aims for (the bar is 0.95)
TUNING_QUERIES = 200
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_LADDER = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
IVF_NPROBE_LADDER = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)


def choose_kind(count: int, setting: str = "auto") -> str:
    """The index kind for a corpus of this size (`setting` overrides unless "auto")."""
    if setting not in KINDS:
        raise InvalidSetting(f"index_type must be one of {', '.join(KINDS)}, got {setting!r}")
    if setting != "auto":
        return setting
    return "flat" if count < FLAT_UP_TO else "hnsw" if count < HNSW_UP_TO else "ivf"


@contextmanager
def all_cores() -> Iterator[None]:
    """Bulk work (training, adding, tuning) uses every core; single sidebar searches use one."""
    import faiss

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(SEARCH_THREADS)


def build_faiss(ids: np.ndarray, vectors: np.ndarray, kind: str, seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """A FAISS index of the given kind over these vectors, its search depth tuned for recall."""
    with all_cores():
        return _build_faiss(ids, vectors, kind, seed)


def _build_faiss(ids: np.ndarray, vectors: np.ndarray, kind: str, seed: int) -> tuple[Any, dict[str, Any]]:
    import faiss

    dim = vectors.shape[1]
    vectors = np.ascontiguousarray(vectors, np.float32)
    ids = np.ascontiguousarray(ids, np.int64)
    params: dict[str, Any] = {}
    index: Any
    if kind == "flat":
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    elif kind == "hnsw":
        graph = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index = faiss.IndexIDMap(graph)
        params["M"] = HNSW_M
    elif kind == "ivf":
        nlist = int(min(16384, max(64, 2 ** round(np.log2(4 * np.sqrt(max(len(ids), 1)))))))
        nlist = min(nlist, max(1, len(ids) // 39))  # FAISS wants ~39 training points per list
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(seed).permutation(len(ids))[: nlist * 64]
        index.train(vectors[np.sort(sample)])
        params["nlist"] = nlist
    else:
        raise InvalidSetting(f"unknown index kind {kind!r}")
    if len(ids):
        index.add_with_ids(vectors, ids)
    params.update(tune(index, kind, ids, vectors, seed))
    return index, params


def tune(index: Any, kind: str, ids: np.ndarray, vectors: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """Smallest search depth whose recall@10 against exact search reaches RECALL_TARGET."""
    if kind == "flat" or len(vectors) <= 10:
        return {"recall_at_10": 1.0}
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(vectors), min(TUNING_QUERIES, len(vectors)), replace=False)
    queries = np.ascontiguousarray(vectors[np.sort(picked)], np.float32)
    truth = ids[exact_top(vectors, queries, 10)]
    ladder = HNSW_EF_LADDER if kind == "hnsw" else IVF_NPROBE_LADDER
    name = "efSearch" if kind == "hnsw" else "nprobe"
    recall = 0.0
    for value in ladder:
        set_search_depth(index, kind, value)
        _, found = index.search(queries, 10)
        recall = recall_at(found, truth)
        if recall >= RECALL_TARGET:
            break
    return {name: value, "recall_at_10": round(recall, 4)}


def set_search_depth(index: Any, kind: str, value: int) -> None:
    import faiss

    if kind == "hnsw":
        graph: Any = faiss.downcast_index(index.index)
        graph.hnsw.efSearch = int(value)
    elif kind == "ivf":
        index.nprobe = int(value)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int, chunk: int = 65536) -> np.ndarray:
    """Row numbers of the exact k nearest rows for each query (brute force, in chunks)."""
    best_sims = np.full((len(queries), k), -np.inf, np.float32)
    best_rows = np.zeros((len(queries), k), np.int64)
    for start in range(0, len(vectors), chunk):
        sims = queries @ np.asarray(vectors[start : start + chunk], np.float32).T
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
