"""The service's build process: `python -m recommender.serve.build_worker HOME [IDLE_SECONDS]`.

Started by builder.py at a lower CPU priority. It reads requests from stdin (any bytes: "build
now") and answers each with one JSON line on stdout once the build is done: {"ok": true, "build":
NAME} or {"ok": false, "error": NAME-OF-THE-ERROR}. Between builds it keeps the embedding model
loaded, so a pushed article costs the embedding of one article and an incremental build, not a
model load. It leaves when stdin closes (the serving process went away) or when no request came
for IDLE_SECONDS, so that an idle service gives the model's memory back.
"""

from __future__ import annotations

import json
import logging
import os
import select
import sys
import traceback
from pathlib import Path
from typing import Any

from ..api import Recommender
from ..config import Settings
from ..embedding import Embedder, make_embedder

IDLE_SECONDS = 300.0  # no build asked for this long: exit and give the model's memory back
log = logging.getLogger("recommender.serve")


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


def serve(home: Path, idle_seconds: float, requests: int, answers: int) -> int:
    """Answer build requests read from fd `requests` on fd `answers` until EOF or idle."""
    worker = Worker(home)
    while True:
        ready, _, _ = select.select([requests], [], [], idle_seconds)
        if not ready:
            return 0  # idle
        if not os.read(requests, 4096):
            return 0  # the service closed our stdin: it is gone
        answer = json.dumps(worker.build()) + "\n"
        try:
            os.write(answers, answer.encode())
        except BrokenPipeError:
            return 0


def main(argv: list[str]) -> int:
    home = Path(argv[0])
    idle_seconds = float(argv[1]) if len(argv) > 1 else IDLE_SECONDS
    answers = os.dup(1)
    os.dup2(2, 1)  # anything a library prints goes to the service's log, not into the answers
    logging.basicConfig(level=logging.WARNING)
    return serve(home, idle_seconds, 0, answers)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
