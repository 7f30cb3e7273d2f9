"""Response shapes, declared once: they document the API in its OpenAPI schema."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Explain(BaseModel):
    """The score and its parts (see `recommender related` and ranking/sidebar.py)."""

    score: float
    similarity: float = Field(description="raw cosine to the source article")
    relevance: float = Field(description="similarity rescaled for the model, 0..1")
    recency: float = Field(description="0.5 ** (age / half-life of the section)")
    section_boost: float
    language_penalty: float


class Item(BaseModel):
    """One sidebar entry, ready to draw."""

    id: str
    url: str | None = Field(description="http(s) only; anything else is sent as null")
    title: str
    snippet: str | None = Field(description="the summary, else the body's opening, cut at a boundary")
    image: str | None = Field(description="http(s) image url, or null")
    section: str | None
    language: str | None
    published_at: str | None = Field(description="ISO 8601 with offset")
    authors: list[str]
    tags: list[str]
    fallback: bool = Field(description="true: newest of the same section, filled in for lack of matches")
    explain: Explain | None = Field(default=None, description="only with explain=true")


class Sidebar(BaseModel):
    article_id: str
    items: list[Item]


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[dict] | None = None


class ErrorBody(BaseModel):
    error: ErrorInfo


class BatchEntry(BaseModel):
    """One requested id: its items, or the error that stopped it (e.g. unknown id)."""

    article_id: str
    items: list[Item] | None = None
    error: ErrorInfo | None = None


class Batch(BaseModel):
    sidebars: list[BatchEntry] = Field(description="in the order the ids were given")


class Health(BaseModel):
    status: str = Field(description="ok, or unavailable (with error)")
    build: str | None = None
    built_at: str | None = None
    index_age_seconds: float | None = None
    articles: int | None = None
    indexed: int | None = None
    model: str | None = None
    reload_error: str | None = Field(default=None, description="why the newest build is not live yet")
    error: ErrorInfo | None = None
