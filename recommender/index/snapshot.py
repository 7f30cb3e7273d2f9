"""The serving snapshot: what a reader needs about every indexed article, as files it memory-maps.

A build writes these beside its vectors, so that serving processes never open DuckDB:
    catalog.arrow      Arrow IPC file: external_id, url, title, and the render fields snippet,
                       image (strings) and authors, tags (lists of strings); read in place, zero-copy
    published.npy      float64 epoch seconds, NaN = undated
    sections.npy       int32 code into meta.json's `sections`, -1 = none
    languages.npy      int32 code into meta.json's `languages`, -1 = none
    id_hashes.npy      uint64 hash of each external id, ascending, and
    id_rows.npy        the catalog row of each hash: an id lookup is one binary search
Row i of every column describes the article whose vector is row i of vectors.npy (ids.npy[i]).
Pages are shared by every process that maps the same build.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa

STRINGS_FILE = "catalog.arrow"
STRING_COLUMNS = ("external_id", "url", "title")
RENDER_COLUMNS = ("snippet", "image")  # absent from builds made before them: read as None
LIST_COLUMNS = ("authors", "tags")  # absent from older builds: read as empty
NUMERIC_FILES = ("published.npy", "sections.npy", "languages.npy", "id_hashes.npy", "id_rows.npy")


def id_hash(external_id: str) -> int:
    """A stable 64-bit hash of an external id (the same in every process and on every machine)."""
    digest = hashlib.blake2b(external_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest)


def write_columns(folder: Path, articles: pa.Table) -> tuple[list[str], list[str]]:
    """Write the catalog files of a build from the store's snapshot rows (sql.SNAPSHOT_ARTICLES);
    return the section and language names the code columns refer to."""
    sections, section_names = _codes(articles.column("section"))
    languages, language_names = _codes(articles.column("language"))
    render = [c for c in (*RENDER_COLUMNS, *LIST_COLUMNS) if c in articles.column_names]
    strings = articles.select([*STRING_COLUMNS, *render]).combine_chunks()
    with pa.OSFile(str(folder / STRINGS_FILE), "wb") as sink, pa.ipc.new_file(sink, strings.schema) as out:
        out.write_table(strings)
    external_ids = strings.column("external_id").to_pylist()
    hashes = np.fromiter((id_hash(e) for e in external_ids), np.uint64, len(external_ids))
    order = np.argsort(hashes, kind="stable")
    published = articles.column("published").to_numpy(zero_copy_only=False)
    np.save(folder / "published.npy", np.asarray(published, np.float64))
    np.save(folder / "sections.npy", sections)
    np.save(folder / "languages.npy", languages)
    np.save(folder / "id_hashes.npy", hashes[order])
    np.save(folder / "id_rows.npy", order.astype(np.int64))
    return section_names, language_names


class Strings:
    """The string columns of a build, memory-mapped and read in place."""

    def __init__(self, folder: Path) -> None:
        source = pa.memory_map(str(folder / STRINGS_FILE), "r")
        table = pa.ipc.open_file(source).read_all()
        self._columns = {name: table.column(name).combine_chunks() for name in table.column_names}
        self._readers: dict[str, _Utf8] = {}

    def _reader(self, column: str) -> _Utf8 | None:
        if column not in self._readers:
            values = self._columns.get(column)
            if values is None:  # a render column of a build made before it existed
                return None
            self._readers[column] = _Utf8(values)
        return self._readers[column]

    def get(self, column: str, row: int) -> str | None:
        reader = self._reader(column)
        return None if reader is None else reader.get(row)

    def column(self, column: str) -> list[str | None]:
        """Every value of a string column, as Python strings (for lookups built once per build)."""
        return self._columns[column].to_pylist()

    def names(self, column: str, row: int) -> tuple[str, ...]:
        """A list column (authors, tags) of one row; empty when null or not in this build."""
        reader = self._reader(column)
        return () if reader is None else reader.names(row)


class _Utf8:
    """Reads the values of an Arrow string array, or of a list-of-strings array, from its offset
    and data buffers: a few times faster than an Arrow scalar per value, and a sidebar's items read
    dozens of them."""

    def __init__(self, values: pa.Array) -> None:
        self.valid = np.asarray(values.is_valid()) if values.null_count else None
        self.lists: np.ndarray | None = None
        if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
            self.lists = _offsets(values)
            values = values.values
        self.offsets = _offsets(values)
        data = values.buffers()[2]
        self.data = memoryview(data) if data is not None else memoryview(b"")

    def get(self, row: int) -> str | None:
        if self.valid is not None and not self.valid[row]:
            return None
        return str(self.data[self.offsets[row] : self.offsets[row + 1]], "utf-8")

    def names(self, row: int) -> tuple[str, ...]:
        if self.lists is None or (self.valid is not None and not self.valid[row]):
            return ()
        at, first, last = self.offsets, self.lists[row], self.lists[row + 1]
        return tuple(str(self.data[at[i] : at[i + 1]], "utf-8") for i in range(first, last))


def _offsets(values: pa.Array) -> np.ndarray:
    """The value offsets of a string or list array, as numbers (its slice offset applied)."""
    large = pa.types.is_large_string(values.type) or pa.types.is_large_list(values.type)
    buffer = values.buffers()[1]
    offsets = np.frombuffer(buffer, np.int64 if large else np.int32) if buffer else np.zeros(1, np.int32)
    return offsets[values.offset : values.offset + len(values) + 1]


def load_numeric(folder: Path, name: str) -> np.ndarray:
    """A numeric column, memory-mapped and viewed as a plain array (np.memmap indexing is slow)."""
    return np.load(folder / name, mmap_mode="r").view(np.ndarray)


def find_row(hashes: np.ndarray, rows: np.ndarray, strings: Strings, external_id: str) -> int:
    """Catalog row of an external id, or -1; hash collisions are settled by comparing the ids."""
    wanted = np.uint64(id_hash(external_id))
    at = int(np.searchsorted(hashes, wanted))
    while at < len(hashes) and hashes[at] == wanted:
        row = int(rows[at])
        if strings.get("external_id", row) == external_id:
            return row
        at += 1
    return -1


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Dictionary-encode a string column (null -> -1), names sorted."""
    values = column.to_pylist()
    names = sorted({v for v in values if v is not None})
    code_of = {name: i for i, name in enumerate(names)}
    return np.array([code_of[v] if v is not None else -1 for v in values], np.int32), names
