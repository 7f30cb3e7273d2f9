"""The embeddable widget's script and the editors' preview page.

The preview is drawn on the server with every value from the store escaped, and is sent with a
Content-Security-Policy that allows no script at all: a title holding `<script>` is shown as text,
and would not run even if escaping were ever missed.
"""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ..store import Article
from .items import safe_url
from .routes import ERRORS, ArticleId, Options, Sidebars

PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src http: https:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
STATIC_HEADERS = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}


@cache
def widget_source() -> bytes:
    """The widget, read once from the package (recommender/serve/static/widget.js)."""
    return resources.files(__package__).joinpath("static/widget.js").read_bytes()


def pages_router(sidebars: Sidebars) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/widget.js",
        response_class=Response,
        responses={200: {"content": {"text/javascript": {}}, "description": "the sidebar widget"}},
        summary="The embeddable sidebar widget (no framework, no third-party requests)",
    )
    async def widget() -> Response:
        return Response(widget_source(), media_type="text/javascript; charset=utf-8", headers=STATIC_HEADERS)

    @router.get(
        "/preview/{article_id:path}",
        response_class=HTMLResponse,
        responses=ERRORS,
        summary="The sidebar of one article on a plain page for editors, score parts on hover",
    )
    async def preview(article_id: ArticleId, q: Options, request: Request) -> HTMLResponse:
        def run() -> str:
            source = sidebars.library.article(article_id)
            items = sidebars.items(article_id, replace(q, explain=True))
            kept = [(k, v) for k, v in request.query_params.multi_items() if k != "explain"]
            return preview_html(source, items, urlencode(kept))

        page = await sidebars.call(run)
        return HTMLResponse(page, headers={"Content-Security-Policy": PREVIEW_CSP})

    return router


def preview_html(source: Article, items: list[dict[str, Any]], query: str) -> str:
    """The editors' page: the article, then its sidebar with the score parts on hover."""
    e = _escape
    rows = "\n".join(_preview_item(rank, it) for rank, it in enumerate(items, 1))
    link = _link(source.url, source.title)
    json_href = f"/v1/related/{quote(source.external_id, safe='')}?explain=true" + (
        f"&{query}" if query else ""
    )
    lang = e(source.language or "")
    when = _day(source.published_at)
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sidebar preview: {e(source.title)}</title>
<style>{PREVIEW_CSS}</style>
</head>
<body>
<main>
<p class="kicker">Sidebar preview</p>
<h1 dir="auto">{link}</h1>
<p class="meta">{e(source.external_id)} · {e(source.section or "no section")} · {e(when)}</p>
<ol class="items">
{rows or '<li class="empty">No related articles.</li>'}
</ol>
<p class="meta">Hover an item for its score parts. Data: <a href="{e(json_href)}">JSON with explain</a></p>
</main>
</body>
</html>
"""


def _preview_item(rank: int, it: dict[str, Any]) -> str:
    e = _escape
    parts = it.get("explain") or {}
    hover = "\n".join(f"{name}: {value:.3f}" for name, value in parts.items())
    cells = "".join(f"<dt>{e(name)}</dt><dd>{value:.3f}</dd>" for name, value in parts.items())
    flag = '<span class="flag">fallback</span>' if it["fallback"] else ""
    lang = e(it.get("language") or "")
    return (
        f'<li title="{e(hover)}" lang="{lang}"><span class="rank">{rank}</span>'
        f'<div><span class="title" dir="auto">{_link(it["url"], it["title"])}</span>{flag}'
        f'<span class="meta">{e(it["section"] or "")} · {e((it["published_at"] or "")[:10])}'
        f" · {e(it['id'])}</span>"
        f'<dl class="parts">{cells}</dl></div></li>'
    )


def _link(url: str | None, text: str) -> str:
    href = safe_url(url)
    if href is None:
        return _escape(text)
    return f'<a href="{_escape(href)}" rel="noopener noreferrer">{_escape(text)}</a>'


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "undated"


PREVIEW_CSS = """
body { margin: 0; font: 16px/1.5 system-ui, "Noto Sans Bengali", "Noto Sans", sans-serif; color: #1b1b1b;
  background: #f6f6f4; }
main { max-width: 46rem; margin: 0 auto; padding: 1.5rem 1rem; }
h1 { font-size: 1.4rem; margin: .2rem 0; }
a { color: #0b4f9c; }
.kicker { text-transform: uppercase; letter-spacing: .08em; font-size: .75rem; color: #666; margin: 0; }
.meta { color: #5c5c5c; font-size: .85rem; display: block; }
.items { list-style: none; padding: 0; margin: 1rem 0; }
.items li { display: flex; gap: .75rem; background: #fff; border: 1px solid #e2e2dc; border-radius: 6px;
  padding: .6rem .8rem; margin-bottom: .5rem; position: relative; }
.rank { font-weight: 700; color: #888; min-width: 1.2rem; }
.title { font-weight: 600; display: block; }
.flag { font-size: .7rem; background: #fff3cd; border: 1px solid #e6d18a; border-radius: 3px;
  padding: 0 .3rem; margin-inline-start: .4rem; }
.parts { display: none; grid-template-columns: auto auto; gap: 0 .8rem;
  font: .8rem/1.4 ui-monospace, monospace;
  margin: .4rem 0 0; }
.parts dt { color: #666; } .parts dd { margin: 0; text-align: end; }
.items li:hover .parts, .items li:focus-within .parts { display: grid; }
"""
