"""Reading article files (JSONL, CSV, Parquet) through DuckDB's own readers into one dict per row.

Each row carries its place in the file (`_location`: "line 12" or "row 3") and, when it could not
be read, an `_error`; checking the fields is rows.py's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb

from ..errors import InvalidSetting, UnreadableInput

FIELDS = (
    "id", "url", "title", "body", "section", "language", "published_at", "updated_at", "deleted",
    "fetched_at",  # when the page was fetched: places relative dates such as "৩ ঘণ্টা আগে"
)  # fmt: skip
REQUIRED = ("id", "title", "body")
MAX_LINE_BYTES = 256 * 1024 * 1024


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


def _format_of(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".gz", ".zst"):
        name = name.removesuffix(suffix)
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith(".parquet"):
        return "parquet"
    raise UnreadableInput(f"{path}: unknown file type; use .jsonl, .csv or .parquet (optionally .gz)")


def read_rows(con: duckdb.DuckDBPyConnection, path: Path, field_map: dict[str, str]) -> Iterator[dict]:
    """Yield one dict per input row: our field names, plus _location and _error where relevant."""
    if not path.exists():
        raise UnreadableInput(f"{path}: no such file")
    if path.is_dir():
        raise UnreadableInput(f"{path}: is a directory, not a file")
    kind = _format_of(path)
    try:
        if kind == "jsonl":
            yield from _read_jsonl(con, path, field_map)
        else:
            yield from _read_table(con, path, field_map, kind)
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnreadableInput(f"{path}: cannot be read as {kind}: {first_line}") from exc


# Field names tried, in order, when the caller gives no --field mapping for a field.
ALIASES = {
    "id": ("id", "article_id", "url"),
    "title": ("title", "headline"),
    "body": ("body", "text", "content"),
    "published_at": ("published_at", "date", "published", "pubdate", "publication_date"),
    "updated_at": ("updated_at", "updated", "modified"),
    "fetched_at": ("fetched_at", "crawled_at", "scraped_at"),
}


def _sources(present: set[str], field_map: dict[str, str]) -> dict[str, str | None]:
    """Which input field feeds each of ours: the mapping, else the first alias the file has."""
    out: dict[str, str | None] = {}
    for ours in FIELDS:
        if ours in field_map:
            out[ours] = field_map[ours]
        else:
            out[ours] = next((a for a in ALIASES.get(ours, (ours,)) if a in present), None)
    return out


def _check_required(path: Path, sources: dict[str, str | None], present: set[str], field_map: dict) -> None:
    # A file of deletions needs ids only; rows are checked one by one later.
    required = ("id",) if sources["deleted"] in present else REQUIRED
    for ours in required:
        src = sources[ours]
        if src is None or (src not in present and "." not in src):
            shown = ", ".join(sorted(present)) or "none"
            hint = f"; map one with --field {ours}=NAME" if ours not in field_map else ""
            raise UnreadableInput(
                f"{path}: no field {src or ours!r} for required field {ours} (fields: {shown}){hint}"
            )


def _json_path(name: str) -> str:
    return "$." + ".".join('"' + part.replace('"', '\\"') + '"' for part in name.split("."))


def _read_jsonl(con: duckdb.DuckDBPyConnection, path: Path, field_map: dict[str, str]) -> Iterator[dict]:
    # Each line is read as one text value so that line numbers survive and a bad line is a
    # reported row, not a failed file; DuckDB's JSON functions then pick the fields.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE lines AS SELECT row_number() OVER () AS n, line, "
        "line IS NOT NULL AND trim(line) <> '' AS filled, json_valid(line) AS valid "
        "FROM read_csv($path, columns={'line': 'VARCHAR'}, header=false, delim=chr(0), quote='', "
        f"escape='', auto_detect=false, max_line_size={MAX_LINE_BYTES}, compression='auto')",
        {"path": str(path)},
    )
    # Step by step: JSON functions raise on invalid text, and DuckDB may reorder AND terms.
    con.execute("CREATE OR REPLACE TEMP TABLE docs AS SELECT n, line::JSON AS doc FROM lines WHERE valid")
    con.execute("CREATE OR REPLACE TEMP TABLE kinds AS SELECT n, doc, json_type(doc) AS kind FROM docs")
    bad = dict(
        con.execute(
            "SELECT n, 'line is not valid JSON' FROM lines WHERE filled AND NOT valid "
            "UNION ALL SELECT n, 'line is JSON but not an object' FROM kinds WHERE kind <> 'OBJECT'"
        ).fetchall()
    )
    con.execute("CREATE OR REPLACE TEMP TABLE objects AS SELECT n, doc FROM kinds WHERE kind = 'OBJECT'")
    present = {r[0] for r in con.execute("SELECT DISTINCT unnest(json_keys(doc)) FROM objects").fetchall()}
    sources = _sources(present, field_map)
    _check_required(path, sources, present, field_map)
    picks = ", ".join(
        (f"json_extract_string(doc, '{_json_path(src)}')" if src else "NULL") + f' AS "{ours}"'
        for ours, src in sources.items()
    )
    cursor = con.execute(f"SELECT n, {picks} FROM objects ORDER BY n")
    names = [d[0] for d in cursor.description]
    while batch := cursor.fetchmany(10_000):
        for values in batch:
            row = dict(zip(names, values, strict=True))
            n = row.pop("n")
            yield from ({"_location": f"line {b}", "_error": bad.pop(b)} for b in sorted(bad) if b < n)
            row["_location"] = f"line {n}"
            yield row
    yield from ({"_location": f"line {b}", "_error": bad[b]} for b in sorted(bad))
    con.execute("DROP TABLE lines; DROP TABLE docs; DROP TABLE kinds; DROP TABLE objects")


def _read_table(
    con: duckdb.DuckDBPyConnection, path: Path, field_map: dict[str, str], kind: str
) -> Iterator[dict]:
    if kind == "csv":
        con.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
        source = "read_csv($path, header=true, all_varchar=true, store_rejects=true)"
    else:
        source = "read_parquet($path)"
    describe = con.execute(f"DESCRIBE SELECT * FROM {source}", {"path": str(path)}).fetchall()
    present = {r[0] for r in describe}
    sources = _sources(present, field_map)
    _check_required(path, sources, present, field_map)
    picks = ", ".join(
        (f'CAST("{src}" AS VARCHAR)' if src in present else "NULL") + f' AS "{ours}"'
        for ours, src in sources.items()
    )
    cursor = con.execute(f"SELECT {picks} FROM {source}", {"path": str(path)})
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()  # before any other query: that would close this result
    # Rows are numbered as data rows (1 = the first row after a CSV header). DuckDB reports
    # malformed CSV records by record number (header = 1) and leaves them out of the result,
    # so good rows are numbered around them.
    malformed: dict[int, str] = {}
    if kind == "csv":
        for line, message in con.execute("SELECT line, error_message FROM reject_errors").fetchall():
            malformed.setdefault(int(line) - 1, message)
    number = 0
    for values in rows:
        number += 1
        while number in malformed:
            yield {"_location": f"row {number}", "_error": f"malformed CSV: {malformed.pop(number)}"}
            number += 1
        row = dict(zip(names, values, strict=True))
        row["_location"] = f"row {number}"
        yield row
    for bad_row in sorted(malformed):
        yield {"_location": f"row {bad_row}", "_error": f"malformed CSV: {malformed[bad_row]}"}


# --- checking -----------------------------------------------------------------------------------
