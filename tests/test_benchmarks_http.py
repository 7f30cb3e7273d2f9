"""The HTTP load harness works: a server on loopback, a short bounded locust run, figures come back.

Nothing is timed here (timings are the benchmarks' business, `python -m benchmarks.serve_load`)."""

from __future__ import annotations

from importlib.util import find_spec

import pytest

from benchmarks import loadgen, serve_load

# Looked up, never imported: importing locust monkey-patches this process with gevent.
pytestmark = pytest.mark.skipif(
    find_spec("locust") is None or find_spec("granian") is None, reason="needs the bench extra (locust)"
)


def test_a_bounded_load_run_reports_its_figures() -> None:
    port = loadgen.free_port()
    with loadgen.Server(serve_load.hello_argv(port, 1), port) as server:
        server.wait_ready("/hello")
        result = loadgen.load(server, ["/hello", "/missing"], users=2, seconds=1.0, max_requests=60)
    assert result.requests > 0 and result.errors > 0  # /missing answers 404: counted as errors
    # the count bound holds (a request per user may still be in flight when it is reached)
    assert result.requests + result.errors <= 60 + 2
    assert "404" in result.error_kinds
    assert 0 < result.p50_ms <= result.p99_ms
    assert result.locust_cores > 0


def test_a_load_at_a_set_rate_keeps_below_it() -> None:
    port = loadgen.free_port()
    with loadgen.Server(serve_load.hello_argv(port, 1), port) as server:
        server.wait_ready("/hello")
        result = loadgen.load(server, ["/hello"], users=4, seconds=2.0, rate=20.0)
    assert result.errors == 0 and 0 < result.rps <= 30  # /hello alone answers thousands a second


def test_spread_reads_as_median_and_range() -> None:
    assert loadgen.spread([3.0, 1.0, 2.0]) == "2 (1-3)"
    assert loadgen.spread([0.5, 0.25], 2) == "0.38 (0.25-0.50)"


def test_the_swap_run_sees_builds_go_live_under_load(tmp_path) -> None:
    from .serve_support import build_store

    home = build_store(tmp_path / "store")
    swap = serve_load.swap_run(home, workers=1, users=4, seconds=8.0, pushes=3)
    assert swap.load.requests > 0 and swap.load.errors == 0, swap.load.error_kinds
    assert swap.cold_visible_s is not None and len(swap.visible_s) == 3
    # the build process is warm: on the hashing model a build takes well under these 8 s
    assert swap.swaps and all(0 <= at <= 8.0 + 2 for _, at in swap.swaps), swap.swaps
    assert swap.ok and swap.swap_requests > 0 and swap.swap_p99_ms > 0
    line = swap.line()
    assert "builds live during the load: " in line and "FAILED" not in line and swap.swaps[0][0] in line


def test_the_warm_pass_reaches_every_worker(tmp_path) -> None:
    from .serve_support import build_store

    home = build_store(tmp_path / "store")
    paths = serve_load.article_paths(home)
    port = loadgen.free_port()
    with loadgen.Server(serve_load.service_argv(home, port, workers=2), port) as server:
        server.wait_ready("/healthz")
        reached, hits = loadgen.warm_every_worker(server, paths, workers=2)
        assert reached == 2 and hits is not None and hits < 0.9  # the first pass: mostly misses
        assert loadgen.warm_every_worker(server, paths, workers=2) == (2, 1.0)  # now all hits
        result = loadgen.load(server, paths, users=8, seconds=1.0, max_requests=400, cache_metrics=True)
    assert result.errors == 0 and result.hit_ratio == 1.0  # whichever worker a client reached
