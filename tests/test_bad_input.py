"""The bad-input corpus (tests/fixtures/bad_input, synthetic text): every bad row gets one clear line
naming file, line or row and field; every good row is stored; nothing prints a traceback."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender import Recommender
from recommender.cli import app

from .conftest import stored_article

CORPUS = Path(__file__).resolve().parent / "fixtures" / "bad_input"

# file -> (rows stored, {(location, field): words the reason holds}, words of the unreadable line)
EXPECTED: dict[str, tuple[int, dict[tuple[str, str | None], str], str | None]] = {
    "bad_byte.jsonl": (299, {("line 151", "title"): "invalid UTF-8: byte 0xE9"}, None),
    "mixed_encodings.csv": (2, {("row 2 (line 3)", "body"): "invalid UTF-8: byte 0xEF"}, None),
    "stray_quote.csv": (
        4,
        {
            ("row 2 (line 3)", None): "stray quote in unquoted field 2",
            ("row 4 (line 5)", None): "a quote on line 5 was never closed",
            ("row 6 (line 8)", None): "text after the closing quote of field 3",
        },
        None,
    ),
    "unclosed_quote.csv": (2, {("row 1 (line 2)", None): "the quote opening field 2 never closes"}, None),
    "typed.jsonl": (
        2,
        {
            ("line 2", "title"): "expected text, got a list",
            ("line 3", "body"): "expected text, got an object",
            ("line 4", "id"): "expected text or a whole number, got the number 4.5",
            ("line 5", "id"): "expected text or a whole number, got true",
            ("line 6", "section"): "expected text, got the number 7",
            ("line 7", "published_at"): "expected text, got the number 1700000000",
            ("line 8", "url"): "expected text, got a list",
            ("line 9", "deleted"): "expected true or false, got 'maybe'",
        },
        None,
    ),
    "typed.parquet": (
        1,
        {("row 2", "body"): "invalid UTF-8: byte 0xE9", ("row 3", "title"): "missing title"},
        None,
    ),
    "list_title.parquet": (0, {}, "column 'title' (for title) holds list<element: string>, expected text"),
    "struct_body.parquet": (0, {}, "column 'body' (for body) holds struct<x: int64>, expected text"),
    "no_rows.parquet": (0, {}, "empty file (no rows)"),
    "empty.jsonl": (0, {}, "empty file"),
    "blank.jsonl": (0, {}, "empty file"),
    "empty.csv": (0, {}, "empty file"),
    "header_only.csv": (0, {}, "no rows after the header"),
    "utf16.jsonl": (0, {}, "UTF-16-encoded; save it as UTF-8"),
    "no_body.jsonl": (0, {}, "no field 'body' for required field body"),
    "wrong_type.xml": (0, {}, "unknown file type"),
    "bom.jsonl": (2, {}, None),
    "bom.csv": (1, {}, None),
    "crlf.csv": (2, {}, None),
    "crlf.jsonl": (2, {}, None),
    "semicolon.csv": (1, {}, None),
    "hostile_ids.jsonl": (
        2,
        {
            ("line 2", "id"): "holds U+0000 (NUL)",
            ("line 3", "id"): "holds U+000A (LINE FEED)",
            ("line 4", "id"): "holds U+200F (RIGHT-TO-LEFT MARK)",
        },
        None,
    ),
    "long_id.jsonl.gz": (1, {("line 1", "id"): "id is 100,000 characters long; at most 2,048"}, None),
    "not_json.jsonl": (
        2,
        {
            ("line 2", None): "line is not valid JSON",
            ("line 3", None): "line is JSON but not an object (a list)",
            ("line 4", None): "line is JSON but not an object (a string)",
        },
        None,
    ),
    "dup_a.jsonl": (2, {}, None),
    "dup_b.jsonl": (2, {}, None),  # alone: no repeat; with dup_a, see below
    "surrogate.jsonl": (1, {("line 2", "body"): "lone surrogate U+DC80"}, None),
    "huge_body.jsonl.gz": (2, {}, None),
    "markup.jsonl": (3, {}, None),
}


def test_every_corpus_file_has_an_expectation() -> None:
    shipped = {p.name for p in CORPUS.iterdir()}
    assert shipped == {*EXPECTED, "truncated.jsonl.gz"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bad_row_is_named_and_good_rows_kept(rec, name: str) -> None:
    stored, rejected, unreadable = EXPECTED[name]
    report = rec.ingest([CORPUS / name])
    assert report.added == stored
    found = {(r.location, r.field): r.reason for r in report.rejected}
    assert set(found) == set(rejected), found
    for key, words in rejected.items():
        assert words in found[key], (key, found[key])
    assert all(r.file == name for r in report.rejected)
    if unreadable is None:
        assert not report.unreadable
    else:
        assert len(report.unreadable) == 1 and name in report.unreadable[0]
        assert unreadable in report.unreadable[0]
    assert report.added + report.rejected_count == report.rows


def test_truncated_gzip_keeps_the_rows_before_the_break(rec) -> None:
    report = rec.ingest([CORPUS / "truncated.jsonl.gz"])
    assert report.added > 500 and report.rejected_count == 1
    (last,) = report.rejected
    assert (
        last.location == f"line {report.added + 1}" and "the rest of the file cannot be read" in last.reason
    )
    assert stored_article(rec, f"a{report.added}").title == f"Synthetic headline number {report.added}"


def test_a_stray_quote_leaks_into_no_other_row(rec) -> None:
    rec.ingest([CORPUS / "stray_quote.csv"])
    assert stored_article(rec, "q1").title == "Rain, wind and floods"
    assert stored_article(rec, "q3").title == "Plain title"
    assert stored_article(rec, "q7").title == "Seventh title"
    titles = [stored_article(rec, i).title for i in ("q1", "q3", "q5", "q7")]
    assert not any('"' in t for t in titles)


def test_bom_crlf_and_semicolons_leave_no_trace_in_the_data(rec) -> None:
    rec.ingest([CORPUS / n for n in ("bom.csv", "crlf.csv", "semicolon.csv", "crlf.jsonl")])
    assert stored_article(rec, "b1").title == "BOM title"  # the header's first column is "id", not "\ufeffid"
    assert stored_article(rec, "s1").title == "Semicolon title"
    assert not any("\r" in stored_article(rec, i).title for i in ("c1", "c2", "a1"))
    rec.close()
    assert stored(rec.home, "SELECT body FROM articles WHERE external_id = 'c1'") == [("two\nlines",)]


def test_numeric_ids_and_quoted_ids_are_stored(rec) -> None:
    rec.ingest([CORPUS / "typed.jsonl", CORPUS / "hostile_ids.jsonl"])
    assert stored_article(rec, "10").title == "Numeric id"
    assert stored_article(rec, 'say "cheese"').external_id == 'say "cheese"'


def test_duplicate_ids_across_files_keep_the_first(rec) -> None:
    report = rec.ingest([CORPUS / "dup_a.jsonl", CORPUS / "dup_b.jsonl"])
    assert report.added == 3
    (repeat,) = report.rejected
    assert (repeat.file, repeat.location, repeat.field) == ("dup_b.jsonl", "line 1", "id")
    assert repeat.reason == "id repeated (first at dup_a.jsonl:line 2)"
    assert stored_article(rec, "a2").title == "First copy of two"


def test_a_huge_body_is_cut_with_a_warning(rec) -> None:
    report = rec.ingest([CORPUS / "huge_body.jsonl.gz"])
    (warning,) = report.warnings
    assert (warning.location, warning.field) == ("line 1", "body")
    assert warning.reason == "body cut to 200,000 characters (was 52,500,000)"
    rec.close()
    assert stored(rec.home, "SELECT length(body) FROM articles WHERE external_id = 'a1'") == [(200_000,)]


def test_the_body_cap_is_a_setting(rec) -> None:
    rec.set_setting("max_body_chars", "1000")
    report = rec.ingest([CORPUS / "huge_body.jsonl.gz"])
    assert report.warnings[0].reason == "body cut to 1,000 characters (was 52,500,000)"


def test_whole_corpus_through_the_cli_one_line_each(tmp_path: Path) -> None:
    files = sorted(str(p) for p in CORPUS.iterdir())
    rejects = tmp_path / "missing" / "folder" / "rejects.csv"  # a folder that does not exist yet
    result = CliRunner().invoke(
        app,
        ["ingest", *files, "--rejects", str(rejects), "--home", str(tmp_path / "h")],
        env={"COLUMNS": "80"},
    )
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    labelled = [line for line in lines if line.startswith(("rejected:", "unreadable:", "warning:"))]
    for line in labelled:  # one line each, naming the file (and place) it is about
        name = Path(line.split(" ", 2)[1].split(":")[0]).name
        assert name in {Path(f).name for f in files}, line
    with rejects.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rejected = {(r["file"], r["location"], r["field"] or None) for r in rows if r["kind"] == "rejected"}
    summary = result.stdout.strip().splitlines()[-1]
    assert f"{len(rejected)} rejected" in summary  # every rejection is in the file, once
    for name, (_, expected, _) in EXPECTED.items():  # in one ingest, ids repeat across files too
        assert {(name, where, field) for where, field in expected} <= rejected
    assert ("huge_body.jsonl.gz", "line 1", "body") in {
        (r["file"], r["location"], r["field"]) for r in rows if r["kind"] == "warning"
    }


def test_rejects_path_that_cannot_be_written_fails_before_anything_is_stored(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    home = tmp_path / "h"
    result = CliRunner().invoke(
        app,
        ["ingest", str(CORPUS / "bom.jsonl"), "--rejects", str(blocker / "r.csv"), "--home", str(home)],
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("error: --rejects") and result.output.count("\n") == 1
    with Recommender(home) as rec:
        assert rec.stats().articles == 0


@pytest.mark.slow
def test_a_killed_ingest_stores_a_file_whole_or_not_at_all(tmp_path: Path) -> None:
    """SIGKILL at many moments while three files are ingested: each file is all in or all out.

    Most kills are placed exactly: the child kills itself right after its n-th batch was staged or
    its n-th file committed; the others fall at moments spread over a timed run."""
    import signal
    import subprocess
    import sys
    import time

    from .conftest import article, write_jsonl

    files = []
    for f in range(3):
        rows = [article(f"f{f}-{i}", f"title {f} {i}", f"body {f} {i} " * 40) for i in range(1000)]
        files.append(str(write_jsonl(tmp_path / f"f{f}.jsonl", rows)))
    script = """
import os, signal, sys
from recommender import Recommender
from recommender.store.staging import Staging
home, point, count, *files = sys.argv[1:]
calls = 0
if point != "none":
    original = getattr(Staging, point)
    def hooked(self, *args, **kwargs):
        global calls
        result = original(self, *args, **kwargs)
        calls += 1
        if calls == int(count):
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    setattr(Staging, point, hooked)
Recommender(home).ingest(files)
"""

    def run(
        home: Path, point: str = "none", count: int = 0, kill_after: float | None = None
    ) -> tuple[int, ...]:
        proc = subprocess.Popen([sys.executable, "-c", script, str(home), point, str(count), *files])
        if kill_after is not None:
            time.sleep(kill_after)
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        if not (home / "recommender.duckdb").exists():
            return (0, 0, 0)
        if not stored(home, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'articles'")[0][0]:
            return (0, 0, 0)  # killed while the store was being created
        query = "SELECT count(*) FROM articles WHERE external_id LIKE ?"
        return tuple(stored(home, query, [f"f{f}-%"])[0][0] for f in range(3))

    started = time.monotonic()
    assert run(tmp_path / "whole") == (1000, 1000, 1000)
    whole = time.monotonic() - started
    placed = {
        (point, n): run(tmp_path / f"{point}-{n}", point, n) for point in ("append", "commit") for n in (1, 2)
    }
    assert placed[("commit", 1)] == (1000, 0, 0) and placed[("commit", 2)] == (1000, 1000, 0)
    timed = [run(tmp_path / f"timed-{share}", kill_after=share * whole) for share in (0.3, 0.6, 0.9)]
    for counts in [*placed.values(), *timed]:
        assert all(c in (0, 1000) for c in counts), (placed, timed)


def stored(home: Path, query: str, params: list | None = None) -> list[tuple]:
    """Rows of a query on the store's DuckDB file, read-only (the file is the documented store)."""
    import duckdb

    con = duckdb.connect(str(home / "recommender.duckdb"), read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()
