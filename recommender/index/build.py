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
from typing import Any

import numpy as np

from .. import __version__
from ..embedding import Embedder, make_embedder
from ..errors import RecommenderError
from ..store import Store
from .calibration import VERSION as CALIBRATION_VERSION
from .calibration import calibrate, random_pair_stats
from .folder import VectorIndex, load_index, write_index
from .kinds import all_cores, choose_kind
from .meta import Calibration, IndexMeta

CHUNK = 256  # articles embedded (and saved) per step
REBUILD_STALE_SHARE = 0.2  # rebuild an HNSW graph once this share of its vectors is superseded

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
    kind: str = "flat"
    incremental: bool = False  # True: the previous index was updated, not rebuilt
    added: int = 0  # vectors added to / removed from the previous index (incremental builds)
    removed: int = 0

    @property
    def articles_per_second(self) -> float:
        return self.embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0


def build(
    store: Store,
    home: Path,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    full: bool = False,
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
    pending.sort(key=lambda item: len(item[1]))  # similar lengths per batch: less padding
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

    snapshot = datetime.now(UTC)  # embeddings saved from here on belong to the next build
    current = store.embedded_ids(fingerprint)
    if len(current) == 0:
        raise RecommenderError("nothing to index: ingest articles first (`recommender ingest FILE`)")
    kind = choose_kind(len(current), settings.index_type)
    previous = None if full else _previous(home, fingerprint, kind)
    update = _update(store, fingerprint, previous, current) if previous is not None else None
    if update is not None:
        ids, vectors, faiss_index, stale, added, removed = update
        params = previous.meta.params if previous is not None else {}
    else:
        ids, vectors = store.embeddings(fingerprint)
        faiss_index, stale, added, removed, params = None, 0, len(ids), 0, {}
    calibration = _calibration(store, embedder, fingerprint, ids, vectors, fields)
    meta = IndexMeta(
        model=embedder.name,
        model_fingerprint=fingerprint,
        dimension=int(vectors.shape[1]),
        count=len(ids),
        built_at=snapshot.isoformat(),
        package_version=__version__,
        calibration=calibration,
        kind=kind,
        params=params,
        stale=stale,
    )
    folder = write_index(home, ids, vectors, meta, faiss_index)
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
        kind,
        update is not None,
        added,
        removed,
    )


def _previous(home: Path, fingerprint: str, kind: str) -> VectorIndex | None:
    """The live index if it can be updated in place: same model, same kind, current format."""
    try:
        previous = load_index(home, expect_fingerprint=fingerprint)
    except RecommenderError:
        return None
    return previous if previous.meta.kind == kind else None


def _update(
    store: Store, fingerprint: str, previous: VectorIndex, current: np.ndarray
) -> tuple[np.ndarray, np.ndarray, Any, int, int, int] | None:
    """The previous index with removed and re-embedded articles taken out and new vectors added.

    None when a rebuild is the better deal: most of the corpus changed, an HNSW graph holds too
    many superseded vectors (it cannot delete them), or an IVF index outgrew its lists.
    """
    import faiss

    since = datetime.fromisoformat(previous.meta.built_at)
    changed = np.union1d(store.embedded_ids(fingerprint, since), np.setdiff1d(current, previous.ids))
    gone = np.setdiff1d(previous.ids, current)
    replaced = np.intersect1d(previous.ids, changed)
    kind = previous.meta.kind
    stale = previous.meta.stale + (len(gone) + len(replaced) if kind == "hnsw" else 0)
    if len(changed) + len(gone) > 0.5 * len(previous) or stale > REBUILD_STALE_SHARE * len(current):
        return None
    trained_for = (previous.meta.params.get("nlist", 1) / 4) ** 2  # nlist was about 4 * sqrt(n)
    if kind == "ivf" and len(current) > 4 * trained_for:
        return None  # the corpus outgrew its lists: retrain
    new_ids, new_vectors = store.embeddings(fingerprint, changed.tolist())
    keep = ~np.isin(previous.ids, np.union1d(gone, replaced))
    ids = np.concatenate([previous.ids[keep], new_ids])
    vectors = np.concatenate(
        [np.asarray(previous.vectors[keep]), new_vectors.reshape(-1, previous.meta.dimension)]
    )
    index: Any = faiss.read_index(str(previous.path / "vectors.faiss"))
    with all_cores():
        if kind != "hnsw" and len(gone) + len(replaced):
            index.remove_ids(np.ascontiguousarray(np.union1d(gone, replaced), np.int64))
        if len(new_ids):
            index.add_with_ids(np.ascontiguousarray(new_vectors, np.float32), np.ascontiguousarray(new_ids))
    return ids, vectors, index, stale, len(new_ids), len(gone) + len(replaced)


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
