"""Ingest of the real Bengali/English crawl in ../shared (skipped where it is absent)."""

from collections import Counter

import pytest

from .conftest import SHARED

CRAWL = SHARED / "data" / "bangla_news" / "articles.jsonl.gz"
pytestmark = pytest.mark.skipif(not CRAWL.exists(), reason="shared crawl not available")


def test_crawl_ingests_with_every_rejection_explained(rec) -> None:
    report = rec.ingest([CRAWL], section_from_url=True, timezone="Asia/Dhaka")
    assert report.rows == 5170 and not report.unreadable
    assert report.added + len(report.rejected) == report.rows
    kinds = Counter(r.reason.split(" '")[0].split(" (")[0] for r in report.rejected)
    # re-crawled urls and one empty title; relative and year-less dates are placed by crawled_at
    assert kinds == {"id repeated": 102, "missing title": 1}
    stats = rec.stats()
    assert stats.languages == {"en": 2577, "bn": 2490}
    assert stats.undated == 2232  # the crawl has no date for these
    sections = {s.name: s.articles for s in rec.sections()}
    assert sections["sports"] > 200 and sections["world"] > 200


def test_crawl_without_fetch_times_rejects_relative_dates(rec) -> None:
    report = rec.ingest([CRAWL], fields=["fetched_at=no_such_field"], timezone="Asia/Dhaka")
    kinds = Counter(r.reason.split(" '")[0] for r in report.rejected)
    assert kinds["relative date"] == 25 and kinds["date"] == 2
