"""The serving snapshot: what a reader needs about every indexed article, as files it memory-maps.

A build writes these beside its vectors, so that serving processes never open DuckDB:
    catalog.arrow      Arrow IPC file: external_id, url, title, and the render fields snippet,
                       image (strings) and authors, tags (lists of strings), CATALOG_BLOCK rows a
                       batch; read in place, zero-copy
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
from bisect import bisect_right
from dataclasses import dataclass
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


CATALOG_BLOCK = 65_536  # catalog rows put in id order (and written as one Arrow batch) at a time
UNSORTED_FILE = "catalog.unsorted.arrow"  # the rows as the store gave them; gone once in order


@dataclass(frozen=True)
class WrittenCatalog:
    """What a build keeps of its catalog once the files are written: the ids in catalog order and
    each row's language code, and the names the code columns refer to."""

    ids: np.ndarray  # int64, ascending
    languages: np.ndarray  # int32 code into language_names, -1 = none
    section_names: list[str]
    language_names: list[str]

    def __len__(self) -> int:
        return len(self.ids)


class CatalogWriter:
    """Writes the catalog files of a build from the store's snapshot rows (sql.SNAPSHOT_ARTICLES
    with snippets), given a batch at a time and in any order: the string columns go to a scratch
    Arrow file in the build folder as they come, and `finish` writes them again in id order,
    CATALOG_BLOCK rows at a time, read from that file memory-mapped. Only the numeric columns (id,
    hash, date, codes: 32 bytes a row) are held in memory, never the archive's strings."""

    def __init__(self, folder: Path, schema: pa.Schema) -> None:
        self.folder = folder
        render = [c for c in (*RENDER_COLUMNS, *LIST_COLUMNS) if c in schema.names]
        self._strings = pa.schema([schema.field(name) for name in (*STRING_COLUMNS, *render)])
        self._sink = pa.OSFile(str(folder / UNSORTED_FILE), "wb")
        self._out = pa.ipc.new_file(self._sink, self._strings)
        self._ids: list[np.ndarray] = []
        self._hashes: list[np.ndarray] = []
        self._published: list[np.ndarray] = []
        self._sections, self._languages = _Coder(), _Coder()

    def add(self, batch: pa.RecordBatch) -> None:
        """Keep one batch of snapshot rows (ids unique across batches)."""
        columns = [batch.column(name) for name in self._strings.names]
        strings = pa.RecordBatch.from_arrays(columns, schema=self._strings)
        self._out.write_batch(strings)
        # Copies: a view of the batch's buffer would keep the whole batch (every column) alive.
        self._ids.append(np.array(batch.column("id").to_numpy(zero_copy_only=False), np.int64))
        external_ids = batch.column("external_id").to_pylist()
        self._hashes.append(np.fromiter((id_hash(e) for e in external_ids), np.uint64, len(external_ids)))
        published = batch.column("published").to_numpy(zero_copy_only=False)
        self._published.append(np.array(published, np.float64))
        self._sections.add(batch.column("section"))
        self._languages.add(batch.column("language"))

    def ids(self) -> np.ndarray:
        """The ids of the rows added so far, ascending: the build's catalog order."""
        return np.sort(np.concatenate([np.zeros(0, np.int64), *self._ids]))

    def finish(self) -> WrittenCatalog:
        """Write the catalog files in id order; remove the scratch file."""
        self.close()
        ids = np.concatenate([np.zeros(0, np.int64), *self._ids])
        order = np.argsort(ids, kind="stable")
        unsorted = self.folder / UNSORTED_FILE
        with pa.memory_map(str(unsorted), "r") as source:
            given = pa.ipc.open_file(source)  # its batches are read in place: pages of the file
            batches = [given.get_batch(i) for i in range(given.num_record_batches)]
            with (
                pa.OSFile(str(self.folder / STRINGS_FILE), "wb") as sink,
                pa.ipc.new_file(sink, self._strings) as out,
            ):
                for start in range(0, len(order), CATALOG_BLOCK):
                    out.write_batch(_taken(batches, order[start : start + CATALOG_BLOCK]))
            del batches, given
        unsorted.unlink()
        hashes = np.concatenate([np.zeros(0, np.uint64), *self._hashes])[order]
        by_hash = np.argsort(hashes, kind="stable")
        published = np.concatenate([np.zeros(0, np.float64), *self._published])[order]
        for parts in (self._ids, self._hashes, self._published):  # a build keeps the writer
            parts.clear()
        sections, section_names = self._sections.codes(order)
        languages, language_names = self._languages.codes(order)
        np.save(self.folder / "published.npy", published)
        np.save(self.folder / "sections.npy", sections)
        np.save(self.folder / "languages.npy", languages)
        np.save(self.folder / "id_hashes.npy", hashes[by_hash])
        np.save(self.folder / "id_rows.npy", by_hash.astype(np.int64))
        pa.default_memory_pool().release_unused()  # what Arrow's allocator kept of the blocks
        return WrittenCatalog(ids[order], languages, section_names, language_names)

    def close(self) -> None:
        """Close the scratch file (a build that fails removes its folder, the file with it)."""
        if not self._sink.closed:
            self._out.close()
            self._sink.close()


def _taken(batches: list[pa.RecordBatch], rows: np.ndarray) -> pa.RecordBatch:
    """The given rows (numbered across `batches`) as one batch, in that order, taken batch by batch:
    Arrow's take on a table of many batches first joins them all in memory."""
    starts = np.cumsum([0] + [len(batch) for batch in batches])
    source = np.searchsorted(starts, rows, "right") - 1
    pieces, places = [], []
    for at in np.unique(source):
        wanted = np.flatnonzero(source == at)
        pieces.append(batches[at].take(pa.array(rows[wanted] - starts[at])))
        places.append(wanted)
    joined = pa.concat_batches(pieces)
    return joined.take(pa.array(np.argsort(np.concatenate(places))))


def write_columns(folder: Path, articles: pa.Table) -> WrittenCatalog:
    """Write the catalog files of a build from a table of snapshot rows, in any order."""
    writer = CatalogWriter(folder, articles.schema)
    for batch in articles.to_batches():
        writer.add(batch)
    return writer.finish()


class Strings:
    """The string columns of a build, memory-mapped and read in place (batch by batch: the file
    holds CATALOG_BLOCK rows a batch, or one batch in builds made before)."""

    def __init__(self, folder: Path) -> None:
        source = pa.memory_map(str(folder / STRINGS_FILE), "r")
        table = pa.ipc.open_file(source).read_all()
        self._columns = {name: table.column(name) for name in table.column_names}
        sizes = [len(chunk) for chunk in table.column(0).chunks] if table.num_columns else []
        self._starts = [0, *np.cumsum(sizes[:-1]).tolist()]  # the first row of each batch
        self._readers: dict[str, list[_Utf8]] = {}

    def _reader(self, column: str, row: int) -> tuple[_Utf8, int] | None:
        """The reader of the batch that holds `row`, and the row's place in it."""
        readers = self._readers.get(column)
        if readers is None:
            values = self._columns.get(column)
            if values is None:  # a render column of a build made before it existed
                return None
            readers = self._readers[column] = [_Utf8(chunk) for chunk in values.chunks]
        batch = bisect_right(self._starts, row) - 1
        return readers[batch], row - self._starts[batch]

    def get(self, column: str, row: int) -> str | None:
        found = self._reader(column, row)
        return None if found is None else found[0].get(found[1])

    def column(self, column: str) -> list[str | None]:
        """Every value of a string column, as Python strings (for lookups built once per build)."""
        return self._columns[column].to_pylist()

    def names(self, column: str, row: int) -> tuple[str, ...]:
        """A list column (authors, tags) of one row; empty when null or not in this build."""
        found = self._reader(column, row)
        return () if found is None else found[0].names(found[1])


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


class _Coder:
    """Codes of a string column given a batch at a time (null -> -1), names sorted at the end."""

    def __init__(self) -> None:
        self._code_of: dict[str, int] = {}
        self._parts: list[np.ndarray] = []

    def add(self, column: pa.Array) -> None:
        code_of = self._code_of
        values = column.to_pylist()
        self._parts.append(
            np.array([-1 if v is None else code_of.setdefault(v, len(code_of)) for v in values], np.int32)
        )

    def codes(self, order: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Every row's code in `order`, as an index into the names, sorted."""
        names = sorted(self._code_of)
        remap = np.empty(len(names) + 1, np.int32)  # the last entry maps -1 (none) to itself
        remap[-1] = -1
        for code, name in enumerate(names):
            remap[self._code_of[name]] = code
        return remap[np.concatenate([np.zeros(0, np.int32), *self._parts])[order]], names
