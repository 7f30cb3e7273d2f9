"""The serving side's one door into the engine: sidebars from a view loaded once per build.

Until readers that never open DuckDB land in the core (issue 8), `Recommender(home)` holds the
store's DuckDB file open, and with it the file's lock: a service that kept one open would stop
`recommender ingest` and `build` from running, and a second worker process could not start.
So a `Library` opens the store only to load a view (the catalog and the live index, exactly as
`Recommender.catalog()` gives them), closes it at once, and answers every request from that view.
It notices a new build with one `stat` of the index pointer and loads the new view in a background
thread while the old one keeps answering: a request is never served from a half-loaded index.
Changes that are not builds (ingest, section settings) show at the next build, as removals do.

When issue 8 lands, `_load_view` and `related` become calls on a long-lived `Recommender`; nothing
above this module changes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..config import resolve_home
from ..errors import IndexNotBuilt
from ..index.kinds import SEARCH_THREADS
from ..ranking import Catalog, Query, Related
from ..ranking import related as rank
from ..store import Article
from .errors import public_message

POINTER = Path("index") / "CURRENT"  # written last by every build (index/folder.py)
RETRY_SECONDS = 1.0  # a failed load is not tried again sooner (unless a build finished)
_threads = threading.local()


@dataclass(frozen=True)
class View:
    """Everything a request reads, from one build: swapped as a whole, never changed in place."""

    catalog: Catalog
    build: str
    pointer_stamp: int  # mtime_ns of the index pointer when this view was loaded
    loaded_at: float  # time.time()

    @property
    def articles(self) -> int:
        return len(self.catalog)

    @property
    def indexed(self) -> int:
        return len(self.catalog.index)

    @property
    def model(self) -> str:
        return self.catalog.index.meta.model

    @property
    def built_at(self) -> str:
        return self.catalog.index.meta.built_at


class Library:
    """Sidebars for one home directory, safe to share between the threads of one process."""

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.home = resolve_home(home)
        self._view: View | None = None
        self._lock = threading.Lock()  # one load at a time
        self._reloading = False
        self._failed: tuple[Exception, float, int] | None = None  # error, when, pointer stamp
        self.reload_error: str | None = None  # why the last background load failed, if it did

    @property
    def loaded(self) -> bool:
        """True once a view is in memory: calls then make no file access beyond one stat."""
        return self._view is not None

    def view(self) -> View:
        """The current view; the first call loads it (and raises the library's error if it cannot)."""
        current = self._view
        if current is None:
            with self._lock:
                if self._view is None:
                    self._view = self._first_load()
                return self._view
        if _stamp(self.home) != current.pointer_stamp:
            self._reload_in_background()
        return current

    def related(
        self,
        article_id: str,
        n: int = 5,
        *,
        as_of: datetime | None = None,
        cross_language: bool | None = None,
        max_age_days: float | None = None,
        exclude_sections: Sequence[str] = (),
    ) -> list[Related]:
        """The sidebar for one article, as `Recommender.related` gives it."""
        _one_search_thread()
        catalog = self.view().catalog
        source = catalog.article(catalog.row(article_id))
        query = Query(n, as_of, cross_language, max_age_days, tuple(exclude_sections))
        return rank(catalog, source, query)

    def article(self, article_id: str) -> Article:
        """The article with this id (raises ArticleNotFound)."""
        catalog = self.view().catalog
        return catalog.article(catalog.row(article_id))

    def _first_load(self) -> View:
        """Load, or repeat the last failure for RETRY_SECONDS unless a build has finished since:
        before the first build, requests must not open the store one after another (each open
        takes DuckDB's lock, which the build itself needs)."""
        stamp = _stamp(self.home)
        if self._failed is not None:
            error, when, failed_stamp = self._failed
            if failed_stamp == stamp and time.monotonic() - when < RETRY_SECONDS:
                raise error.with_traceback(None)  # not one traceback growing with every request
        try:
            view = _load_view(self.home)
        except Exception as exc:
            self._failed = (exc, time.monotonic(), stamp)
            raise
        self._failed = None
        return view

    def _reload_in_background(self) -> None:
        with self._lock:
            if self._reloading:
                return
            self._reloading = True
        threading.Thread(target=self._reload, name="recommender-reload", daemon=True).start()

    def _reload(self) -> None:
        try:
            view = _load_view(self.home)
            self._view = view  # one reference assignment: requests see the old view or the new one
            self.reload_error = None
        except Exception as exc:  # keep serving the old view; /healthz reports why
            self.reload_error = public_message(exc)
            time.sleep(RETRY_SECONDS)  # a build still writing: do not retry on every request
        finally:
            with self._lock:
                self._reloading = False


def _one_search_thread() -> None:
    """FAISS searches with SEARCH_THREADS OpenMP threads, but OpenMP keeps that setting per calling
    thread, and `load_index` sets it only in the thread that loads. A view loaded in a background
    thread left the serving thread searching with every core, spinning: 4 ms of CPU a sidebar on the
    demo store instead of 0.85 (11 ms instead of 2 under load). So each thread sets it once."""
    if not getattr(_threads, "set", False):
        import faiss

        faiss.omp_set_num_threads(SEARCH_THREADS)
        _threads.set = True


def _load_view(home: Path) -> View:
    """Open the store, load the catalog and the live index, close the store."""
    from ..api import Recommender

    if not (home / "recommender.duckdb").exists():
        raise IndexNotBuilt(f"no store in {home}: run `recommender ingest` and `recommender build`")
    stamp = _stamp(home)
    with Recommender(home) as rec:
        catalog = rec.catalog()
    return View(catalog, catalog.index.path.name, stamp, time.time())


def _stamp(home: Path) -> int:
    """When the index pointer last changed (0: no index yet): one stat, no file read."""
    try:
        return (home / POINTER).stat().st_mtime_ns
    except FileNotFoundError:
        return 0
