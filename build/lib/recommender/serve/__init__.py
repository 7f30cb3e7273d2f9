"""The HTTP service (`recommender serve`) and its widget; needs the `serve` extra.

    from recommender.serve import create_app
    app = create_app("indexes/")          # any ASGI server; `recommender serve` runs it on granian

Importing this package imports nothing heavy: `create_app` loads FastAPI on first use, and
`recommender serve` must set up the metrics directory before prometheus_client is imported.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
