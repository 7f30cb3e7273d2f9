"""Advisory locks on a home directory, so that one writer at a time touches the store.

Two lock files live in the home: `write.lock` (held while a process has the DuckDB file open for
writing: ingest, remove, settings, a build saving a chunk or switching its index; store readers such
as `stats` hold it shared) and `build.lock` (held for the whole of a build, so two builds never run
at once). They are `flock` locks: the kernel drops them when the holding process dies, however it
dies, so a lock left by a killed process is simply free again. Each file also records who holds it
(pid, host, command, start time), for the message a waiting process prints.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import LockBusy, RecommenderError

WRITE_LOCK = "write.lock"
BUILD_LOCK = "build.lock"
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as the holder wrote it when it took the lock."""

    pid: int
    host: str
    command: str
    since: str  # ISO 8601, UTC

    def __str__(self) -> str:
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        since = self.since.split(".")[0].replace("T", " ")
        return f"{self.command} (pid {self.pid}{where}, since {since} UTC)"


def holder(path: Path) -> Holder | None:
    """The recorded holder of a lock file, or None when it is free, unreadable or never taken."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "null")
        return Holder(int(data["pid"]), str(data["host"]), str(data["command"]), str(data["since"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


@contextlib.contextmanager
def hold(
    path: Path,
    command: str,
    *,
    shared: bool = False,
    wait: float | None = None,
    on_wait: Callable[[Holder | None], None] | None = None,
) -> Iterator[None]:
    """Hold the lock at `path` for the duration of the block.

    wait: seconds to wait for another holder (None: as long as it takes, 0: not at all); past it
    LockBusy names the holder. on_wait is called once, with the holder, when waiting begins.
    A shared hold on a read-only file system proceeds without a lock (nobody can write there).
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if shared and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            yield
            return
        raise RecommenderError(f"cannot lock {path}: {exc.strerror}") from exc
    try:
        _acquire(fd, path, shared, wait, on_wait)
        if not shared:
            _record(fd, command)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _acquire(
    fd: int, path: Path, shared: bool, wait: float | None, on_wait: Callable[[Holder | None], None] | None
) -> None:
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    deadline = None if wait is None else time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        current = _alive(holder(path))
        if deadline is not None and time.monotonic() >= deadline:
            who = f"{current}" if current else "readers of the store"
            raise LockBusy(f"{path.name} is held by {who}", current)
        if not told and on_wait is not None:
            on_wait(current)
            told = True
        time.sleep(POLL_SECONDS)


def _alive(recorded: Holder | None) -> Holder | None:
    """The recorded holder if that process still runs here (else the lock is held shared by readers,
    which record nothing, or by a process on another host)."""
    if recorded is None or recorded.host != socket.gethostname():
        return recorded
    try:
        os.kill(recorded.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return recorded


def _record(fd: int, command: str) -> None:
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command,
        "since": datetime.now(UTC).isoformat(),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
