"""Forked helper processes for a build's CPU-bound text work (tokenizing, neighbour lists).

A forked process reads the arrays the build already holds without copying them (the pages are
shared until written), so the work is spread over every core at no cost in memory but each
helper's own temporaries. Helpers are killed with the build that forked them: they hold the
build's open files, its flock lock files among them, which a killed build must not leave held.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

FROM_ITEMS = 100_000  # fewer articles than this are worked on in the build's own process


def processes_for(items: int) -> int:
    """Helpers for work on this many articles: every core this process may use from FROM_ITEMS
    articles, else none (1: the build's own process)."""
    if items < FROM_ITEMS or not hasattr(os, "fork"):
        return 1
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    return max(1, len(cores))


@contextmanager
def pool(processes: int) -> Iterator[Any]:
    """A multiprocessing pool of `processes` forked helpers that die with this process."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(processes, _die_with_parent, (os.getpid(),)) as helpers:
        yield helpers


def _die_with_parent(parent: int) -> None:
    import contextlib
    import ctypes
    import signal

    with contextlib.suppress(AttributeError, OSError):  # not Linux: the build's kill only ends its own
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the build died before the call above
        os._exit(1)
