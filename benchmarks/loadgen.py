"""Shared harness of the HTTP benchmarks: start a server, put load on it with locust, measure.

Loopback only: servers bind 127.0.0.1 on a free port and locust is pointed at that address. Every
load run is bounded in time (locust --run-time, plus a subprocess timeout) and in count
($BENCH_MAX_REQUESTS). The load generator runs on the same cores as the server, so every run also
reports the CPU both used (from /proc: the server's whole process tree, locust's own process).
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
LOOPBACK = "127.0.0.1"
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


class Server:
    """A server subprocess on a loopback port, stopped (whole process group) on exit."""

    def __init__(self, argv: Sequence[str], port: int, env: Mapping[str, str] | None = None) -> None:
        self.argv, self.port = list(argv), port
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def base(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {' '.join(self.argv)}\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.base + path, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout}s: {' '.join(self.argv)}\n{self.tail()}")

    def tail(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-2000:]

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        Path(self.log.name).unlink(missing_ok=True)


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and all its live descendants."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / TICK
    members, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in members:
                members.add(child)
                frontier.append(child)
    return sum(times.get(p, 0.0) for p in members)


@dataclass(frozen=True)
class Result:
    """One load run: throughput, latency percentiles, errors, and the CPU each side used."""

    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    server_cores: float  # CPU seconds of the server per wall second of the run
    locust_cores: float
    error_kinds: dict[str, int]
    hit_ratio: float | None = None  # the service's sidebar cache during the run (None: not asked)
    times_ms: list[float] = field(default_factory=list, repr=False)  # every answered request
    done_at: list[float] = field(default_factory=list, repr=False)  # its end, wall clock (time.time)

    @property
    def server_cpu_ms(self) -> float:
        """Server CPU time per answered request: steadier than req/s on a machine shared with others."""
        return 1000.0 * self.server_cores / self.rps if self.rps else float("nan")


def load(
    server: Server,
    paths: Sequence[str],
    users: int,
    seconds: float,
    max_requests: int = 200_000,
    cache_metrics: bool = False,
    rate: float = 0.0,
) -> Result:
    """Put `users` closed-loop clients on the server for `seconds` (after they all started).
    `cache_metrics`: also report the service's cache hit ratio over the run (from /metrics).
    `rate`: requests a second from all the clients together, at most (0: each as fast as it can)."""
    assert server.proc is not None
    before = cache_counts(server.base) if cache_metrics else {}
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        paths_file, out_file = Path(tmp, "paths.txt"), Path(tmp, "out.json")
        paths_file.write_text("\n".join(paths), encoding="utf-8")
        env = {
            **os.environ,
            "BENCH_PATHS": str(paths_file),
            "BENCH_OUT": str(out_file),
            "BENCH_MAX_REQUESTS": str(max_requests),
            "BENCH_RATE_PER_USER": str(rate / users if rate > 0 else 0),
        }
        ramp = max(1.0, users / 200)
        argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary"]
        argv += ["-u", str(users), "-r", str(users / ramp), "-t", f"{int(seconds + ramp + 1)}s"]
        argv += ["--host", server.base, "--loglevel", "ERROR", "--stop-timeout", "2"]
        started = time.perf_counter()
        gen = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        samples: list[tuple[float, float]] = []  # (wall clock, server CPU seconds)
        try:
            while gen.poll() is None:
                samples.append((time.time(), tree_cpu_seconds(server.proc.pid)))
                if time.perf_counter() - started > seconds + ramp + 30:
                    gen.kill()
                    raise RuntimeError("locust did not stop in time")
                time.sleep(0.2)
            stderr = gen.stderr.read().decode(errors="replace") if gen.stderr else ""
        finally:
            if gen.poll() is None:
                gen.kill()
        if not out_file.exists():
            raise RuntimeError(f"locust wrote no results:\n{stderr[-2000:]}")
        data = json.loads(out_file.read_text())
    window = [s for s in samples if data.get("wall_started", 0) <= s[0] <= data.get("wall_ended", 0)]
    server_cores = (
        (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0]) if len(window) > 1 else float("nan")
    )
    locust_cpu = data.get("cpu_ended", 0.0) - data.get("cpu_started", 0.0)
    after = cache_counts(server.base) if cache_metrics else {}
    times = sorted(data["times_ms"])
    return Result(
        requests=len(times),
        errors=int(data["errors"]),
        rps=len(times) / data["seconds"],
        p50_ms=percentile(times, 50),
        p99_ms=percentile(times, 99),
        server_cores=server_cores,
        locust_cores=locust_cpu / data["seconds"],
        error_kinds=data["error_kinds"],
        hit_ratio=hit_ratio(before, after) if cache_metrics else None,
        times_ms=list(data["times_ms"]),
        done_at=list(data.get("done_at", [])),
    )


CACHE_LINE = re.compile(r'^recommender_sidebar_cache_total\{result="(\w+)"\} ([0-9.e+]+)$', re.M)


def cache_counts(base: str) -> dict[str, float]:
    """The service's sidebar cache counters (hit, miss, ...), summed over its workers (/metrics)."""
    with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return {m.group(1): float(m.group(2)) for m in CACHE_LINE.finditer(text)}


def hit_ratio(before: Mapping[str, float], after: Mapping[str, float]) -> float | None:
    """Hits over lookups between two readings of cache_counts (None: no lookup)."""
    hits = after.get("hit", 0.0) - before.get("hit", 0.0)
    lookups = hits + after.get("miss", 0.0) - before.get("miss", 0.0)
    return hits / lookups if lookups else None


def warm_every_worker(
    server: Server,
    paths: Sequence[str],
    workers: int,
    connections: int = 32,
    tries: int = 3,
    patience_s: float = 60.0,
) -> tuple[int, float | None]:
    """Ask every path once of every worker of the service, whichever way it spreads connections.

    Kept-alive connections stay with the worker that accepted them, and a path one worker answered
    is a cache hit there only: so connections are sorted into workers by asking a path no worker
    was asked before on a known connection, then on a new one, and reading /metrics between (a hit:
    the same worker). A worker still starting, or one slower to accept than its siblings, gets no
    connection of a batch: fresh batches are opened until every worker holds one or `patience_s`
    has passed. Then one connection per worker asks every path. Returns (workers reached, the hit
    ratio of the pass: 1.0 when every worker was warm already)."""
    reached, ratio = 0, None
    for _ in range(tries):
        reached, ratio, failed = _warm_once(server, paths, workers, connections, patience_s)
        if not failed:
            break
    return reached, ratio


def _warm_once(
    server: Server, paths: Sequence[str], workers: int, connections: int, patience_s: float
) -> tuple[int, float | None, bool]:
    reps: list[http.client.HTTPConnection] = []
    try:
        deadline = time.monotonic() + patience_s
        _sort_into_workers(server, paths, reps, workers, connections)
        while len(reps) < workers and time.monotonic() < deadline:
            time.sleep(0.2)  # a worker still starting: a later batch may reach it
            _sort_into_workers(server, paths, reps, workers, connections)
        failed: list[BaseException] = []

        def ask_all(conn: http.client.HTTPConnection) -> None:
            try:
                for path in paths:
                    _ask(conn, path)
            except (OSError, http.client.HTTPException) as exc:
                failed.append(exc)

        before = cache_counts(server.base)
        threads = [threading.Thread(target=ask_all, args=(rep,)) for rep in reps]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return len(reps), hit_ratio(before, cache_counts(server.base)), bool(failed)
    except (OSError, http.client.HTTPException):
        return 0, None, True
    finally:
        for conn in reps:
            conn.close()


def _sort_into_workers(
    server: Server,
    paths: Sequence[str],
    reps: list[http.client.HTTPConnection],
    workers: int,
    connections: int,
) -> None:
    """Open a batch of connections and add to `reps` each one held by a worker no rep is held by;
    the others are closed."""
    batch = [http.client.HTTPConnection(LOOPBACK, server.port, timeout=30) for _ in range(connections)]
    kept: set[int] = set()
    try:
        for conn in batch:
            conn.connect()  # all open before any request: the server spreads them as it will
        for i, conn in enumerate(batch):
            if len(reps) >= workers:
                break
            if not reps:
                reps.append(conn)
                kept.add(i)
                continue
            for rep in reps:
                path = _probe(paths, next(_PROBES))  # asked of no worker before
                _ask(rep, path)
                hits = cache_counts(server.base).get("hit", 0.0)
                _ask(conn, path)
                if cache_counts(server.base).get("hit", 0.0) > hits:
                    break  # the same worker as `rep`
            else:
                reps.append(conn)
                kept.add(i)
    finally:
        for i, conn in enumerate(batch):
            if i not in kept:
                conn.close()


_PROBES = itertools.count()


def _probe(paths: Sequence[str], k: int) -> str:
    """The k-th probe: a path with one of the `n` values, so that it is a cache key of its own."""
    from recommender.serve.config import MAX_N

    return f"{paths[(k // MAX_N) % len(paths)]}?n={k % MAX_N + 1}"


def _ask(conn: http.client.HTTPConnection, path: str) -> None:
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.read()
    if resp.status >= 500:
        raise http.client.HTTPException(f"{path}: {resp.status}")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return float(sorted_values[k])


def spread(values: Sequence[float], digits: int = 0) -> str:
    """'median (min-max)' of a figure over rounds."""
    if not values:
        return "-"
    fmt = f"{{:.{digits}f}}"
    mid = statistics.median(values)
    return f"{fmt.format(mid)} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def machine_load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"
