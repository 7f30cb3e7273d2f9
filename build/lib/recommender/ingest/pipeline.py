"""Ingest: read each file row by row, check every row, store each file in one transaction.

Every row either lands in the store or is reported as a Rejection naming its file, line or row,
field and reason; good rows are stored even when their neighbours are bad. Rows travel in batches
of BATCH into a staging table (store/staging.py), so memory stays bounded for files of any size,
and each file is committed whole or not at all. An id that appears twice, in one file or in two
files of the same ingest, is stored once: the first row wins and the repeat is reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from ..errors import UnreadableInput
from ..store import Store
from ..store.staging import Staging
from .readers import Record, Source, check_required, resolve_sources
from .report import IngestReport, Rejection, RejectsFile
from .rows import Limits, check, to_arrow

BATCH = 5_000  # rows checked and staged at a time
SNIFF = 1_000  # JSONL rows read before the file's field names are settled


def ingest(
    store: Store,
    paths: Iterable[Path],
    field_map: dict[str, str] | None = None,
    section_from_url: bool = False,
    timezone: str | None = None,
    rejects: Path | None = None,
) -> IngestReport:
    """Read each file, check every row and store the good ones; see IngestReport.

    `rejects`: a CSV file that receives every rejected row and warning as it happens (its folder
    is created; a path that cannot be written fails before anything is read).
    """
    settings = store.settings()
    zone = ZoneInfo(timezone or settings.timezone)
    limits = Limits(settings.max_title_chars, settings.max_body_chars)
    report = IngestReport()
    out = RejectsFile(rejects) if rejects is not None else None
    staging = Staging(store)
    try:
        for path in paths:
            _one_file(Path(path), staging, field_map or {}, zone, limits, section_from_url, report, out)
    finally:
        staging.close()
        if out is not None:
            out.close()
    return report


def _one_file(
    path: Path,
    staging: Staging,
    field_map: dict[str, str],
    zone: ZoneInfo,
    limits: Limits,
    section_from_url: bool,
    report: IngestReport,
    out: RejectsFile | None,
) -> None:
    report.files += 1
    name = path.name

    def reject(item: Rejection) -> None:
        report.reject(item)
        if out is not None:
            out.add(item)

    def warn(item: Rejection) -> None:
        item = Rejection(name, item.location, item.field, item.reason, item.id)
        report.warn(item)
        if out is not None:
            out.add(item, "warning")

    try:
        source = Source(path)
        records, sources = _settle_fields(source, field_map)
        staging.begin()
        batch: list[tuple[int, str, dict | None, str | None]] = []
        count = 0
        for ordinal, record in enumerate(records):
            count += 1
            report.rows += 1
            outcome = check(name, record, sources, zone, limits, section_from_url)
            if outcome.rejection is not None:
                reject(outcome.rejection)
                continue
            for warning in outcome.warnings:
                warn(warning)
            batch.append((ordinal, record.location, outcome.article, outcome.removal))
            if len(batch) >= BATCH:
                staging.append(to_arrow(batch))
                batch = []
        if batch:
            staging.append(to_arrow(batch))
        if count == 0:
            raise UnreadableInput(
                f"{path}: no rows" + (" after the header" if source.kind != "parquet" else "")
            )
    except UnreadableInput as exc:
        staging.discard()
        report.unreadable.append(str(exc))
        return
    for location, ident, first in staging.repeats():
        reject(Rejection(name, location, "id", f"id repeated (first at {first})", ident))
    stored = staging.commit(name)
    report.added += stored.added
    report.updated += stored.updated
    report.unchanged += stored.unchanged
    report.removed += stored.removed


def _settle_fields(
    source: Source, field_map: dict[str, str]
) -> tuple[Iterator[Record], dict[str, str | None]]:
    """Which input field feeds each of ours. CSV and Parquet say up front; for JSONL the field
    names of the first SNIFF rows decide, for the whole file."""
    if source.columns is not None:
        present = source.columns
        sources = resolve_sources(present, field_map)
        check_required(source.path, sources, present, field_map)
        _check_column_types(source, sources)
        wanted = sorted({s for s in sources.values() if s is not None})
        return source.records(wanted), sources
    stream = source.records([])
    head: list[Record] = []
    for record in stream:
        head.append(record)
        if len(head) >= SNIFF:
            break
    present = {key for r in head if r.data is not None for key in r.data}
    sources = resolve_sources(present, field_map)
    if any(r.data is not None for r in head):  # a file of only broken lines: each row says why
        check_required(source.path, sources, present, field_map)
    return _chain(head, stream), sources


def _chain(head: list[Record], rest: Iterator[Record]) -> Iterator[Record]:
    yield from head
    yield from rest


# Arrow types a Parquet column may have for each of our fields (checked once per file).
_TEXT = ("string", "large_string", "string_view", "binary", "large_binary", "null")
_ALLOWED = {
    "id": (*_TEXT, "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"),
    "published_at": (*_TEXT, "timestamp", "date32", "date64"),
    "updated_at": (*_TEXT, "timestamp", "date32", "date64"),
    "fetched_at": (*_TEXT, "timestamp", "date32", "date64"),
    "deleted": (*_TEXT, "bool", "int8", "int16", "int32", "int64"),
    # render fields: shapes are checked row by row (rows.render_fields), a bad one costs the field
    "image": (*_TEXT, "list", "large_list", "struct"),
    "authors": (*_TEXT, "list", "large_list", "struct"),
    "tags": (*_TEXT, "list", "large_list"),
}


def _check_column_types(source: Source, sources: dict[str, str | None]) -> None:
    """A Parquet column of the wrong type (a list as title, a struct as body) fails its file, naming it."""
    for ours, src in sources.items():
        kind = source.column_types.get(src or "")
        if kind is None:
            continue
        base = kind.split("[", 1)[0].split("<", 1)[0]
        if base == "dictionary":
            base = kind.split("value=", 1)[-1].split(",", 1)[0]
        if base not in _ALLOWED.get(ours, _TEXT):
            expected = (
                "text or a whole number" if ours == "id" else "a date" if ours.endswith("_at") else "text"
            )
            raise UnreadableInput(
                f"{source.path}: column {src!r} (for {ours}) holds {kind}, expected {expected}"
            )
