"""Load on `recommender serve`: throughput and p50/p99 latency at 8, 32 and 128 clients.

    python -m benchmarks.serve_load [--home indexes/demo] [--crawl /work/stores/crawl]
                                    [--synthetic 100k] [--cache off,on] [--rounds 3] [--seconds 5]
                                    [--workers 1,2] [--swap-seconds 20]

Runs the real service (`recommender serve`, FastAPI on granian) on each store with 1 and 2 worker
processes, with its sidebar cache off (every request ranks) and on (warmed first: each path asked
once; entries live 300 s, so a run longer than that is partly cold), and beside it, as the ceiling,
a bare `/hello` of the same stack with as many workers. The crawl store (the 5k real articles) is
used when it has been built, the synthetic stores (benchmarks/synthetic.py) are made on first use.
Rounds are interleaved (every configuration at every client count in turn, round after round) and
figures are 'median (min-max)' over rounds. Loopback only; each run is bounded by --seconds and
--max-requests, the whole run by --max-minutes (configurations not reached are reported as such).

Then the swap run (--swap-seconds > 0): 32 clients on a copy of the crawl (else the demo) store,
served with a write token, while articles are pushed (PUT /v1/articles) and the service's
background builds swap new indexes in; it reports errors, p50/p99 over the run, how many builds
went live during it, and how long the first pushed article took to show in an older story's sidebar.
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

from .loadgen import LOOPBACK, Result, Server, free_port, load, machine_load, spread

ROOT = Path(__file__).resolve().parent.parent
USERS = (8, 32, 128)
TARGET_P99_MS_AT_32 = 25.0  # issue 11, cache off


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
    args = p.parse_args(argv)
    users = [int(u) for u in args.users.split(",")]
    worker_counts = [int(w) for w in args.workers.split(",")]
    caches = [c.strip() == "on" for c in args.cache.split(",") if c.strip()]

    stores: dict[str, Path] = {}
    for name, home in (("demo", args.home), ("crawl", args.crawl)):
        if (home / "index" / "CURRENT").exists():
            stores[name] = home
        else:
            print(f"[bench] skipping {name}: no built store at {home}")
    if args.synthetic:
        from .synthetic import ensure_store, iter_sizes

        for size in iter_sizes(args.synthetic):
            stores[f"synthetic-{size // 1000}k"] = ensure_store(size, separate=size >= 100_000).home
    if not stores:
        sys.exit("no built store to measure: run `make demo` (or pass --home)")
    paths = {name: article_paths(home) for name, home in stores.items()}
    paths["hello"] = ["/hello"]

    servers: dict[tuple[str, int], Server] = {}
    for w in worker_counts:
        for name, home in stores.items():
            for cache in caches:
                port = free_port()
                label = f"{name} cache {'on' if cache else 'off'}"
                servers[(label, w)] = Server(service_argv(home, port, w, cache), port)
        port = free_port()
        servers[("hello", w)] = Server(hello_argv(port, w), port)

    results: dict[tuple[str, int, int], list[Result]] = defaultdict(list)
    deadline = time.monotonic() + args.max_minutes * 60
    print(f"[bench] {machine_load()}; stores: {', '.join(f'{n} ({len(paths[n])} ids)' for n in stores)}")
    started = time.perf_counter()
    try:
        for srv in servers.values():
            srv.__enter__()
        for (name, _), srv in servers.items():
            srv.wait_ready("/hello" if name == "hello" else "/healthz")
            if name.endswith("cache on"):  # measured warm: every path answered once before the rounds
                for path in paths[name.split(" ")[0]]:
                    _get(srv.base + path)
        for rnd in range(args.rounds):
            for u in users:
                for (name, w), srv in servers.items():
                    if time.monotonic() > deadline:
                        raise TimeoutError
                    r = load(srv, paths[name.split(" ")[0]], u, args.seconds, args.max_requests)
                    results[(name, w, u)].append(r)
                    print(
                        f"[bench] round {rnd + 1} {name} {w} worker(s) {u} clients: {r.rps:.0f} req/s, "
                        f"p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, {r.errors} errors, "
                        f"server {r.server_cores:.2f} cores ({r.server_cpu_ms:.2f} ms/req), "
                        f"locust {r.locust_cores:.2f} cores",
                        flush=True,
                    )
    except TimeoutError:
        print(f"[bench] stopped at --max-minutes {args.max_minutes:g}: later runs are missing")
    finally:
        for srv in servers.values():
            srv.__exit__(None, None, None)
    print(table(results, list(servers), users))
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
        swap = swap_run(source, worker_counts[-1], 32, args.swap_seconds, args.swap_pushes)
        print(swap.line())


@dataclass(frozen=True)
class SwapResult:
    """The swap run: load on, articles pushed, background builds going live meanwhile."""

    load: Result
    workers: int
    users: int
    pushed: int
    builds_live: int  # new builds that went live while the load ran
    first_visible_s: float | None  # from the first push to its article in an older story's sidebar

    def line(self) -> str:
        r = self.load
        seen = f"{self.first_visible_s:.1f} s" if self.first_visible_s is not None else "not within the run"
        return (
            f"[bench] swap run ({self.workers} worker(s), {self.users} clients, cache on): "
            f"{r.rps:.0f} req/s, "
            f"p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, {r.errors} errors {r.error_kinds or ''}; "
            f"{self.pushed} articles pushed, {self.builds_live} build(s) went live during the load; "
            f"first pushed article in an older story's sidebar after {seen}. {machine_load()}"
        )


def swap_run(source: Path, workers: int, users: int, seconds: float, pushes: int) -> SwapResult:
    """Load on a copy of `source` while articles are pushed and builds swap in (see module doc)."""
    import shutil
    import tempfile
    import threading

    token = "bench-" + "x" * 24
    with tempfile.TemporaryDirectory(prefix="bench-swap-") as tmp:
        home = Path(tmp) / "store"
        shutil.copytree(source, home, ignore=shutil.ignore_patterns("*.lock", ".write*", ".build*"))
        paths = article_paths(home)
        older = paths[0].removeprefix("/v1/related/")
        port = free_port()
        env = {"RECOMMENDER_API_TOKEN": token}
        builds: set[str] = set()
        found: dict[str, float] = {}
        with Server(service_argv(home, port, workers), port, env=env) as srv:
            srv.wait_ready("/healthz")
            builds.add(str(_get(srv.base + "/healthz")["build"]))
            stop = threading.Event()
            records = _push_records(home, older, pushes)

            def push() -> None:
                time.sleep(min(2.0, seconds / 5))  # the load first, then the pushes
                started = time.monotonic()
                for article_id, record in records:
                    _put(srv.base + f"/v1/articles/{quote(article_id, safe='')}", record, token)
                    time.sleep(min(0.25, seconds / (4 * max(pushes, 1))))
                first = records[0][0]
                while not stop.is_set():
                    builds.add(str(_get(srv.base + "/healthz")["build"]))
                    if "first" not in found:
                        ids = [it["id"] for it in _get(srv.base + f"/v1/related/{older}?n=50")["items"]]
                        if first in ids:
                            found["first"] = time.monotonic() - started
                    time.sleep(0.2)

            pusher = threading.Thread(target=push, daemon=True)
            pusher.start()
            result = load(srv, paths, users, seconds, 10_000_000)
            stop.set()
            pusher.join(timeout=10)
    return SwapResult(result, workers, users, len(records), len(builds) - 1, found.get("first"))


def _push_records(home: Path, older: str, count: int) -> list[tuple[str, dict[str, Any]]]:
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
                f"bench-push-{i}",
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
        "| store | workers | clients | req/s | of hello | p50 ms | p99 ms | errors | server CPU ms/req "
        "| server cores | locust cores |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
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
            lines.append(
                f"| {name} | {w} | {u} | {spread([r.rps for r in rs])} | {share} | "
                f"{spread([r.p50_ms for r in rs], 2)} | {spread([r.p99_ms for r in rs], 2)} | "
                f"{sum(r.errors for r in rs)} | {spread([r.server_cpu_ms for r in rs], 2)} | "
                f"{spread([r.server_cores for r in rs], 2)} | {spread([r.locust_cores for r in rs], 2)} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
