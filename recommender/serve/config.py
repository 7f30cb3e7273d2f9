"""What a service process is started with, passed to worker processes through the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import HOME_ENV, resolve_home

CORS_ENV = "RECOMMENDER_CORS_ORIGINS"  # comma-separated origins allowed to call the API from a page
MAX_BODY_ENV = "RECOMMENDER_MAX_BODY_BYTES"
# Set by `recommender serve` for several workers, before prometheus_client is first imported.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MAX_BODY_BYTES = 64 * 1024  # no read endpoint takes a body; a CMS push of one article fits easily
MAX_N = 50  # items per sidebar
MAX_BATCH = 50  # sidebars per batch request


@dataclass(frozen=True)
class ServeConfig:
    """The service's options; defaults are the safe ones (no cross-origin callers)."""

    home: Path
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    max_body_bytes: int = MAX_BODY_BYTES

    def to_env(self) -> dict[str, str]:
        return {
            HOME_ENV: str(self.home),
            CORS_ENV: ",".join(self.cors_origins),
            MAX_BODY_ENV: str(self.max_body_bytes),
        }

    @classmethod
    def from_env(cls) -> ServeConfig:
        origins = tuple(o.strip() for o in os.environ.get(CORS_ENV, "").split(",") if o.strip())
        return cls(resolve_home(None), origins, int(os.environ.get(MAX_BODY_ENV) or MAX_BODY_BYTES))
