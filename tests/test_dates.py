from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from recommender.ingest.dates import DateError, parse_date, parse_published_updated

DHAKA = ZoneInfo("Asia/Dhaka")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("প্রকাশ : ০৫ জানুয়ারি ২০২৫, ১৩:৪১", datetime(2025, 1, 5, 7, 41, tzinfo=UTC)),
        ("২৫ ডিসেম্বর ২০২৫, ০৯:০৫", datetime(2025, 12, 25, 3, 5, tzinfo=UTC)),
        ("Published: 23 Apr 2025, 15: 58 ", datetime(2025, 4, 23, 9, 58, tzinfo=UTC)),
        ("2025-12-17 12:49:00", datetime(2025, 12, 17, 6, 49, tzinfo=UTC)),
        ("2025-11-03T09:15:00+06:00", datetime(2025, 11, 3, 3, 15, tzinfo=UTC)),
        ("2025-11-03T09:15:00Z", datetime(2025, 11, 3, 9, 15, tzinfo=UTC)),
        ("Nov 7, 2025 4:30 PM", datetime(2025, 11, 7, 10, 30, tzinfo=UTC)),
        ("07 November 2025, 18:05", datetime(2025, 11, 7, 12, 5, tzinfo=UTC)),
        ("Fri, 07 Nov 2025 18:05:00 +0000", datetime(2025, 11, 7, 18, 5, tzinfo=UTC)),
        ("05/01/2025", datetime(2025, 1, 4, 18, 0, tzinfo=UTC)),  # day first, as BD sites write it
    ],
)
def test_parses_news_site_formats(raw: str, expected: datetime) -> None:
    assert parse_date(raw, DHAKA) == expected


def test_published_and_updated_in_one_field() -> None:
    published, updated = parse_published_updated(
        "\n20 May, 2019, 09:05\nUpdate: 20 May, 2019, 10:35\n", DHAKA
    )
    assert published == datetime(2019, 5, 20, 3, 5, tzinfo=UTC)
    assert updated == datetime(2019, 5, 20, 4, 35, tzinfo=UTC)


def test_only_update_time_is_used_as_publication_time() -> None:
    published, updated = parse_published_updated("Updated: 23 Apr 2025, 15: 58", DHAKA)
    assert published == updated == datetime(2025, 4, 23, 9, 58, tzinfo=UTC)


def test_empty_is_no_date() -> None:
    assert parse_date(None) is None
    assert parse_date("   ") is None


FETCHED = datetime(2025, 12, 18, 6, 37, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("৩ ঘণ্টা আগে", datetime(2025, 12, 18, 3, 37, tzinfo=UTC)),
        ("45 minutes ago", datetime(2025, 12, 18, 5, 52, tzinfo=UTC)),
        ("2 hrs ago", datetime(2025, 12, 18, 4, 37, tzinfo=UTC)),
        ("30 secs ago", datetime(2025, 12, 18, 6, 36, 30, tzinfo=UTC)),
        ("২ দিন আগে", datetime(2025, 12, 16, 6, 37, tzinfo=UTC)),
        ("গতকাল", datetime(2025, 12, 17, 6, 37, tzinfo=UTC)),
        ("২২: ০১ , ডিসেম্বর ১৬", datetime(2025, 12, 16, 16, 1, tzinfo=UTC)),  # no year: the fetch's
    ],
)
def test_relative_and_yearless_dates_placed_by_fetch_time(raw: str, expected: datetime) -> None:
    assert parse_date(raw, DHAKA, reference=FETCHED) == expected


def test_yearless_date_after_the_fetch_is_last_year() -> None:
    fetched = datetime(2026, 1, 3, tzinfo=UTC)
    assert parse_date("১০:০০, ডিসেম্বর ৩০", DHAKA, reference=fetched).year == 2025


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("৯ ঘণ্টা আগে", "relative date"),
        ("3 hours ago", "relative date"),
        ("১২: ৩০ , ডিসেম্বর ১৫", "no year"),
        ("not a date at all", "cannot parse"),
        ("0201-01-01", "implausible year"),
    ],
)
def test_rejects_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(DateError, match=reason):
        parse_date(raw)
