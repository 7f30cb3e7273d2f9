"""The serving process's background builds: a pushed article reaches sidebars within seconds.

A push stores the article at once (under the home's write lock) and asks for a build. One thread
per process runs them: pushes that arrive while it waits or builds are taken by its next build
(coalesced), and the home's build lock keeps any two builds, of this process or another, from
running at once. The new build is picked up by every worker like any other (reader.py).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from .errors import public_message

log = logging.getLogger("recommender.serve")
SETTLE_SECONDS = 0.2  # a burst of pushes (a CMS saving a batch) lands before the build starts


class Builder:
    """Builds on request, one at a time, in a daemon thread started by the first request."""

    def __init__(self, home: Path, settle_seconds: float = SETTLE_SECONDS) -> None:
        self.home, self.settle_seconds = home, settle_seconds
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.builds = 0  # builds this process ran
        self.last_error: str | None = None  # why the last build failed, if it did

    def request(self) -> None:
        """Ask for a build; returns at once."""
        self._wanted.set()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="recommender-build", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        from ..api import Recommender
        from ..embedding import Embedder, make_embedder

        embedder: Embedder | None = None  # loaded once for the thread's life (a model takes seconds)
        while True:
            self._wanted.wait()
            time.sleep(self.settle_seconds)
            self._wanted.clear()  # pushes from now on get the next build
            try:
                settings = Recommender(self.home).settings()
                if embedder is None or embedder.name != settings.model:
                    embedder = make_embedder(settings)
                Recommender(self.home, embedder=embedder).build(wait=None)
                self.builds += 1
                self.last_error = None
            except Exception as exc:  # keep serving; /healthz says why
                self.last_error = public_message(exc)
                log.warning("background build failed: %s", exc)
