"""Third-party chatter kept off the user's terminal while a model is converted or quantized.

Building the models once prints what the user cannot act on: tracer warnings, "exporting the model
to OpenVINO", advice to save a model this package has already saved, datasets' and NNCF's progress
bars, and lines from OpenVINO's C++ side. `quiet_output(log)` sends all of it (Python warnings,
logging, sys.stdout/stderr and the process's file descriptors 1 and 2) to a log file for the
duration; the caller prints its own one-line progress and names the log if something fails.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

NOISY_LOGGERS = ("sentence_transformers", "transformers", "optimum", "nncf", "datasets", "torch", "openvino")


@contextlib.contextmanager
def quiet_output(log: Path) -> Iterator[None]:
    """Everything written to stdout/stderr (Python or native) and every warning goes to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    levels = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    previous_env = {key: os.environ.get(key) for key in ("TQDM_DISABLE",)}
    with log.open("a", encoding="utf-8") as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.environ["TQDM_DISABLE"] = "1"
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                yield
        finally:
            with contextlib.suppress(Exception):
                sink.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
            for key, value in previous_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
