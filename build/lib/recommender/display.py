"""Text from the store (titles, sections, ids: article data) made safe to print, and JSON made valid.

Article text is data, never markup: it reaches the terminal as Rich `Text` (so "[video] ..." keeps
its tag and "[/]" cannot break a table), with control characters and bidirectional overrides shown
as escapes (so an ANSI sequence in a title cannot recolour or clear the terminal). JSON output never
holds NaN or Infinity, which are not JSON.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from rich.text import Text

# C0 and C1 controls (line breaks and tabs included: a title is one line), DEL, and the
# invisible characters that reorder or hide text on a terminal.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]")


def visible(value: object) -> str:
    """`value` as one line of text, control characters written as escapes (\\x1b, \\n, \\u202e)."""
    text = "" if value is None else str(value)
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if char in named:
        return named[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def plain(value: object, style: str = "") -> Text:
    """Store text for a Rich table or print: never parsed as markup, controls made visible."""
    return Text(visible(value), style=style)


def json_ready(value: Any) -> Any:
    """A copy with every non-finite float (NaN, Infinity) replaced by None, which JSON can hold."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """Valid JSON, always (allow_nan=False would raise if json_ready missed anything)."""
    return json.dumps(json_ready(value), ensure_ascii=False, indent=2, allow_nan=False)
