"""The serving process's background builds: a pushed article reaches sidebars within seconds.

A push stores the article at once (under the home's write lock) and asks for a build. One thread
per serving process hands the builds to a build process of its own (build_worker.py), started on
the first push at a lower CPU priority: a build in the serving process itself would compete for
its interpreter lock with the requests (under full load it was starved for tens of seconds). The
build process keeps the embedding model loaded between builds, so only the first push pays for
loading it, and it exits after `build_worker.IDLE_SECONDS` without a push, giving the model's
memory back; the next push starts another. A build process that died (killed, or idle at that
very moment) is replaced, and the build asked of it is asked once more of the new one.

Pushes that arrive while the thread waits or builds are taken by its next build (coalesced), and
the home's build lock keeps any two builds, of this process or another, from running at once. The
new build is picked up by every worker like any other (reader.py). With several serving workers,
each one that got a push has a build process of its own (each holds a copy of the model).

Measured on the 5k crawl, bundled model, idle 2-core machine (`python -m benchmarks.freshness
--serve`): see README "Pushing articles" for push-to-sidebar times, first and later pushes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .build_worker import IDLE_SECONDS

log = logging.getLogger("recommender.serve")
SETTLE_SECONDS = 0.2  # a burst of pushes (a CMS saving a batch) lands before the build starts
NICENESS = 5  # builds yield the CPU to requests


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
        """The build process's pid while one is running."""
        worker = self._worker
        return worker.pid if worker is not None and worker.poll() is None else None

    def request(self) -> None:
        """Ask for a build; returns at once."""
        self._wanted.set()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="recommender-build", daemon=True)
                self._thread.start()

    def close(self, wait: float = 0) -> None:
        """Let the build process go: it leaves after the build it is running, if any (waiting up
        to `wait` seconds for it). A later request starts another."""
        worker, self._worker = self._worker, None
        if worker is None or worker.stdin is None:
            return
        with contextlib.suppress(OSError):
            worker.stdin.close()
        if wait:
            try:
                worker.wait(wait)
            except subprocess.TimeoutExpired:
                log.warning("the build process is still building; it leaves when done")

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            time.sleep(self.settle_seconds)
            self._wanted.clear()  # pushes from now on get the next build
            self._build()

    def _build(self) -> None:
        answer: dict[str, Any] | None = None
        for _attempt in range(2):  # a build process that died is replaced once
            try:
                worker = self._worker if self._worker is not None else self._start()
            except OSError as exc:
                self.last_error = f"background build could not start ({type(exc).__name__})"
                log.warning("background build could not start: %s", exc)
                return
            answer = _ask(worker)
            if answer is not None:
                break
            code = _discard(worker)
            self._worker = None
            self.last_error = f"background build process ended (exit {code}): see the service log"
            log.warning("background build process ended with exit status %s", code)
        if answer is None:
            return
        if answer.get("ok"):
            self.builds += 1
            self.last_error = None
        else:
            error = str(answer.get("error", "unknown"))
            self.last_error = f"background build failed ({error}): see the service log"
            log.warning("background build failed: %s", error)

    def _start(self) -> subprocess.Popen[bytes]:
        entry = "recommender.serve.build_worker"
        argv = [sys.executable, "-m", entry, str(self.home), str(self.idle_seconds)]
        self._worker = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, preexec_fn=_lower_priority
        )
        return self._worker


def _ask(worker: subprocess.Popen[bytes]) -> dict[str, Any] | None:
    """One build by `worker`: its answer, or None when it is gone."""
    stdin, stdout = worker.stdin, worker.stdout
    assert stdin is not None and stdout is not None
    try:
        stdin.write(b"build\n")
        stdin.flush()
        line = stdout.readline()
    except (BrokenPipeError, ValueError):  # ValueError: a pipe closed on our side
        return None
    if not line:
        return None
    answer: dict[str, Any] = json.loads(line)
    return answer


def _discard(worker: subprocess.Popen[bytes]) -> int:
    """Reap a build process that is gone (or going) and close our ends of its pipes."""
    code = worker.wait()
    for pipe in (worker.stdin, worker.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    return code


def _lower_priority() -> None:
    os.nice(NICENESS)
