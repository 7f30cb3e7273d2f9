"""What an ingest did: counts, and every row that was not stored (or stored cut) with its file,
place, field and reason.

Rejections are counted without limit but kept in memory only up to KEPT (a file of a million bad
rows must not fill memory); `ingest(..., rejects=PATH)` writes every one of them as CSV.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..errors import InvalidSetting, RecommenderError

KEPT = 10_000


@dataclass(frozen=True)
class Rejection:
    """One input row that was not stored (or, as a warning, stored changed), and why."""

    file: str
    location: str  # "line 12" (JSONL), "row 3 (line 4)" (CSV), "row 3" (Parquet)
    field: str | None
    reason: str
    id: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.location}"
        what = f" [{self.field}]" if self.field else ""
        return f"{where}{what} {self.reason}"


@dataclass
class IngestReport:
    """What an ingest did: counts, rejected rows, warnings and files that could not be read at all."""

    files: int = 0
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    rejected: list[Rejection] = field(default_factory=list)  # the first KEPT
    rejected_count: int = 0
    warnings: list[Rejection] = field(default_factory=list)  # rows stored with a change (cut text)
    warning_count: int = 0
    unreadable: list[str] = field(default_factory=list)
    _kinds: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def accepted(self) -> int:
        return self.added + self.updated + self.unchanged + self.removed

    def reject(self, rejection: Rejection) -> None:
        self.rejected_count += 1
        if len(self.rejected) < KEPT:
            self.rejected.append(rejection)
        kind = f"[{rejection.field}] " if rejection.field else ""
        kind += re.sub(r"'[^']*'|\(first at [^)]*\)|\d[\d,.]*", "…", rejection.reason)
        self._kinds[kind] = self._kinds.get(kind, 0) + 1

    def warn(self, warning: Rejection) -> None:
        self.warning_count += 1
        if len(self.warnings) < KEPT:
            self.warnings.append(warning)

    def rejection_summary(self) -> dict[str, int]:
        """Rejected rows counted by kind of reason (ids and values left out), most common first."""
        return dict(sorted(self._kinds.items(), key=lambda kv: -kv[1]))

    @property
    def nothing_read(self) -> bool:
        """True when no row at all made it in: the only case the CLI treats as failure."""
        return self.accepted == 0


class RejectsFile:
    """Every rejection (and warning) as CSV rows, written as they happen. Opened before the first
    file is read, so a path that cannot be written fails before anything is stored."""

    COLUMNS = ("file", "location", "field", "reason", "id", "kind")

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle: TextIO = path.open("w", newline="", encoding="utf-8")
        except OSError as exc:
            raise InvalidSetting(f"--rejects {path}: cannot write there ({exc.strerror or exc})") from None
        self._writer = csv.writer(self._handle)
        self._write(self.COLUMNS)

    def add(self, item: Rejection, kind: str = "rejected") -> None:
        self._write((item.file, item.location, item.field or "", item.reason, item.id or "", kind))

    def _write(self, row: tuple[str, ...]) -> None:
        try:
            self._writer.writerow(row)
        except OSError as exc:
            raise RecommenderError(f"--rejects {self.path}: writing failed ({exc.strerror or exc})") from None

    def close(self) -> None:
        try:
            self._handle.close()
        except OSError as exc:
            raise RecommenderError(f"--rejects {self.path}: writing failed ({exc.strerror or exc})") from None
