"""Small clean-ups applied to every incoming article: text, urls, sections, languages, hashes."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qs, unquote, urlparse

# Path segments that say nothing about the section ("/news/world/..." is world news).
_GENERIC_SEGMENTS = {
    "news",
    "category",
    "categories",
    "post",
    "posts",
    "article",
    "articles",
    "story",
    "stories",
    "details",
    "detail",
    "amp",
    "en",
    "bn",
    "english",
    "bangla",
    "online",
    "print-edition",
    "web",
}
_LANGUAGE_ALIASES = {
    "bn": "bn",
    "bangla": "bn",
    "bengali": "bn",
    "ben": "bn",
    "বাংলা": "bn",
    "en": "en",
    "english": "en",
    "eng": "en",
}
TRUE_WORDS = {"1", "true", "yes", "y", "t", "deleted"}
FALSE_WORDS = {"", "0", "false", "no", "n", "f"}


def clean_text(text: str | None) -> str:
    """NFC-normalized text with surrounding white space removed ('' for None)."""
    return unicodedata.normalize("NFC", text).strip() if text else ""


def clean_title(text: str | None) -> str:
    """A title on one line: clean_text, with every run of white space (line breaks too) one space."""
    return " ".join(clean_text(text).split())


def clean_url(url: str | None) -> str | None:
    """The article url; share links of the form mailto:?...&body=<url> are unwrapped."""
    url = (url or "").strip()
    if not url:
        return None
    if url.lower().startswith("mailto:"):
        query = parse_qs(urlparse(url.replace("&amp;", "&")).query)
        for candidate in query.get("body", []):
            if candidate.startswith(("http://", "https://")):
                return candidate.split("#")[0]
    return url


def section_from_url(url: str | None) -> str | None:
    """The first meaningful path segment of a url ('/news/world/usa/slug-123' -> 'world')."""
    if not url:
        return None
    segments = [s for s in urlparse(url).path.split("/") if s]
    for segment in segments[:-1]:  # the last segment names the article itself
        name = unquote(segment).strip().lower()
        if name in _GENERIC_SEGMENTS or name.isdigit() or not name:
            continue
        if not re.fullmatch(r"[a-z][a-z0-9_-]{1,40}", name):
            return None  # a slug or title, not a section
        return name
    return None


def clean_section(section: str | None) -> str | None:
    section = clean_text(section).lower()
    return section or None


def clean_language(language: str | None, title: str, body: str) -> str | None:
    """An ISO-style language code: the given one (aliases folded), else guessed from the script."""
    given = clean_text(language).lower()
    if given:
        return _LANGUAGE_ALIASES.get(given, given)
    return guess_language(title + " " + body[:1000])


_BENGALI = re.compile("[\u0980-\u09ff]")
_LATIN = re.compile("[A-Za-z]")


def guess_language(text: str) -> str | None:
    """Bengali script -> 'bn', Latin script -> 'en', anything else -> None (unknown)."""
    bengali = len(_BENGALI.findall(text))
    latin = len(_LATIN.findall(text))
    if bengali == 0 and latin == 0:
        return None
    return "bn" if bengali >= latin else "en"


def is_true(value: str | None) -> bool:
    return clean_text(value).lower() in TRUE_WORDS


def content_hash(title: str, body: str) -> str:
    """Hash of the text a reader sees; equal hashes mean the same article text (titles hold no
    line break, so title and body cannot trade text across the separator)."""
    return hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()
