"""The snippet a sidebar item carries: the article's summary, else the opening of its body, cut short.

    snippet(summary, body, limit)

The text is put on one line and, when longer than `limit` characters, cut at the last sentence end
that keeps at least half of it ("." "!" "?" and the Bengali danda "।"), else at the last word
boundary (then "…" is added), else, for one long unbroken word, between two grapheme clusters: a
Bengali conjunct or a vowel sign is never split from its consonant. The result is at most `limit`
characters long, the ellipsis included. Builds compute it once per article for the serving snapshot
(snapshot.py), so serving reads it and cuts nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

import pyarrow as pa

ELLIPSIS = "\u2026"
# A sentence ends at one of these, before white space (or a closing quote or bracket, then space).
_SENTENCE_END = re.compile("[.!?\u0964\u0965][\"'\u2019\u201d)\\]]*(?=\\s)")
_TRAILING = re.compile("[\\s,;:\u2013\u2014-]+$")  # what a cut leaves dangling before the ellipsis
_JOINERS = {"\u200c", "\u200d"}  # zero-width non-joiner and joiner: part of the cluster around them
LEAD_FACTOR = 4  # a build reads this many times `limit` characters of a body: enough for any cut


def snippet(summary: str | None, body: str | None, limit: int) -> str | None:
    """The summary if there is one, else the body's opening; at most `limit` characters."""
    text = " ".join((summary or "").split()) or " ".join((body or "")[: limit * LEAD_FACTOR].split())
    if not text:
        return None
    return cut(text, limit)


def cut(text: str, limit: int) -> str:
    """`text` (one line) cut to at most `limit` characters at a sentence, word or grapheme boundary."""
    if len(text) <= limit:
        return text
    window = text[: limit + 1]  # a sentence may end exactly at the limit
    ends = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() <= limit]
    if ends and ends[-1] >= limit // 2:
        return text[: ends[-1]]
    room = limit - len(ELLIPSIS)
    space = text.rfind(" ", 0, room + 1)
    if space >= room // 3:
        head = _TRAILING.sub("", text[:space])
        if head:
            return head + ELLIPSIS
    return _graphemes(text, room) + ELLIPSIS


def _graphemes(text: str, room: int) -> str:
    """The longest start of `text` within `room` characters that ends between two grapheme clusters."""
    end = min(room, len(text))
    while end > 0 and not boundary(text, end):
        end -= 1
    return text[:end]


def boundary(text: str, at: int) -> bool:
    """True when `text` may be cut before position `at` without splitting a grapheme cluster: not
    before a combining mark (a vowel sign, a nukta, the virama itself) or a joiner, not after a
    joiner, and not after a virama that joins the next consonant into a conjunct (ক্ষ, স্ত্র)."""
    if at <= 0 or at >= len(text):
        return True
    after, before = text[at], text[at - 1]
    if unicodedata.category(after).startswith("M") or after in _JOINERS or before in _JOINERS:
        return False
    return not (unicodedata.combining(before) == 9 and unicodedata.category(after) == "Lo")


def with_snippets(rows: pa.RecordBatchReader, limit: int) -> pa.RecordBatchReader:
    """The store's snapshot rows with their `summary` and `lead` (the body's opening) columns
    replaced by one `snippet` column, made as each batch of rows is read: the leads (four snippets
    long) and the Python strings made of them are held for one batch, never for the whole archive."""
    kept = [name for name in rows.schema.names if name not in ("summary", "lead")]
    schema = pa.schema([rows.schema.field(name) for name in kept]).append(pa.field("snippet", pa.string()))

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in rows:
            summaries = batch.column("summary").to_pylist()
            leads = batch.column("lead").to_pylist()
            snippets = [snippet(s, b, limit) for s, b in zip(summaries, leads, strict=True)]
            columns = [batch.column(name) for name in kept]
            yield pa.RecordBatch.from_arrays([*columns, pa.array(snippets, pa.string())], schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())
