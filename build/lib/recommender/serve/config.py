"""What a service process is started with, passed to worker processes through the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import HOME_ENV, resolve_home
from .cache import CachePolicy

TOKEN_ENV = "RECOMMENDER_API_TOKEN"  # the write endpoints' token (or `recommender serve --token-file`)
CACHE_SECONDS_ENV = "RECOMMENDER_CACHE_SECONDS"  # Cache-Control max-age and in-process lifetime
CACHE_ENTRIES_ENV = "RECOMMENDER_CACHE_ENTRIES"  # sidebars kept in each process; 0 = none
CORS_ENV = "RECOMMENDER_CORS_ORIGINS"  # comma-separated origins allowed to call the API from a page
MAX_BODY_ENV = "RECOMMENDER_MAX_BODY_BYTES"
# Set by `recommender serve` for several workers, before prometheus_client is first imported.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MAX_BODY_BYTES = 1024 * 1024  # reads take no body; a pushed article (57k Bengali characters at most in
# the shared crawl: 170 kB of UTF-8) fits with room
MAX_N = 50  # items per sidebar
MAX_BATCH = 50  # sidebars per batch request


@dataclass(frozen=True)
class ServeConfig:
    """The service's options; defaults are the safe ones (no cross-origin callers)."""

    home: Path
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    max_body_bytes: int = MAX_BODY_BYTES
    token: str | None = None  # write endpoints' bearer token; None: they are off
    cache: CachePolicy = field(default_factory=CachePolicy)

    def to_env(self) -> dict[str, str]:
        env = {
            HOME_ENV: str(self.home),
            CORS_ENV: ",".join(self.cors_origins),
            MAX_BODY_ENV: str(self.max_body_bytes),
        }
        if self.token:
            env[TOKEN_ENV] = self.token
        env[CACHE_SECONDS_ENV] = str(self.cache.max_age)
        env[CACHE_ENTRIES_ENV] = str(self.cache.entries)
        return env

    @classmethod
    def from_env(cls) -> ServeConfig:
        origins = tuple(o.strip() for o in os.environ.get(CORS_ENV, "").split(",") if o.strip())
        body = int(os.environ.get(MAX_BODY_ENV) or MAX_BODY_BYTES)
        defaults = CachePolicy()
        cache = CachePolicy(
            max_age=int(os.environ.get(CACHE_SECONDS_ENV) or defaults.max_age),
            entries=int(os.environ.get(CACHE_ENTRIES_ENV) or defaults.entries),
        )
        return cls(resolve_home(None), origins, body, os.environ.get(TOKEN_ENV) or None, cache)
