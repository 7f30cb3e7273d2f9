"""The JSON a sidebar item is sent as: what a template or the widget needs to draw it.

    id, url, title, snippet, image, section, language, published_at, authors, tags, fallback
    explain (only when asked): score and its parts, as `recommender related` prints them

The render fields (snippet, image, authors, tags) come with every `Related` from the build's
snapshot; `RenderFields` is the seam through which a test page may supply its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..ranking import Catalog, Related

SAFE_SCHEMES = ("http://", "https://")


@dataclass(frozen=True)
class RenderFields:
    """What a sidebar draws besides the title."""

    snippet: str | None = None
    image: str | None = None
    authors: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, related: Related) -> RenderFields:
        return cls(related.snippet, related.image, list(related.authors), list(related.tags))


def render_fields(catalog: Catalog, article_id: str) -> RenderFields:
    """The render fields of one article of the live build, from its snapshot."""
    row = catalog.row(article_id)
    return RenderFields(
        catalog.snippet(row), catalog.image(row), list(catalog.authors(row)), list(catalog.tags(row))
    )


def safe_url(url: str | None) -> str | None:
    """The url if it is http(s), else None: a `javascript:` or `data:` url is never sent on."""
    if not url:
        return None
    text = url.strip()
    return text if text.lower().startswith(SAFE_SCHEMES) else None


def item(related: Related, fields: RenderFields, explain: bool = False) -> dict[str, Any]:
    """One sidebar item as JSON-ready data."""
    out: dict[str, Any] = {
        "id": related.id,
        "url": safe_url(related.url),
        "title": related.title,
        "snippet": fields.snippet,
        "image": safe_url(fields.image),
        "section": related.section,
        "language": related.language,
        "published_at": related.published_at.isoformat() if related.published_at else None,
        "authors": list(fields.authors),
        "tags": list(fields.tags),
        "fallback": related.fallback,
    }
    out["explain"] = explanation(related) if explain else None
    return out


def explanation(related: Related) -> dict[str, float]:
    """The score and its parts (score = weighted relevance + weighted recency + section - language)."""
    return {
        "score": related.score,
        "similarity": related.similarity,
        "relevance": related.relevance,
        "recency": related.recency,
        "section_boost": related.section_boost,
        "language_penalty": related.language_penalty,
    }
