"""Checking rows read from files: ids, texts, dates, urls, sections, languages; one rejection per bad row."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pyarrow as pa

from . import normalize as norm
from .dates import DateError, parse_published_updated
from .report import IngestReport, Rejection


def check_rows(
    filename: str,
    rows: list[dict],
    section_from_url: bool,
    zone: ZoneInfo,
    report: IngestReport,
) -> tuple[list[dict], list[str]]:
    good: list[dict] = []
    removals: list[str] = []
    first_seen: dict[str, str] = {}

    def reject(row: dict, fld: str | None, reason: str, ident: str | None = None) -> None:
        report.rejected.append(Rejection(filename, row["_location"], fld, reason, ident))

    for row in rows:
        if "_error" in row:
            reject(row, None, row["_error"])
            continue
        ident = norm.clean_text(row.get("id"))
        if not ident:
            reject(row, "id", "missing id")
            continue
        if ident in first_seen:
            reject(row, "id", f"id repeated (first at {first_seen[ident]})", ident)
            continue
        first_seen[ident] = row["_location"]
        if norm.is_true(row.get("deleted")):
            removals.append(ident)
            continue
        title, body = norm.clean_text(row.get("title")), norm.clean_text(row.get("body"))
        missing = [f for f, v in (("title", title), ("body", body)) if not v]
        if missing:
            reject(row, missing[0], f"missing {' and '.join(missing)}", ident)
            continue
        try:
            fld = "fetched_at"
            fetched = parse_published_updated(row.get("fetched_at"), zone)[0]
            fld = "published_at"
            published, updated = parse_published_updated(row.get("published_at"), zone, fetched)
            if row.get("updated_at"):
                fld = "updated_at"
                updated = parse_published_updated(row["updated_at"], zone, fetched)[0]
        except DateError as exc:
            reject(row, fld, str(exc), ident)
            continue
        url = norm.clean_url(row.get("url"))
        section = norm.clean_section(row.get("section"))
        if section is None and section_from_url:
            section = norm.section_from_url(url)
        good.append(
            {
                "external_id": ident,
                "url": url,
                "title": title,
                "body": body,
                "section": section,
                "language": norm.clean_language(row.get("language"), title, body),
                "published_at": published,
                "updated_at": updated,
                "content_hash": norm.content_hash(title, body),
            }
        )
    return good, removals


_ARROW_SCHEMA = pa.schema(
    [
        ("external_id", pa.string()),
        ("url", pa.string()),
        ("title", pa.string()),
        ("body", pa.string()),
        ("section", pa.string()),
        ("language", pa.string()),
        ("published_at", pa.timestamp("us", tz="UTC")),
        ("updated_at", pa.timestamp("us", tz="UTC")),
        ("content_hash", pa.string()),
    ]
)


def to_arrow(rows: list[dict]) -> pa.Table:
    columns: dict[str, list[object]] = {name: [] for name in _ARROW_SCHEMA.names}
    for row in rows:
        for name in columns:
            columns[name].append(row[name])
    return pa.table(columns, schema=_ARROW_SCHEMA)
