"""Locust user for the HTTP benchmarks (run by benchmarks/loadgen.py, not by hand).

Each user sends GET requests back to back (a closed loop: `users` requests in flight at most), or
at most $BENCH_RATE_PER_USER a second, over the paths listed in $BENCH_PATHS, one per line.
Response times are recorded raw, in milliseconds, from the moment every user has started, with
the wall-clock time each ended (to tell the latency of a moment, such as an index swap), and
written to $BENCH_OUT as JSON when the test stops:
locust's own percentiles round to whole milliseconds, too coarse for a sub-millisecond endpoint.
The run stops itself after $BENCH_MAX_REQUESTS measured requests or locust's --run-time.
"""

from __future__ import annotations

import itertools
import json
import os
import time

from locust import FastHttpUser, constant_throughput, events, task

with open(os.environ["BENCH_PATHS"], encoding="utf-8") as _fh:
    PATHS = [p for p in _fh.read().splitlines() if p]
MAX_REQUESTS = int(os.environ.get("BENCH_MAX_REQUESTS", "200000"))
RATE_PER_USER = float(os.environ.get("BENCH_RATE_PER_USER") or 0)  # 0: back to back
_next_path = itertools.cycle(PATHS)
_state: dict = {
    "measuring": False, "started": 0.0, "ended": 0.0, "times": [], "done_at": [], "errors": 0, "statuses": {}
}  # fmt: skip
_clock: dict = {}  # wall clock and this process's CPU time at the start and end of measuring


@events.spawning_complete.add_listener
def _all_started(user_count: int, **_: object) -> None:
    _state["measuring"] = True
    _state["started"] = time.perf_counter()
    _clock.update(wall_started=time.time(), cpu_started=time.process_time())


@events.request.add_listener
def _record(response_time: float, exception: BaseException | None, response=None, **_: object) -> None:
    if not _state["measuring"]:
        return
    _state["ended"] = time.perf_counter()
    _clock.update(wall_ended=time.time(), cpu_ended=time.process_time())
    if exception is not None:
        _state["errors"] += 1
        key = type(exception).__name__ if response is None else str(response.status_code)
        _state["statuses"][key] = _state["statuses"].get(key, 0) + 1
        return
    _state["times"].append(response_time)
    _state["done_at"].append(time.time())
    if len(_state["times"]) + _state["errors"] >= MAX_REQUESTS:
        _state["measuring"] = False
        runner = _record.environment.runner  # type: ignore[attr-defined]
        if runner is not None:
            runner.quit()


@events.init.add_listener
def _keep_environment(environment, **_: object) -> None:
    _record.environment = environment  # type: ignore[attr-defined]


@events.quitting.add_listener
def _write(environment, **_: object) -> None:
    with open(os.environ["BENCH_OUT"], "w", encoding="utf-8") as fh:
        json.dump(
            {
                "seconds": max(_state["ended"] - _state["started"], 1e-9),
                "times_ms": _state["times"],
                "done_at": _state["done_at"],
                "errors": _state["errors"],
                "error_kinds": _state["statuses"],
                **_clock,
            },
            fh,
        )


class Reader(FastHttpUser):
    """A page view asking for a sidebar: with no think time, or at $BENCH_RATE_PER_USER a second."""

    if RATE_PER_USER > 0:
        wait_time = constant_throughput(RATE_PER_USER)

    @task
    def get(self) -> None:
        self.client.get(next(_next_path), name="bench")
