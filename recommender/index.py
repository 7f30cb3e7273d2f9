"""The vector index on disk: FAISS for finding candidates, the exact vectors beside it, and the
build metadata, swapped in atomically.

Layout inside the home directory:
    index/CURRENT                 name of the live build folder (replaced with an atomic rename)
    index/<build>/vectors.faiss   candidate search: flat (exact), HNSW or IVF, labels = article ids
    index/<build>/ids.npy         article ids, ascending
    index/<build>/vectors.npy     their normalized vectors, same order (memory-mapped when loaded)
    index/<build>/meta.json       model, fingerprint, dimension, count, kind and its tuning, calibration
A build writes a new folder and only then points CURRENT at it, so killing a build at any moment
leaves the previous index serving. The kind is chosen by size: exact search while it is fast
enough, then HNSW, then IVF; the search depth of an approximate kind is tuned at build time until
recall@10 against exact search reaches RECALL_TARGET on a sample, and the result is recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexNotBuilt, InvalidSetting, ModelMismatch

INDEX_DIR = "index"
POINTER = "CURRENT"
FORMAT_VERSION = 2
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


@dataclass(frozen=True)
class Calibration:
    """Similarity anchors measured on this corpus with this model (see calibration.py)."""

    similarity_mean: float  # cosine of two random articles, on average
    similarity_std: float
    near_duplicate_threshold: float  # cosine at and above which two articles are copies
    method: str


@dataclass(frozen=True)
class IndexMeta:
    """What a build records beside its vectors and checks again on load."""

    model: str
    model_fingerprint: str
    dimension: int
    count: int
    built_at: str
    package_version: str
    calibration: Calibration
    kind: str = "flat"
    params: dict[str, Any] = field(default_factory=dict)  # efSearch / nlist, nprobe; recall@10
    stale: int = 0  # superseded vectors still in an HNSW graph (it cannot delete); rebuilt past 20%
    build_seconds: float = 0.0
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_json(cls, data: dict) -> IndexMeta:
        return cls(**{**data, "calibration": Calibration(**data["calibration"])})


def choose_kind(count: int, setting: str = "auto") -> str:
    """The index kind for a corpus of this size (`setting` overrides unless "auto")."""
    if setting not in KINDS:
        raise InvalidSetting(f"index_type must be one of {', '.join(KINDS)}, got {setting!r}")
    if setting != "auto":
        return setting
    return "flat" if count < FLAT_UP_TO else "hnsw" if count < HNSW_UP_TO else "ivf"


class VectorIndex:
    """A loaded build: candidate search by FAISS, exact vectors by article id."""

    def __init__(self, index: Any, meta: IndexMeta, path: Path, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._index = index
        self.meta = meta
        self.path = path
        self.ids = ids  # ascending
        self.vectors = vectors  # row i is the vector of ids[i]

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, cosine similarities) of about the k nearest vectors, best first."""
        k = min(k, len(self))
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        sims, ids = self._index.search(np.asarray(vector, np.float32).reshape(1, -1), k)
        keep = ids[0] >= 0
        found, scores = ids[0][keep], sims[0][keep]
        if self.meta.stale:  # an HNSW graph may hold an article twice (old and new text)
            found, first = np.unique(found, return_index=True)
            order = np.argsort(first)
            found, scores = found[order], scores[first[order]]
        return found, scores

    def rows(self, article_ids: np.ndarray) -> np.ndarray:
        """Row of each article id in `vectors`, or -1 for ids this build does not hold."""
        return positions(self.ids, article_ids)

    def vector(self, article_id: int) -> np.ndarray | None:
        row = int(self.rows(np.array([article_id]))[0])
        return None if row < 0 else np.asarray(self.vectors[row])


def positions(sorted_ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Position of each wanted id in an ascending id array, -1 where it is absent."""
    wanted = np.asarray(wanted, np.int64)
    if len(sorted_ids) == 0:
        return np.full(len(wanted), -1, np.int64)
    pos = np.minimum(np.searchsorted(sorted_ids, wanted), len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == wanted, pos, -1)


def index_root(home: Path) -> Path:
    return home / INDEX_DIR


def current_build(home: Path) -> Path | None:
    pointer = index_root(home) / POINTER
    try:
        name = pointer.read_text().strip()
    except FileNotFoundError:
        return None
    folder = index_root(home) / name
    return folder if (folder / "meta.json").exists() else None


def read_meta(home: Path) -> IndexMeta | None:
    folder = current_build(home)
    if folder is None:
        return None
    try:
        return IndexMeta.from_json(json.loads((folder / "meta.json").read_text()))
    except TypeError:  # an older format: treated as no index until rebuilt
        return None


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


def write_index(
    home: Path, ids: np.ndarray, vectors: np.ndarray, meta: IndexMeta, faiss_index: Any = None
) -> Path:
    """Write a new build folder, then atomically make it the current one; return its path.

    Without `faiss_index`, one of kind `meta.kind` is built (and tuned) from the vectors.
    """
    import faiss

    started = time.perf_counter()
    ids, vectors = np.asarray(ids, np.int64), np.asarray(vectors, np.float32)
    if np.any(np.diff(ids) < 0):  # sort only when needed: at 1M articles a copy is 1.5 GB
        order = np.argsort(ids, kind="stable")
        ids, vectors = ids[order], vectors[order]
    if len(ids) != meta.count or (len(ids) and vectors.shape[1] != meta.dimension):
        raise ValueError(f"index build got {len(ids)} ids, {vectors.shape} vectors, meta count {meta.count}")
    if faiss_index is None:
        faiss_index, params = build_faiss(ids, vectors, meta.kind)
        meta = replace(meta, params=params)
    root = index_root(home)
    root.mkdir(parents=True, exist_ok=True)
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    faiss.write_index(faiss_index, str(work / "vectors.faiss"))
    np.save(work / "ids.npy", ids)
    np.save(work / "vectors.npy", vectors)
    meta = replace(meta, build_seconds=round(meta.build_seconds + time.perf_counter() - started, 3))
    (work / "meta.json").write_text(json.dumps(asdict(meta), indent=2))
    _fsync_dir(work)
    folder = root / name
    os.replace(work, folder)
    tmp_pointer = root / f".{POINTER}.{uuid.uuid4().hex[:8]}"
    tmp_pointer.write_text(name)
    os.replace(tmp_pointer, root / POINTER)  # the moment the new build goes live
    _fsync_dir(root)
    _remove_old_builds(root, keep={name})
    return folder


def load_index(
    home: Path, expect_model: str | None = None, expect_fingerprint: str | None = None
) -> VectorIndex:
    """Load the live index and check its metadata; raise IndexNotBuilt or ModelMismatch."""
    import faiss

    folder = current_build(home)
    if folder is None:
        raise IndexNotBuilt(f"no index in {index_root(home)}: run `recommender build` first")
    raw = json.loads((folder / "meta.json").read_text())
    if raw.get("format_version") != FORMAT_VERSION:
        raise IndexNotBuilt(
            f"index format {raw.get('format_version')} is not {FORMAT_VERSION}: run `recommender build`"
        )
    meta = IndexMeta.from_json(raw)
    if expect_model is not None and meta.model != expect_model:
        raise ModelMismatch(
            f"the index was built with model {meta.model!r} but the store is configured for "
            f"{expect_model!r}: run `recommender build` to re-embed with the new model"
        )
    if expect_fingerprint is not None and meta.model_fingerprint != expect_fingerprint:
        raise ModelMismatch(
            f"the index was built with another version of {meta.model!r} (fingerprint "
            f"{meta.model_fingerprint}, now {expect_fingerprint}): run `recommender build`"
        )
    faiss.omp_set_num_threads(SEARCH_THREADS)
    index = faiss.read_index(str(folder / "vectors.faiss"))
    ids = np.load(folder / "ids.npy")
    # memory-mapped (pages shared between processes, loaded on demand), viewed as a plain array:
    # np.memmap's own indexing costs about 10 microseconds a call on the hot path
    vectors = np.load(folder / "vectors.npy", mmap_mode="r").view(np.ndarray)
    if index.d != meta.dimension or len(ids) != meta.count or vectors.shape[0] != meta.count:
        raise IndexNotBuilt(f"index in {folder} does not match its meta.json: rebuild it")
    depth = meta.params.get("efSearch") or meta.params.get("nprobe")
    if depth:
        set_search_depth(index, meta.kind, depth)
    return VectorIndex(index, meta, folder, ids, vectors)


def _remove_old_builds(root: Path, keep: set[str]) -> None:
    for child in root.iterdir():
        if child.is_dir() and child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
