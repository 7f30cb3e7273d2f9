"""Article files read one row at a time: JSONL, CSV and Parquet, each row decoded on its own.

A reader yields `Record`s: the row's place in the file ("line 12", "row 3 (line 4)", "row 3"), its
fields as the file names them, or, for a row that cannot be read at all, why. A bad byte, a stray
quote or a broken line costs its own row, never the file; checking the fields is rows.py's job.
Memory stays bounded whatever the file's size: lines and Parquet batches are read one at a time.

Text is decoded line by line as UTF-8; bytes that are not UTF-8 are kept as lone surrogates
(Python's "surrogateescape") so that rows.py can name the field that holds them.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import InvalidSetting, UnreadableInput
from .csvparse import parse_records

FIELDS = (
    "id", "url", "title", "body", "section", "language", "published_at", "updated_at", "deleted",
    "fetched_at",  # when the page was fetched: places relative dates such as "৩ ঘণ্টা আগে"
    "image", "summary", "authors", "tags",  # drawn by sidebars (rows.render_fields)
)  # fmt: skip
REQUIRED = ("id", "title", "body")
MAX_LINE_BYTES = 256 * 1024 * 1024
PARQUET_BATCH = 4096
_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}
UTF8_BOM = b"\xef\xbb\xbf"

# Field names tried, in order, when the caller gives no --field mapping for a field.
ALIASES = {
    "id": ("id", "article_id", "url"),
    "title": ("title", "headline"),
    "body": ("body", "text", "content"),
    "published_at": ("published_at", "date", "published", "pubdate", "publication_date"),
    "updated_at": ("updated_at", "updated", "modified"),
    "fetched_at": ("fetched_at", "crawled_at", "scraped_at"),
    "image": ("image", "image_url", "thumbnail", "thumbnail_url", "og:image", "og_image"),
    "summary": ("summary", "description", "excerpt", "lead", "og:description"),
    "authors": ("authors", "author", "byline"),
    "tags": ("tags", "keywords"),
}


@dataclass(frozen=True, slots=True)
class Record:
    """One row of a file: its fields as the file names them, or why it could not be read."""

    location: str
    data: dict[str, Any] | None
    reason: str | None = None  # set when data is None
    undecodable: bool = False  # the row held bytes that are not UTF-8 (kept as lone surrogates)


def parse_field_map(specs: Iterable[str]) -> dict[str, str]:
    """Turn ["title=headline", ...] into {"title": "headline"}; our field names on the left."""
    mapping: dict[str, str] = {}
    for spec in specs:
        ours, sep, theirs = spec.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not sep or not ours or not theirs:
            raise InvalidSetting(f"--field {spec!r}: expected OURS=THEIRS, e.g. title=headline")
        if ours not in FIELDS:
            raise InvalidSetting(f"--field {spec!r}: unknown field {ours!r}; fields: {', '.join(FIELDS)}")
        mapping[ours] = theirs
    return mapping


def resolve_sources(present: set[str], field_map: dict[str, str]) -> dict[str, str | None]:
    """Which input field feeds each of ours: the mapping, else the first alias the file has."""
    out: dict[str, str | None] = {}
    for ours in FIELDS:
        if ours in field_map:
            out[ours] = field_map[ours]
        else:
            out[ours] = next((a for a in ALIASES.get(ours, (ours,)) if a in present), None)
    return out


def check_required(
    path: Path, sources: dict[str, str | None], present: set[str], field_map: dict[str, str]
) -> None:
    """A file must have every required field (a file of deletions needs ids only)."""
    required = ("id",) if sources["deleted"] in present else REQUIRED
    for ours in required:
        src = sources[ours]
        if src is None or (src not in present and not _nested_present(src, present)):
            shown = ", ".join(sorted(present)) or "none"
            hint = f"; map one with --field {ours}=NAME" if ours not in field_map else ""
            raise UnreadableInput(
                f"{path}: no field {src or ours!r} for required field {ours} (fields: {shown}){hint}"
            )


def _nested_present(src: str, present: set[str]) -> bool:
    return "." in src and src.split(".", 1)[0] in present


def kind_of(path: Path) -> str:
    """jsonl, csv, tsv or parquet, from the file name."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".zst"):
        raise UnreadableInput(f"{path}: zstd-compressed files are not supported; use .gz or no compression")
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".tsv"):
        return "tsv"
    if name.endswith(".parquet"):
        return "parquet"
    raise UnreadableInput(f"{path}: unknown file type; use .jsonl, .csv, .tsv or .parquet (optionally .gz)")


class Source:
    """One input file. `columns` is known up front for CSV and Parquet (None for JSONL, whose
    fields show row by row); `records()` reads it once, row by row."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise UnreadableInput(f"{path}: no such file")
        if path.is_dir():
            raise UnreadableInput(f"{path}: is a directory, not a file")
        self.path = path
        self.kind = kind_of(path)
        self.columns: set[str] | None = None
        self.column_types: dict[str, str] = {}  # Parquet: column -> Arrow type, for checks
        self._parquet: Any = None
        self._csv_header: list[str] = []
        self._csv_body: Iterator[tuple[int, int, list[str] | None, str | None]] | None = None
        if self.kind == "parquet":
            self._open_parquet()
        elif self.kind in ("csv", "tsv"):
            self._open_csv()
        else:
            self._check_text_start()

    # --- opening ------------------------------------------------------------------------------
    def _open_binary(self) -> BinaryIO:
        try:
            if self.path.name.lower().endswith(".gz"):
                return gzip.open(self.path, "rb")  # type: ignore[return-value]
            return open(self.path, "rb")
        except OSError as exc:
            raise UnreadableInput(f"{self.path}: cannot be opened: {exc.strerror or exc}") from None

    def _check_text_start(self) -> None:
        """Empty files and UTF-16/32 files are refused as a whole, with the reason."""
        with self._open_binary() as fh:
            try:
                head = fh.read(1 << 16)
            except (OSError, EOFError) as exc:
                raise UnreadableInput(f"{self.path}: cannot be read: {exc}") from None
        for bom, name in _BOMS.items():
            if head.startswith(bom):
                raise UnreadableInput(f"{self.path}: the file is {name}-encoded; save it as UTF-8")
        if not head.removeprefix(UTF8_BOM).strip():
            raise UnreadableInput(f"{self.path}: empty file")

    def _open_csv(self) -> None:
        self._check_text_start()
        delimiter = "\t" if self.kind == "tsv" else None
        records = parse_records(self._text_lines(), delimiter)
        for first, _last, fields, error in records:
            if error is not None:
                raise UnreadableInput(f"{self.path}: the header (line {first}) is not valid CSV: {error}")
            assert fields is not None
            header = [name.strip() for name in fields]
            repeated = sorted({n for n in header if header.count(n) > 1})
            if repeated:
                raise UnreadableInput(f"{self.path}: column {repeated[0]!r} appears twice in the header")
            self._csv_header = header
            self._csv_body = records
            self.columns = {name for name in header if name}
            return
        raise UnreadableInput(f"{self.path}: empty file")

    def _open_parquet(self) -> None:
        import pyarrow.parquet as pq

        try:
            self._parquet = pq.ParquetFile(self.path)
        except Exception as exc:  # pyarrow raises several kinds for a file that is not Parquet
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UnreadableInput(f"{self.path}: cannot be read as Parquet: {first}") from None
        if self._parquet.metadata.num_rows == 0:
            raise UnreadableInput(f"{self.path}: empty file (no rows)")
        schema = self._parquet.schema_arrow
        self.columns = set(schema.names)
        self.column_types = _arrow_types(schema)

    # --- reading ------------------------------------------------------------------------------
    def records(self, wanted: list[str]) -> Iterator[Record]:
        """Every row, in file order; `wanted` names the input fields to read (Parquet reads only those)."""
        if self.kind == "parquet":
            yield from self._parquet_records(wanted)
        elif self.kind in ("csv", "tsv"):
            yield from self._csv_records()
        else:
            yield from self._jsonl_records()

    def _lines(self) -> Iterator[tuple[int, bytes | None]]:
        """(line number, bytes without the line ending); None for a line over MAX_LINE_BYTES."""
        with self._open_binary() as fh:
            number = 0
            while True:
                try:
                    line = fh.readline(MAX_LINE_BYTES + 1)
                except (OSError, EOFError) as exc:
                    raise _Broken(number + 1, str(exc)) from None
                if not line:
                    return
                number += 1
                if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                    while (rest := fh.readline(1 << 20)) and not rest.endswith(b"\n"):
                        pass
                    yield number, None
                    continue
                line = line.removeprefix(UTF8_BOM)  # the file's, or one left by concatenating files
                yield number, line.rstrip(b"\r\n")

    def _text_lines(self) -> Iterator[tuple[int, str | None]]:
        for number, line in self._lines():
            yield number, None if line is None else line.decode("utf-8", "surrogateescape")

    def _jsonl_records(self) -> Iterator[Record]:
        try:
            for number, line in self._lines():
                where = f"line {number}"
                if line is None:
                    yield Record(where, None, f"line is longer than {MAX_LINE_BYTES >> 20} MB")
                    continue
                if not line.strip():
                    continue  # blank lines are not rows, but count for line numbers
                try:
                    text, undecodable = line.decode("utf-8"), False
                except UnicodeDecodeError:
                    text, undecodable = line.decode("utf-8", "surrogateescape"), True
                try:
                    doc = json.loads(text)
                except ValueError as exc:
                    yield Record(where, None, f"line is not valid JSON ({_json_reason(exc)})")
                    continue
                if not isinstance(doc, dict):
                    yield Record(where, None, f"line is JSON but not an object (a {_json_kind(doc)})")
                    continue
                yield Record(where, doc, undecodable=undecodable)
        except _Broken as broken:
            yield Record(f"line {broken.line}", None, f"the rest of the file cannot be read: {broken}")

    def _csv_records(self) -> Iterator[Record]:
        assert self._csv_body is not None
        header, width, number = self._csv_header, len(self._csv_header), 0
        try:
            for first, last, fields, error in self._csv_body:
                number += 1
                lines = f"line {first}" if first == last else f"lines {first}-{last}"
                where = f"row {number} ({lines})"
                if error is not None:
                    yield Record(where, None, f"malformed CSV: {error}")
                elif fields is None:
                    yield Record(where, None, f"line is longer than {MAX_LINE_BYTES >> 20} MB")
                elif len(fields) != width:
                    yield Record(where, None, f"malformed CSV: expected {width} fields, found {len(fields)}")
                else:
                    data = {name: value for name, value in zip(header, fields, strict=True) if name}
                    yield Record(where, data, undecodable=_undecodable(fields))
        except _Broken as broken:
            yield Record(f"line {broken.line}", None, f"the rest of the file cannot be read: {broken}")

    def _parquet_records(self, wanted: list[str]) -> Iterator[Record]:
        import pyarrow as pa

        present = self.columns or set()
        top = sorted({name if name in present else name.split(".", 1)[0] for name in wanted})
        top = [name for name in top if name in present]
        number = 0
        try:
            for batch in self._parquet.iter_batches(batch_size=PARQUET_BATCH, columns=top or None):
                read = {name: _pylist(_column(batch, name), pa) for name in wanted}
                binary = any(_is_binary(_column(batch, name), pa) for name in wanted)
                columns = {name: values for name, values in read.items() if values is not None}
                for i in range(batch.num_rows):
                    number += 1
                    data = {name: values[i] for name, values in columns.items()}
                    yield Record(f"row {number}", data, undecodable=binary)
        except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            yield Record(f"row {number + 1}", None, f"the rest of the file cannot be read: {first}")


class _Broken(Exception):
    """The file stops being readable (a truncated .gz, a read error) at this line."""

    def __init__(self, line: int, why: str) -> None:
        super().__init__(why)
        self.line = line


def _json_reason(exc: ValueError) -> str:
    msg = getattr(exc, "msg", None)
    column = getattr(exc, "colno", None)
    return f"{msg} at column {column}" if msg and column else str(exc)


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _arrow_types(schema: Any) -> dict[str, str]:
    """Column -> Arrow type for every column and every field nested in a struct ("meta.headline")."""
    import pyarrow as pa

    out: dict[str, str] = {}

    def walk(prefix: str, field: Any) -> None:
        out[prefix] = str(field.type)
        if pa.types.is_struct(field.type):
            for child in field.type:
                walk(f"{prefix}.{child.name}", child)

    for field in schema:
        walk(field.name, field)
    return out


def _column(batch: Any, name: str) -> Any:
    """A column of the batch by name, reaching into structs for dotted names; None when absent."""
    import pyarrow.compute as pc

    if name in batch.schema.names:
        return batch.column(name)
    head, _, rest = name.partition(".")
    if not rest or head not in batch.schema.names:
        return None
    column = batch.column(head)
    for part in rest.split("."):
        try:
            column = pc.struct_field(column, part)
        except (KeyError, ValueError, TypeError, NotImplementedError):
            return None
    return column


def _undecodable(fields: list[str]) -> bool:
    """True when a field holds a byte kept by surrogateescape (CSV text is always decoded so)."""
    return any("\udc80" <= c <= "\udcff" for f in fields if not f.isascii() for c in f)


def _is_binary(column: Any, pa: Any) -> bool:
    return column is not None and (pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type))


def _pylist(column: Any, pa: Any) -> list[Any] | None:
    """Python values of a column; binary becomes text decoded per value (bad bytes kept escaped)."""
    if column is None:
        return None
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    values = column.to_pylist()
    if _is_binary(column, pa):
        return [None if v is None else v.decode("utf-8", "surrogateescape") for v in values]
    return values
