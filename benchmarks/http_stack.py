"""Which ASGI stack serves sidebars best here: FastAPI or plain Starlette, on uvicorn or granian.

    python -m benchmarks.http_stack --home /work/stores/demo [--rounds 3] [--seconds 5]

Four servers (framework x server, one worker each) run side by side on loopback ports; each has a
bare `/hello` and `/related/{id}` calling the engine on the store (`Library.related`, as the
service does). Rounds are interleaved: every round puts 8, 32 and 128 closed-loop locust clients on
every endpoint of every stack in turn, so a busy moment on the shared machine hits all of them
alike. Prints throughput and p50/p99 latency as 'median (min-max)' over rounds, and the CPU the
server and locust each used (they share the cores). Bounded: `--seconds` a run, `--max-requests`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from .loadgen import LOOPBACK, Result, Server, free_port, load, machine_load, spread

HOME_ENV = "BENCH_HOME"
FRAMEWORKS = ("fastapi", "starlette")
SERVERS = ("uvicorn", "granian")
USERS = (8, 32, 128)


def _library() -> Any:
    from recommender.serve.reader import Library

    library = Library(os.environ[HOME_ENV])
    library.view()  # loaded before the first request
    return library


def _items(library: Any, article_id: str, n: int) -> list[dict[str, Any]]:
    from recommender.serve.items import RenderFields, item

    return [item(r, RenderFields.of(r)) for r in library.related(article_id, n)]


def fastapi_app() -> Any:
    """FastAPI as the service would use it: typed query parameters, a response model."""
    from fastapi import FastAPI, Query
    from pydantic import BaseModel

    class Item(BaseModel):
        id: str
        url: str | None
        title: str
        snippet: str | None
        image: str | None
        section: str | None
        language: str | None
        published_at: str | None
        authors: list[str]
        tags: list[str]
        fallback: bool

    class Sidebar(BaseModel):
        article_id: str
        items: list[Item]

    library = _library()
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/related/{article_id:path}", response_model=Sidebar)
    async def related(article_id: str, n: Annotated[int, Query(ge=1, le=50)] = 5) -> Any:
        return {"article_id": article_id, "items": _items(library, article_id, n)}

    return app


def starlette_app() -> Any:
    """Plain Starlette: parameters parsed by hand, JSONResponse."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    library = _library()

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"hello": "world"})

    async def related(request: Request) -> JSONResponse:
        try:
            n = int(request.query_params.get("n", "5"))
        except ValueError:
            return JSONResponse({"error": "n must be a whole number"}, status_code=422)
        if not 1 <= n <= 50:
            return JSONResponse({"error": "n must be between 1 and 50"}, status_code=422)
        article_id = request.path_params["article_id"]
        return JSONResponse({"article_id": article_id, "items": _items(library, article_id, n)})

    return Starlette(routes=[Route("/hello", hello), Route("/related/{article_id:path}", related)])


def server_argv(server: str, framework: str, port: int, workers: int = 1) -> list[str]:
    target = f"benchmarks.http_stack:{framework}_app"
    if server == "uvicorn":
        return [
            *(sys.executable, "-m", "uvicorn", target, "--factory", "--host", LOOPBACK, "--port", str(port)),
            *("--workers", str(workers), "--no-access-log", "--log-level", "warning"),
            *("--loop", "uvloop", "--http", "httptools"),
        ]
    return [
        *(sys.executable, "-m", "granian", "--interface", "asgi", "--factory", target),
        *("--host", LOOPBACK, "--port", str(port), "--workers", str(workers), "--no-ws"),
        *("--log-level", "warning"),
    ]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.http_stack", description=__doc__)
    p.add_argument("--home", type=Path, required=True, help="a built store (e.g. the demo store)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run")
    p.add_argument("--max-requests", type=int, default=100_000, help="per run")
    p.add_argument("--users", default=",".join(map(str, USERS)))
    args = p.parse_args(argv)
    users = [int(u) for u in args.users.split(",")]

    from recommender.serve.reader import Library

    ids = [str(i) for i in Library(args.home).view().catalog.external_ids]
    paths = {"hello": ["/hello"], "related": [f"/related/{quote(i, safe='')}" for i in ids]}
    stacks = [(f, s) for f in FRAMEWORKS for s in SERVERS]
    env = {HOME_ENV: str(args.home)}
    results: dict[tuple[str, str, str, int], list[Result]] = defaultdict(list)
    print(f"[bench] {machine_load()}; {len(ids)} articles in {args.home}", flush=True)
    started = time.perf_counter()
    servers = {st: Server(server_argv(st[1], st[0], free_port()), 0, env) for st in stacks}
    for srv in servers.values():
        srv.port = int(srv.argv[srv.argv.index("--port") + 1])
    try:
        for srv in servers.values():
            srv.__enter__()
        for srv in servers.values():
            srv.wait_ready("/hello")
        for rnd in range(args.rounds):
            for u in users:
                for endpoint in ("hello", "related"):
                    for st in stacks:
                        r = load(servers[st], paths[endpoint], u, args.seconds, args.max_requests)
                        results[(*st, endpoint, u)].append(r)
                        print(
                            f"[bench] round {rnd + 1} {st[0]}+{st[1]} {endpoint} {u} clients: "
                            f"{r.rps:.0f} req/s, p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, "
                            f"{r.errors} errors; server {r.server_cores:.2f} cores "
                            f"({r.server_cpu_ms:.2f} ms/req), "
                            f"locust {r.locust_cores:.2f} cores",
                            flush=True,
                        )
    finally:
        for srv in servers.values():
            srv.__exit__(None, None, None)
    print(table(results, stacks, users))
    print(
        f"\n{args.rounds} interleaved rounds, {args.seconds:g} s per run, "
        f"{time.perf_counter() - started:.0f} s"
    )
    print(f"[bench] {machine_load()}")


def table(results: dict[tuple[str, str, str, int], list[Result]], stacks: list, users: list[int]) -> str:
    lines = [
        "| stack | endpoint | clients | req/s | p50 ms | p99 ms | errors | server CPU ms/req | server cores "
        "| locust cores |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for endpoint in ("hello", "related"):
        for u in users:
            for st in stacks:
                rs = results[(*st, endpoint, u)]
                lines.append(
                    f"| {st[0]} + {st[1]} | {endpoint} | {u} | {spread([r.rps for r in rs])} | "
                    f"{spread([r.p50_ms for r in rs], 2)} | {spread([r.p99_ms for r in rs], 2)} | "
                    f"{sum(r.errors for r in rs)} | {spread([r.server_cpu_ms for r in rs], 2)} | "
                    f"{spread([r.server_cores for r in rs], 2)} | "
                    f"{spread([r.locust_cores for r in rs], 2)} |"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
