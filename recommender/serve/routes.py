"""The JSON API: parse the request, call the library, shape the answer. No ranking here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ..errors import ArticleNotFound, RecommenderError
from ..ranking import Query as RankingQuery
from . import models
from .builder import Builder
from .cache import CachePolicy, SidebarCache, make_answer, matches
from .config import MAX_BATCH, MAX_N
from .errors import error_body, status_of
from .items import RenderFields, item
from .metrics import Metrics, index_age_seconds
from .reader import Library

MAX_ID_LENGTH = 2048  # ids may be urls
Fill = Literal["below_floor", "section", "none"]
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
    section: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    fill: Fill | None = None

    def query(self) -> RankingQuery:
        """The ranking's own Query (checked by the ranking, as any caller's is)."""
        return RankingQuery(
            self.n, self.as_of, self.cross_language, self.max_age_days, tuple(self.exclude_section),
            self.section, self.since, self.until, self.fill,
        )  # fmt: skip


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
    section: Annotated[
        str | None, Query(min_length=1, max_length=200, description="only articles of this section")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="only articles published at or after this (ISO 8601)")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="only articles published at or before this (ISO 8601)")
    ] = None,
    fill: Annotated[
        Fill | None,
        Query(
            description="when fewer than n are related enough: below_floor (the best of the rest, "
            "flagged), section (the newest of the section) or none (show fewer); default: the setting"
        ),
    ] = None,
) -> SidebarQuery:
    # async: FastAPI runs a plain `def` dependency in a thread, which cost 2 ms a request here
    return SidebarQuery(
        n, as_of, cross_language, max_age_days, list(exclude_section), explain, section, since, until, fill
    )


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
    """What the routes share: the library, the render-field lookup, the cache, and how a call is run."""

    def __init__(
        self,
        library: Library,
        render: RenderLookup | None = None,
        cache: SidebarCache | None = None,
    ) -> None:
        self.library, self.render = library, render
        self.builder = Builder(library.home)  # background builds for pushed articles (writes.py)
        self.cache = cache if cache is not None else SidebarCache(CachePolicy())

    async def answer(
        self, request: Request, shape: type[BaseModel], make: Callable[[], dict[str, Any]]
    ) -> Response:
        """The answer to a sidebar request, from the in-process cache when this build and overlay
        already answered it, with ETag and Cache-Control; 304 when the client holds it."""
        view = await self.call(self.library.view)
        overlay = view.catalog.overlay
        version = (view.build, overlay.version, overlay.written_at)
        # parameters in a fixed order (repeated ones keep theirs: batch ids are answered in order)
        query = sorted(request.query_params.multi_items(), key=lambda kv: kv[0])
        key = request.url.path + "?" + urlencode(query)
        found = self.cache.get(version, key)
        if found is None:
            body = await self.call(make)
            payload = shape.model_validate(body).model_dump_json().encode()
            found = make_answer(version, payload, empty=not any(body.get(k) for k in ("items", "sidebars")))
            self.cache.put(version, key, found)
        headers = {"ETag": found.etag, "Cache-Control": self.cache.policy.cache_control(found.empty)}
        if matches(request.headers.get("if-none-match"), found.etag):
            self.cache.count("not_modified")
            return Response(status_code=304, headers=headers)
        return Response(found.payload, media_type="application/json", headers=headers)

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a library call: inline once the view is loaded (about a millisecond of CPU), in a
        thread while it may still open the store and wait for another process's lock."""
        if self.library.loaded:
            return fn(*args, **kwargs)
        return await run_in_threadpool(fn, *args, **kwargs)

    def items(self, article_id: str, q: SidebarQuery) -> list[dict[str, Any]]:
        """The sidebar of one article as JSON-ready items."""
        return self._shaped(self.library.related(article_id, q.query()), q)

    def draft_items(self, draft: models.Draft, q: SidebarQuery) -> list[dict[str, Any]]:
        """The sidebar of a draft as JSON-ready items (embedded here, nothing stored)."""
        found = self.library.related_to_text(draft.title, draft.body, q.query(), draft.language)
        return self._shaped(found, q)

    def _shaped(self, found: list[Any], q: SidebarQuery) -> list[dict[str, Any]]:
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
        request: Request,
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

        return await sidebars.answer(request, models.Batch, lambda: {"sidebars": run()})

    @router.get(
        "/v1/related",
        response_model=models.Sidebar,
        response_model_exclude_none=False,
        responses=ERRORS,
        summary="The sidebar of the article at this url (its canonical url, as ingested)",
    )
    async def related_by_url(
        request: Request,
        q: Options,
        url: Annotated[str, Query(min_length=1, max_length=MAX_URL_LENGTH, description="the article's url")],
    ) -> Any:
        try:
            article_id = await call(library.article_id_for_url, url)
        except ArticleNotFound:
            return JSONResponse(NOT_FOUND_BY_URL, status_code=404)
        return await sidebars.answer(
            request, models.Sidebar, lambda: {"article_id": article_id, "items": items(article_id, q)}
        )

    @router.post(
        "/v1/related",
        response_model=models.DraftSidebar,
        responses={422: ERRORS[422], 503: ERRORS[503]},
        summary="The sidebar of a draft (title and body): same ranking, nothing stored",
    )
    async def related_to_draft(draft: models.Draft, q: Options) -> Any:
        # always in a thread: the first draft loads the model, and every draft is embedded
        found = await run_in_threadpool(sidebars.draft_items, draft, q)
        return {"items": found}

    @router.get(
        "/v1/related/{article_id:path}",
        response_model=models.Sidebar,
        response_model_exclude_none=False,
        responses=ERRORS,
        summary="The related-news sidebar of one article",
    )
    async def related(request: Request, article_id: ArticleId, q: Options) -> Any:
        return await sidebars.answer(
            request, models.Sidebar, lambda: {"article_id": article_id, "items": items(article_id, q)}
        )

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
            "build_error": sidebars.builder.last_error,
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
