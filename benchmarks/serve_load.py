"""Load on `recommender serve`: throughput and p50/p99 latency at 8, 32 and 128 clients.

    python -m benchmarks.serve_load [--home indexes/demo] [--crawl /work/stores/crawl]
                                    [--synthetic 100k] [--cache off,on] [--rounds 3] [--seconds 5]
                                    [--workers 1,2] [--swap-seconds 20]

Runs the real service (`recommender serve`, FastAPI on granian) on each store with 1 and 2 worker
processes, with its sidebar cache off (every request ranks) and on, and beside it, as the ceiling,
a bare `/hello` of the same stack with as many workers. Cache-on runs are measured warm: right
before each one every path is asked of every worker (each worker keeps its own cache; see
loadgen.warm_every_worker), on a service restarted first when its entries would reach their 300 s
lifetime during the run; each run reports the hit ratio the service counted meanwhile (/metrics).
The crawl store (the 5k real articles) is used when it has been built, the synthetic stores
(benchmarks/synthetic.py) are made on first use.
Rounds are interleaved (every configuration at every client count in turn, round after round) and
figures are 'median (min-max)' over rounds. Loopback only; each run is bounded by --seconds and
--max-requests, the whole run by --max-minutes (configurations not reached are reported as such).

Then the swap run (--swap-seconds > 0): 32 clients on a copy of the crawl (else the demo) store,
served with a write token, asking --swap-rate sidebars a second in all (a load the service can
carry, unlike back-to-back clients, under which the lower-priority builds get almost no CPU).
One article is pushed before the load (the first push starts the service's build process and
loads the model: its time to the sidebar is reported apart), then articles are pushed during the
load, spread over its first two thirds, while the background builds swap new indexes in. It
reports errors, p50/p99 over the run and p99 over the seconds around each swap, the builds that went live
during the load (their ids, from /healthz), and each pushed article's time to an older story's
sidebar. It fails (exit status 1) when no build went live during the load or a request failed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from recommender.serve.cache import CachePolicy

from .loadgen import (
    LOOPBACK,
    Result,
    Server,
    free_port,
    load,
    machine_load,
    percentile,
    spread,
    warm_every_worker,
)

ROOT = Path(__file__).resolve().parent.parent
USERS = (8, 32, 128)
TARGET_P99_MS_AT_32 = 25.0  # issue 11, cache off
TOKEN = "bench-" + "x" * 24  # the write token of the services that take pushes
CACHE_SECONDS = CachePolicy().max_age  # how long the service keeps an answer (by default)
WARM_MARGIN_S = 15.0  # locust's start and stop around a run
WATCH_SECONDS = 0.25  # how often the swap run looks at /healthz and the pushed articles' sidebars
SWAP_WINDOW_S = 1.0  # "during the swap": requests that ended this close to a new build going live


def hello_app() -> Any:
    """The ceiling: the same stack (FastAPI on granian) answering a constant."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app


def service_argv(home: Path, port: int, workers: int, cache: bool = True) -> list[str]:
    entry = "from recommender.cli import main; main()"
    argv = [sys.executable, "-c", entry, "serve", "--home", str(home), "--port", str(port)]
    argv += ["--workers", str(workers)]
    return argv if cache else [*argv, "--cache-entries", "0"]


def hello_argv(port: int, workers: int) -> list[str]:
    return [
        *(
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--factory",
            "benchmarks.serve_load:hello_app",
        ),
        *(
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-ws",
            "--log-level",
            "warning",
        ),
    ]


def article_paths(home: Path, limit: int = 2000) -> list[str]:
    from recommender.serve.reader import Library

    ids = [str(i) for i in Library(home).view().catalog.strings.column("external_id")]
    random.Random(0).shuffle(ids)
    return [f"/v1/related/{quote(i, safe='')}" for i in ids[:limit]]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.serve_load", description=__doc__)
    p.add_argument("--home", type=Path, default=ROOT / "indexes" / "demo", help="the demo store (make demo)")
    p.add_argument("--crawl", type=Path, default=Path("/work/stores/crawl"), help="the 5k crawl, if built")
    p.add_argument("--synthetic", default="", help="synthetic store sizes, e.g. 100k (made once, cached)")
    p.add_argument("--cache", default="off,on", help="the service's sidebar cache: off, on or both")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run")
    p.add_argument("--max-requests", type=int, default=100_000, help="per run")
    p.add_argument("--max-minutes", type=float, default=20.0, help="for the whole benchmark")
    p.add_argument("--users", default=",".join(map(str, USERS)))
    p.add_argument("--workers", default="1,2")
    p.add_argument("--swap-seconds", type=float, default=20.0, help="the swap run's length (0: none)")
    p.add_argument("--swap-pushes", type=int, default=20, help="articles pushed during the swap run")
    p.add_argument(
        "--swap-rate",
        type=float,
        default=100.0,
        help="the swap run's requests a second, all clients together (0: as fast as they can, which "
        "saturates the cores and leaves the lower-priority builds almost none)",
    )
    args = p.parse_args(argv)
    users = [int(u) for u in args.users.split(",")]
    worker_counts = [int(w) for w in args.workers.split(",")]
    caches = [c.strip() == "on" for c in args.cache.split(",") if c.strip()]

    stores: dict[str, Path] = {}
    from recommender.errors import RecommenderError

    for name, home in (("demo", args.home), ("crawl", args.crawl)):
        if not (home / "index" / "CURRENT").exists():
            print(f"[bench] skipping {name}: no built store at {home}")
            continue
        try:
            article_paths(home, limit=1)
        except RecommenderError as exc:  # e.g. built by an older version: rebuild it
            print(f"[bench] skipping {name} ({home}): {exc}")
            continue
        stores[name] = home
    if args.synthetic:
        from .synthetic import ensure_store, iter_sizes

        for size in iter_sizes(args.synthetic):
            stores[f"synthetic-{size // 1000}k"] = ensure_store(size, separate=size >= 100_000).home
    if not stores:
        sys.exit("no built store to measure: run `make demo` (or pass --home)")
    paths = {name: article_paths(home) for name, home in stores.items()}
    paths["hello"] = ["/hello"]

    def start(key: tuple[str, int]) -> Server:
        name, w = key
        port = free_port()
        if name == "hello":
            argv = hello_argv(port, w)
        else:
            argv = service_argv(stores[name.split(" ")[0]], port, w, name.endswith("cache on"))
        return Server(argv, port).__enter__()

    keys = [
        *(
            (f"{name} cache {'on' if cache else 'off'}", w)
            for w in worker_counts
            for name in stores
            for cache in caches
        ),
        *(("hello", w) for w in worker_counts),
    ]
    keys.sort(key=lambda k: k[1])
    results: dict[tuple[str, int, int], list[Result]] = defaultdict(list)
    deadline = time.monotonic() + args.max_minutes * 60
    print(f"[bench] {machine_load()}; stores: {', '.join(f'{n} ({len(paths[n])} ids)' for n in stores)}")
    started = time.perf_counter()
    servers: dict[tuple[str, int], Server] = {}
    cold_since: dict[tuple[str, int], float] = {}  # when the entries of a cache-on service were made
    try:
        for key in keys:
            servers[key] = start(key)
        for (name, _), srv in servers.items():
            srv.wait_ready("/hello" if name == "hello" else "/healthz")
        for rnd in range(args.rounds):
            for u in users:
                for key in keys:
                    name, w = key
                    if time.monotonic() > deadline:
                        raise TimeoutError
                    cached = name.endswith("cache on")
                    store_paths = paths[name.split(" ")[0]]
                    if cached:
                        run_ends = time.monotonic() + args.seconds + max(1.0, u / 200) + WARM_MARGIN_S
                        if key in cold_since and run_ends - cold_since[key] > CACHE_SECONDS:
                            servers[key].__exit__(None, None, None)  # its entries would expire mid-run
                            servers[key] = start(key)
                            servers[key].wait_ready("/healthz")
                            del cold_since[key]
                        cold_since.setdefault(key, time.monotonic())
                        reached, warm_hits = warm_every_worker(servers[key], store_paths, w)
                        if reached < w:
                            print(f"[bench] WARNING {name}: the warm pass reached {reached} of {w} workers")
                        print(
                            f"[bench] warmed {name}, {reached} worker(s): the pass found "
                            f"{warm_hits or 0:.0%} of its answers in the cache already"
                        )
                    r = load(
                        servers[key], store_paths, u, args.seconds, args.max_requests, cache_metrics=cached
                    )
                    results[(name, w, u)].append(r)
                    hits = f", cache hits {r.hit_ratio:.1%}" if r.hit_ratio is not None else ""
                    print(
                        f"[bench] round {rnd + 1} {name} {w} worker(s) {u} clients: {r.rps:.0f} req/s, "
                        f"p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, {r.errors} errors{hits}, "
                        f"server {r.server_cores:.2f} cores ({r.server_cpu_ms:.2f} ms/req), "
                        f"locust {r.locust_cores:.2f} cores",
                        flush=True,
                    )
    except TimeoutError:
        print(f"[bench] stopped at --max-minutes {args.max_minutes:g}: later runs are missing")
    finally:
        for srv in servers.values():
            srv.__exit__(None, None, None)
    print(table(results, keys, users))
    print(
        f"\n{args.rounds} interleaved rounds, {args.seconds:g} s per run, "
        f"{time.perf_counter() - started:.0f} s in all; target (issue 11): p99 <= "
        f"{TARGET_P99_MS_AT_32:g} ms at 32 clients, cache off, 0 errors; cache on within 2x of hello's "
        f"throughput. {machine_load()}"
    )
    if args.swap_seconds > 0:
        source = stores.get("crawl") or stores.get("demo")
        if source is None:
            print(
                "[bench] swap run skipped: it needs the crawl or the demo store (a model it can embed with)"
            )
            return
        swap = swap_run(source, worker_counts[-1], 32, args.swap_seconds, args.swap_pushes, args.swap_rate)
        print(swap.line())
        if not swap.ok:
            sys.exit(1)


@dataclass(frozen=True)
class SwapResult:
    """The swap run: load on, articles pushed, background builds going live meanwhile."""

    load: Result
    workers: int
    users: int
    cold_visible_s: float | None  # the push before the load: PUT answered -> in the older sidebar
    visible_s: list[float | None]  # each push during the load (None: not within the run)
    swaps: list[tuple[str, float]]  # builds that went live during the load: (id, seconds into it)
    swap_p99_ms: float  # over the requests that ended within SWAP_WINDOW_S of a swap
    swap_requests: int
    rate: float = 0.0  # the load's requests a second at most (0: as fast as the clients could)

    @property
    def ok(self) -> bool:
        return bool(self.swaps) and self.load.errors == 0

    def line(self) -> str:
        r = self.load
        cold = f"{self.cold_visible_s:.1f} s" if self.cold_visible_s is not None else "not seen"
        seen = [v for v in self.visible_s if v is not None]
        warm = (
            f"{len(seen)} of {len(self.visible_s)} seen, after {min(seen):.1f}-{max(seen):.1f} s"
            if seen
            else f"none of {len(self.visible_s)} seen"
        )
        swaps = ", ".join(f"{name} at {at:.1f} s" for name, at in self.swaps) or "NONE"
        return (
            f"[bench] swap run ({self.workers} worker(s), {self.users} clients"
            f"{f' at {self.rate:g} req/s in all' if self.rate else ' back to back'}, cache on, not "
            f"warmed: each swap drops it): "
            f"{r.rps:.0f} req/s, p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, "
            f"{r.errors} errors {r.error_kinds or ''}; builds live during the load: {swaps}; "
            f"p99 within {SWAP_WINDOW_S:g} s of a swap {self.swap_p99_ms:.2f} ms "
            f"({self.swap_requests} requests); first push (before the load, cold) in an older "
            f"story's sidebar after {cold}; pushes during the load: {warm}"
            f"{'' if self.ok else ' -- FAILED: ' + ('no build went live' if not self.swaps else 'errors')}. "
            f"{machine_load()}"
        )


def swap_run(
    source: Path, workers: int, users: int, seconds: float, pushes: int, rate: float = 0.0
) -> SwapResult:
    """Load on a copy of `source` while articles are pushed and builds swap in (see module doc)."""
    import shutil
    import tempfile
    import threading

    with tempfile.TemporaryDirectory(prefix="bench-swap-") as tmp:
        home = Path(tmp) / "store"
        shutil.copytree(source, home, ignore=shutil.ignore_patterns("*.lock", ".write*", ".build*"))
        paths = article_paths(home)
        olders = [p.removeprefix("/v1/related/") for p in paths[: pushes + 1]]
        records = [_push_records(home, o, 1, prefix=f"bench-push-{k}-")[0] for k, o in enumerate(olders)]
        port = free_port()
        builds: dict[str, float] = {}  # build id -> when first seen live (wall clock)
        visible: dict[str, float] = {}
        with Server(service_argv(home, port, workers), port, env={"RECOMMENDER_API_TOKEN": TOKEN}) as srv:
            srv.wait_ready("/healthz")
            builds[str(_get(srv.base + "/healthz")["build"])] = 0.0
            cold = _push_and_see(srv.base, olders[0], *records[0], deadline_s=180.0)
            builds[str(_get(srv.base + "/healthz")["build"])] = 0.0
            stop = threading.Event()
            put_at: dict[str, float] = {}

            def push() -> None:
                start = min(2.0, seconds / 5)
                time.sleep(start)  # the load first, then the pushes, spread over 2/3 of the run
                for article_id, record in records[1:]:
                    _put(srv.base + f"/v1/articles/{quote(article_id, safe='')}", record, TOKEN)
                    put_at[article_id] = time.time()
                    time.sleep(max(0.0, (seconds * 2 / 3 - start) / max(pushes, 1)))

            def watch() -> None:  # the live build, and the pushed articles in their sidebars
                while not stop.is_set():
                    build = str(_get(srv.base + "/healthz")["build"])
                    builds.setdefault(build, time.time())
                    for older, (article_id, _) in zip(olders[1:], records[1:], strict=True):
                        put = put_at.get(article_id)
                        if put and article_id not in visible and _in_sidebar(srv.base, older, article_id):
                            visible[article_id] = time.time() - put
                    time.sleep(WATCH_SECONDS)

            threads = [
                threading.Thread(target=push, daemon=True),
                threading.Thread(target=watch, daemon=True),
            ]
            for thread in threads:
                thread.start()
            result = load(srv, paths, users, seconds, 10_000_000, cache_metrics=True, rate=rate)
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
    began, ended = (result.done_at[0], result.done_at[-1]) if result.done_at else (0.0, 0.0)
    swaps = sorted((b, at) for b, at in builds.items() if began <= at <= ended)
    near = [
        t
        for t, at in zip(result.times_ms, result.done_at, strict=True)
        if any(abs(at - when) <= SWAP_WINDOW_S for _, when in swaps)
    ]
    return SwapResult(
        result,
        workers,
        users,
        cold,
        [visible.get(article_id) for article_id, _ in records[1:]],
        [(b, at - began) for b, at in sorted(swaps, key=lambda x: x[1])],
        percentile(sorted(near), 99),
        len(near),
        rate,
    )


def _in_sidebar(base: str, older: str, article_id: str) -> bool:
    return article_id in [it["id"] for it in _get(base + f"/v1/related/{older}?n=10")["items"]]


def _push_and_see(
    base: str, older: str, article_id: str, record: dict[str, Any], deadline_s: float
) -> float | None:
    """Push one article; seconds from the PUT's answer to the first GET of `older` whose sidebar
    holds it (None: not within `deadline_s`)."""
    _put(base + f"/v1/articles/{quote(article_id, safe='')}", record, TOKEN)
    put_done = time.perf_counter()
    while time.perf_counter() - put_done < deadline_s:
        if _in_sidebar(base, older, article_id):
            return time.perf_counter() - put_done
        time.sleep(0.05)
    return None


def _push_records(
    home: Path, older: str, count: int, prefix: str = "bench-push-"
) -> list[tuple[str, dict[str, Any]]]:
    """New articles to push: follow-ups of the older story, each half its text and half the text of
    a story in its sidebar (related to it, a copy of neither: copies are kept out of sidebars), with
    a later date and a new id."""
    from urllib.parse import unquote

    from recommender import Recommender
    from recommender.home import Home

    source = unquote(older)
    neighbours = [r.id for r in Recommender(home).related(source, n=10)] or [source]
    with Home(home).reading() as store:
        article = store.article(source)

        def body_of(external_id: str) -> str:
            row = store.con.execute("SELECT body FROM articles WHERE external_id = ?", [external_id])
            found = row.fetchone()
            return str(found[0]) if found else ""

        own = body_of(source)
        others = [body_of(n) for n in neighbours]
    records = []
    for i in range(count):
        other = others[i % len(others)]
        body = own[: len(own) // 2] + "\n\n" + other[len(other) // 2 :]
        records.append(
            (
                f"{prefix}{i}",
                {
                    "title": f"{article.title} ({i + 1})",
                    "body": body,
                    "section": article.section,
                    "language": article.language,
                    "published_at": datetime.now(UTC).isoformat(),
                },
            )
        )
    return records


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return dict(json.loads(resp.read()))


def _put(url: str, record: dict[str, Any], token: str) -> None:
    data = json.dumps(record, ensure_ascii=False).encode()
    req = urllib.request.Request(url, data=data, method="PUT")
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()


def table(results: dict[tuple[str, int, int], list[Result]], configs: list, users: list[int]) -> str:
    lines = [
        "| store | workers | clients | req/s | of hello | p50 ms | p99 ms | errors | cache hit % "
        "| server CPU ms/req | server cores | locust cores |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, w in configs:
        for u in users:
            rs = results.get((name, w, u), [])
            if not rs:
                continue
            hello = results.get(("hello", w, u), [])
            share = (
                f"{sum(r.rps for r in rs) / sum(h.rps for h in hello):.0%}"
                if hello and name != "hello"
                else ""
            )
            ratios = [100 * r.hit_ratio for r in rs if r.hit_ratio is not None]
            hits = spread(ratios, 1) if ratios else ""
            lines.append(
                f"| {name} | {w} | {u} | {spread([r.rps for r in rs])} | {share} | "
                f"{spread([r.p50_ms for r in rs], 2)} | {spread([r.p99_ms for r in rs], 2)} | "
                f"{sum(r.errors for r in rs)} | {hits} | {spread([r.server_cpu_ms for r in rs], 2)} | "
                f"{spread([r.server_cores for r in rs], 2)} | {spread([r.locust_cores for r in rs], 2)} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
