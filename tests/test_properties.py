"""Property-based tests (hypothesis): dates, normalization, ingest rows (checked one by one and
through real JSONL and CSV files) and the strict CSV reader. Example counts are bounded to keep
the suite fast; the settings properties are in test_settings.py."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dateutil import parser as dateutil_parser
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from recommender import Recommender
from recommender.ingest import normalize as norm
from recommender.ingest.csvparse import parse_records
from recommender.ingest.dates import DateError, _day_month_year, parse_date
from recommender.ingest.readers import Record
from recommender.ingest.rows import Limits, check

from .conftest import stored_article

DHAKA = ZoneInfo("Asia/Dhaka")
BENGALI_DIGITS = str.maketrans("0123456789", "০১২৩৪৫৬৭৮৯")
BENGALI_MONTHS = [
    "জানুয়ারি",
    "ফেব্রুয়ারি",
    "মার্চ",
    "এপ্রিল",
    "মে",
    "জুন",
    "জুলাই",
    "আগস্ট",
    "সেপ্টেম্বর",
    "অক্টোবর",
    "নভেম্বর",
    "ডিসেম্বর",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
FAST = settings(max_examples=200, deadline=None)
SLOW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

moments = st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(2199, 12, 30))
offsets = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


# --- dates --------------------------------------------------------------------------------------
@FAST
@given(moments, offsets)
def test_iso_dates_read_back_exactly(moment: datetime, zone: timezone) -> None:
    aware = moment.replace(tzinfo=zone)
    assert parse_date(aware.isoformat()) == aware.astimezone(UTC)


@FAST
@given(moments.map(lambda m: m.replace(second=0, microsecond=0)))
def test_bengali_printed_dates_are_read_in_the_given_zone(moment: datetime) -> None:
    printed = f"প্রকাশ : {moment.day:02d} {BENGALI_MONTHS[moment.month - 1]} {moment.year}, {moment:%H:%M}"
    assert parse_date(printed.translate(BENGALI_DIGITS), DHAKA) == moment.replace(tzinfo=DHAKA).astimezone(
        UTC
    )


@FAST
@given(moments.map(lambda m: m.replace(second=0, microsecond=0)), st.integers(0, 3), st.booleans())
def test_the_fast_path_agrees_with_dateutil(moment: datetime, shape: int, short: bool) -> None:
    month = MONTHS[moment.month - 1][:3] if short else MONTHS[moment.month - 1]
    hour12 = moment.hour % 12 or 12
    ampm = "AM" if moment.hour < 12 else "PM"
    text = [
        f"{moment.day} {month} {moment.year}",
        f"{moment.day:02d} {month} {moment.year}, {moment:%H:%M}",
        f"{month} {moment.day}, {moment.year} {hour12}:{moment.minute:02d} {ampm}",
        f"{moment.day} {month}, {moment.year} {moment:%H:%M:%S}",
    ][shape]
    fast = _day_month_year(text)
    assert fast is not None, text
    assert fast == dateutil_parser.parse(text, dayfirst=True)


@FAST
@given(st.text(max_size=40))
def test_any_text_is_a_date_or_a_date_error(text: str) -> None:
    try:
        value = parse_date(text, DHAKA, reference=datetime(2025, 6, 1, tzinfo=UTC))
    except DateError:
        return
    assert value is None or (value.tzinfo is UTC and 1899 <= value.year <= 2201)


# --- normalization ------------------------------------------------------------------------------
@FAST
@given(st.text())
def test_clean_text_is_nfc_stripped_and_idempotent(text: str) -> None:
    clean = norm.clean_text(text)
    assert clean == norm.clean_text(clean)
    assert unicodedata.is_normalized("NFC", clean) and clean == clean.strip()


@FAST
@given(st.text())
def test_titles_are_one_line(text: str) -> None:
    title = norm.clean_title(text)
    assert title == norm.clean_title(title) and not any(c.isspace() and c != " " for c in title)
    assert "  " not in title


@FAST
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_language_guess_counts_scripts(text: str) -> None:
    bengali = sum("\u0980" <= c <= "\u09ff" for c in text)
    latin = sum(c.isascii() and c.isalpha() for c in text)
    expected = None if bengali == latin == 0 else ("bn" if bengali >= latin else "en")
    assert norm.guess_language(text) == expected


@FAST
@given(st.text(), st.text(), st.text(), st.text())
def test_content_hash_tells_texts_apart(t1: str, b1: str, t2: str, b2: str) -> None:
    t1, t2 = norm.clean_title(t1), norm.clean_title(t2)  # titles as ingest stores them
    assume((t1, b1) != (t2, b2))
    assert norm.content_hash(t1, b1) != norm.content_hash(t2, b2)


# --- rows -------------------------------------------------------------------------------------
HIDDEN = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\u2028\u2029"
printable = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters=HIDDEN)
ids = st.text(printable, min_size=1, max_size=40).filter(lambda s: s.strip())
texts = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\r"), max_size=80
)
texts = texts.filter(lambda s: s.strip())
junk = st.one_of(
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.floats(allow_nan=True),
    st.booleans(),
)
FIELDS = ("id", "title", "body", "url", "section", "language", "published_at", "deleted")
SOURCES = {f: f for f in FIELDS} | {"updated_at": None, "fetched_at": None}
LIMITS = Limits(1_000, 200_000)


def checked(data: dict) -> object:
    return check("f.jsonl", Record("line 1", data), SOURCES, UTC, LIMITS, False)


@FAST
@given(ids, texts, texts)
def test_a_valid_row_is_stored_as_cleaned(ident: str, title: str, body: str) -> None:
    outcome = checked({"id": ident, "title": title, "body": body})
    assert outcome.rejection is None and outcome.article is not None
    assert outcome.article["external_id"] == norm.clean_text(ident)
    assert outcome.article["title"] == norm.clean_title(title)
    assert outcome.article["body"] == norm.clean_text(body)


@FAST
@given(st.sampled_from(FIELDS), junk)
def test_a_wrong_type_is_rejected_naming_its_field(field: str, value: object) -> None:
    assume(not (field == "deleted" and isinstance(value, bool)))
    assume(not (field == "id" and isinstance(value, int) and not isinstance(value, bool)))
    outcome = checked({"id": "x", "title": "T", "body": "B", field: value})
    assert outcome.article is None and outcome.removal is None
    assert outcome.rejection is not None and outcome.rejection.field == field
    assert outcome.rejection.location == "line 1" and "\n" not in str(outcome.rejection)


@pytest.mark.slow
@SLOW
@given(
    st.lists(st.tuples(ids, texts, texts), min_size=1, max_size=6, unique_by=lambda r: norm.clean_text(r[0]))
)
def test_rows_survive_a_jsonl_and_a_csv_file_unchanged(tmp_path_factory, rows) -> None:
    folder = tmp_path_factory.mktemp("prop")
    jsonl = folder / "a.jsonl"
    jsonl.write_text("".join(json.dumps({"id": i, "title": t, "body": b}) + "\n" for i, t, b in rows))
    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    writer.writerow(["id", "title", "body"])
    writer.writerows(rows)
    table = folder / "a.csv"
    table.write_bytes(handle.getvalue().encode())
    for path in (jsonl, table):
        with Recommender(folder / path.suffix.lstrip(".")) as rec:
            report = rec.ingest([path])
            assert (report.added, report.rejected_count) == (len(rows), 0), report.rejected
            for ident, title, _ in rows:
                assert stored_article(rec, norm.clean_text(ident)).title == norm.clean_title(title)


@FAST
@given(
    st.lists(
        st.lists(
            st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=8), min_size=3, max_size=3
        ),
        max_size=5,
    )
)
def test_strict_csv_reads_back_what_a_csv_writer_wrote(rows: list[list[str]]) -> None:
    handle = io.StringIO(newline="")
    csv.writer(handle, lineterminator="\n").writerows([["a", "b", "c"], *rows])
    lines = enumerate(handle.getvalue().split("\n")[:-1], 1)
    parsed = [fields for _, _, fields, error in parse_records(lines, ",") if error is None]
    assert parsed == [["a", "b", "c"], *rows]


def test_csv_reader_example(tmp_path: Path) -> None:
    """A readable example of the property above (and of a blank row being skipped)."""
    lines = enumerate(["a,b,c", '"x,1","say ""hi""","two', 'lines"', "", "p,q,r"], 1)
    assert [f for _, _, f, _ in parse_records(lines, ",")] == [
        ["a", "b", "c"],
        ["x,1", 'say "hi"', "two\nlines"],
        ["p", "q", "r"],
    ]
