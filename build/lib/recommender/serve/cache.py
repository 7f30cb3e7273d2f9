"""HTTP caching of sidebars: ETag / 304, Cache-Control, and an in-process cache of answers.

- The in-process cache maps a request (path and sorted query) to its encoded answer. Its entries
  belong to one version of what is served (live build, overlay version): when either moves, the
  whole cache is dropped at the next request, so no answer outlives the data it was made from.
  Entries also expire after `max_age` seconds (recency moves with the clock), and the oldest go
  first past `entries`. `entries=0` turns it off (every request is ranked again).
- The ETag names the build, the overlay version and a hash of the answer, so a client's
  If-None-Match gets 304 as long as the answer is the same, whichever worker answers.
- Cache-Control: `public, max-age=N, stale-if-error=M` (N shorter for an empty sidebar, which a
  build may soon fill); browsers and CDNs in front of the service keep answers that long.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

Version = tuple[str, int, str]  # build, overlay version, overlay written_at


@dataclass(frozen=True)
class CachePolicy:
    """How long answers may be kept: by clients (Cache-Control) and by this process."""

    max_age: int = 300  # a few minutes, as the WordPress integrations of related-post services cache
    empty_max_age: int = 30  # an empty sidebar: soon filled by a build (at most max_age)
    stale_if_error: int = 86_400  # a cache in front may serve an old answer while the service is down
    entries: int = 10_000  # in-process answers kept; 0 = no in-process cache

    def cache_control(self, empty: bool) -> str:
        age = min(self.empty_max_age, self.max_age) if empty else self.max_age
        return f"public, max-age={age}, stale-if-error={self.stale_if_error}"


@dataclass(frozen=True)
class Answer:
    """One encoded answer and what its headers say."""

    payload: bytes
    etag: str
    empty: bool
    made: float  # time.monotonic()


def make_answer(version: Version, payload: bytes, empty: bool) -> Answer:
    digest = hashlib.blake2b(payload, digest_size=8).hexdigest()
    return Answer(payload, f'"{version[0]}.{version[1]}.{digest}"', empty, time.monotonic())


def matches(if_none_match: str | None, etag: str) -> bool:
    """True when an If-None-Match header names this ETag (or is `*`); weak forms compare equal."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


class SidebarCache:
    """Answers by request key, for one served version at a time; safe between threads."""

    def __init__(self, policy: CachePolicy, count: Callable[[str], None] = lambda result: None) -> None:
        self.policy, self.count = policy, count
        self._version: Version | None = None
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: Version, key: str) -> Answer | None:
        if self.policy.entries <= 0:
            return None
        with self._lock:
            if version != self._version:  # a new build or overlay: nothing kept is valid any more
                if self._version is not None:
                    self.count("dropped")
                self._answers.clear()
                self._version = version
            answer = self._answers.get(key)
            if answer is None or time.monotonic() - answer.made > self.policy.max_age:
                self.count("miss")
                return None
            self._answers.move_to_end(key)
            self.count("hit")
            return answer

    def put(self, version: Version, key: str, answer: Answer) -> None:
        if self.policy.entries <= 0:
            return
        with self._lock:
            if version != self._version:  # made from a version that has moved on meanwhile
                return
            self._answers[key] = answer
            self._answers.move_to_end(key)
            while len(self._answers) > self.policy.entries:
                self._answers.popitem(last=False)

    def __len__(self) -> int:
        return len(self._answers)
