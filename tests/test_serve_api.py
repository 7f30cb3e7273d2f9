"""The HTTP API in process (FastAPI's test client): every endpoint, parameter and error path.

The real server on loopback is exercised in test_serve_process.py; here the many small checks run
against the same app without sockets."""

from __future__ import annotations

import asyncio
import inspect
import socket
import threading
from pathlib import Path
from urllib.parse import quote

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from recommender import Recommender
from recommender import errors as library_errors
from recommender.serve import create_app
from recommender.serve.errors import STATUS, status_of
from recommender.serve.items import safe_url
from recommender.serve.middleware import BodyLimit

from .serve_support import URL_ID, XSS_TITLE, build_store, corpus

ITEM_FIELDS = {
    "id", "url", "title", "snippet", "image", "section", "language", "published_at", "authors", "tags",
    "fallback",
}  # fmt: skip
EXPLAIN_FIELDS = {"score", "similarity", "relevance", "recency", "section_boost", "language_penalty"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("serve") / "store")


@pytest.fixture(scope="module")
def client(home: Path):
    with TestClient(create_app(home)) as c:
        yield c


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"])
    return body["error"]


def test_related_items_carry_the_contract(client: TestClient) -> None:
    r = client.get("/v1/related/intl-1")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["article_id"] == "intl-1" and len(body["items"]) == 5
    for it in body["items"]:
        assert set(it) == ITEM_FIELDS | {"explain"} and it["explain"] is None
        assert it["id"] != "intl-1"
        assert it["snippet"] and it["image"] is None  # the body's opening; the corpus has no images
        assert it["authors"] == [] and it["tags"] == []
        assert it["url"] is None or it["url"].startswith("https://")
        assert isinstance(it["fallback"], bool) and it["published_at"].endswith("+00:00")
    assert any("\u0980" <= ch <= "\u09ff" for ch in body["items"][0]["title"])


def test_explain_adds_the_score_parts(client: TestClient) -> None:
    items = client.get("/v1/related/intl-1?explain=true").json()["items"]
    for it in items:
        assert set(it["explain"]) == EXPLAIN_FIELDS
    scores = [it["explain"]["score"] for it in items if not it["fallback"]]
    assert scores == sorted(scores, reverse=True)


def test_hostile_url_is_never_sent(client: TestClient) -> None:
    items = client.get("/v1/related/cricket-1").json()["items"]
    hostile = [it for it in items if it["id"] == "xss-1"]
    assert hostile, "the hostile article should be in this sidebar"
    assert hostile[0]["url"] is None and hostile[0]["title"] == XSS_TITLE  # JSON: the text as it is


@pytest.mark.parametrize(
    "query, field",
    [
        ("n=0", "n"),
        ("n=51", "n"),
        ("n=two", "n"),
        ("max_age_days=0", "max_age_days"),
        ("max_age_days=-3", "max_age_days"),
        ("max_age_days=nan", "max_age_days"),
        ("max_age_days=inf", "max_age_days"),
        ("as_of=yesterday", "as_of"),
        ("cross_language=maybe", "cross_language"),
        ("explain=perhaps", "explain"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(client: TestClient, query: str, field: str) -> None:
    r = client.get(f"/v1/related/intl-1?{query}")
    assert r.status_code == 422
    error = error_of(r)
    assert error["code"] == "invalid_parameter" and field in error["message"]
    assert error["details"][0]["loc"] == ["query", field]


def test_n_as_of_age_and_sections(client: TestClient) -> None:
    assert len(client.get("/v1/related/intl-1?n=2").json()["items"]) == 2
    as_of = "2025-11-16T00:00:00Z"
    items = client.get(f"/v1/related/intl-1?n=10&as_of={as_of}").json()["items"]
    assert items and all(it["published_at"] <= "2025-11-16T00:00:00+00:00" for it in items)
    young = client.get(f"/v1/related/intl-1?n=10&as_of={as_of}&max_age_days=1.5").json()["items"]
    assert young and all(it["published_at"] >= "2025-11-14T12:00:00+00:00" for it in young)
    assert len(young) < len(items)
    excluded = client.get("/v1/related/intl-1?n=10&exclude_section=international&exclude_section=sports")
    assert all(it["section"] not in ("international", "sports") for it in excluded.json()["items"])


def test_cross_language(client: TestClient) -> None:
    same = client.get("/v1/related/intl-1?n=12").json()["items"]
    assert {it["language"] for it in same} == {"bn"}
    across = client.get("/v1/related/intl-1?n=14&cross_language=true").json()["items"]  # all 14 others
    assert "en" in {it["language"] for it in across}


def test_unknown_article_is_404_without_server_paths(client: TestClient, home: Path) -> None:
    r = client.get("/v1/related/no-such-story")
    assert r.status_code == 404
    error = error_of(r)
    assert error["code"] == "article_not_found" and str(home) not in error["message"]


def test_ids_may_be_urls(client: TestClient) -> None:
    r = client.get(f"/v1/related/{quote(URL_ID, safe='')}?n=3")
    assert r.status_code == 200 and r.json()["article_id"] == URL_ID
    assert {it["section"] for it in r.json()["items"]} == {"national"}


def test_batch_keeps_order_and_reports_unknown_ids(client: TestClient) -> None:
    r = client.get("/v1/related/batch?ids=metro-1&ids=nope&ids=intl-2&n=2&explain=true")
    assert r.status_code == 200
    sidebars = r.json()["sidebars"]
    assert [s["article_id"] for s in sidebars] == ["metro-1", "nope", "intl-2"]
    assert len(sidebars[0]["items"]) == 2 and sidebars[0]["items"][0]["explain"]
    assert sidebars[1]["items"] is None and sidebars[1]["error"]["code"] == "article_not_found"
    assert client.get("/v1/related/batch").status_code == 422
    many = "&".join(f"ids=intl-{i % 7 + 1}" for i in range(51))
    assert client.get(f"/v1/related/batch?{many}").status_code == 422


def test_healthz(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["articles"] == 15 and body["indexed"] == 15
    assert body["model"] == "hashing:256" and body["build"] and body["index_age_seconds"] >= 0


def test_without_an_index_reads_are_503_and_healthz_says_why(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "empty")) as c:
        r = c.get("/healthz")
        assert r.status_code == 503 and r.json()["status"] == "unavailable"
        assert r.json()["error"]["code"] == "index_not_built"
        r = c.get("/v1/related/x")
        assert r.status_code == 503 and error_of(r)["code"] == "index_not_built"
    assert not (tmp_path / "empty").exists()  # serving creates no store


def test_metrics_count_by_route_template(home: Path) -> None:
    with TestClient(create_app(home)) as c:
        for ident in ("intl-1", "intl-2", "nope"):
            c.get(f"/v1/related/{ident}")
        r = c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    route = 'route="/v1/related/{article_id:path}"'
    assert f'recommender_http_requests_total{{method="GET",{route},status="200"}} 2.0' in text
    assert f'recommender_http_requests_total{{method="GET",{route},status="404"}} 1.0' in text
    assert f'recommender_http_request_duration_seconds_count{{method="GET",{route}}} 3.0' in text
    assert "recommender_index_age_seconds " in text and "intl-1" not in text  # no raw paths


def test_unknown_route_and_method_get_json_errors(client: TestClient) -> None:
    r = client.get("/v2/nothing")
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"
    r = client.post("/v1/related/intl-1")
    assert r.status_code == 405 and error_of(r)["code"] == "method_not_allowed"


def test_oversized_body_is_413(home: Path) -> None:
    with TestClient(create_app(home, max_body_bytes=100)) as c:
        r = c.post("/v1/related/intl-1", content=b"x" * 101)
        assert r.status_code == 413 and error_of(r)["code"] == "body_too_large"
        assert c.post("/v1/related/intl-1", content=b"x" * 100).status_code == 405
        r = c.get("/healthz", headers={"content-length": "12abc"})
        assert r.status_code == 400


def test_a_chunked_body_is_cut_off_at_the_limit() -> None:
    read: list[bytes] = []

    async def echo(scope, receive, send):  # an endpoint that reads its whole body
        while True:
            message = await receive()
            read.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    chunks = [{"type": "http.request", "body": b"x" * 60, "more_body": True}] * 3
    sent: list[dict] = []

    async def receive():
        return chunks.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "PUT", "path": "/", "headers": [(b"transfer-encoding", b"chunked")]}
    asyncio.run(BodyLimit(echo, max_bytes=100)(scope, receive, send))
    assert sent[0]["status"] == 413 and sum(map(len, read)) <= 120


def test_openapi_schema_documents_the_contract(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in ("/v1/related/{article_id}", "/v1/related/batch", "/healthz", "/metrics", "/widget.js"):
        assert any(p.replace(":path", "") == path for p in paths), path
    related = next(v for p, v in paths.items() if p.startswith("/v1/related/{"))["get"]
    names = {p["name"] for p in related["parameters"]}
    assert names == {
        "article_id",
        "n",
        "as_of",
        "cross_language",
        "max_age_days",
        "exclude_section",
        "explain",
        "section",
        "since",
        "until",
        "fill",
    }
    assert {"404", "422", "503"} <= set(related["responses"])
    draft = paths["/v1/related"]["post"]
    assert draft["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/Draft")
    item = schema["components"]["schemas"]["Item"]
    assert set(item["properties"]) == ITEM_FIELDS | {"explain"}
    assert client.get("/docs").status_code == 200


def test_every_named_error_has_a_status() -> None:
    named = [
        obj
        for _, obj in inspect.getmembers(library_errors, inspect.isclass)
        if issubclass(obj, library_errors.RecommenderError)
    ]
    mapped = {kind for kind, *_ in STATUS}
    assert set(named) <= mapped
    assert status_of(library_errors.ArticleNotFound("x in /secret/path"))[:2] == (404, "article_not_found")
    assert "/secret" not in status_of(library_errors.ArticleNotFound("x in /secret/path"))[2]
    assert status_of(library_errors.InvalidSetting("n must be at least 1"))[2] == "n must be at least 1"


@pytest.mark.parametrize(
    "url, safe",
    [
        ("https://img.example/a.jpg", True),
        ("http://img.example/a.jpg", True),
        ("javascript:alert(1)", False),
        (" JavaScript:alert(1)", False),
        ("data:image/png;base64,xx", False),
        ("//img.example/a.jpg", False),
        ("", False),
        (None, False),
    ],
)
def test_only_http_urls_pass(url: str | None, safe: bool) -> None:
    assert (safe_url(url) is not None) == safe


def test_preview_escapes_everything_and_allows_no_script(client: TestClient) -> None:
    r = client.get("/preview/cricket-1?n=10")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src" not in r.headers["content-security-policy"]
    assert "default-src 'none'" in r.headers["content-security-policy"]
    page = r.text
    assert "<script" not in page and "onerror=" not in page.replace("onerror=&quot;", "")
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page
    assert "javascript:" not in page
    assert "relevance: " in page and "<dt>similarity</dt>" in page  # score parts on hover
    assert client.get("/preview/nope").status_code == 404


def test_widget_is_served_and_builds_no_html_from_strings(client: TestClient) -> None:
    r = client.get("/widget.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["x-content-type-options"] == "nosniff"
    code = r.text
    for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function("):
        assert forbidden not in code, forbidden
    assert "textContent" in code and 'loading", "lazy' in code
    assert len(r.content) < 12_000


def test_cors_is_off_by_default_and_configurable(home: Path, client: TestClient) -> None:
    origin = {"Origin": "https://news.example"}
    assert "access-control-allow-origin" not in client.get("/v1/related/intl-1", headers=origin).headers
    with TestClient(create_app(home, cors_origins=["https://news.example"])) as c:
        r = c.get("/v1/related/intl-1", headers=origin)
        assert r.headers["access-control-allow-origin"] == "https://news.example"
        other = c.get("/v1/related/intl-1", headers={"Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers


def test_serving_opens_no_network_connection(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError(f"network connection attempted: {args}")

    monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")  # FastAPI's own OpenTelemetry export
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    with TestClient(create_app(home)) as c:
        assert c.get("/v1/related/intl-1").status_code == 200
        assert c.get("/preview/intl-1").status_code == 200
        assert c.get("/metrics").status_code == 200


def test_searches_use_one_openmp_thread_in_any_serving_thread(home: Path) -> None:
    """OpenMP keeps FAISS's thread count per thread: a view loaded in one thread and searched from
    another must not search with every core (it spins: 4x the CPU of a sidebar)."""
    faiss = pytest.importorskip("faiss")
    from recommender.index.kinds import SEARCH_THREADS
    from recommender.serve.reader import Library

    library = Library(home)
    loader = threading.Thread(target=library.view)
    loader.start()
    loader.join()
    seen: list[int] = []

    def serve_one() -> None:
        library.related("intl-1")
        seen.append(faiss.omp_get_max_threads())

    worker = threading.Thread(target=serve_one)
    worker.start()
    worker.join()
    assert seen == [SEARCH_THREADS]


def test_before_the_first_build_requests_do_not_keep_opening_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recommender.serve import reader

    home = tmp_path / "store"
    home.mkdir()
    (home / "recommender.duckdb").touch()  # a store file, no index yet
    opened: list[Path] = []

    def counting(live, pointer):
        opened.append(live.home)
        raise library_errors.IndexNotBuilt("no index yet")

    monkeypatch.setattr(reader, "_load_view", counting)
    library = reader.Library(home)
    for _ in range(20):
        with pytest.raises(library_errors.IndexNotBuilt):
            library.view()
    assert len(opened) == 1  # the failure is repeated, not retried, for a second
    (home / "index").mkdir()
    (home / "index" / "CURRENT").write_text("new")  # a build finished: try again at once
    with pytest.raises(library_errors.IndexNotBuilt):
        library.view()
    assert len(opened) == 2


def test_the_cli_and_the_serve_package_import_no_serving_stack() -> None:
    import subprocess
    import sys

    code = (
        "import sys, recommender.cli, recommender.serve, recommender.serve.run; "
        "stack = ('fastapi', 'granian', 'prometheus_client', 'starlette'); "
        "print(sorted(m for m in stack if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_related_by_url_finds_the_article_as_ingest_stored_its_url(client: TestClient) -> None:
    by_id = client.get("/v1/related/intl-1").json()
    for url in (
        "https://news.example/international/intl-1",
        "  https://news.example/international/intl-1#top",
    ):
        r = client.get("/v1/related", params={"url": url})
        assert r.status_code == 200 and r.json() == by_id
    r = client.get("/v1/related", params={"url": URL_ID, "n": 2})  # a query string and a space in it
    assert r.status_code == 200 and r.json()["article_id"] == URL_ID and len(r.json()["items"]) == 2


def test_related_by_unknown_url_is_404_with_a_json_body(client: TestClient) -> None:
    r = client.get("/v1/related", params={"url": "https://news.example/nowhere"})
    assert r.status_code == 404
    assert error_of(r) == {"code": "article_not_found", "message": "no article with this url"}
    assert client.get("/v1/related").status_code == 422  # url is required
    assert (
        client.get(
            "/v1/related", params={"url": "https://news.example/international/intl-1", "n": 0}
        ).status_code
        == 422
    )


def test_section_window_and_fill_reach_the_ranking(client: TestClient) -> None:
    everything = client.get("/v1/related/intl-1", params={"n": 12}).json()["items"]
    assert {i["section"] for i in everything} != {"international"}  # the fill reaches other sections
    only = client.get("/v1/related/intl-1", params={"n": 12, "section": "international"}).json()["items"]
    assert only and all(i["section"] == "international" for i in only)
    fewer = client.get("/v1/related/intl-1", params={"n": 12, "fill": "none"}).json()["items"]
    assert len(fewer) < len(everything) and not any(i["fallback"] for i in fewer)
    since = client.get("/v1/related/intl-1", params={"n": 12, "since": "2025-11-15T00:00:00+06:00"})
    dates = [i["published_at"] for i in since.json()["items"]]
    assert dates and all(d >= "2025-11-15" for d in dates)
    until = client.get("/v1/related/intl-1", params={"n": 12, "until": "2025-11-13T00:00:00+06:00"})
    assert all(i["published_at"] < "2025-11-13" for i in until.json()["items"])
    bad = client.get("/v1/related/intl-1", params={"fill": "everything"})
    assert bad.status_code == 422 and error_of(bad)["code"] == "invalid_parameter"


def test_a_draft_is_ranked_like_its_stored_twin_and_nothing_is_stored(client: TestClient, home: Path) -> None:
    twin = next(r for r in corpus() if r["id"] == "intl-1")
    stored = [i["id"] for i in client.get("/v1/related/intl-1", params={"n": 5}).json()["items"]]
    answer = client.post("/v1/related", params={"n": 5}, json={"title": twin["title"], "body": twin["body"]})
    assert answer.status_code == 200, answer.text
    drafted = [i["id"] for i in answer.json()["items"]]
    assert "intl-1" not in drafted  # the stored twin is a copy of the draft
    assert drafted[:3] == stored[:3]
    assert Recommender(home).stats().articles == len(corpus())  # nothing stored
    restricted = client.post("/v1/related", params={"section": "national"}, json={"title": twin["title"]})
    assert restricted.json()["items"] and all(i["section"] == "national" for i in restricted.json()["items"])
    missing = client.post("/v1/related", json={"body": "no title"})
    assert missing.status_code == 422 and error_of(missing)["code"] == "invalid_parameter"
