"""The overlay: what readers must see before the next build, kept beside the live build's snapshot.

`index/<build>/overlay.json` holds the store's settings and section values as they are now, and the
articles of that build that have been removed from the store since. Writers derive it from the store
after every write (under the write lock) and replace it atomically; readers notice a new one with a
`stat` and re-read it (a few kilobytes). It is derived, never patched: writing it twice is harmless.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

OVERLAY_FILE = "overlay.json"
FORMAT = 1


@dataclass(frozen=True)
class Overlay:
    """Settings, section values and removals as of the store's data version `version`."""

    version: int = 0
    settings: dict[str, str] = field(default_factory=dict)  # stored settings in their text form
    sections: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  # boost, half-life
    removed: tuple[int, ...] = ()  # internal ids of this build's articles no longer in the store
    written_at: str = ""

    def to_json(self) -> str:
        data = asdict(self)
        data["sections"] = {name: list(values) for name, values in self.sections.items()}
        data["removed"] = list(self.removed)
        return json.dumps({"format": FORMAT, **data}, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Overlay:
        data = json.loads(text)
        return cls(
            version=int(data["version"]),
            settings={str(k): str(v) for k, v in data["settings"].items()},
            sections={str(k): (v[0], v[1]) for k, v in data["sections"].items()},
            removed=tuple(int(i) for i in data["removed"]),
            written_at=str(data.get("written_at", "")),
        )


def write_overlay(folder: Path, overlay: Overlay) -> None:
    """Replace the overlay of a build folder atomically (readers see the old one or the new one)."""
    stamped = Overlay(overlay.version, overlay.settings, overlay.sections, overlay.removed, _now())
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
