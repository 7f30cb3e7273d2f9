"""Prometheus metrics of the service: request counts, latency histograms, index age.

One process: the metrics live in the app's own registry. Several workers: `recommender serve`
sets PROMETHEUS_MULTIPROC_DIR before starting them, every worker writes its counts there, and
whichever worker answers /metrics reports the sum (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as mp

from .config import MULTIPROC_ENV
from .reader import Library

disable_created_metrics()  # no `_created` series beside every counter
# Sidebars take about a millisecond; a slow request is tens of milliseconds.
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self, library: Library) -> None:
        self.library = library
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "recommender_http_requests",
            "HTTP requests answered, by method, route and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "recommender_http_request_duration_seconds",
            "Time to answer a request, by method and route.",
            ("method", "route"),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.cache = Counter(
            "recommender_sidebar_cache",
            "Sidebar lookups in the in-process cache: hit, miss, dropped (the build or overlay moved), "
            "not_modified (answered 304).",
            ("result",),
            registry=self.registry,
        )
        self.index_age = Gauge(
            "recommender_index_age_seconds",
            "Seconds since the live index was built.",
            registry=self.registry,
            multiprocess_mode="max",
        )

    def cache_event(self, result: str) -> None:
        self.cache.labels(result).inc()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def exposition(self) -> bytes:
        """The metrics in Prometheus text format."""
        age = index_age_seconds(self.library)
        if age is not None:
            self.index_age.set(age)
        if self.multiprocess:
            registry = CollectorRegistry()
            mp.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def index_age_seconds(library: Library) -> float | None:
    from datetime import datetime

    try:
        built = datetime.fromisoformat(library.view().built_at)
    except Exception:  # no index yet: no age
        return None
    return max(0.0, time.time() - built.timestamp())
