"""`recommender serve` as a real server process on a loopback port, with one and two workers.

Claims about processes are tested with processes: the service does not hold the store's lock (a
writer in another process gets in while it serves), two workers answer and their metrics add up,
and a new build is picked up by every worker without a restart and without a failed request.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("granian")

from recommender import Recommender

from .serve_support import build_store, corpus, free_port, get, running, serve_argv


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("proc") / "store")


@pytest.fixture(scope="module")
def one_worker(home: Path) -> Iterator[str]:
    port = free_port()
    with running(serve_argv(home, port), port) as base:
        yield base


def test_one_worker_serves_the_api_and_the_widget(one_worker: str) -> None:
    base = one_worker
    status, body, _ = get(f"{base}/v1/related/intl-1?n=3&explain=true")
    assert status == 200 and len(body["items"]) == 3 and body["items"][0]["explain"]["score"] > 0
    status, body, _ = get(f"{base}/v1/related/no-such-id")
    assert status == 404 and body["error"]["code"] == "article_not_found"
    status, body, _ = get(f"{base}/v1/related/intl-1?n=0")
    assert status == 422 and body["error"]["code"] == "invalid_parameter"
    status, text, _ = get(f"{base}/widget.js")
    assert status == 200 and "data-related-article" in text
    status, body, _ = get(f"{base}/healthz")
    assert status == 200 and body["status"] == "ok"
    status, _, _ = get(f"{base}/openapi.json")
    assert status == 200


def test_the_service_leaves_the_store_open_to_writers(home: Path, one_worker: str, tmp_path: Path) -> None:
    base = one_worker
    assert get(f"{base}/v1/related/intl-1")[0] == 200
    extra = tmp_path / "more.jsonl"
    extra.write_text(json.dumps({"id": "late-1", "title": "t", "body": "b"}) + "\n", "utf-8")
    started = time.monotonic()
    with Recommender(home) as rec:  # another process: the server must not hold DuckDB's lock
        assert rec.ingest([extra]).added == 1
        rec.remove(["late-1"])
    assert time.monotonic() - started < 5
    assert get(f"{base}/v1/related/intl-1")[0] == 200


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    home = build_store(tmp_path_factory.mktemp("proc2") / "store")  # its own: a test rebuilds it
    port = free_port()
    started = ("Started worker-1", "Started worker-2")  # granian's log
    with running(serve_argv(home, port, "--workers", "2"), port, log_lines=started) as base:
        yield base, home  # both workers up: requests are shared between them from the start


def answered(base: str) -> float:
    """Sidebars answered with 200 so far, summed over the workers (from /metrics)."""
    route = 'route="/v1/related/{article_id:path}"'
    ok = f'recommender_http_requests_total{{method="GET",{route},status="200"}}'
    _, text, _ = get(f"{base}/metrics")
    return sum(float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines() if ln.startswith(ok))


def test_two_workers_answer_and_their_metrics_add_up(two_workers: tuple[str, Path]) -> None:
    base, _ = two_workers
    before = answered(base)
    with ThreadPoolExecutor(8) as pool:  # concurrent, so that both workers take some
        statuses = list(pool.map(lambda i: get(f"{base}/v1/related/intl-{i % 7 + 1}")[0], range(80)))
    assert statuses == [200] * 80
    # whichever worker answers the scrape reports both workers' counts
    assert [answered(base) - before for _ in range(6)] == [80.0] * 6


def test_a_new_build_reaches_every_worker_without_a_failed_request(
    two_workers: tuple[str, Path], tmp_path: Path
) -> None:
    base, home = two_workers
    first = get(f"{base}/healthz")[1]["build"]
    failures: list[object] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            status, body, _ = get(f"{base}/v1/related/intl-1?n=3")
            if status != 200:
                failures.append((status, body))

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        # a follow-up in other words (the same words reordered: alike, yet no copy of intl-1)
        body = " ".join(reversed(corpus()[0]["body"].split()))
        rows = [*corpus(), {**corpus()[0], "id": "intl-new", "title": "আস্তানা সফরের নতুন খবর", "body": body}]
        source = tmp_path / "new.jsonl"
        source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        with Recommender(home) as rec:
            rec.ingest([source])
            rec.build()
        second = (home / "index" / "CURRENT").read_text().strip()
        assert second != first
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # every worker: 20 health checks in a row see it
            if all(get(f"{base}/healthz")[1]["build"] == second for _ in range(20)):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the new build did not reach every worker within 20 s")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    ids = {it["id"] for it in get(f"{base}/v1/related/intl-1?n=10")[1]["items"]}
    assert "intl-new" in ids


def test_serve_refuses_a_home_without_a_store(tmp_path: Path) -> None:
    port = free_port()
    result = subprocess.run(
        serve_argv(tmp_path / "nowhere", port), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "no store at" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_a_removal_reaches_the_service_without_a_build(tmp_path: Path) -> None:
    home = build_store(tmp_path / "store")
    port = free_port()
    with running(serve_argv(home, port), port) as base:
        _, body, _ = get(f"{base}/v1/related/intl-1?n=5")
        gone = body["items"][0]["id"]
        with Recommender(home) as rec:  # this test's process is the writer; the server only reads
            rec.remove([gone])
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            _, body, _ = get(f"{base}/v1/related/intl-1?n=5")
            if gone not in [item["id"] for item in body["items"]]:
                break
            time.sleep(0.05)
        assert gone not in [item["id"] for item in body["items"]]
        assert get(f"{base}/v1/related/{gone}")[0] == 404
