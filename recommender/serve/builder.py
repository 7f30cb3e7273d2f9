"""The serving process's background builds: a pushed article reaches sidebars after one build
(about 30 s with the bundled model on an idle 2-core machine, most of it loading the model).

A push stores the article at once (under the home's write lock) and asks for a build. One thread
per process runs them, each as a `recommender build --wait` subprocess at a lower CPU priority:
a build in the serving process itself would compete for its interpreter lock with the requests
(under full load it was starved for tens of seconds), and a subprocess gives the model's memory
back when it ends. Pushes that arrive while the thread waits or builds are taken by its next build
(coalesced), and the home's build lock keeps any two builds, of this process or another, from
running at once. The new build is picked up by every worker like any other (reader.py).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger("recommender.serve")
SETTLE_SECONDS = 0.2  # a burst of pushes (a CMS saving a batch) lands before the build starts
NICENESS = 5  # builds yield the CPU to requests


class Builder:
    """Builds on request, one at a time, from a daemon thread started by the first request."""

    def __init__(self, home: Path, settle_seconds: float = SETTLE_SECONDS) -> None:
        self.home, self.settle_seconds = home, settle_seconds
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.builds = 0  # builds this process ran
        self.last_error: str | None = None  # why the last build failed, if it did (no paths in it)

    def request(self) -> None:
        """Ask for a build; returns at once."""
        self._wanted.set()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="recommender-build", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            time.sleep(self.settle_seconds)
            self._wanted.clear()  # pushes from now on get the next build
            entry = "from recommender.cli import main; main()"
            argv = [sys.executable, "-c", entry, "build", "--wait", "--home", str(self.home)]
            try:
                done = subprocess.run(
                    argv, capture_output=True, text=True, check=False, preexec_fn=_lower_priority
                )
            except OSError as exc:
                self.last_error = f"background build could not start ({type(exc).__name__})"
                log.warning("background build could not start: %s", exc)
                continue
            if done.returncode == 0:
                self.builds += 1
                self.last_error = None
            else:
                self.last_error = f"background build failed (exit {done.returncode}): see the service log"
                log.warning("background build failed: %s", done.stderr.strip()[-2000:])


def _lower_priority() -> None:
    os.nice(NICENESS)
