"""The JSON API: parse the request, call the library, shape the answer. No ranking here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..errors import ArticleNotFound, RecommenderError
from . import models
from .config import MAX_BATCH, MAX_N
from .errors import error_body, status_of
from .items import RenderFields, item
from .metrics import Metrics, index_age_seconds
from .reader import Library

MAX_ID_LENGTH = 2048  # ids may be urls
MAX_URL_LENGTH = 8192  # as ingest allows (ingest/rows.py)
NOT_FOUND_BY_URL = error_body("article_not_found", "no article with this url")
RenderLookup = Callable[[Any, str], RenderFields]


@dataclass(frozen=True)
class SidebarQuery:
    """The query parameters every sidebar endpoint takes."""

    n: int
    as_of: datetime | None
    cross_language: bool | None
    max_age_days: float | None
    exclude_section: list[str]
    explain: bool

    def options(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "cross_language": self.cross_language,
            "max_age_days": self.max_age_days,
            "exclude_sections": self.exclude_section,
        }


async def sidebar_query(
    n: Annotated[int, Query(ge=1, le=MAX_N, description="how many items")] = 5,
    as_of: Annotated[
        datetime | None, Query(description="rank as of this moment (ISO 8601); later articles never show")
    ] = None,
    cross_language: Annotated[
        bool | None, Query(description="allow other languages (default: the store's setting)")
    ] = None,
    max_age_days: Annotated[
        float | None, Query(gt=0, allow_inf_nan=False, description="leave out older articles")
    ] = None,
    exclude_section: Annotated[
        list[str], Query(max_length=50, description="leave out this section; repeatable")
    ] = [],  # noqa: B006 (FastAPI copies defaults per request)
    explain: Annotated[bool, Query(description="add the score and its parts to every item")] = False,
) -> SidebarQuery:
    # async: FastAPI runs a plain `def` dependency in a thread, which cost 2 ms a request here
    return SidebarQuery(n, as_of, cross_language, max_age_days, list(exclude_section), explain)


Options = Annotated[SidebarQuery, Depends(sidebar_query)]
ArticleId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, description="the article's id")]
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": models.ErrorBody, "description": text}
    for status, text in [
        (404, "no article with this id"),
        (422, "a parameter is out of range or malformed"),
        (503, "no index built yet, or the store cannot be read"),
    ]
}


class Sidebars:
    """What the routes share: the library, the render-field lookup, and how a call is run."""

    def __init__(self, library: Library, render: RenderLookup | None = None) -> None:
        self.library, self.render = library, render

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a library call: inline once the view is loaded (about a millisecond of CPU), in a
        thread while it may still open the store and wait for another process's lock."""
        if self.library.loaded:
            return fn(*args, **kwargs)
        return await run_in_threadpool(fn, *args, **kwargs)

    def items(self, article_id: str, q: SidebarQuery) -> list[dict[str, Any]]:
        """The sidebar of one article as JSON-ready items."""
        found = self.library.related(article_id, q.n, **q.options())
        if self.render is None:
            return [item(r, RenderFields.of(r), q.explain) for r in found]
        catalog = self.library.view().catalog
        return [item(r, self.render(catalog, r.id), q.explain) for r in found]


def api_router(sidebars: Sidebars, metrics: Metrics) -> APIRouter:
    router = APIRouter()
    library, call, items = sidebars.library, sidebars.call, sidebars.items

    @router.get(
        "/v1/related/batch",
        response_model=models.Batch,
        responses={422: ERRORS[422]},
        summary="Sidebars of several articles at once (a front page)",
    )
    async def related_batch(
        q: Options,
        ids: Annotated[
            list[str],
            Query(min_length=1, max_length=MAX_BATCH, description="article ids; repeat the parameter"),
        ],
    ) -> Any:
        def run() -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            for article_id in ids:
                try:
                    out.append({"article_id": article_id, "items": items(article_id, q)})
                except RecommenderError as exc:
                    status, code, message = status_of(exc)
                    if status >= 500:
                        raise  # the whole service is unavailable, not this one id
                    out.append({"article_id": article_id, "error": {"code": code, "message": message}})
            return out

        return {"sidebars": await call(run)}

    @router.get(
        "/v1/related",
        response_model=models.Sidebar,
        response_model_exclude_none=False,
        responses=ERRORS,
        summary="The sidebar of the article at this url (its canonical url, as ingested)",
    )
    async def related_by_url(
        q: Options,
        url: Annotated[str, Query(min_length=1, max_length=MAX_URL_LENGTH, description="the article's url")],
    ) -> Any:
        def run() -> dict[str, Any]:
            try:
                article_id = library.article_id_for_url(url)
            except ArticleNotFound:
                return NOT_FOUND_BY_URL
            return {"article_id": article_id, "items": items(article_id, q)}

        found = await call(run)
        return JSONResponse(found, status_code=404) if found is NOT_FOUND_BY_URL else found

    @router.get(
        "/v1/related/{article_id:path}",
        response_model=models.Sidebar,
        response_model_exclude_none=False,
        responses=ERRORS,
        summary="The related-news sidebar of one article",
    )
    async def related(article_id: ArticleId, q: Options) -> Any:
        return {"article_id": article_id, "items": await call(items, article_id, q)}

    @router.get(
        "/healthz",
        response_model=models.Health,
        response_model_exclude_none=True,
        responses={503: {"model": models.Health, "description": "no index to serve"}},
        summary="Liveness and what is being served",
    )
    async def healthz() -> Any:
        try:
            view = await call(library.view)
        except RecommenderError as exc:
            status, code, message = status_of(exc)
            body = {"status": "unavailable", "error": {"code": code, "message": message}}
            return JSONResponse(body, status_code=status)
        return {
            "status": "ok",
            "build": view.build,
            "built_at": view.built_at,
            "index_age_seconds": index_age_seconds(library),
            "articles": view.articles,
            "indexed": view.indexed,
            "model": view.model,
            "reload_error": library.reload_error,
        }

    @router.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
        summary="Request counts, latency histograms and index age (Prometheus)",
    )
    async def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(await call(metrics.exposition), media_type=CONTENT_TYPE_LATEST)

    return router
