"""Start the service: `recommender serve` calls `serve(config, host, port, workers)`.

granian runs the app (chosen by measurement: benchmarks/serving-stack.md). Worker processes build their
own app from the environment (`app_from_env`); they share the memory-mapped vectors of the index
through the page cache, and with several workers their Prometheus counts are summed through
prometheus_client's multiprocess directory, emptied at every start.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib.util import find_spec

from ..errors import RecommenderError
from ..home import require_store
from .config import MULTIPROC_ENV, ServeConfig

TARGET = "recommender.serve.app:app_from_env"
NEEDED = ("fastapi", "granian", "prometheus_client")  # the serve extra (looked up, not imported)


def serve(
    config: ServeConfig, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, target: str = TARGET
) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM). `target`: the app factory, as module:function."""
    missing = [name for name in NEEDED if find_spec(name) is None]
    if missing:
        raise RecommenderError(
            "the service needs the serve extra: pip install 'recommender[serve]' "
            f"(missing {', '.join(missing)})"
        )
    if workers < 1:
        raise RecommenderError(f"--workers must be at least 1, got {workers}")
    require_store(config.home)
    os.environ.update(config.to_env())
    metrics_dir = None
    if workers > 1:
        metrics_dir = tempfile.mkdtemp(prefix="recommender-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
    try:
        _granian(target, host, port, workers).serve()
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _granian(target: str, host: str, port: int, workers: int):  # -> granian.Granian
    from granian import Granian
    from granian.constants import Interfaces

    return Granian(
        target,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
        websockets=False,
        log_access=False,
    )
