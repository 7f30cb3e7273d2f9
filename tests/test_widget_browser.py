"""The widget in real headless Chromium (Debian's package, driven by Playwright; no browser download).

A publisher's page on one loopback origin embeds widget.js from the service on another (so CORS is
exercised for real); the service runs as a subprocess. Checked: five items with loaded images and
Bengali titles drawn in a Bengali font, no console errors, right-to-left layout, and hostile text
or urls (through the real API, and straight from a forged API answer) doing nothing. Screenshots
go to test-artifacts/ for a person to look at.

Skips when Chromium or Playwright is absent. Chromium: `apt-get install chromium fonts-noto-core`
(`.ci/run` does it when run as root); another binary: $RECOMMENDER_CHROMIUM.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .serve_support import ROOT, build_store, corpus, free_port, running, serve_argv

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = (
    os.environ.get("RECOMMENDER_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
if not CHROMIUM:
    pytest.skip(
        "no chromium on this machine (apt-get install chromium fonts-noto-core)", allow_module_level=True
    )

ARTIFACTS = ROOT / "test-artifacts"
# As the machine's notes advise: no background traffic, no sandbox as root, a fresh profile.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip
SNIPPET = (
    "রাষ্ট্রীয় সফরের প্রথম দিনে দুই দেশের মধ্যে জ্বালানি, বাণিজ্য ও পরিবহন নিয়ে আলোচনা হয়েছে। "
    "বৈঠক শেষে যৌথ সংবাদ সম্মেলনে নেতারা নতুন সহযোগিতার কথা জানান এবং আগামী বছরের পরিকল্পনা তুলে ধরেন।"
)
COLORS = [(180, 60, 50), (40, 110, 160), (60, 140, 80), (200, 150, 40), (110, 70, 150), (30, 30, 30)]


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A small striped PNG, written by hand (no imaging library needed)."""
    light = bytes((235, 235, 230))
    rows = b"".join(
        b"\x00" + b"".join(bytes(rgb) if (x // 16 + y // 16) % 2 else light for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def page_html(api: str, body: str, lang: str = "bn", direction: str = "ltr") -> str:
    return f"""<!doctype html>
<html lang="{lang}" dir="{direction}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>পরীক্ষার পাতা</title><link rel="icon" href="data:,">
<style>
body {{ margin: 0; font-family: "Noto Sans Bengali", "Noto Sans", sans-serif; color: #111; }}
.wrap {{ display: flex; gap: 32px; padding: 24px; max-width: 1100px; }}
article {{ flex: 1 1 auto; }}
.side {{ flex: 0 0 340px; }}
@media (max-width: 700px) {{ .wrap {{ flex-direction: column; }} .side {{ flex-basis: auto; }} }}
</style></head>
<body><div class="wrap">
<article><h1>আন্তর্জাতিক</h1><p>এটি পরীক্ষার জন্য লেখা একটি খবরের পাতা।</p></article>
<div class="side">{body}</div>
</div>
<script src="{api}/widget.js" defer></script>
</body></html>"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("widget")
    public = root / "site"
    (public / "img").mkdir(parents=True)
    page_port, api_port = free_port(), free_port()
    origin = f"http://127.0.0.1:{page_port}"
    # render fields ingested with the articles, as a site's feed has them (the store keeps them)
    render: dict[str, dict] = {}
    for i, article_id in enumerate(["intl-2", "intl-3", "intl-4", "intl-5", "intl-6", "intl-7", "en-1"]):
        (public / "img" / f"{article_id}.png").write_bytes(png(240, 180, COLORS[i % len(COLORS)]))
        render[article_id] = {
            "image": f"{origin}/img/{article_id}.png",
            "summary": SNIPPET,
            "authors": ["ডেস্ক"],
        }
    render["xss-1"] = {"image": "javascript:alert(3)", "summary": '<img src=x onerror="window.__xss = 3">'}
    home = build_store(root / "store", [{**row, **render.get(row["id"], {})} for row in corpus()])
    api = f"http://127.0.0.1:{api_port}"
    pages = {
        "bn.html": page_html(api, '<div data-related-article="intl-1" data-heading="আরও পড়ুন"></div>'),
        "xss.html": page_html(api, '<div data-related-article="cricket-1"></div>'),
        "rtl.html": page_html(api, '<div data-related-article="intl-1"></div>', lang="ar", direction="rtl"),
    }
    for name, text in pages.items():
        (public / name).write_text(text, "utf-8")
    handler = functools.partial(_QuietHandler, directory=str(public))
    httpd = ThreadingHTTPServer(("127.0.0.1", page_port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with running(serve_argv(home, api_port, "--cors-origin", origin), api_port):
            yield {"page": origin, "api": api}
    finally:
        httpd.shutdown()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser, url: str, width: int = 1100) -> tuple[object, list[str]]:
    page = browser.new_page(viewport={"width": width, "height": 900}, device_scale_factor=1)
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(url)
    page.wait_for_selector("[data-related-state=done]", timeout=15_000)
    page.wait_for_load_state("networkidle")
    return page, problems


def fonts_used(page, selector: str) -> set[str]:
    """The fonts Chromium really drew this node's text with (DevTools CSS.getPlatformFontsForNode)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    return {f["familyName"] for f in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]}


def test_five_items_with_images_and_bengali_titles(site: dict, browser) -> None:
    page, problems = open_page(browser, f"{site['page']}/bn.html")
    items = page.locator(".rr-item")
    assert items.count() == 5
    assert page.locator("aside.rr-sidebar[aria-label='আরও পড়ুন'] > ol.rr-list > li").count() == 5
    for i in range(5):
        item = items.nth(i)
        item.scroll_into_view_if_needed()
        img = item.locator("img.rr-thumb")
        assert img.get_attribute("loading") == "lazy" and img.get_attribute("alt") == ""
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
        title = item.locator(".rr-title").inner_text()
        assert any("\u0980" <= ch <= "\u09ff" for ch in title), title
        assert item.get_attribute("lang") == "bn"
        assert item.locator("a.rr-link").get_attribute("href").startswith("https://news.example/")
        clamp = item.locator(".rr-snippet").evaluate("e => e.scrollHeight > e.clientHeight + 2")
        assert clamp, "the snippet should be clamped to two lines"
        assert item.locator("time").count() == 1
    assert any("Bengali" in f for f in fonts_used(page, ".rr-item .rr-title")), (
        "Bengali text fell back to tofu"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-bn.png"), full_page=True)
    narrow, _ = open_page(browser, f"{site['page']}/bn.html", width=390)
    narrow.screenshot(path=str(ARTIFACTS / "widget-bn-narrow.png"), full_page=True)
    assert problems == []


def test_right_to_left_page_mirrors_the_layout(site: dict, browser) -> None:
    page, problems = open_page(browser, f"{site['page']}/rtl.html")
    first = page.locator(".rr-item").first
    thumb, body = first.locator(".rr-thumb").bounding_box(), first.locator(".rr-body").bounding_box()
    assert thumb["x"] > body["x"], "in a right-to-left page the picture is on the right"
    page.screenshot(path=str(ARTIFACTS / "widget-rtl.png"), full_page=True)
    assert problems == []


def test_hostile_title_from_the_api_stays_text(site: dict, browser) -> None:
    page, problems = open_page(browser, f"{site['page']}/xss.html")
    titles = page.locator(".rr-title").all_inner_texts()
    assert any("<script>window.__xss = 1</script>" in t for t in titles), titles
    assert page.evaluate("window.__xss") is None
    widget = page.locator("aside.rr-sidebar")
    assert widget.locator("script").count() == 0 and widget.locator("img[src='x']").count() == 0
    assert page.locator("[href^='javascript:' i], [src^='javascript:' i]").count() == 0
    page.screenshot(path=str(ARTIFACTS / "widget-xss.png"), full_page=True)
    assert problems == []


def test_forged_api_answer_cannot_inject(site: dict, browser) -> None:
    """The widget's own defences, whatever the API sends (a compromised or spoofed answer)."""
    forged = {
        "article_id": "intl-1",
        "items": [
            {
                "id": "a",
                "url": " JavaScript:window.__xss = 4",
                "title": '<img src=x onerror="window.__xss = 5">' + "শিরোনাম " * 40,
                "snippet": "<b onclick=alert(1)>snippet</b>",
                "image": "javascript:window.__xss = 6",
                "section": "<i>section</i>",
                "language": 'bn" onmouseover="window.__xss = 7',
                "published_at": "not a date",
                "authors": [],
                "tags": [],
                "fallback": False,
            },
            {
                "id": "b",
                "url": "data:text/html,<script>x</script>",
                "title": "দুই",
                "image": "//evil.example/i.png",
            },
        ],
    }
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.route(
        "**/v1/related/**",
        lambda route: route.fulfill(
            status=200, body=json.dumps(forged), headers={"Access-Control-Allow-Origin": "*"},
            content_type="application/json",
        ),
    )  # fmt: skip
    page.goto(f"{site['page']}/bn.html")
    page.wait_for_selector("[data-related-state=done]", timeout=15_000)
    assert page.locator(".rr-item").count() == 2
    assert page.locator(".rr-item").first.get_attribute("lang") is None  # not a language tag: dropped
    assert page.locator("a.rr-link").count() == 0  # no safe url: drawn without a link
    assert page.locator("img.rr-thumb").count() == 0  # no http(s) image (a protocol-relative one neither)
    title = page.locator(".rr-title").first.inner_text()
    assert title.startswith("<img src=x") and title.endswith("\u2026") and len(title) <= 91
    page.locator(".rr-item").first.hover()
    assert page.evaluate("window.__xss") is None and problems == []
