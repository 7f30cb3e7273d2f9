"""`create_app(home)`: the ASGI application of `recommender serve` (FastAPI on granian).

Routes: GET /v1/related/{id}, /v1/related/batch, /healthz, /metrics, /widget.js,
/preview/{id}, and the OpenAPI schema at /openapi.json (browsable at /docs).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import RecommenderError
from .cache import CachePolicy, SidebarCache
from .config import MAX_BODY_BYTES, ServeConfig
from .errors import HTTP_CODES, error_body, status_of
from .metrics import Metrics
from .middleware import BodyLimit, RequestMetrics
from .pages import pages_router
from .reader import Library
from .routes import RenderLookup, Sidebars, api_router
from .writes import writes_router

log = logging.getLogger("recommender.serve")


def create_app(
    home: str | os.PathLike[str] | None = None,
    *,
    cors_origins: Sequence[str] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
    render: RenderLookup | None = None,
    token: str | None = None,
    cache: CachePolicy | None = None,
) -> FastAPI:
    """The service for one store. `cors_origins`: pages (scheme://host[:port]) allowed to call the
    API from a browser (default none). `render`: where snippet, image, authors and tags come
    from (default: the build's snapshot, with every sidebar item). `token`: the bearer token write
    endpoints need (None: they are off, 403). `cache`: how long answers are kept (cache.py)."""
    library = Library(home)
    metrics = Metrics(library)
    sidebars = Sidebars(library, render, SidebarCache(cache or CachePolicy(), metrics.cache_event))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:  # warm: the first request should not pay for loading the index
            await run_in_threadpool(library.view)
        except RecommenderError as exc:
            log.warning("no sidebars yet: %s", exc)
        yield
        sidebars.builder.close()  # stops the build process this worker started, if it runs

    app = FastAPI(
        title="recommender",
        version=__version__,
        summary="Related-news sidebars over HTTP, and the widget that draws them.",
        lifespan=lifespan,
        # No telemetry, whatever the environment says (FASTAPI_OTEL_AUTO_CONFIGURE, OTEL_* exporters).
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
    )
    app.include_router(api_router(sidebars, metrics))
    app.include_router(pages_router(sidebars))
    app.include_router(writes_router(library, token, sidebars.builder))
    _add_error_handlers(app)
    if cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET"], max_age=600
        )
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)  # outermost: times everything
    return app


def app_from_env() -> FastAPI:
    """The factory worker processes call (`recommender serve` passes its options in the environment)."""
    config = ServeConfig.from_env()
    return create_app(
        config.home,
        cors_origins=config.cors_origins,
        max_body_bytes=config.max_body_bytes,
        token=config.token,
        cache=config.cache,
    )


def _add_error_handlers(app: FastAPI) -> None:
    async def library_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RecommenderError)
        status, code, message = status_of(exc)
        if status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(error_body(code, message), status_code=status)

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details = [_detail(e) for e in exc.errors()]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        message = f"{where}: {first['msg']}" if where else str(first["msg"])
        return JSONResponse(error_body("invalid_parameter", message, details), status_code=422)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    app.add_exception_handler(RecommenderError, library_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)


def _detail(error: Any) -> dict[str, Any]:
    """A validation error as plain JSON: where, what, which kind (not the raw input object)."""
    return {
        "loc": [str(p) for p in error.get("loc", ())],
        "msg": str(error.get("msg", "")),
        "type": error.get("type"),
    }
