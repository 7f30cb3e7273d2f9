"""The vector index on disk: FAISS for finding candidates, the exact vectors beside it, and the
build metadata, swapped in atomically.

Layout inside the home directory:
    index/CURRENT                 name of the live build folder (replaced with an atomic rename)
    index/<build>/vectors.faiss   candidate search: flat (exact), HNSW or IVF, labels = article ids
    index/<build>/ids.npy         article ids, ascending
    index/<build>/vectors.npy     their normalized vectors, same order (memory-mapped when loaded)
    index/<build>/meta.json       model, fingerprint, dimension, count, kind and its tuning, calibration
A build writes a new folder and only then points CURRENT at it, so killing a build at any moment
leaves the previous index serving.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IndexNotBuilt, ModelMismatch
from .kinds import SEARCH_THREADS, build_faiss, set_search_depth
from .meta import FORMAT_VERSION, IndexMeta

INDEX_DIR = "index"
POINTER = "CURRENT"


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
