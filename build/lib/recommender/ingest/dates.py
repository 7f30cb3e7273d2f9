"""Publication dates as news sites print them: ISO 8601, English formats, and Bengali ones.

Bangladeshi portals print dates such as "প্রকাশ : ০৫ জানুয়ারি ২০২৫, ১৩:৪১" (Bengali digits and
month names) or "Published: 23 Apr 2025, 15: 58"; `parse_date` turns these into aware UTC
datetimes, and raises DateError with a reason for anything it cannot place in time.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, tzinfo

from dateutil import parser as date_parser

_BENGALI_DIGITS = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")
_BENGALI_MONTHS = {
    "জানুয়ারি": "January",
    "জানুয়ারী": "January",
    "ফেব্রুয়ারি": "February",
    "ফেব্রুয়ারী": "February",
    "মার্চ": "March",
    "এপ্রিল": "April",
    "মে": "May",
    "জুন": "June",
    "জুলাই": "July",
    "আগস্ট": "August",
    "আগষ্ট": "August",
    "সেপ্টেম্বর": "September",
    "অক্টোবর": "October",
    "নভেম্বর": "November",
    "ডিসেম্বর": "December",
}
_BENGALI_WEEKDAYS = ["শনিবার", "রবিবার", "রোববার", "সোমবার", "মঙ্গলবার", "বুধবার", "বৃহস্পতিবার", "শুক্রবার"]
_PUBLISHED_LABELS = r"প্রকাশিত|প্রকাশ|published(?: on)?|posted(?: on)?|first published"
_UPDATED_LABELS = r"আপডেট|হালনাগাদ|last updated|updated|update|modified"
_UPDATED_SPLIT = re.compile(rf"(?:^|[\s|;,]+)(?:{_UPDATED_LABELS})\s*[:：]?", re.IGNORECASE)
_LEADING_LABEL = re.compile(rf"^\s*(?:{_PUBLISHED_LABELS})\s*[:：]?\s*", re.IGNORECASE)
_RELATIVE = re.compile(r"(আগে|\bago\b|ঘণ্টা|মিনিট|সেকেন্ড|\byesterday\b|গতকাল)", re.IGNORECASE)
# "৩ ঘণ্টা আগে", "45 minutes ago", "2 দিন আগে" (after to_latin: digits are Latin already)
_RELATIVE_AMOUNT = re.compile(
    r"^(\d+)\s*(সেকেন্ড|seconds?|secs?|মিনিট|minutes?|mins?|ঘণ্টা|hours?|hrs?|দিন|days?)\s*(আগে|ago)$",
    re.IGNORECASE,
)
_UNITS = {"সেকেন্ড": "seconds", "মিনিট": "minutes", "ঘণ্টা": "hours", "দিন": "days"}
_UNITS_BY_LETTER = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_SPACED_TIME = re.compile(r"(\d{1,2})\s*:\s+(\d{2})")  # "15: 58" -> "15:58"


class DateError(ValueError):
    """A date string that cannot be turned into a point in time; the message says why."""


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


_MONTHS_NFC = {_nfc(k): v for k, v in _BENGALI_MONTHS.items()}
_WEEKDAYS_NFC = [_nfc(w) for w in _BENGALI_WEEKDAYS]


def to_latin(text: str) -> str:
    """Bengali digits, month and weekday names rewritten in Latin script."""
    if text.isascii():
        return text
    text = _nfc(text).translate(_BENGALI_DIGITS)
    for bengali, english in sorted(_MONTHS_NFC.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(bengali, english)
    for weekday in _WEEKDAYS_NFC:
        text = text.replace(weekday, " ")
    return text


def split_published_updated(text: str) -> tuple[str, str | None]:
    """Split "published X, updated Y" strings; a string with only an update time gives it as both."""
    parts = _UPDATED_SPLIT.split(text, maxsplit=1)
    published = parts[0].strip(" \n\t|,;")
    updated = parts[1].strip(" \n\t|,;") if len(parts) > 1 else None
    if not published and updated:
        return updated, updated
    return published, updated


def parse_date(
    raw: str | None, default_tz: tzinfo = UTC, reference: datetime | None = None
) -> datetime | None:
    """Parse one date string; None for empty input. Naive times are read in `default_tz`."""
    published, _ = parse_published_updated(raw, default_tz, reference)
    return published


def parse_published_updated(
    raw: str | None, default_tz: tzinfo = UTC, reference: datetime | None = None
) -> tuple[datetime | None, datetime | None]:
    """Parse a date field that may carry both a publication and an update time.

    `reference` (when the page was fetched, say) places relative dates ("৩ ঘণ্টা আগে") and
    dates printed without a year; without it such dates are rejected.
    """
    if raw is None or not raw.strip():
        return None, None
    latin = to_latin(raw)
    published, updated = split_published_updated(latin)
    first = _parse_one(published, raw, default_tz, reference)
    second = _parse_one(updated, raw, default_tz, reference) if updated else None
    return first, second


def _parse_one(text: str, raw: str, default_tz: tzinfo, reference: datetime | None) -> datetime:
    text = _LEADING_LABEL.sub("", text).strip(" \n\t|,;")
    if _RELATIVE.search(text):
        return _relative(text, raw, reference)
    text = _SPACED_TIME.sub(r"\1:\2", text)
    text = re.sub(r"\s+", " ", text)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = _day_month_year(text) or _parse_free_text(
            text, raw, reference.astimezone(default_tz) if reference else None
        )
    if value.tzinfo is None:
        value = value.replace(tzinfo=default_tz)
    if not 1900 <= value.year <= 2200:
        raise DateError(f"date {raw.strip()!r} has an implausible year {value.year}")
    return value.astimezone(UTC)


_MONTH_NUMBERS = {
    name: number
    for number, full in enumerate(
        ("january", "february", "march", "april", "may", "june", "july", "august", "september",
         "october", "november", "december"),
        start=1,
    )
    for name in (full, full[:3], full[:4] if full == "september" else full[:3])
}  # fmt: skip
# "05 January 2025, 13:41", "23 Apr 2025 3:58 PM", "Nov 7, 2025 4:30 PM": the shapes news sites
# print most, read without dateutil (about 50 times faster; dateutil still reads everything else).
_DMY = re.compile(
    r"^(?:(?P<d1>\d{1,2})\s+(?P<m1>[A-Za-z]+)\.?|(?P<m2>[A-Za-z]+)\.?\s+(?P<d2>\d{1,2}))"
    r",?\s+(?P<y>\d{4})(?:,?\s+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?\s*(?P<ap>[AaPp][Mm])?)?$"
)


def _day_month_year(text: str) -> datetime | None:
    """The common printed shapes, or None to let dateutil try."""
    match = _DMY.match(text)
    if match is None:
        return None
    month = _MONTH_NUMBERS.get((match["m1"] or match["m2"]).lower())
    if month is None:
        return None
    hour = int(match["h"] or 0)
    if match["ap"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match["ap"].lower() == "pm" else 0)
    try:
        return datetime(
            int(match["y"]), month, int(match["d1"] or match["d2"]), hour, int(match["mi"] or 0),
            int(match["s"] or 0),
        )  # fmt: skip
    except ValueError:
        return None


def _relative(text: str, raw: str, reference: datetime | None) -> datetime:
    if reference is None:
        raise DateError(f"relative date {raw.strip()!r} cannot be placed in time (no fetch time given)")
    lowered = text.strip().lower()
    if lowered in ("yesterday", "গতকাল"):
        return (reference - timedelta(days=1)).astimezone(UTC)
    match = _RELATIVE_AMOUNT.match(lowered)
    if not match:
        raise DateError(f"cannot parse relative date {raw.strip()!r}")
    amount, unit = int(match.group(1)), match.group(2)
    unit = _UNITS.get(unit) or _UNITS_BY_LETTER[unit[0]]  # "hrs" and "hours" alike
    return (reference - timedelta(**{unit: amount})).astimezone(UTC)


def _parse_free_text(text: str, raw: str, reference: datetime | None) -> datetime:
    # Parse twice with different defaults: a field that changes was missing from the text.
    try:
        a = date_parser.parse(text, dayfirst=True, default=datetime(2001, 1, 1))
        b = date_parser.parse(text, dayfirst=True, default=datetime(2002, 2, 2))
    except (ValueError, OverflowError, date_parser.ParserError) as exc:
        raise DateError(f"cannot parse date {raw.strip()!r}") from exc
    if a.month != b.month or a.day != b.day:
        raise DateError(f"date {raw.strip()!r} has no day or month")
    if a.year != b.year:
        if reference is None:
            raise DateError(f"date {raw.strip()!r} has no year")
        # The latest such date not after the fetch: "16 December" fetched in January is last year's.
        a = a.replace(year=reference.year)
        if a.replace(tzinfo=reference.tzinfo) > reference + timedelta(days=1):
            a = a.replace(year=reference.year - 1)
    return a
