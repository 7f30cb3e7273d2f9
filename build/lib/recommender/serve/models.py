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
    fallback: bool = Field(
        description="true: filled in for lack of strong matches (best of the rest, or newest of the section)"
    )
    explain: Explain | None = Field(default=None, description="only with explain=true")


class Sidebar(BaseModel):
    article_id: str
    items: list[Item]


class Draft(BaseModel):
    """A text not in the store (an editor's draft, a page not yet ingested): ranked, never stored."""

    title: str = Field(min_length=1, max_length=10_000)
    body: str = Field(default="", max_length=500_000)
    language: str | None = Field(
        default=None, max_length=20, description="its language code (default: the store's most common)"
    )


class DraftSidebar(BaseModel):
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
    build_error: str | None = Field(
        default=None, description="why this process's last background build failed"
    )
    error: ErrorInfo | None = None
