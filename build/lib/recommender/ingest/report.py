"""What an ingest did: counts, and every row that was not stored with its file, place, field and reason."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rejection:
    """One input row that was not stored, and why."""

    file: str
    location: str  # "line 12" (JSONL) or "row 3" (CSV, Parquet)
    field: str | None
    reason: str
    id: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.location}"
        what = f" [{self.field}]" if self.field else ""
        return f"{where}{what} {self.reason}"


@dataclass
class IngestReport:
    """What an ingest did: counts, rejected rows and files that could not be read at all."""

    files: int = 0
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.added + self.updated + self.unchanged + self.removed

    def rejection_summary(self) -> dict[str, int]:
        """Rejected rows counted by kind of reason (ids and values left out), most common first."""
        counts: dict[str, int] = {}
        for r in self.rejected:
            kind = f"[{r.field}] " if r.field else ""
            kind += re.sub(r"'[^']*'|\(first at [^)]*\)", "…", r.reason)
            counts[kind] = counts.get(kind, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    @property
    def nothing_read(self) -> bool:
        """True when no row at all made it in: the only case the CLI treats as failure."""
        return self.accepted == 0
