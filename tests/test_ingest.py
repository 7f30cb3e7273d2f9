import gzip
from pathlib import Path

import duckdb
import pytest

from recommender.errors import InvalidSetting
from recommender.ingest import parse_field_map

from .conftest import article, read_store, write_jsonl


def stored_article(rec, external_id: str):
    with read_store(rec.home) as store:
        return store.article(external_id)


def test_jsonl_good_rows_stored_bad_rows_reported_with_line(rec, tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        "\n".join(
            [
                '{"id": "1", "title": "One", "body": "first body", "published_at": "2025-11-01T10:00:00Z"}',
                "",  # blank lines are not rows, but still count for line numbers
                '{"id": "2", "title": "", "body": "no title"}',
                "{not json",
                '{"id": "3", "title": "Three", "body": "third", "published_at": "31/31/2025"}',
                '{"id": "1", "title": "One again", "body": "dup"}',
                '{"title": "no id", "body": "x"}',
                "[1, 2]",
                '{"id": "4", "title": "Four", "body": "fourth", '
                '"published_at": "প্রকাশ : ০৫ নভেম্বর ২০২৫, ১৩:৪১"}',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    report = rec.ingest([path])
    assert (report.added, report.updated, report.unchanged) == (2, 0, 0)
    found = {(r.location, r.field): r.reason for r in report.rejected}
    assert found[("line 3", "title")] == "missing title"
    assert found[("line 4", None)].startswith("line is not valid JSON")
    assert "cannot parse date" in found[("line 5", "published_at")]
    assert found[("line 6", "id")] == "id repeated (first at line 1)"
    assert found[("line 7", "id")] == "missing id"
    assert found[("line 8", None)] == "line is JSON but not an object (a list)"
    assert all(r.file == "a.jsonl" for r in report.rejected)
    assert not report.nothing_read
    stored = stored_article(rec, "4")
    assert stored.published_at is not None and stored.published_at.isoformat() == "2025-11-05T13:41:00+00:00"


def test_reingest_counts_unchanged_and_updated(rec, tmp_path: Path) -> None:
    rows = [article("a", "Alpha", "alpha body"), article("b", "Beta", "beta body")]
    rec.ingest([write_jsonl(tmp_path / "v1.jsonl", rows)])
    rows[1]["body"] = "beta body, corrected"
    report = rec.ingest([write_jsonl(tmp_path / "v2.jsonl", [*rows, article("c", "Gamma", "g")])])
    assert (report.added, report.updated, report.unchanged) == (1, 1, 1)


def test_deleted_flag_removes(rec, tmp_path: Path) -> None:
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", [article("a", "A", "a"), article("b", "B", "b")])])
    report = rec.ingest([write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "deleted": True}])])
    assert report.removed == 1
    assert rec.stats().articles == 1


def test_field_mapping_and_url_as_id(rec, tmp_path: Path) -> None:
    rows = [{"url": "https://x.test/sports/1", "headline": "H", "text": "T", "date": "2025-01-02 03:04:05"}]
    report = rec.ingest([write_jsonl(tmp_path / "m.jsonl", rows)], fields=["title=headline"])
    assert report.added == 1
    stored = stored_article(rec, "https://x.test/sports/1")  # no id field: keyed by url
    assert stored.title == "H" and stored.published_at is not None


def test_section_from_url_option(rec, tmp_path: Path) -> None:
    rows = [{"id": "1", "url": "https://x.test/news/world/asia/1", "title": "t", "body": "b"}]
    rec.ingest([write_jsonl(tmp_path / "s.jsonl", rows)], section_from_url=True)
    assert stored_article(rec, "1").section == "world"


def test_csv_reports_malformed_and_bad_rows(rec, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('id,title,body\n1,One,"multi\nline body"\n2,Two\n3,,empty title\n4,Four,four\n')
    report = rec.ingest([path])
    assert report.added == 2
    reasons = sorted(str(r) for r in report.rejected)
    assert reasons == [
        "a.csv:row 2 (line 4) malformed CSV: expected 3 fields, found 2",
        "a.csv:row 3 (line 5) [title] missing title",
    ]


def test_parquet_and_gzip(rec, tmp_path: Path) -> None:
    parquet = tmp_path / "a.parquet"
    duckdb.sql(
        "SELECT 'p1' AS id, 'Title' AS title, 'Body' AS body, "
        "TIMESTAMPTZ '2025-01-01 00:00:00+00' AS published_at"
    ).write_parquet(str(parquet))
    gz = tmp_path / "b.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"id": "g1", "title": "T", "body": "B"}\n'))
    report = rec.ingest([parquet, gz])
    assert report.added == 2 and not report.rejected
    assert stored_article(rec, "p1").published_at.year == 2025


def test_unreadable_files_named_and_others_still_read(rec, tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [article("a", "A", "a")])
    no_body = write_jsonl(tmp_path / "nobody.jsonl", [{"id": "x", "title": "t"}])
    weird = tmp_path / "a.xml"
    weird.write_text("<x/>")
    report = rec.ingest([tmp_path / "missing.jsonl", no_body, weird, good])
    assert report.added == 1
    text = "\n".join(report.unreadable)
    assert "missing.jsonl: no such file" in text
    assert "nobody.jsonl: no field 'body' for required field body" in text
    assert "a.xml: unknown file type" in text


def test_nothing_read(rec, tmp_path: Path) -> None:
    report = rec.ingest([tmp_path / "missing.jsonl"])
    assert report.nothing_read


def test_field_map_errors() -> None:
    assert parse_field_map(["title=headline"]) == {"title": "headline"}
    with pytest.raises(InvalidSetting, match="OURS=THEIRS"):
        parse_field_map(["title"])
    with pytest.raises(InvalidSetting, match="unknown field 'headline'"):
        parse_field_map(["headline=title"])
