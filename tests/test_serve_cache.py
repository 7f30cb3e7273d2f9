"""HTTP caching: ETag and 304, Cache-Control, and the in-process cache dropped when the build or the
overlay moves (a removal, an editor's pin), with its hits counted in /metrics."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from recommender import Recommender
from recommender.serve import create_app
from recommender.serve.cache import CachePolicy, matches

from .serve_support import build_store


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return build_store(tmp_path / "store")


def cache_counts(client: TestClient) -> dict[str, float]:
    text = client.get("/metrics").text
    return {
        m[0]: float(m[1])
        for m in re.findall(r'recommender_sidebar_cache_total\{result="(\w+)"\} (\S+)', text)
    }


def test_etag_and_304(home: Path) -> None:
    with TestClient(create_app(home)) as c:
        first = c.get("/v1/related/intl-1")
        etag = first.headers["etag"]
        assert first.status_code == 200 and etag.startswith('"') and first.json()["items"]
        assert first.headers["cache-control"] == "public, max-age=300, stale-if-error=86400"
        again = c.get("/v1/related/intl-1", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        assert c.get("/v1/related/intl-1", headers={"If-None-Match": f'W/{etag}, "x"'}).status_code == 304
        other = c.get("/v1/related/intl-1?n=3", headers={"If-None-Match": etag})
        assert other.status_code == 200 and other.headers["etag"] != etag  # another request, another answer
        assert c.get("/v1/related", params={"url": "https://news.example/international/intl-1"}).headers[
            "etag"
        ]


def test_cache_hits_are_counted_and_a_write_drops_the_cache(home: Path) -> None:
    with TestClient(create_app(home)) as c:
        first = c.get("/v1/related/intl-1")
        assert c.get("/v1/related/intl-1").content == first.content
        counts = cache_counts(c)
        assert counts["hit"] == 1 and counts["miss"] == 1
        gone = first.json()["items"][0]["id"]
        Recommender(home).remove([gone])  # the overlay moves: cached answers are stale
        after = c.get("/v1/related/intl-1", headers={"If-None-Match": first.headers["etag"]})
        assert after.status_code == 200 and gone not in [it["id"] for it in after.json()["items"]]
        assert after.headers["etag"] != first.headers["etag"]
        assert cache_counts(c)["dropped"] == 1


def test_an_empty_sidebar_is_kept_for_less_time(home: Path) -> None:
    with TestClient(create_app(home, cache=CachePolicy(max_age=120, empty_max_age=10))) as c:
        full = c.get("/v1/related/intl-1")
        assert full.headers["cache-control"].startswith("public, max-age=120,")
        empty = c.get("/v1/related/en-1?exclude_section=international")
        assert empty.json()["items"] == [] and empty.headers["cache-control"].startswith(
            "public, max-age=10,"
        )


def test_with_the_cache_off_every_request_is_ranked_and_304_still_works(home: Path) -> None:
    with TestClient(create_app(home, cache=CachePolicy(entries=0))) as c:
        first = c.get("/v1/related/intl-1")
        assert (
            c.get("/v1/related/intl-1", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
        )
        assert cache_counts(c).get("hit", 0) == 0


def test_batch_answers_keep_the_order_asked(home: Path) -> None:
    with TestClient(create_app(home)) as c:
        ab = c.get("/v1/related/batch?ids=intl-1&ids=metro-1").json()["sidebars"]
        ba = c.get("/v1/related/batch?ids=metro-1&ids=intl-1").json()["sidebars"]
        assert [s["article_id"] for s in ab] == ["intl-1", "metro-1"]
        assert [s["article_id"] for s in ba] == ["metro-1", "intl-1"]


def test_if_none_match_forms() -> None:
    assert matches('"a"', '"a"') and matches('W/"a"', '"a"') and matches("*", '"a"')
    assert not matches(None, '"a"') and not matches('"b"', '"a"')
