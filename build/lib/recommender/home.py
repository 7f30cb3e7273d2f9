"""A home directory and the rules for the processes that share it: one writer at a time, any readers.

- Writers (ingest, remove, settings, sections, a build saving embeddings or switching its index) take
  the home's write lock, open the DuckDB file, write, and let both go. Before letting go they refresh
  the live build's overlay, so that removals and settings reach readers at once.
- A build also holds the build lock from start to end: a second build waits or is told who runs.
- Readers of the store (`stats`, `settings`, `sections list`, `eval`) open it read-only under a
  shared lock, briefly. Readers of sidebars never open it (see api.py, ranking/catalog.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from .errors import LockBusy, NoStore
from .index.folder import current_build, index_root
from .index.overlay import Overlay, Pin, write_overlay
from .store import DB_FILENAME, Store
from .store.lock import BUILD_LOCK, WRITE_LOCK, Holder, hold

Waiting = Callable[[str], None]  # told once, with a sentence, when a process must wait for a lock


class Home:
    """The directory a store lives in: its DuckDB file, its builds and its locks."""

    def __init__(self, path: Path, on_wait: Waiting | None = None) -> None:
        self.path = path
        self.on_wait = on_wait

    @property
    def db_path(self) -> Path:
        return self.path / DB_FILENAME

    def has_store(self) -> bool:
        """True when something was ever ingested or built here."""
        return self.db_path.exists() or index_root(self.path).is_dir()

    @contextlib.contextmanager
    def writing(self, command: str, wait: float | None = None) -> Iterator[Store]:
        """The store opened for writing, for one block, under the write lock (created if need be).

        When the block changed the store, the live build's overlay is refreshed before the lock
        is let go; an exception leaves the overlay as it was (DuckDB rolled back the transaction).
        """
        self.path.mkdir(parents=True, exist_ok=True)
        with hold(self.path / WRITE_LOCK, command, wait=wait, on_wait=self._told("write to the store")):
            store = Store.open(self.path)
            try:
                before = store.data_version()
                yield store
                if store.data_version() != before:
                    self.refresh_overlay(store)
            finally:
                store.close()

    @contextlib.contextmanager
    def reading(self) -> Iterator[Store]:
        """The store opened read-only, for one block, under a shared lock (no lock where the home
        is on a read-only file system: nobody can write there)."""
        if not self.db_path.exists():
            raise NoStore(f"no store at {self.path} (create one with `recommender ingest`)")
        with hold(self.path / WRITE_LOCK, "read", shared=True, on_wait=self._told("read the store")):
            store = Store.open(self.path, read_only=True)
            try:
                yield store
            finally:
                store.close()

    @contextlib.contextmanager
    def building(self, command: str, wait: float | None = 0) -> Iterator[None]:
        """Hold the build lock: by default a second build fails at once, naming the one running."""
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            with hold(self.path / BUILD_LOCK, command, wait=wait, on_wait=self._told("build")):
                yield
        except LockBusy as exc:
            if exc.holder is None:
                raise
            raise LockBusy(f"build in progress: {exc.holder}", exc.holder) from None

    def refresh_overlay(self, store: Store, folder: Path | None = None) -> None:
        """Write the overlay of `folder` (default: the live build) from the store as it is now."""
        folder = folder or current_build(self.path)
        if folder is None:
            return
        ids = np.load(folder / "ids.npy", mmap_mode="r")
        write_overlay(folder, overlay_from(store, ids))

    def _told(self, what: str) -> Callable[[Holder | None], None] | None:
        if self.on_wait is None:
            return None
        tell = self.on_wait

        def waiting(holder: Holder | None) -> None:
            who = str(holder) if holder else "other readers of the store"
            tell(f"waiting to {what}: held by {who}")

        return waiting


def overlay_from(store: Store, build_ids: np.ndarray) -> Overlay:
    """The overlay a build with these article ids needs now: settings, sections, removals since,
    and the editors' pins and blocks."""
    blocks: dict[str, list[str]] = {}
    for source, article in store.blocks():
        if source is not None:
            blocks.setdefault(source, []).append(article)
    return Overlay(
        version=store.data_version(),
        settings=store.stored_settings(),
        sections=store.section_values(),
        removed=tuple(int(i) for i in store.missing_ids(np.asarray(build_ids, np.int64))),
        pins=tuple(Pin(source, article, position) for source, article, position in store.pins()),
        blocks={source: tuple(articles) for source, articles in blocks.items()},
        blocked=tuple(article for source, article in store.blocks() if source is None),
    )


def require_store(home: Path) -> None:
    """Raise NoStore unless something was ever ingested or built in `home`."""
    if not Home(home).has_store():
        raise NoStore(f"no store at {home} (create one with `recommender ingest`)")


__all__ = ["Home", "overlay_from", "require_store"]
