"""The home's build process: `python -m recommender.serve.build_worker HOME [IDLE_SECONDS [PARENT]]`.

Started by builder.py (at a lower CPU priority) when a push finds none running; one per home,
shared by every serving worker. It listens on a Unix socket (socket_path): a client connects,
sends a line, and gets one JSON line once a build that started after its request is done:
{"ok": true, "build": NAME} or {"ok": false, "error": NAME-OF-THE-ERROR}. Requests waiting when a
build starts are all answered by it. Between builds it keeps the embedding model loaded, so a
pushed article costs the embedding of one article and an incremental build, not a model load. It
leaves after IDLE_SECONDS without a request, giving the model's memory back, and within
TICK_SECONDS of its parent (the serving worker that started it) going away, when not building.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import select
import signal
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..api import Recommender
from ..config import Settings
from ..embedding import Embedder, make_embedder

IDLE_SECONDS = 300.0  # no build asked for this long: exit and give the model's memory back
TICK_SECONDS = 1.0  # how often an idle build process looks at the clock and at its parent
log = logging.getLogger("recommender.serve")


def socket_path(home: Path) -> Path:
    """Where the home's build process listens: a socket named after the home's path, in a folder of
    this user's own ($XDG_RUNTIME_DIR, else the temporary directory); not in the home, where a
    socket left by a killed process would trip up whoever copies the home."""
    digest = hashlib.sha256(os.fsencode(home.resolve())).hexdigest()[:32]
    return _own_folder() / f"build-{digest}.sock"


def _own_folder() -> Path:
    folder = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / f"recommender-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    found = folder.stat()
    if found.st_uid != os.getuid() or found.st_mode & 0o077:
        raise PermissionError("the folder of the build sockets is not this user's alone")
    return folder


def _embedder_key(settings: Settings) -> tuple[Any, ...]:
    """What make_embedder reads: a change of any of these needs another embedder."""
    return (
        settings.model,
        settings.effective_prefix(),
        settings.max_seq_length,
        settings.batch_size,
        settings.backend,
    )


class Worker:
    """Builds one home, keeping the embedder of its current settings between builds."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._embedder: Embedder | None = None
        self._key: tuple[Any, ...] | None = None

    def build(self) -> dict[str, Any]:
        try:
            settings = Recommender(self.home).settings()  # the model a build by another process set
            key = _embedder_key(settings)
            if self._embedder is None or key != self._key:
                self._embedder, self._key = make_embedder(settings), key
            with Recommender(self.home, embedder=self._embedder) as rec:
                report = rec.build(wait=None)  # the home's build lock: after any running build
        except Exception as exc:  # the service reports it in /healthz; the details go to its log
            traceback.print_exc(file=sys.stderr)
            return {"ok": False, "error": type(exc).__name__}
        return {"ok": True, "build": report.index_path.name}


@contextlib.contextmanager
def _locked(where: Path) -> Iterator[None]:
    """Held while a build process takes or gives up the socket: two never both listen."""
    with open(where.with_suffix(".lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _listen(where: Path) -> socket.socket | None:
    """A listening socket at `where`, or None when another build process listens there."""
    with _locked(where):
        if where.exists():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(str(where))
                    return None  # alive: it serves this home
                except OSError:
                    where.unlink(missing_ok=True)  # left by a build process that was killed
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(where))
        os.chmod(where, 0o600)
        listener.listen(64)
        return listener


def _waiting(listener: socket.socket) -> list[socket.socket]:
    """Every client waiting now, each having sent its request line."""
    clients = []
    listener.setblocking(False)
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            break
        conn.setblocking(True)
        conn.settimeout(5.0)
        try:
            if conn.recv(64):
                clients.append(conn)
                continue
        except OSError:
            pass
        conn.close()
    listener.setblocking(True)
    return clients


def serve(home: Path, idle_seconds: float, parent: int) -> int:
    """Build on request until idle, or until `parent` is no longer our parent (module doc)."""
    if os.getppid() != parent:
        return 0  # the serving process that wanted us is gone already
    where = socket_path(home)
    listener = _listen(where)
    if listener is None:
        return 0
    inode = where.stat().st_ino
    worker = Worker(home)
    idle_since = time.monotonic()
    try:
        while True:
            ready, _, _ = select.select([listener], [], [], TICK_SECONDS)
            if not ready:
                if time.monotonic() - idle_since > idle_seconds or os.getppid() != parent:
                    return 0
                continue
            clients = _waiting(listener)
            if not clients:
                continue
            answer = (json.dumps(worker.build()) + "\n").encode()
            for conn in clients:
                with contextlib.suppress(OSError), conn:
                    conn.sendall(answer)
            idle_since = time.monotonic()
    finally:
        with _locked(where):
            with contextlib.suppress(OSError):
                if where.stat().st_ino == inode:
                    where.unlink()
            listener.close()


def main(argv: list[str]) -> int:
    home = Path(argv[0])
    idle_seconds = float(argv[1]) if len(argv) > 1 else IDLE_SECONDS
    parent = int(argv[2]) if len(argv) > 2 else os.getppid()
    os.dup2(2, 1)  # anything a library prints goes to the service's log
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stopped with the service: tidy up
    logging.basicConfig(level=logging.WARNING)
    return serve(home, idle_seconds, parent)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
