"""A build's vectors on their way from the store to the build folder, in chunks.

The whole matrix is never held in memory, let alone copied: the snapshot streams DuckDB's result
(Arrow record batches) into `vectors.npy` with plain file writes, and the index is trained and
filled from that file in chunks read with plain file reads. Plain reads and writes go through the
page cache, which the kernel shares and reclaims, instead of this process's own memory (a
memory-mapped file would count every page it touched in the build's resident size).

Compressed index kinds keep their exact vectors as float16 (half the disk and page cache of
float32; cosine error below 1e-4, well under the gaps between neighbours).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..errors import RecommenderError

VECTORS_FILE = "vectors.npy"
CHUNK_ROWS = 32_768  # 48 MB of float32 at 384 dimensions
RAGGED = "stored vectors differ in length: rebuild with `recommender build --full`"


@dataclass(frozen=True)
class VectorFile:
    """`vectors.npy` of a build folder (finished or being written), read in chunks."""

    path: Path
    count: int
    dimension: int
    dtype: np.dtype
    offset: int  # where the rows begin, after the .npy header

    @classmethod
    def open(cls, path: Path) -> VectorFile:
        with path.open("rb") as fh:
            major, _ = np.lib.format.read_magic(fh)
            if major == 1:
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            offset = fh.tell()
        if fortran or len(shape) != 2:
            raise RecommenderError(f"{path}: not a row-major matrix of vectors")
        return cls(path, int(shape[0]), int(shape[1]), np.dtype(dtype), offset)

    def __len__(self) -> int:
        return self.count

    @property
    def shape(self) -> tuple[int, int]:
        return (self.count, self.dimension)

    @property
    def row_bytes(self) -> int:
        return self.dimension * self.dtype.itemsize

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) as float32, read from the file (not mapped)."""
        stop = min(stop, self.count)
        if stop <= start:
            return np.zeros((0, self.dimension), np.float32)
        raw = np.empty((stop - start) * self.dimension, self.dtype)
        with self.path.open("rb", buffering=0) as fh:
            fh.seek(self.offset + start * self.row_bytes)
            fh.readinto(raw.view(np.uint8).data)
        return raw.reshape(-1, self.dimension).astype(np.float32, copy=False)

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, float32 rows) for the whole file, `rows` at a time."""
        for start in range(0, self.count, rows):
            yield start, self.read(start, start + rows)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Scattered rows as float32 (a small random sample: read through a short-lived map)."""
        mapped = np.load(self.path, mmap_mode="r")
        try:
            return np.asarray(mapped[np.asarray(rows, np.int64)], np.float32)
        finally:
            del mapped


@dataclass(frozen=True)
class ArrayVectors:
    """An in-memory matrix with VectorFile's reading methods (small builds and tests)."""

    array: np.ndarray

    def __len__(self) -> int:
        return len(self.array)

    @property
    def count(self) -> int:
        return len(self.array)

    @property
    def dimension(self) -> int:
        return int(self.array.shape[1]) if self.array.ndim == 2 else 0

    @property
    def shape(self) -> tuple[int, int]:
        return (self.count, self.dimension)

    def read(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.array[start:stop], np.float32)

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[tuple[int, np.ndarray]]:
        for start in range(0, self.count, rows):
            yield start, self.read(start, start + rows)

    def take(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.array[np.asarray(rows, np.int64)], np.float32)


Vectors = VectorFile | ArrayVectors


def as_vectors(vectors: np.ndarray | Vectors) -> Vectors:
    """A matrix or a vector file, behind one reading interface."""
    if isinstance(vectors, VectorFile | ArrayVectors):
        return vectors
    return ArrayVectors(np.asarray(vectors))


class VectorWriter:
    """Writes `count` rows of `dimension` into a new .npy file, in order, chunk by chunk."""

    def __init__(self, path: Path, count: int, dimension: int, dtype: np.dtype | type = np.float32) -> None:
        self.path = path
        self.count = count
        self.dimension = dimension
        self.dtype = np.dtype(dtype)
        self.written = 0
        self._fh = _new_file(path, count, dimension, self.dtype)

    def write(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows)
        if rows.ndim != 2 or rows.shape[1] != self.dimension:
            raise RecommenderError(f"vectors of shape {rows.shape} do not fit a {self.dimension}-d build")
        if self.written + len(rows) > self.count:
            raise RecommenderError(f"more than the {self.count} vectors this build was planned for")
        self._fh.write(np.ascontiguousarray(rows, self.dtype).tobytes())
        self.written += len(rows)

    def close(self) -> VectorFile:
        """Finish the file (it must hold exactly `count` rows) and return it for reading."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        if self.written != self.count:
            raise RecommenderError(
                "the store changed while the snapshot was read: run the build again "
                f"({self.written} vectors for {self.count} articles)"
            )
        return VectorFile.open(self.path)

    def abort(self) -> None:
        self._fh.close()


def from_batches(
    batches: Iterable[pa.RecordBatch], ids: np.ndarray, path: Path, dtype: np.dtype | type = np.float32
) -> VectorFile:
    """Write the vectors of `ids` (ascending) into `path`, row i for ids[i], from record batches of
    (article_id, vector list) in any order: each row goes straight to its place in the file (the
    store is scanned as it lies, never sorted or joined). A row of an id outside `ids` (the vector
    of an article no longer in the snapshot) is passed over; an id missing or given twice, or a
    vector of another length, is an error."""
    from .folder import positions

    count = len(ids)
    filled = np.zeros(count, bool)
    fh = None
    dimension = 0
    try:
        for batch in batches:
            at = positions(ids, np.asarray(batch.column(0).to_numpy(zero_copy_only=False), np.int64))
            known = at >= 0
            if not known.all():  # vectors of articles not in the snapshot
                batch, at = batch.filter(pa.array(known)), at[known]
            if len(at) == 0:
                continue
            rows = _matrix(batch.column(1))
            if fh is None:
                dimension = rows.shape[1]
                fh = _new_file(path, count, dimension, np.dtype(dtype))
                offset = fh.tell()
            elif rows.shape[1] != dimension:
                raise RecommenderError(RAGGED)
            if np.any(filled[at]):
                raise RecommenderError("the store changed while the snapshot was read: run the build again")
            filled[at] = True
            order = np.argsort(at, kind="stable")
            at, data = at[order], np.ascontiguousarray(rows[order], dtype)
            row_bytes = dimension * data.itemsize
            starts = np.concatenate([[0], np.flatnonzero(np.diff(at) != 1) + 1, [len(at)]])
            for lo, hi in itertools.pairwise(starts.tolist()):  # runs of consecutive rows
                os.pwrite(fh.fileno(), data[lo:hi].tobytes(), offset + int(at[lo]) * row_bytes)
        if fh is None:
            raise RecommenderError("nothing to index: ingest articles first (`recommender ingest FILE`)")
        if not filled.all():
            raise RecommenderError(
                "the store changed while the snapshot was read: run the build again "
                f"({int(filled.sum())} vectors for {count} articles)"
            )
        os.fsync(fh.fileno())
    finally:
        if fh is not None:
            fh.close()
    return VectorFile.open(path)


def _new_file(path: Path, count: int, dimension: int, dtype: np.dtype):
    """A .npy file of `count` x `dimension` (its rows still to be written), open for writing."""
    fh = path.open("wb")
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False}
    np.lib.format.write_array_header_2_0(fh, {**header, "shape": (count, dimension)})
    fh.truncate(fh.tell() + count * dimension * dtype.itemsize)
    return fh


def merged(
    previous: VectorFile,
    previous_ids: np.ndarray,
    new_ids: np.ndarray,
    new_vectors: np.ndarray,
    ids: np.ndarray,
    path: Path,
    rows: int = CHUNK_ROWS,
) -> VectorFile:
    """The vectors of `ids` (ascending): from `new_vectors` where the id is in `new_ids`, else the
    previous build's row, read chunk by chunk; written to `path` in the previous file's dtype."""
    from .folder import positions

    order = np.argsort(new_ids, kind="stable")
    new_ids, new_vectors = np.asarray(new_ids, np.int64)[order], np.asarray(new_vectors)[order]
    writer = VectorWriter(path, len(ids), previous.dimension, previous.dtype)
    try:
        for start in range(0, len(ids), rows):
            wanted = ids[start : start + rows]
            out = np.empty((len(wanted), previous.dimension), np.float32)
            fresh = positions(new_ids, wanted)
            old = positions(previous_ids, wanted)
            if np.any((fresh < 0) & (old < 0)):
                raise RecommenderError("an article has no vector: run the build again")
            out[fresh >= 0] = new_vectors[fresh[fresh >= 0]]
            kept = old[fresh < 0]
            if len(kept):
                lo, hi = int(kept.min()), int(kept.max()) + 1
                out[fresh < 0] = previous.read(lo, hi)[kept - lo]
            writer.write(out)
        return writer.close()
    except BaseException:
        writer.abort()
        raise


def _matrix(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A list<float> column as an (n, d) float32 matrix, checking every row has d values."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    offsets = np.asarray(column.offsets.to_numpy(), np.int64)
    lengths = np.diff(offsets)
    if len(lengths) and (lengths.min() != lengths.max() or lengths[0] == 0):
        raise RecommenderError(RAGGED)
    values = np.asarray(column.flatten().to_numpy(zero_copy_only=False), np.float32)
    return values.reshape(len(lengths), -1) if len(lengths) else values.reshape(0, 0)


__all__ = [
    "CHUNK_ROWS",
    "VECTORS_FILE",
    "ArrayVectors",
    "VectorFile",
    "VectorWriter",
    "Vectors",
    "as_vectors",
    "from_batches",
    "merged",
]
