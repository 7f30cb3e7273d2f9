"""The serving process's background builds: a pushed article reaches sidebars within seconds.

A push stores the article at once (under the home's write lock) and asks for a build. One thread
per serving process hands the builds to the home's build process (build_worker.py): one per home,
shared by every serving worker, started by the first push that finds none at a lower CPU
priority. A build in the serving process itself would compete for its interpreter lock with the
requests (under full load it was starved for tens of seconds). The build process keeps the
embedding model loaded between builds, so only the first push pays for loading it, and it exits
after `build_worker.IDLE_SECONDS` without a push, giving the model's memory back; the next push
starts another. A build process that died (killed, or leaving for idleness at that very moment)
is replaced, and the build asked of it is asked once more of the new one; so is one that died
before it listened.

Pushes that arrive while the thread waits or builds are taken by its next build (coalesced), the
build process answers every request waiting when a build starts with that build, and the home's
build lock keeps any two builds, of this service or another process, from running at once. The
new build is picked up by every worker like any other (reader.py).

Measured from a PUT's answer to an older story's sidebar holding the article, on a copy of the 5k
crawl store with the bundled model, 2-core machine (`python -m benchmarks.freshness push`): the
first push 24-27 s (the build process loads the model), later pushes 3-4 s.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .build_worker import IDLE_SECONDS, socket_path

log = logging.getLogger("recommender.serve")
SETTLE_SECONDS = 0.2  # a burst of pushes (a CMS saving a batch) lands before the build starts
NICENESS = 5  # builds yield the CPU to requests
START_SECONDS = 30.0  # for a new build process to listen


class Builder:
    """Builds on request, one at a time, from a daemon thread started by the first request."""

    def __init__(
        self, home: Path, settle_seconds: float = SETTLE_SECONDS, idle_seconds: float = IDLE_SECONDS
    ) -> None:
        self.home, self.settle_seconds, self.idle_seconds = home, settle_seconds, idle_seconds
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._worker: subprocess.Popen[bytes] | None = None
        self.builds = 0  # builds this process ran
        self.last_error: str | None = None  # why the last build failed, if it did (no paths in it)

    @property
    def worker_pid(self) -> int | None:
        """The pid of the build process this serving process started, while it runs."""
        worker = self._worker
        return worker.pid if worker is not None and worker.poll() is None else None

    def request(self) -> None:
        """Ask for a build; returns at once."""
        self._wanted.set()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="recommender-build", daemon=True)
                self._thread.start()

    def close(self, wait: float = 10.0) -> None:
        """Stop the build process this serving process started, if it runs (for tests: it leaves
        by itself when idle or when this process is gone)."""
        worker, self._worker = self._worker, None
        if worker is not None and worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(wait)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            time.sleep(self.settle_seconds)
            self._wanted.clear()  # pushes from now on get the next build
            self._build()

    def _build(self) -> None:
        answer: dict[str, Any] | None = None
        for attempt in range(2):  # a build process that died starting or building is replaced once
            try:
                conn = self._connect()
            except OSError as exc:
                if attempt == 0 and self._died_starting():
                    log.warning("the build process ended before it listened; starting a new one")
                    continue
                self.last_error = f"background build could not start ({type(exc).__name__})"
                log.warning("background build could not start: %s", exc)
                return
            answer = _ask(conn)
            if answer is not None:
                break
            self.last_error = "background build process ended during a build: see the service log"
            log.warning("the build process ended during a build; asking a new one")
        if answer is None:
            return
        if answer.get("ok"):
            self.builds += 1
            self.last_error = None
        else:
            error = str(answer.get("error", "unknown"))
            self.last_error = f"background build failed ({error}): see the service log"
            log.warning("background build failed: %s", error)

    def _died_starting(self) -> bool:
        """Whether the build process this serving process started was killed (or failed) before it
        listened: not one that left because another build process already serves the home."""
        worker = self._worker
        return worker is not None and worker.poll() not in (None, 0)

    def _connect(self) -> socket.socket:
        """A connection to the home's build process, started first when none listens."""
        where = socket_path(self.home)
        try:
            return _dial(where)
        except OSError:
            pass
        started = self._start()
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                return _dial(where)
            except OSError:
                if started.poll() is not None or time.monotonic() > deadline:
                    return _dial(where)  # another build process took the home, or none will
                time.sleep(0.05)

    def _start(self) -> subprocess.Popen[bytes]:
        entry = "recommender.serve.build_worker"
        argv = [sys.executable, "-m", entry, str(self.home), str(self.idle_seconds), str(os.getpid())]
        self._worker = subprocess.Popen(argv, stdin=subprocess.DEVNULL, preexec_fn=_lower_priority)
        return self._worker


def _dial(where: Path) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(where))
    except OSError:
        conn.close()
        raise
    return conn


def _ask(conn: socket.socket) -> dict[str, Any] | None:
    """One build by the build process at the other end: its answer, or None when it went away."""
    with conn:
        try:
            conn.sendall(b"build\n")
            line = conn.makefile("rb").readline()
        except OSError:
            return None
    if not line:
        return None
    answer: dict[str, Any] = json.loads(line)
    return answer


def _lower_priority() -> None:
    os.nice(NICENESS)
