"""The serving side's one door into the engine: sidebars from the live build, shared by threads.

A `Library` answers from a `View` of the live build (its catalog under the newest overlay), read
from the build's files alone: no request opens DuckDB, so ingest, builds and other workers go on
beside it. A changed overlay (removals, section values, settings) is taken up by the next request
(one `stat`, then a small file read). A new build is loaded in a background thread while the old
view keeps answering: a request is never served from a half-loaded index.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..config import resolve_home
from ..errors import ArticleNotFound
from ..index.folder import pointer_signature
from ..ingest.normalize import clean_url
from ..ranking import Catalog, Query, Related
from ..ranking import related as rank
from ..ranking.live import LiveCatalog
from ..store import Article
from .errors import public_message

RETRY_SECONDS = 1.0  # a failed load is not tried again sooner (unless a build finished)


@dataclass(frozen=True)
class View:
    """Everything a request reads, from one build: swapped as a whole, never changed in place."""

    catalog: Catalog
    build: str
    pointer: tuple[int, int, int]  # identity of the index pointer when this view's build was loaded
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
        self._live = LiveCatalog(self.home)  # used under _lock only
        self._view: View | None = None
        self._lock = threading.Lock()
        self._reloading = False
        self._failed: tuple[Exception, float, tuple[int, int, int]] | None = None  # error, when, pointer
        self.reload_error: str | None = None  # why the last background load failed, if it did
        self._urls: tuple[str, dict[str, str]] = ("", {})  # (build, url -> external id)
        self._embedder: Any = None  # the model, loaded by the first draft (POST /v1/related)
        self._embedder_lock = threading.Lock()

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
        if pointer_signature(self.home) != current.pointer:
            self._reload_in_background()
            return current
        with self._lock:  # the same build: at most a newer overlay to take up (two stats otherwise)
            catalog = self._live.get()
            if catalog is not current.catalog and catalog.index is current.catalog.index:
                current = self._view = View(catalog, current.build, current.pointer, current.loaded_at)
        return current

    def related(self, article_id: str, query: Query | None = None) -> list[Related]:
        """The sidebar for one article, as `Recommender.related` gives it (`query`: its length and
        options, the defaults when None)."""
        catalog = self.view().catalog
        source = catalog.article(catalog.row(article_id))
        return rank(catalog, source, query or Query())

    def related_to_text(
        self, title: str, body: str, query: Query | None = None, language: str | None = None
    ) -> list[Related]:
        """The sidebar of a draft, as `Recommender.related_to_text` gives it. The model is loaded by
        the first draft (a process that never gets one never loads it) and kept."""
        from ..embedding import make_embedder
        from ..embedding.base import article_text
        from ..ranking.drafts import draft_sidebar

        catalog = self.view().catalog
        text = article_text(title, body, catalog.settings.text_field_list())
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = make_embedder(catalog.settings)
            vector = self._embedder.embed([text])[0]
        return draft_sidebar(catalog, query or Query(), vector, text, language)

    def article(self, article_id: str) -> Article:
        """The article with this id (raises ArticleNotFound)."""
        catalog = self.view().catalog
        return catalog.article(catalog.row(article_id))

    def article_id_for_url(self, url: str) -> str:
        """The id of the live build's article with this url, normalised as ingest normalises urls
        (a url with a #fragment also matches the article's url without it); ArticleNotFound if none."""
        view = self.view()
        build, by_url = self._urls
        if build != view.build:
            strings = view.catalog.strings
            urls, ids = strings.column("url"), strings.column("external_id")
            by_url = {u: str(i) for u, i in zip(urls, ids, strict=True) if u is not None}
            self._urls = (view.build, by_url)  # a whole new tuple: other threads see old or new
        wanted = clean_url(url) or ""
        for candidate in dict.fromkeys((wanted, wanted.split("#", 1)[0])):
            found = by_url.get(candidate)
            if found is not None:
                view.catalog.row(found)  # removed since the build: ArticleNotFound
                return found
        raise ArticleNotFound("no article with this url in the live build")

    def _first_load(self) -> View:
        """Load, or repeat the last failure for RETRY_SECONDS unless a build has finished since
        (before the first build, every request would otherwise try to load a build that is not there)."""
        stamp = pointer_signature(self.home)
        if self._failed is not None:
            error, when, failed_stamp = self._failed
            if failed_stamp == stamp and time.monotonic() - when < RETRY_SECONDS:
                raise error.with_traceback(None)  # not one traceback growing with every request
        try:
            view = _load_view(self._live, stamp)
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
            live = LiveCatalog(self.home)  # loaded aside: requests go on with the old view meanwhile
            view = _load_view(live, pointer_signature(self.home))
            with self._lock:
                self._live, self._view = live, view
            self.reload_error = None
        except Exception as exc:  # keep serving the old view; /healthz reports why
            self.reload_error = public_message(exc)
            time.sleep(RETRY_SECONDS)  # a build still writing: do not retry on every request
        finally:
            with self._lock:
                self._reloading = False


def _load_view(live: LiveCatalog, pointer: tuple[int, int, int]) -> View:
    """The live build's catalog, loaded through `live`, as a view."""
    catalog = live.get()
    return View(catalog, catalog.index.path.name, pointer, time.time())
