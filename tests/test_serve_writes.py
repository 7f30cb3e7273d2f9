"""Write endpoints: token rules, editors' controls over HTTP, and the CMS push flow through a real
server process (PUT, then the article is in an older story's sidebar; DELETE, then it is gone)."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from recommender.index.folder import current_build
from recommender.index.overlay import Pin, read_overlay
from recommender.serve import create_app

from .serve_support import build_store, free_port, get, running, serve_argv

TOKEN = "t0ken-for-the-tests-only"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NEW_STORY = {
    "title": "আস্তানা সফরের পর পুতিন ও তোকায়েভের যৌথ বিবৃতি",
    "body": "পুতিন কাজাখস্তান সফর আস্তানা তোকায়েভ চুক্তি গ্যাস পাইপলাইন রাশিয়া যৌথ বিবৃতি। "
    "পুতিন কাজাখস্তান সফর আস্তানা তোকায়েভ চুক্তি গ্যাস পাইপলাইন রাশিয়া নতুন খবর",
    "url": "https://news.example/international/intl-new",
    "section": "international",
    "language": "bn",
    "published_at": "2025-11-20T09:00:00+06:00",
    "image": "https://img.example/intl-new.jpg",
    "description": "যৌথ বিবৃতিতে জ্বালানি সহযোগিতার কথা",
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return build_store(tmp_path / "store")


@pytest.fixture
def client(home: Path):
    with TestClient(create_app(home, token=TOKEN)) as c:
        yield c


def error_code(response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]["code"]


def test_without_a_token_configured_writes_are_off(home: Path) -> None:
    with TestClient(create_app(home)) as c:
        for method, path, body in [
            ("PUT", "/v1/articles/new-1", NEW_STORY),
            ("DELETE", "/v1/articles/intl-1", None),
            ("PUT", "/v1/pins", {"source": "intl-1", "article": "metro-1"}),
            ("GET", "/v1/controls", None),
        ]:
            r = c.request(method, path, json=body, headers=AUTH)
            assert r.status_code == 403 and error_code(r) == "writes_disabled", (method, path)
        assert c.get("/v1/related/intl-1").status_code == 200  # reads stay open


BAD_AUTH = [
    {},
    {"Authorization": "Bearer wrong-token-wrong-token"},
    {"Authorization": TOKEN},
    {"Authorization": f"Basic {TOKEN}"},
]


@pytest.mark.parametrize("headers", BAD_AUTH)
def test_a_missing_or_wrong_token_is_401(client: TestClient, headers: dict[str, str]) -> None:
    r = client.put("/v1/pins", json={"source": "intl-1", "article": "metro-1"}, headers=headers)
    assert r.status_code == 401 and error_code(r) == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"
    assert client.delete("/v1/articles/intl-1", headers=headers).status_code == 401
    assert client.get("/v1/related/intl-1").json()["items"]  # nothing was removed


def test_editors_controls_over_http_reach_the_overlay(client: TestClient, home: Path) -> None:
    r = client.put("/v1/pins", json={"source": "intl-1", "article": "metro-1", "position": 2}, headers=AUTH)
    assert r.status_code == 200 and r.json()["pins"] == [
        {"source": "intl-1", "article": "metro-1", "position": 2}
    ]
    assert client.put("/v1/blocks", json={"article": "xss-1"}, headers=AUTH).status_code == 200
    r = client.put("/v1/sections/Sports", json={"same_section_only": True}, headers=AUTH)
    assert r.status_code == 200 and r.json()["section"] == "sports"
    overlay = read_overlay(current_build(home))  # type: ignore[arg-type]
    assert overlay.pins == (Pin("intl-1", "metro-1", 2),) and overlay.blocked == ("xss-1",)
    assert overlay.sections["sports"].same_section_only
    assert client.get("/v1/controls", headers=AUTH).json()["blocks"] == [{"article": "xss-1", "source": None}]
    r = client.put("/v1/pins", json={"source": "intl-1", "article": "nope"}, headers=AUTH)
    assert r.status_code == 404 and error_code(r) == "article_not_found"
    r = client.put("/v1/pins", json={"source": "intl-1", "article": "metro-1", "position": 0}, headers=AUTH)
    assert r.status_code == 422
    r = client.delete("/v1/pins", params={"source": "intl-1", "article": "metro-1"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["pins"] == []
    r = client.delete("/v1/pins", params={"source": "intl-1", "article": "metro-1"}, headers=AUTH)
    assert r.status_code == 404 and error_code(r) == "not_found"
    assert client.delete("/v1/blocks", params={"article": "xss-1"}, headers=AUTH).json()["blocks"] == []


def test_a_pushed_article_is_checked_like_ingest(client: TestClient, home: Path) -> None:
    r = client.put("/v1/articles/new-1", json={**NEW_STORY, "image": "javascript:alert(1)"}, headers=AUTH)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["outcome"] == "added" and any("not an http(s) url" in w for w in body["warnings"])
    assert client.put("/v1/articles/new-1", json={**NEW_STORY, "image": "javascript:alert(1)"},
                      headers=AUTH).json()["outcome"] == "unchanged"  # fmt: skip
    r = client.put("/v1/articles/new-2", json={**NEW_STORY, "published_at": "not a date"}, headers=AUTH)
    assert r.status_code == 422 and error_code(r) == "invalid_article"
    assert r.json()["error"]["details"][0]["field"] == "published_at"
    r = client.put("/v1/articles/new-3", json={"body": "no title"}, headers=AUTH)
    assert r.status_code == 422 and error_code(r) == "invalid_parameter"
    r = client.delete("/v1/articles/nope", headers=AUTH)
    assert r.status_code == 404 and error_code(r) == "article_not_found"


def test_an_oversized_push_is_413(home: Path) -> None:
    with TestClient(create_app(home, token=TOKEN, max_body_bytes=2_000)) as c:
        r = c.put("/v1/articles/big", json={**NEW_STORY, "body": "খবর " * 1_000}, headers=AUTH)
        assert r.status_code == 413 and error_code(r) == "body_too_large"
        assert c.put("/v1/articles/small", json=NEW_STORY, headers=AUTH).status_code == 202


def request(base: str, method: str, path: str, body: dict | None = None, token: str | None = TOKEN):
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def sidebar_ids(base: str, article_id: str) -> list[str]:
    status, body, _ = get(f"{base}/v1/related/{article_id}?n=8")
    assert status == 200, body
    return [it["id"] for it in body["items"]]  # type: ignore[index]


def wait_until(condition, seconds: float = 60.0) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, "not within the deadline"
        time.sleep(0.2)
    return time.monotonic() - started


def test_push_then_in_an_older_storys_sidebar_then_delete_then_gone(tmp_path: Path) -> None:
    home = build_store(tmp_path / "store")
    port = free_port()
    with running(serve_argv(home, port), port, env={"RECOMMENDER_API_TOKEN": TOKEN}) as base:
        assert "intl-new" not in sidebar_ids(base, "intl-1")
        assert request(base, "PUT", "/v1/articles/intl-new", NEW_STORY, token="wrong-token-wrong")[0] == 401
        status, body = request(base, "PUT", "/v1/articles/intl-new", NEW_STORY)
        assert status == 202 and body["outcome"] == "added", body
        wait_until(lambda: "intl-new" in sidebar_ids(base, "intl-1"))
        item = next(it for it in get(f"{base}/v1/related/intl-1?n=8")[1]["items"] if it["id"] == "intl-new")  # type: ignore[index]
        assert item["image"] == NEW_STORY["image"] and item["snippet"] == NEW_STORY["description"]
        status, body = request(base, "DELETE", "/v1/articles/intl-new")
        assert status == 200 and body == {"article_id": "intl-new", "removed": True}
        assert "intl-new" not in sidebar_ids(base, "intl-1")  # the overlay: at the very next request
        assert request(base, "DELETE", "/v1/articles/intl-new")[0] == 404


def test_openapi_documents_the_write_endpoints_and_their_token(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path in ("/v1/articles/{article_id}", "/v1/pins", "/v1/blocks", "/v1/controls", "/v1/related"):
        assert path in schema["paths"], path
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    put = schema["paths"]["/v1/articles/{article_id}"]["put"]
    assert {"401", "403", "413", "422"} <= set(put["responses"]) and put["security"] == [{"HTTPBearer": []}]
    assert "security" not in schema["paths"]["/v1/related/{article_id}"]["get"]  # reads are open


def test_a_failed_background_build_is_reported_and_the_next_push_tries_again(tmp_path: Path) -> None:
    from recommender.serve.builder import Builder

    home = tmp_path / "nothing-here-yet"
    builder = Builder(home, settle_seconds=0.0)
    builder.request()
    wait_until(lambda: builder.last_error is not None, 30)
    assert "background build failed (NoStore)" in str(builder.last_error) and builder.builds == 0
    assert "nothing-here" not in str(builder.last_error)  # /healthz is public: no server paths
    pid = builder.worker_pid
    assert pid is not None  # a failed build leaves the build process serving
    build_store(home)
    builder.request()
    wait_until(lambda: builder.last_error is None and builder.builds == 1, 30)
    assert builder.worker_pid == pid
    builder.close(wait=10)
