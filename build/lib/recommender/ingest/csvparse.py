"""Strict CSV (RFC 4180) that loses one row, not the file, to a malformed record.

Fields are separated by the delimiter; a field that holds the delimiter, a quote or a line break
is quoted whole, with inner quotes doubled. Anything else is an error of that record: a quote in
an unquoted field, text after a closing quote, a quote never closed. A malformed record is
reported on its first line and reading resumes on the line after it, so a stray quote cannot
swallow the rows that follow it (nor leak quote marks into every later field, as a lenient
reader that guesses "no quoting" would).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator

MAX_RECORD_LINES = 10_000  # a quoted field may span this many lines before it counts as never closed
_QUOTED = re.compile(r'"([^"]*(?:""[^"]*)*)"')
_CANDIDATES = (",", ";", "\t", "|")

Parsed = tuple[int, int, list[str] | None, str | None]  # first line, last line, fields, error


class _NeedMore(Exception):
    """The record's quoted field (numbered from 1) continues on the next line."""

    def __init__(self, field: int) -> None:
        super().__init__(field)
        self.field = field


def parse_records(lines: Iterator[tuple[int, str | None]], delimiter: str | None = None) -> Iterator[Parsed]:
    """Records from (line number, text) pairs: (first line, last line, fields or None, error or None).

    A None text (a line too long to read) gives a record with neither fields nor error. Blank lines
    outside quoted fields are skipped. `delimiter` None: guessed once from the first record.
    """
    pending: deque[tuple[int, str | None]] = deque()
    source = iter(lines)
    exhausted = False

    def pull() -> bool:
        nonlocal exhausted
        if exhausted:
            return False
        try:
            pending.append(next(source))
        except StopIteration:
            exhausted = True
            return False
        return True

    while pending or pull():
        number, text = pending[0]
        if text is None:
            pending.popleft()
            yield number, number, None, None
            continue
        if not text.strip():
            pending.popleft()
            continue
        if delimiter is None:
            delimiter = guess_delimiter(text)
        used = 1
        joined = text
        while True:
            try:
                fields, error = split_record(joined, delimiter), None
                break
            except _NeedMore as open_field:
                # The quoted field runs on: take lines up to and including the next one with a quote.
                closing = False
                while used < MAX_RECORD_LINES and (used < len(pending) or pull()):
                    more = pending[used][1]
                    if more is None:
                        break
                    used += 1
                    joined += "\n" + more
                    if '"' in more:
                        closing = True
                        break
                if closing:
                    continue
                fields, error = (
                    None,
                    f"the quote opening field {open_field.field} never closes (a stray quote?)",
                )
                used = 1  # resume on the next line: the rest may be good rows
                break
            except ValueError as exc:
                fields, error = None, str(exc)
                if used > 1:
                    error += f" on line {pending[used - 1][0]} (a quote on line {number} was never closed?)"
                used = 1  # resume on the next line: the rest may be good rows
                break
        last = pending[used - 1][0]
        for _ in range(used):
            pending.popleft()
        yield number, last, fields, error


def split_record(text: str, delimiter: str) -> list[str]:
    """The fields of one record; ValueError names what is malformed, _NeedMore asks for the next line."""
    if '"' not in text:
        return text.split(delimiter)
    fields: list[str] = []
    pos, end = 0, len(text)
    while True:
        if pos < end and text[pos] == '"':
            match = _QUOTED.match(text, pos)
            if match is None or (match.end() < end and text[match.end()] == '"'):
                raise _NeedMore(len(fields) + 1)
            fields.append(match.group(1).replace('""', '"'))
            pos = match.end()
            if pos == end:
                return fields
            if text[pos] != delimiter:
                raise ValueError(f"text after the closing quote of field {len(fields)}")
            pos += 1
            continue
        stop = text.find(delimiter, pos)
        stop = end if stop < 0 else stop
        value = text[pos:stop]
        if '"' in value:
            raise ValueError(
                f"stray quote in unquoted field {len(fields) + 1} "
                "(quote the whole field and double the quotes inside it)"
            )
        fields.append(value)
        if stop == end:
            return fields
        pos = stop + 1


def guess_delimiter(header: str) -> str:
    """Comma, unless the header line has none and is split by one of ; tab | instead."""
    if "," in header:
        return ","
    counts = {c: header.count(c) for c in _CANDIDATES}
    best = max(counts, key=lambda c: counts[c])
    return best if counts[best] else ","
