"""Write endpoints: a CMS pushing articles, editors setting pins, blocks and section values.

Every one needs the write token (auth.py). Each stores through the library at once, under the
home's write lock, so the change is in every serving process's overlay by its next request; a
pushed article also asks for a background build (builder.py), after which it is in sidebars.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ..api import Recommender
from .auth import WriteAccess
from .builder import Builder
from .errors import error_body
from .reader import Library

MAX_ID_LENGTH = 2048


class ArticleIn(BaseModel):
    """An article as a CMS pushes it: the fields `recommender ingest` reads (also under their usual
    other names: description, image_url, ...), checked the same way."""

    model_config = ConfigDict(extra="allow")
    title: str = Field(max_length=100_000)
    body: str = Field(max_length=100_000_000)
    url: str | None = None
    section: str | None = None
    language: str | None = None
    published_at: str | None = Field(
        default=None, description="ISO 8601; without an offset, the store's timezone"
    )
    updated_at: str | None = None
    image: str | None = Field(
        default=None, description="http(s) url; anything else is dropped with a warning"
    )
    summary: str | None = None
    authors: list[str] | str | None = None
    tags: list[str] | str | None = None


class Stored(BaseModel):
    article_id: str
    outcome: str = Field(description="added, updated or unchanged")
    warnings: list[str] = Field(description="fields dropped or cut, and why")
    build: str = Field(description="requested: it reaches sidebars when the background build is live")


class PinIn(BaseModel):
    source: str = Field(min_length=1, max_length=MAX_ID_LENGTH, description="the sidebar's article")
    article: str = Field(min_length=1, max_length=MAX_ID_LENGTH, description="the article shown in it")
    position: int = Field(default=1, ge=1, le=50, description="1 = first")


class BlockIn(BaseModel):
    article: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    source: str | None = Field(default=None, max_length=MAX_ID_LENGTH, description="default: every sidebar")


class SectionIn(BaseModel):
    boost: float | None = Field(default=None, allow_inf_nan=False)
    half_life_days: float | None = Field(default=None, allow_inf_nan=False)
    same_section_only: bool | None = None


class Controls(BaseModel):
    pins: list[PinIn]
    blocks: list[BlockIn]


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or wrong token"},
    403: {"description": "write endpoints are off (no token configured)"},
}
ArticleId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, description="the article's id")]


def writes_router(library: Library, token: str | None, builder: Builder) -> APIRouter:
    router = APIRouter(dependencies=[Depends(WriteAccess(token))], responses=AUTH_ERRORS)
    rec = Recommender(library.home)

    def controls() -> dict[str, Any]:
        found = rec.controls()
        return {"pins": [asdict(p) for p in found.pins], "blocks": [asdict(b) for b in found.blocks]}

    @router.put(
        "/v1/articles/{article_id:path}",
        response_model=Stored,
        status_code=202,
        responses={413: {"description": "body too large"}, 422: {"description": "the article is rejected"}},
        summary="Store an article now (CMS publish or edit); it reaches sidebars with a background build",
    )
    async def put_article(article_id: ArticleId, article: ArticleIn) -> Any:
        record = article.model_dump(exclude_none=True)
        report = await run_in_threadpool(rec.put, article_id, record)
        if report.rejected or report.unreadable:
            problems = [{"field": r.field, "msg": r.reason} for r in report.rejected]
            message = report.rejected[0].reason if report.rejected else "the article cannot be read"
            return JSONResponse(error_body("invalid_article", message, problems), status_code=422)
        outcome = "added" if report.added else "updated" if report.updated else "unchanged"
        if outcome != "unchanged":
            builder.request()
        warnings = [f"{w.field}: {w.reason}" if w.field else w.reason for w in report.warnings]
        return {"article_id": article_id, "outcome": outcome, "warnings": warnings, "build": "requested"}

    @router.delete(
        "/v1/articles/{article_id:path}",
        responses={404: {"description": "no article with this id"}},
        summary="Remove an article (CMS unpublish): it leaves every sidebar at the next request",
    )
    async def delete_article(article_id: ArticleId) -> Any:
        removed, _ = await run_in_threadpool(rec.remove, [article_id])
        if not removed:
            return JSONResponse(error_body("article_not_found", "no article with this id"), status_code=404)
        return {"article_id": article_id, "removed": True}

    @router.get("/v1/controls", response_model=Controls, summary="The editors' pins and blocks")
    async def list_controls() -> Any:
        return await run_in_threadpool(controls)

    @router.put("/v1/pins", response_model=Controls, summary="Pin an article into another's sidebar")
    async def put_pin(pin: PinIn) -> Any:
        await run_in_threadpool(rec.pin, pin.source, pin.article, pin.position)
        return await run_in_threadpool(controls)

    @router.delete("/v1/pins", response_model=Controls, summary="Take a pin away")
    async def delete_pin(
        source: Annotated[str, Query(min_length=1, max_length=MAX_ID_LENGTH)],
        article: Annotated[str, Query(min_length=1, max_length=MAX_ID_LENGTH)],
    ) -> Any:
        if not await run_in_threadpool(rec.unpin, source, article):
            return JSONResponse(error_body("not_found", "no such pin"), status_code=404)
        return await run_in_threadpool(controls)

    @router.put("/v1/blocks", response_model=Controls, summary="Keep an article out of one or every sidebar")
    async def put_block(block: BlockIn) -> Any:
        await run_in_threadpool(rec.block, block.article, block.source)
        return await run_in_threadpool(controls)

    @router.delete("/v1/blocks", response_model=Controls, summary="Take a block away")
    async def delete_block(
        article: Annotated[str, Query(min_length=1, max_length=MAX_ID_LENGTH)],
        source: Annotated[str | None, Query(max_length=MAX_ID_LENGTH)] = None,
    ) -> Any:
        if not await run_in_threadpool(rec.unblock, article, source):
            return JSONResponse(error_body("not_found", "no such block"), status_code=404)
        return await run_in_threadpool(controls)

    @router.put("/v1/sections/{name}", summary="Set a section's boost, half-life or same-section-only")
    async def put_section(name: Annotated[str, Path(min_length=1, max_length=100)], values: SectionIn) -> Any:
        await run_in_threadpool(
            lambda: rec.set_section(
                name, values.boost, values.half_life_days, same_section_only=values.same_section_only
            )
        )
        return {"section": name.strip().lower(), **values.model_dump()}

    return router
