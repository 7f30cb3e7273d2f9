"""The overlay: what readers must see before the next build, kept beside the live build's snapshot.

`index/<build>/overlay.json` holds the store's settings and section values as they are now, the
editors' controls (pins and blocks), and the articles of that build that have been removed from the
store since. Writers derive it from the store
after every write (under the write lock) and replace it atomically; readers notice a new one with a
`stat` and re-read it (a few kilobytes). It is derived, never patched: writing it twice is harmless.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

OVERLAY_FILE = "overlay.json"
FORMAT = 2  # 2: section values as objects; editors' pins and blocks


@dataclass(frozen=True)
class SectionValues:
    """A section's own values; None = the store-wide default applies."""

    boost: float | None = None
    half_life_days: float | None = None
    same_section_only: bool = False  # sidebars of this section's articles show this section only


@dataclass(frozen=True)
class Pin:
    """An editor's pin: `article` shown at `position` (1 = first) in `source`'s sidebar."""

    source: str  # external ids
    article: str
    position: int


@dataclass(frozen=True)
class Overlay:
    """Settings, section values, editors' controls and removals as of the store's data version."""

    version: int = 0
    settings: dict[str, str] = field(default_factory=dict)  # stored settings in their text form
    sections: dict[str, SectionValues] = field(default_factory=dict)
    removed: tuple[int, ...] = ()  # internal ids of this build's articles no longer in the store
    pins: tuple[Pin, ...] = ()
    blocks: dict[str, tuple[str, ...]] = field(default_factory=dict)  # source -> articles kept out of it
    blocked: tuple[str, ...] = ()  # articles kept out of every sidebar
    written_at: str = ""

    def to_json(self) -> str:
        data: dict[str, Any] = asdict(self)
        data["sections"] = {name: asdict(values) for name, values in self.sections.items()}
        return json.dumps({"format": FORMAT, **data}, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Overlay:
        data = json.loads(text)
        return cls(
            version=int(data["version"]),
            settings={str(k): str(v) for k, v in data["settings"].items()},
            sections={str(k): SectionValues(**v) for k, v in data["sections"].items()},
            removed=tuple(int(i) for i in data["removed"]),
            pins=tuple(Pin(**p) for p in data.get("pins", ())),
            blocks={str(k): tuple(v) for k, v in data.get("blocks", {}).items()},
            blocked=tuple(data.get("blocked", ())),
            written_at=str(data.get("written_at", "")),
        )


def write_overlay(folder: Path, overlay: Overlay) -> None:
    """Replace the overlay of a build folder atomically (readers see the old one or the new one)."""
    stamped = replace(overlay, written_at=_now())
    tmp = folder / f".{OVERLAY_FILE}.{uuid.uuid4().hex[:8]}"
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(stamped.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / OVERLAY_FILE)


def read_overlay(folder: Path) -> Overlay:
    """The overlay of a build folder; a build written before any overlay reads as the empty one."""
    try:
        return Overlay.from_json((folder / OVERLAY_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Overlay()


def signature(folder: Path) -> tuple[int, int, int]:
    """Identity of the overlay file now (inode, mtime, size): a change costs a `stat`, no read."""
    try:
        st = (folder / OVERLAY_FILE).stat()
    except FileNotFoundError:
        return (0, 0, 0)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _now() -> str:
    return datetime.now(UTC).isoformat()
