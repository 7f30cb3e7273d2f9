"""`build`: embed what is new or changed, calibrate, and write a fresh FAISS index.

Embeddings are saved to DuckDB chunk by chunk, so a build that is killed keeps what it finished
and the next build resumes; the index itself is only swapped in once it is complete.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from . import __version__
from .calibration import VERSION as CALIBRATION_VERSION
from .calibration import calibrate, random_pair_stats
from .embedding import Embedder, make_embedder
from .errors import RecommenderError
from .index import Calibration, IndexMeta, write_index
from .store import Store

CHUNK = 256  # articles embedded (and saved) per step

Progress = Callable[[int, int], None]  # (articles done, articles to embed)


@dataclass(frozen=True)
class BuildReport:
    """What a build did and how long it took."""

    model: str
    embedded: int
    indexed: int
    seconds: float
    embed_seconds: float
    previous_model: str | None
    model_changed: bool
    calibration: Calibration
    index_path: Path

    @property
    def articles_per_second(self) -> float:
        return self.embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0


def build(
    store: Store, home: Path, embedder: Embedder | None = None, progress: Progress | None = None
) -> BuildReport:
    """Bring embeddings and the index up to date with the store."""
    started = time.perf_counter()
    settings = store.settings()
    embedder = embedder or make_embedder(settings)
    fields = settings.text_field_list()
    fingerprint = embedder.fingerprint()
    previous_model = store.state("built_model")
    model_changed = store.state("built_fingerprint") not in (None, fingerprint)

    pending = store.pending(fingerprint, fields)
    if progress:
        progress(0, len(pending))
    embed_started = time.perf_counter()
    for start in range(0, len(pending), CHUNK):
        chunk = pending[start : start + CHUNK]
        with store.released():  # other processes may use the store while we embed
            vectors = embedder.embed([text for _, text, _ in chunk])
        store.save_embeddings(fingerprint, [i for i, _, _ in chunk], [h for _, _, h in chunk], vectors)
        if progress:
            progress(start + len(chunk), len(pending))
    embed_seconds = time.perf_counter() - embed_started

    ids, vectors = store.embeddings(fingerprint)
    if len(ids) == 0:
        raise RecommenderError("nothing to index: ingest articles first (`recommender ingest FILE`)")
    calibration = _calibration(store, embedder, fingerprint, ids, vectors, fields)
    meta = IndexMeta(
        model=embedder.name,
        model_fingerprint=fingerprint,
        dimension=int(vectors.shape[1]),
        count=len(ids),
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        package_version=__version__,
        calibration=calibration,
    )
    folder = write_index(home, ids, vectors, meta)
    store.set_state("built_model", meta.model)
    store.set_state("built_fingerprint", fingerprint)
    return BuildReport(
        meta.model,
        len(pending),
        len(ids),
        time.perf_counter() - started,
        embed_seconds,
        previous_model,
        model_changed,
        calibration,
        folder,
    )


def _calibration(
    store: Store,
    embedder: Embedder,
    fingerprint: str,
    ids: np.ndarray,
    vectors: np.ndarray,
    fields: list[str],
) -> Calibration:
    """Random-pair statistics are cheap and always fresh; the copy threshold is kept per model
    and measured again only when the corpus has grown or shrunk by half since."""
    mean, std = random_pair_stats(vectors)
    key = f"calibration:v{CALIBRATION_VERSION}:{fingerprint}"
    cached = store.state(key)
    if cached:
        data = json.loads(cached)
        if 0.5 <= len(ids) / max(data.pop("count"), 1) <= 2.0:
            return Calibration(mean, std, data["near_duplicate_threshold"], data["method"])

    def embed_released(texts: list[str]) -> np.ndarray:
        with store.released():
            return embedder.embed(texts)

    fresh = calibrate(embed_released, ids, vectors, store.texts, fields)
    store.set_state(key, json.dumps({**asdict(fresh), "count": len(ids)}))
    return fresh
