"""Build folders on disk: each a complete, self-describing snapshot; CURRENT names the live one.

Layout inside the home directory:
    index/CURRENT                 name of the live build folder (replaced with an atomic rename)
    index/<build>/meta.json       model, fingerprint, dimension, count, kind and its tuning, calibration,
                                  the store version it was taken at, section and language names
    index/<build>/vectors.faiss   candidate search: flat (exact), HNSW or IVF, labels = article ids
    index/<build>/ids.npy         article ids, ascending
    index/<build>/vectors.npy     their normalized vectors, same order (memory-mapped when loaded)
    index/<build>/catalog.arrow, published.npy, ...   the catalog columns (see snapshot.py)
    index/<build>/neighbour_ids.npy, neighbour_fresh.npy   each article's nearest (see neighbours.py)
    index/<build>/overlay.json    settings, section values and removals since (see overlay.py)
    index/<build>/RETIRED         when it stopped being live; removed after a grace period
    index/<build>/RESUME          a build's folder until it goes live: see `unfinished`
A build is written under `.building-*`, renamed into place, and only then made live by replacing
CURRENT, so killing a build at any moment leaves the previous build serving. A build killed while
its index is made (a full build) or after that rename (during its neighbour lists' search: hours
for a large archive) is finished by the next build when the store has not changed since
(index/build.py). Builds that stopped
being live are kept for a grace period, so a reader that read CURRENT just before a switch still
finds its files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import IndexNotBuilt, ModelMismatch
from . import filling
from .kinds import (
    COMPRESSED_KINDS,
    GRAPH_KINDS,
    SEARCH_THREADS,
    all_cores,
    build_faiss,
    lists_params,
    mapped_reading,
    rescored,
    row_lookup,
    search,
    set_search_depth,
    vector_dtype,
)
from .meta import FORMAT_VERSION, READABLE_FORMATS, IndexMeta
from .snapshot import WrittenCatalog, write_columns
from .vectors import VECTORS_FILE, VectorFile

INDEX_DIR = "index"
POINTER = "CURRENT"
RETIRED = "RETIRED"
RESUME = "RESUME"  # JSON: what the next build needs to finish this one (index/build.py)
BUILDING_PREFIX = ".building-"
GRACE_SECONDS = 300.0  # how long a build that stopped being live stays on disk for readers
LOAD_ATTEMPTS = 3  # a build removed between reading CURRENT and opening its files: read CURRENT again
_search_threads = threading.local()


class VectorIndex:
    """A loaded build: candidate search by FAISS, exact vectors by article id."""

    def __init__(self, index: Any, meta: IndexMeta, path: Path, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._index = index
        self.meta = meta
        self.path = path
        self.ids = ids  # ascending
        self.vectors = vectors  # row i is the vector of ids[i]
        self._exact = row_lookup(ids, vectors)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, cosine similarities) of about the k nearest vectors, best first."""
        k = min(k, len(self))
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if not getattr(_search_threads, "set", False):
            # OpenMP keeps its thread count per calling thread: a server's request threads each set
            # it once, or FAISS spins every core for one small query (4x the CPU per sidebar).
            import faiss

            faiss.omp_set_num_threads(SEARCH_THREADS)
            _search_threads.set = True
        rescore = rescored(self.meta.kind, self.meta.params, k)
        ids, sims = search(self._index, vector, k, rescore, self.exact if rescore else None)
        keep = ids[0] >= 0
        found, scores = ids[0][keep], sims[0][keep]
        if self.meta.stale:  # an HNSW graph may hold an article twice (old and new text)
            found, first = np.unique(found, return_index=True)
            order = np.argsort(first)
            found, scores = found[order], scores[first[order]]
        return found, scores

    def search_many(
        self,
        queries: np.ndarray,
        k: int,
        max_efsearch: int | None = None,
        lists: bool = False,
        threads: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, cosines), each (len(queries), k), of about the k nearest vectors of each query, best
        first (-1 ids pad); the build asks this for many articles at once (neighbour lists, copies).
        `lists`: searched as the build's neighbour lists are (kinds.lists_params); `max_efsearch`:
        a graph searched no deeper than this (other kinds ignore it); `threads`: cores to search on
        (default every core of the machine)."""
        k = min(k, len(self))
        kind, params = self.meta.kind, self.meta.params
        if lists:
            params = lists_params(kind, params)
        depth = None
        if kind in GRAPH_KINDS and (lists or max_efsearch is not None):
            depth = int(params["efSearch"])
            depth = depth if max_efsearch is None else min(depth, max_efsearch)
            params = {**params, "efSearch": depth}
        rescore = rescored(kind, params, k)
        with all_cores(threads):
            return search(self._index, queries, k, rescore, self.exact if rescore else None, depth)

    def rows(self, article_ids: np.ndarray) -> np.ndarray:
        """Row of each article id in `vectors`, or -1 for ids this build does not hold."""
        return positions(self.ids, article_ids)

    def vector(self, article_id: int) -> np.ndarray | None:
        row = int(self.rows(np.array([article_id]))[0])
        return None if row < 0 else np.asarray(self.vectors[row], np.float32)

    def exact(self, article_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(those of these articles this build holds, their exact vectors as float32 rows): what
        candidates are re-scored with when the index keeps only compressed codes."""
        return self._exact(article_ids)


def positions(sorted_ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Position of each wanted id in an ascending id array, -1 where it is absent."""
    wanted = np.asarray(wanted, np.int64)
    if len(sorted_ids) == 0:
        return np.full(len(wanted), -1, np.int64)
    pos = np.minimum(np.searchsorted(sorted_ids, wanted), len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == wanted, pos, -1)


def index_root(home: Path) -> Path:
    return home / INDEX_DIR


def current_name(home: Path) -> str | None:
    """The name of the live build, or None before the first build."""
    try:
        return (index_root(home) / POINTER).read_text().strip() or None
    except FileNotFoundError:
        return None


def current_build(home: Path) -> Path | None:
    name = current_name(home)
    if name is None:
        return None
    folder = index_root(home) / name
    return folder if (folder / "meta.json").exists() else None


def pointer_signature(home: Path) -> tuple[int, int, int]:
    """Identity of CURRENT now (inode, mtime, size): a new build costs a `stat` to notice."""
    try:
        st = (index_root(home) / POINTER).stat()
    except FileNotFoundError:
        return (0, 0, 0)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def read_meta(home: Path) -> IndexMeta | None:
    folder = current_build(home)
    if folder is None:
        return None
    try:
        return _meta(folder)
    except (IndexNotBuilt, FileNotFoundError):
        return None


def new_work_folder(home: Path) -> Path:
    """A fresh `.building-*` folder for the next build (what a killed build leaves, `clean` removes)."""
    root = index_root(home)
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=BUILDING_PREFIX, dir=root))
    work.chmod(0o755)  # readable by serving processes of other users, as the files in it are
    return work


def write_build(
    home: Path,
    ids: np.ndarray,
    vectors: np.ndarray | VectorFile,
    meta: IndexMeta,
    catalog: pa.Table | WrittenCatalog,
    faiss_index: Any = None,
    work: Path | None = None,
) -> Path:
    """Write a complete new build folder (not yet live: see `switch`, and write its overlay
    first); return its path.

    `vectors` is a matrix, or the vector file already streamed into `work` (see vectors.py), stored
    as the kind wants it (float16 for the compressed kind). `catalog` is a table of the store's
    snapshot rows, or the catalog files already written into `work` (snapshot.CatalogWriter).
    Without `faiss_index`, one of kind `meta.kind` is built (and tuned) from the vectors, in chunks.
    """
    import faiss

    started = time.perf_counter()
    ids = np.asarray(ids, np.int64)
    if np.any(np.diff(ids) < 0):
        raise ValueError("a build's ids must be ascending")
    shape = vectors.shape if isinstance(vectors, VectorFile) else np.shape(vectors)
    if len(ids) != meta.count or len(catalog) != meta.count or (len(ids) and shape[1] != meta.dimension):
        raise ValueError(
            f"build got {len(ids)} ids, {shape} vectors, {len(catalog)} catalog rows, meta count {meta.count}"
        )
    work = work or new_work_folder(home)
    if not isinstance(catalog, WrittenCatalog):
        catalog = write_columns(work, catalog)
    if not np.array_equal(catalog.ids, ids):
        raise ValueError("the catalog's rows are not the build's ids")
    if isinstance(vectors, VectorFile):
        if vectors.path != work / VECTORS_FILE or vectors.dtype != vector_dtype(meta.kind):
            raise ValueError(f"{vectors.path} is not a {meta.kind} build's vector file in {work}")
    else:
        vectors = np.asarray(vectors, vector_dtype(meta.kind))
        np.save(work / VECTORS_FILE, vectors)
    if faiss_index is None:  # a graph saves itself in `work` as it is filled, for a killed build
        faiss_index, params = build_faiss(ids, vectors, meta.kind, folder=work)
        meta = replace(meta, params=params)
    faiss.write_index(faiss_index, str(work / "vectors.faiss"))
    del faiss_index
    filling.discard(work)
    np.save(work / "ids.npy", ids)
    sections, languages = catalog.section_names, catalog.language_names
    seconds = round(meta.build_seconds + time.perf_counter() - started, 3)
    meta = replace(
        meta, build_seconds=seconds, sections=sections, languages=languages, format_version=FORMAT_VERSION
    )
    (work / "meta.json").write_text(json.dumps(asdict(meta), indent=2))
    fsync_tree(work)
    root = index_root(home)
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    folder = root / name
    os.replace(work, folder)
    _fsync_dir(root)
    return folder


def switch(home: Path, folder: Path) -> None:
    """Make `folder` the live build (one atomic rename); the build it replaces is marked retired."""
    root = index_root(home)
    previous = current_build(home)
    tmp_pointer = root / f".{POINTER}.{uuid.uuid4().hex[:8]}"
    with tmp_pointer.open("w") as fh:
        fh.write(folder.name)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp_pointer, root / POINTER)  # the moment the new build goes live
    _fsync_dir(root)
    if previous is not None and previous != folder:
        (previous / RETIRED).write_text(datetime.now(UTC).isoformat())


def clean(home: Path, grace_seconds: float = GRACE_SECONDS, keep: Path | None = None) -> list[str]:
    """Remove what no reader can need: retired builds past the grace period, and what killed builds
    left behind (`.building-*` folders, builds that never went live but `keep`, temp pointer files).

    Only call it while holding the build lock: then no other build is writing here.
    """
    root = index_root(home)
    if not root.is_dir():
        return []
    live = current_name(home)
    now = time.time()
    removed = []
    for child in root.iterdir():
        if child.name in (POINTER, live) or (keep is not None and child.name == keep.name):
            continue
        if child.is_file() and child.name.startswith(f".{POINTER}."):
            child.unlink(missing_ok=True)
            removed.append(child.name)
            continue
        if not child.is_dir():
            continue
        retired = child / RETIRED
        if retired.exists() and now - retired.stat().st_mtime < grace_seconds:
            continue  # readers may still be opening it
        shutil.rmtree(child, ignore_errors=True)
        removed.append(child.name)
    return removed


def unfinished(home: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Folders of killed builds that say how to finish them (their RESUME file), each with
    what that file holds: written whole (meta.json) but never made live, newest first, then
    `.building-*` ones killed while their index was made. Only call it holding the build lock."""
    root = index_root(home)
    if not root.is_dir():
        return []
    live = current_name(home)
    written, building = [], []
    for child in sorted(root.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
        if child.name == live or not child.is_dir() or (child / RETIRED).exists():
            continue
        try:
            note = json.loads((child / RESUME).read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(note, dict):
            continue
        if child.name.startswith(BUILDING_PREFIX):
            building.append((child, note))
        elif (child / "meta.json").exists():
            written.append((child, note))
    return written + building


def load_index(
    home: Path, expect_model: str | None = None, expect_fingerprint: str | None = None
) -> VectorIndex:
    """Load the live index and check its metadata; raise IndexNotBuilt or ModelMismatch."""
    for attempt in range(LOAD_ATTEMPTS):
        folder = current_build(home)
        if folder is None:
            raise IndexNotBuilt(f"no index in {index_root(home)}: run `recommender build` first")
        try:
            return load_folder(folder, expect_model, expect_fingerprint)
        except FileNotFoundError:
            if attempt == LOAD_ATTEMPTS - 1:
                raise IndexNotBuilt(f"the live build in {index_root(home)} keeps disappearing") from None
    raise AssertionError("unreachable")


def load_folder(
    folder: Path, expect_model: str | None = None, expect_fingerprint: str | None = None
) -> VectorIndex:
    """Load one build folder's vectors and FAISS index, checked against its meta.json."""
    import faiss

    meta = _meta(folder)
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
    # memory-mapped: the pages are the kernel's cache, shared by every process serving this build
    index = faiss.read_index(str(folder / "vectors.faiss"), mapped_reading(meta.kind))
    ids = np.load(folder / "ids.npy", mmap_mode="r").view(np.ndarray)
    # viewed as a plain array: np.memmap's own indexing costs about 10 microseconds a call
    vectors = np.load(folder / VECTORS_FILE, mmap_mode="r").view(np.ndarray)
    if (
        index.d != meta.dimension
        or len(ids) != meta.count
        or vectors.shape != (meta.count, meta.dimension)
        or vectors.dtype != vector_dtype(meta.kind)
        or (meta.kind in COMPRESSED_KINDS and not _rescores(meta))
    ):
        raise IndexNotBuilt(f"index in {folder} does not match its meta.json: rebuild it")
    depth = meta.params.get("efSearch") or meta.params.get("nprobe")
    if depth:
        set_search_depth(index, meta.kind, depth)
    return VectorIndex(index, meta, folder, ids, vectors)


def _rescores(meta: IndexMeta) -> bool:
    """Whether a compressed build's meta.json says how its candidates are re-scored."""
    setting = "rerank" if meta.kind == "ivfpq" else "efSearch"
    try:
        return int(meta.params[setting]) > 0
    except (KeyError, TypeError, ValueError):
        return False


def _meta(folder: Path) -> IndexMeta:
    raw = json.loads((folder / "meta.json").read_text())
    if raw.get("format_version") not in READABLE_FORMATS:
        raise IndexNotBuilt(
            f"index format {raw.get('format_version')} is not {FORMAT_VERSION}: run `recommender build`"
        )
    try:
        return IndexMeta.from_json(raw)
    except TypeError as exc:
        raise IndexNotBuilt(f"unreadable meta.json in {folder}: run `recommender build`") from exc


def fsync_tree(folder: Path) -> None:
    """Make every file of `folder` (and the folder's entries) durable."""
    for path in folder.iterdir():
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
