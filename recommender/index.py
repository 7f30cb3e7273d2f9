"""The FAISS index on disk, with its build metadata beside it, swapped in atomically.

Layout inside the home directory:
    index/CURRENT             name of the live build folder (replaced with an atomic rename)
    index/<build>/vectors.faiss   IndexIDMap2 over IndexFlatIP: normalized vectors, inner product
    index/<build>/meta.json       model, fingerprint, dimension, count, calibration, time, version
A build writes a new folder and only then points CURRENT at it, so killing a build at any moment
leaves the previous index serving.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .errors import IndexNotBuilt, ModelMismatch

INDEX_DIR = "index"
POINTER = "CURRENT"
FORMAT_VERSION = 1


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
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_json(cls, data: dict) -> IndexMeta:
        return cls(**{**data, "calibration": Calibration(**data["calibration"])})


class VectorIndex:
    """A loaded index: nearest-neighbour search and vector lookup by internal id."""

    def __init__(self, index, meta: IndexMeta, path: Path) -> None:
        self._index = index
        self.meta = meta
        self.path = path

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, cosine similarities) of the k nearest vectors, best first."""
        k = min(k, len(self))
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        sims, ids = self._index.search(np.asarray(vector, np.float32).reshape(1, -1), k)
        keep = ids[0] >= 0
        return ids[0][keep], sims[0][keep]

    def vector(self, article_id: int) -> np.ndarray | None:
        try:
            return self._index.reconstruct(int(article_id))
        except RuntimeError:  # FAISS raises when the id is not in the index
            return None

    def vectors(self, article_ids: list[int]) -> np.ndarray:
        return np.stack([self._index.reconstruct(int(i)) for i in article_ids]).astype(np.float32)


def index_root(home: Path) -> Path:
    return home / INDEX_DIR


def current_build(home: Path) -> Path | None:
    pointer = index_root(home) / POINTER
    if not pointer.exists():
        return None
    folder = index_root(home) / pointer.read_text().strip()
    return folder if (folder / "meta.json").exists() else None


def read_meta(home: Path) -> IndexMeta | None:
    folder = current_build(home)
    if folder is None:
        return None
    return IndexMeta.from_json(json.loads((folder / "meta.json").read_text()))


def write_index(home: Path, ids: np.ndarray, vectors: np.ndarray, meta: IndexMeta) -> Path:
    """Write a new build folder, then atomically make it the current one; return its path."""
    import faiss

    if len(ids) != len(vectors) or len(ids) != meta.count:
        raise ValueError(f"index build got {len(ids)} ids, {len(vectors)} vectors, meta count {meta.count}")
    root = index_root(home)
    root.mkdir(parents=True, exist_ok=True)
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(meta.dimension))
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, np.float32), np.ascontiguousarray(ids, np.int64))
    faiss.write_index(index, str(work / "vectors.faiss"))
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
    meta = IndexMeta.from_json(json.loads((folder / "meta.json").read_text()))
    if meta.format_version != FORMAT_VERSION:
        raise IndexNotBuilt(f"index format {meta.format_version} is not {FORMAT_VERSION}: rebuild it")
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
    index = faiss.read_index(str(folder / "vectors.faiss"))
    if index.d != meta.dimension or index.ntotal != meta.count:
        raise IndexNotBuilt(f"index in {folder} does not match its meta.json: rebuild it")
    return VectorIndex(index, meta, folder)


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
