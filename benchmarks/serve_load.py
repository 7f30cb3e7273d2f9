"""Load on `recommender serve`: throughput and p50/p99 latency at 8, 32 and 128 clients.

    python -m benchmarks.serve_load [--home indexes/demo] [--crawl /work/stores/crawl]
                                    [--rounds 3] [--seconds 5] [--workers 1,2]

Runs the real service (`recommender serve`, FastAPI on granian) on each store with 1 and 2 worker
processes, and beside it, as the ceiling, a bare `/hello` of the same stack with as many workers.
The crawl store (the 5k real articles) is used when it has been built, and skipped otherwise.
Rounds are interleaved (every configuration at every client count in turn, round after round) and
figures are 'median (min-max)' over rounds. The sidebar cache of issue 11 does not exist yet: every
request ranks. Loopback only; each run is bounded by --seconds and --max-requests, the whole run
by --max-minutes (configurations not reached are reported as such).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
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


def service_argv(home: Path, port: int, workers: int) -> list[str]:
    entry = "from recommender.cli import main; main()"
    return [
        sys.executable,
        "-c",
        entry,
        "serve",
        "--home",
        str(home),
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


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

    ids = [str(i) for i in Library(home).view().catalog.external_ids]
    random.Random(0).shuffle(ids)
    return [f"/v1/related/{quote(i, safe='')}" for i in ids[:limit]]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.serve_load", description=__doc__)
    p.add_argument("--home", type=Path, default=ROOT / "indexes" / "demo", help="the demo store (make demo)")
    p.add_argument("--crawl", type=Path, default=Path("/work/stores/crawl"), help="the 5k crawl, if built")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run")
    p.add_argument("--max-requests", type=int, default=100_000, help="per run")
    p.add_argument("--max-minutes", type=float, default=20.0, help="for the whole benchmark")
    p.add_argument("--users", default=",".join(map(str, USERS)))
    p.add_argument("--workers", default="1,2")
    args = p.parse_args(argv)
    users = [int(u) for u in args.users.split(",")]
    worker_counts = [int(w) for w in args.workers.split(",")]

    stores: dict[str, Path] = {}
    for name, home in (("demo", args.home), ("crawl", args.crawl)):
        if (home / "index" / "CURRENT").exists():
            stores[name] = home
        else:
            print(f"[bench] skipping {name}: no built store at {home}")
    if not stores:
        sys.exit("no built store to measure: run `make demo` (or pass --home)")
    paths = {name: article_paths(home) for name, home in stores.items()}
    paths["hello"] = ["/hello"]

    servers: dict[tuple[str, int], Server] = {}
    for w in worker_counts:
        for name, home in stores.items():
            port = free_port()
            servers[(name, w)] = Server(service_argv(home, port, w), port)
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
        for rnd in range(args.rounds):
            for u in users:
                for (name, w), srv in servers.items():
                    if time.monotonic() > deadline:
                        raise TimeoutError
                    r = load(srv, paths[name], u, args.seconds, args.max_requests)
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
        f"{TARGET_P99_MS_AT_32:g} ms at 32 clients, cache off, 0 errors. {machine_load()}"
    )


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
