"""Checking one row read from a file: types, text, ids, sizes, dates, urls, sections, languages.

`check` turns a Record into an article row ready to store, an id to remove, or a Rejection naming
the field at fault. Every field is type-checked whatever the format (a list or an object where
text belongs is refused, never stored as "[a, b]"), every text is checked to be valid Unicode (a
byte that was not UTF-8 is named), and titles and bodies longer than the store's caps are cut with
a warning: a 50 MB body is stored as its first `max_body_chars` characters, and the model only
ever reads the start of it anyway (embedding.base.model_input).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import pyarrow as pa

from . import normalize as norm
from .dates import DateError, parse_published_updated
from .readers import Record
from .report import Rejection

MAX_ID_CHARS = 2_048  # a url is a fine id; a page of text is not
MAX_URL_CHARS = 8_192
MAX_SECTION_CHARS = 100
MAX_LANGUAGE_CHARS = 35  # the longest BCP 47 tags
MAX_DATE_CHARS = 200
MAX_SUMMARY_CHARS = 5_000  # a summary is a lead, not the article
MAX_NAME_CHARS = 200  # one author or tag
MAX_NAMES = 50  # authors or tags per article
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# Characters that make an id print differently from what it is: controls (NUL, line breaks,
# escapes), bidirectional overrides and marks, and the byte-order mark.
_HIDDEN = {chr(c) for c in range(0x20)} | {chr(0x7F)} | {chr(c) for c in range(0x80, 0xA0)}
_HIDDEN |= set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\u2028\u2029")
_T = TypeVar("_T")
_LINE_BREAKS = set("\n\r\u2028\u2029\x0b\x0c\x85")


@dataclass(frozen=True)
class Limits:
    """Caps on stored text, from the store's settings."""

    title_chars: int
    body_chars: int


@dataclass
class Outcome:
    """What became of one row: an article to store, an id to remove, or a rejection; plus warnings."""

    article: dict[str, Any] | None = None
    removal: str | None = None
    rejection: Rejection | None = None  # the first problem of a rejected row (what ingest reports)
    warnings: tuple[Rejection, ...] = ()
    problems: tuple[Rejection, ...] = ()  # every field at fault in a rejected row


class _Bad(Exception):
    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def check(
    filename: str,
    record: Record,
    sources: dict[str, str | None],
    zone: tzinfo,
    limits: Limits,
    section_from_url: bool,
) -> Outcome:
    """Check one record; every problem becomes a Rejection that names file, place and field.

    A row with bad core fields (id, title, body, dates, ...) is rejected: `rejection` names the
    first, `problems` every one. A bad render field (image, summary, authors, tags) or an url that
    is not http(s) costs only that field: the article is stored without it and a warning says why.
    """
    if record.data is None:
        return Outcome(rejection=Rejection(filename, record.location, None, record.reason or "unreadable"))
    ident: str | None = None
    warnings: list[Rejection] = []
    problems: list[_Bad] = []

    def attempt(step: Callable[[], _T]) -> _T | None:
        try:
            return step()
        except _Bad as bad:
            problems.append(bad)
            return None

    values = {ours: _pick(record.data, src) for ours, src in sources.items() if src is not None}
    if not record.undecodable:
        attempt(lambda: _no_lone_surrogates(values))
    if problems:  # a lone surrogate taints the field it is in, named once
        return _rejected(filename, record, problems, None)
    ident = attempt(lambda: _id(values.get("id")))
    if ident is not None and attempt(lambda: _flag(values.get("deleted"))):
        return Outcome(removal=ident)
    title = attempt(lambda: norm.clean_title(_text(values, "title", limits.title_chars, warnings)))
    body = attempt(lambda: _text(values, "body", limits.body_chars, warnings))
    missing = [f for f, v in (("title", title), ("body", body)) if v == ""]
    if missing:
        problems.append(_Bad(missing[0], f"missing {' and '.join(missing)}"))
    raw_url = norm.clean_url(attempt(lambda: _short(values, "url", MAX_URL_CHARS, single_line=True)))
    url = web_url("url", raw_url, None, warnings)
    section = attempt(lambda: norm.clean_section(_short(values, "section", MAX_SECTION_CHARS, True)))
    if section is None and section_from_url:
        section = norm.section_from_url(raw_url)
    language = attempt(lambda: _short(values, "language", MAX_LANGUAGE_CHARS, single_line=True))
    fetched = attempt(lambda: _date(values, "fetched_at", zone, None)[0])
    published, updated = attempt(lambda: _date(values, "published_at", zone, fetched)) or (None, None)
    if values.get("updated_at") not in (None, ""):
        updated = attempt(lambda: _date(values, "updated_at", zone, fetched)[0])
    if problems:
        return _rejected(filename, record, problems, ident)
    assert ident is not None and title is not None and body is not None
    article = {
        "external_id": ident,
        "url": url,
        "title": title,
        "body": body,
        "section": section,
        "language": norm.clean_language(language, title, body),
        "published_at": published,
        "updated_at": updated,
        "content_hash": norm.content_hash(title, body),
        **render_fields(values, url, warnings),
    }
    where = [Rejection(filename, record.location, w.field, w.reason, ident) for w in warnings]
    return Outcome(article=article, warnings=tuple(where))


def _rejected(filename: str, record: Record, problems: list[_Bad], ident: str | None) -> Outcome:
    every = tuple(Rejection(filename, record.location, p.field, p.reason, ident) for p in problems)
    return Outcome(rejection=every[0], problems=every)


# --- render fields: what a sidebar draws besides the title -------------------------------------------
def render_fields(values: dict[str, Any], url: str | None, warnings: list[Rejection]) -> dict[str, Any]:
    """image, summary, authors and tags of a row; a bad one is dropped with a warning, never the row."""
    out: dict[str, Any] = {"image": None, "summary": None, "authors": None, "tags": None}
    for field in out:
        try:
            out[field] = _RENDER_CHECKS[field](values.get(field), url, warnings)
        except _Bad as bad:
            warnings.append(Rejection("", "", bad.field, f"{bad.reason}: dropped"))
    return out


def web_url(field: str, text: str | None, base: str | None, warnings: list[Rejection]) -> str | None:
    """An absolute http(s) url, or None with a warning. `base`: the article's url, against which
    an image url without a scheme or host ("//cdn.example/a.jpg", "/img/a.jpg") is resolved."""
    if not text:
        return None
    candidate = urljoin(base, text) if base and not _SCHEME.match(text) else text
    parts = urlsplit(candidate)
    if parts.scheme.lower() in ("http", "https") and parts.hostname:
        return candidate
    warnings.append(Rejection("", "", field, f"{field} {shorten(text)} is not an http(s) url: dropped"))
    return None


def _image(value: object, url: str | None, warnings: list[Rejection]) -> str | None:
    if isinstance(value, list | tuple):  # several images: the first
        value = next((v for v in value if v not in (None, "")), None)
    if isinstance(value, dict):  # an image object (JSON-LD ImageObject, a CMS media field)
        value = next((value[k] for k in ("url", "src", "contentUrl") if value.get(k)), value)
    text = _short_value("image", value, MAX_URL_CHARS, single_line=True)
    return web_url("image", text.strip(), url, warnings) if text else None


def _summary(value: object, url: str | None, warnings: list[Rejection]) -> str | None:
    text = _as_text("summary", value)
    if text is None:
        return None
    if len(text) > MAX_SUMMARY_CHARS:
        warnings.append(
            Rejection(
                "", "", "summary", f"summary cut to {MAX_SUMMARY_CHARS:,} characters (was {len(text):,})"
            )
        )
        text = text[:MAX_SUMMARY_CHARS]
    return " ".join(norm.clean_text(text).split()) or None


def _names(field: str, separators: str) -> Callable[[object, str | None, list[Rejection]], list[str] | None]:
    """A list of short names (authors, tags) from a list, or from one string split at `separators`."""
    split = re.compile(f"[{re.escape(separators)}]")

    def names(value: object, url: str | None, warnings: list[Rejection]) -> list[str] | None:
        if value is None:
            return None
        items = (
            value
            if isinstance(value, list | tuple)
            else split.split(value)
            if isinstance(value, str)
            else [value]
        )
        out: list[str] = []
        for item in items:
            if isinstance(item, dict) and "name" in item:  # JSON-LD Person / Organization
                item = item["name"]
            text = _as_text(field, item)
            name = norm.clean_title(text)
            if not name or name in out:
                continue
            if len(name) > MAX_NAME_CHARS:
                raise _Bad(
                    field, f"{field}: {shorten(name)} is {len(name):,} characters; at most {MAX_NAME_CHARS}"
                )
            hidden = next((c for c in name if c in _HIDDEN), None)
            if hidden is not None:
                raise _Bad(field, f"{field}: {shorten(name)} holds {_char_name(hidden)}")
            out.append(name)
        if len(out) > MAX_NAMES:
            warnings.append(Rejection("", "", field, f"{field}: the first {MAX_NAMES} of {len(out)} kept"))
            out = out[:MAX_NAMES]
        return out or None

    return names


_RENDER_CHECKS: dict[str, Callable[[object, str | None, list[Rejection]], Any]] = {
    "image": _image,
    "summary": _summary,
    "authors": _names("authors", ";|"),  # one string is one byline ("Staff Correspondent, Dhaka")
    "tags": _names("tags", ",;"),
}


def _pick(data: dict[str, Any], source: str) -> Any:
    """The value of an input field; dotted names reach into nested objects ("meta.headline")."""
    if source in data:
        return data[source]
    if "." not in source:
        return None
    value: Any = data
    for part in source.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, datetime | date):
        return "a date"
    return f"a {type(value).__name__}"


def _no_lone_surrogates(values: dict[str, Any]) -> None:
    """In a row whose bytes all decoded, a surrogate can only come from a JSON escape (\\udc80)."""
    for field, value in values.items():
        if isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                char = ord(value[exc.start])
                raise _Bad(
                    field, f"invalid Unicode: a lone surrogate U+{char:04X} at character {exc.start + 1}"
                ) from None


def _valid_unicode(field: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        char = ord(value[exc.start])
        if 0xDC80 <= char <= 0xDCFF:  # a byte that did not decode, kept by surrogateescape
            raise _Bad(
                field,
                f"invalid UTF-8: byte 0x{char - 0xDC00:02X} at character {exc.start + 1} "
                "(is this row in another encoding, such as Windows-1252?)",
            ) from None
        raise _Bad(
            field, f"invalid Unicode: a lone surrogate U+{char:04X} at character {exc.start + 1}"
        ) from None


def _as_text(field: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Bad(field, f"expected text, got {_kind(value)}")
    _valid_unicode(field, value)
    return value


def _id(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # numeric ids are common in CMS exports
    elif value is not None and not isinstance(value, str):
        raise _Bad("id", f"expected text or a whole number, got {_kind(value)}")
    text = _as_text("id", value)
    if text is not None and len(text) > MAX_ID_CHARS:
        raise _Bad("id", f"id is {len(text):,} characters long; at most {MAX_ID_CHARS:,}")
    ident = norm.clean_text(text)
    if not ident:
        raise _Bad("id", "missing id")
    hidden = next((c for c in ident if c in _HIDDEN), None)
    if hidden is not None:
        raise _Bad("id", f"id {shorten(ident)} holds {_char_name(hidden)}; ids must be plain printable text")
    return ident


def _flag(value: object) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        _valid_unicode("deleted", value)
        word = norm.clean_text(value).lower()
        if word in norm.TRUE_WORDS or word in norm.FALSE_WORDS:
            return word in norm.TRUE_WORDS
        raise _Bad("deleted", f"expected true or false, got {shorten(value)}")
    raise _Bad("deleted", f"expected true or false, got {_kind(value)}")


def _text(values: dict[str, Any], field: str, cap: int, warnings: list[Rejection]) -> str:
    raw = _as_text(field, values.get(field))
    if raw is None:
        return ""
    if len(raw) > cap:
        warnings.append(Rejection("", "", field, f"{field} cut to {cap:,} characters (was {len(raw):,})"))
        raw = raw[:cap]
    return norm.clean_text(raw)


def _short(values: dict[str, Any], field: str, cap: int, single_line: bool) -> str | None:
    return _short_value(field, values.get(field), cap, single_line)


def _short_value(field: str, value: object, cap: int, single_line: bool) -> str | None:
    text = _as_text(field, value)
    if text is None:
        return None
    if len(text) > cap:
        raise _Bad(field, f"{field} is {len(text):,} characters long; at most {cap:,}")
    hidden = next((c for c in text.strip() if c in _HIDDEN), None) if single_line else None
    if hidden is not None:
        raise _Bad(field, f"{field} {shorten(text)} holds {_char_name(hidden)}")
    return text


def _date(
    values: dict[str, Any], field: str, zone: tzinfo, reference: datetime | None
) -> tuple[datetime | None, datetime | None]:
    value = values.get(field)
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=zone)
        return aware.astimezone(UTC), None
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=zone).astimezone(UTC), None
    text = _as_text(field, value)
    if text is not None and len(text) > MAX_DATE_CHARS:
        raise _Bad(field, f"date text is {len(text):,} characters long; at most {MAX_DATE_CHARS}")
    try:
        return parse_published_updated(text, zone, reference)
    except DateError as exc:
        raise _Bad(field, str(exc)) from None


def shorten(text: str, limit: int = 60) -> str:
    """A value as a one-line, quoted, escaped snippet for messages."""
    cut = text if len(text) <= limit else text[:limit] + "…"
    return repr(cut)


def _char_name(char: str) -> str:
    name = unicodedata.name(char, "") or {"\x00": "NUL", "\n": "LINE FEED", "\r": "CARRIAGE RETURN"}.get(
        char, "a control character"
    )
    return f"U+{ord(char):04X} ({name})"


ARROW_SCHEMA = pa.schema(
    [
        ("ordinal", pa.int64()),
        ("location", pa.string()),
        ("deleted", pa.bool_()),
        ("external_id", pa.string()),
        ("url", pa.string()),
        ("title", pa.string()),
        ("body", pa.string()),
        ("section", pa.string()),
        ("language", pa.string()),
        ("published_at", pa.timestamp("us", tz="UTC")),
        ("updated_at", pa.timestamp("us", tz="UTC")),
        ("content_hash", pa.string()),
        ("image", pa.string()),
        ("summary", pa.string()),
        ("authors", pa.list_(pa.string())),
        ("tags", pa.list_(pa.string())),
    ]
)
_ARTICLE_COLUMNS = ARROW_SCHEMA.names[3:]
ARTICLE_SCHEMA = pa.schema([ARROW_SCHEMA.field(name) for name in _ARTICLE_COLUMNS])  # Store.upsert's input


def to_arrow(rows: list[tuple[int, str, dict[str, Any] | None, str | None]]) -> pa.Table:
    """(ordinal, location, article or None, removal id or None) rows as one staging batch."""
    columns: dict[str, list[object]] = {name: [] for name in ARROW_SCHEMA.names}
    for ordinal, location, article, removal in rows:
        columns["ordinal"].append(ordinal)
        columns["location"].append(location)
        columns["deleted"].append(article is None)
        for name in _ARTICLE_COLUMNS:
            if article is not None:
                columns[name].append(article[name])
            else:
                columns[name].append(removal if name == "external_id" else None)
    return pa.table(columns, schema=ARROW_SCHEMA)
