"""The catalog of the live build, followed across builds and overlays from the files alone.

Each call costs two `stat`s (CURRENT and the live build's overlay); a changed file is read again.
Because a file replaced within the file system's timestamp granularity could, in theory, keep its
inode, time and size, both are also re-read at least every RECHECK_SECONDS, and a catalog is only
rebuilt when what they name (build, overlay version) really moved.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import IndexNotBuilt
from ..index import load_index
from ..index.folder import current_name, pointer_signature
from ..index.overlay import read_overlay
from ..index.overlay import signature as overlay_signature
from .catalog import Catalog

RECHECK_SECONDS = 0.5


class LiveCatalog:
    """Hands out the catalog of whatever build is live in `home`, under its newest overlay."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._catalog: Catalog | None = None
        self._pointer: tuple[int, int, int] = (0, 0, 0)
        self._overlay: tuple[int, int, int] = (0, 0, 0)
        self._checked = 0.0

    def get(self) -> Catalog:
        now = time.monotonic()
        recheck = now - self._checked > RECHECK_SECONDS
        pointer = pointer_signature(self.home)
        catalog = self._catalog
        if catalog is None or pointer != self._pointer or (recheck and self._moved(catalog)):
            catalog = self._load()
            self._pointer = pointer
        else:
            folder = catalog.index.path
            signature = overlay_signature(folder)
            if signature != self._overlay or recheck:
                overlay = read_overlay(folder)
                self._overlay = signature
                if (overlay.version, overlay.written_at) != (
                    catalog.overlay.version,
                    catalog.overlay.written_at,
                ):
                    catalog = catalog.with_overlay(overlay)
        if recheck:
            self._checked = now
        self._catalog = catalog
        return catalog

    def forget(self) -> None:
        """Drop the loaded build (its mapped files are let go once nothing else refers to them)."""
        self._catalog = None

    def _moved(self, catalog: Catalog) -> bool:
        return current_name(self.home) != catalog.index.path.name

    def _load(self) -> Catalog:
        for _ in range(3):  # a build retired and cleaned between the two reads: read CURRENT again
            index = load_index(self.home)
            self._overlay = overlay_signature(index.path)
            try:
                return Catalog.open(index, read_overlay(index.path))
            except FileNotFoundError:
                continue
        raise IndexNotBuilt(f"the live build in {self.home} keeps disappearing while it is loaded")
