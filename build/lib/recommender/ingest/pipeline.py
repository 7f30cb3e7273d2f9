"""Ingest: read each file, check every row, store the good ones in one upsert per file.

Every row either lands in the store or is reported as a Rejection naming its file, line or row,
field and reason; good rows are stored even when their neighbours are bad.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from ..errors import UnreadableInput
from ..store import Store
from .readers import read_rows
from .report import IngestReport
from .rows import check_rows, to_arrow


def ingest(
    store: Store,
    paths: Iterable[Path],
    field_map: dict[str, str] | None = None,
    section_from_url: bool = False,
    timezone: str | None = None,
) -> IngestReport:
    """Read each file, check every row and upsert the good ones; see IngestReport."""
    settings = store.settings()
    zone = ZoneInfo(timezone or settings.timezone)
    report = IngestReport()
    reader = duckdb.connect()
    try:
        for path in paths:
            report.files += 1
            try:
                raw_rows = list(read_rows(reader, Path(path), field_map or {}))
            except UnreadableInput as exc:
                report.unreadable.append(str(exc))
                continue
            rows, removals = check_rows(Path(path).name, raw_rows, section_from_url, zone, report)
            report.rows += len(raw_rows)
            if rows:
                counts = store.upsert(to_arrow(rows))
                report.added += counts.added
                report.updated += counts.updated
                report.unchanged += counts.unchanged
            if removals:
                removed, _missing = store.remove(removals)
                report.removed += len(removed)
    finally:
        reader.close()
    return report
