"""`build`: embed what is new or changed, snapshot the store, calibrate, index, and go live.

A build holds the home's build lock from start to end (a second build is refused, naming this one)
and the write lock only in short sessions: to read what to embed, to save each chunk of vectors, to
take the snapshot, and to switch. Everything slow (the model, calibration, FAISS) runs with the
store closed, so ingest, remove and settings from other processes go on meanwhile.

Phases, in order (named to `phase` callbacks): plan, embed, snapshot, calibrate, lexical, index,
neighbours, copies, switch, clean (neighbours: index/neighbours.py; lexical and copies:
index/textdata.py).
Killing a build at any moment leaves the previous build serving: embeddings saved so far are kept
(the next build resumes from them), a half-written build folder is never made live, and the model
setting, build state and new CURRENT change together at the switch. A build killed from its index
phase on (an update of the live build: once its folder is written) is finished by the next build,
when nothing was ingested, changed or removed since, the settings it was built with still hold
and (an update) the build it updated is still live (its folder's RESUME file): that build fills
the graph on from the last one the killed build saved (index/filling.py), searches only the
neighbour lists it had not saved (index/neighbours.py), measures the copies again and goes live
(`BuildReport.resumed`).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .. import __version__
from ..embedding import Embedder, make_embedder
from ..errors import RecommenderError
from ..store import Store
from . import filling, neighbours
from .calibration import VERSION as CALIBRATION_VERSION
from .calibration import calibrate, copy_sample, random_pair_stats
from .folder import (
    GRACE_SECONDS,
    VectorIndex,
    clean,
    current_build,
    index_root,
    load_folder,
    new_work_folder,
    switch,
    write_build,
)
from .kinds import (
    GRAPH_KINDS,
    HNSW_EF_CONSTRUCTION,
    all_cores,
    choose_kind,
    ef_construction_for,
    vector_dtype,
)
from .meta import Calibration, IndexMeta
from .resume import (
    CHANGED_FILE,
    Killed,
    Plan,
    Resumed,
    killed_build,
    note_resume,
    went_live,
)
from .snapshot import CatalogWriter, WrittenCatalog, load_numeric
from .textdata import TextPhase, Texts
from .textdata import finish as finish_text
from .textdata import prepare as prepare_text
from .textdata import resumed as resumed_text
from .vectors import VECTORS_FILE, VectorFile, from_batches, merged

if TYPE_CHECKING:
    from ..home import Home

CHUNK = 256  # articles embedded (and saved) per step
EMBED_WINDOW = 16_384  # articles whose texts are read at once (sorted by length within: less padding)
REBUILD_STALE_SHARE = 0.2  # rebuild an HNSW graph once this share of its vectors is superseded
PHASES = (
    "plan", "embed", "snapshot", "calibrate", "lexical", "index", "neighbours", "copies", "switch", "clean",
)  # fmt: skip

# (done, to do) of the phase under way that counts: the articles embedded of those to embed, then
# (phase "neighbours") the articles whose neighbour lists were searched (or folded: neighbours.py)
Progress = Callable[[int, int], None]
Phase = Callable[[str], None]  # told the name of each phase as it begins


class BackfillResult(Protocol):
    """What a backfill reports (scale.BackfillReport): at least what it embedded, and how fast."""

    embedded: int
    seconds: float


# Embeds pending articles elsewhere before the local embedding (scale.backfill, on Ray): called with
# (home, embedder, fingerprint, text fields, progress).
Backfill = Callable[["Home", Embedder, str, list[str], Progress | None], BackfillResult]


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
    nothing_to_do: bool = False  # True: the live build was already up to date; nothing was written
    backfill: BackfillResult | None = None  # what the backfill (Ray) did before the local embedding
    lists_search: object | None = None  # what the lists' search did elsewhere (scale.ray_lists.ListsOutcome)
    resumed: Resumed | None = None  # a killed build finished: what of its work was kept

    @property
    def articles_per_second(self) -> float:
        return self.embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0


@dataclass
class _Snapshot:
    """What the snapshot session read from the store for the rest of the build."""

    ids: np.ndarray
    vectors: VectorFile  # streamed into the new build's folder, never held whole in memory
    catalog: CatalogWriter  # the catalog rows, waiting in the new build's folder to be put in order
    articles_version: int
    kind: str
    faiss_index: Any = None  # the previous index, updated in place (incremental builds)
    params: dict[str, Any] | None = None
    stale: int = 0
    added: int = 0
    removed: int = 0
    calibration_texts: dict[int, tuple[str, str]] | None = None  # None: the cached threshold holds
    cached_calibration: dict[str, Any] | None = None
    changed: np.ndarray | None = None  # ids re-embedded since the previous build (incremental builds)


def build(
    home: Home,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    full: bool = False,
    model: str | None = None,
    phase: Phase | None = None,
    wait: float | None = 0,
    grace_seconds: float = GRACE_SECONDS,
    backfill: Backfill | None = None,
    searcher: neighbours.Searcher | None = None,
) -> BuildReport:
    """Bring embeddings and the serving snapshot up to date with the store, and make it live.

    model: switch to this model (re-embeds everything; the store keeps the old model until the new
    build is live). progress: (done, to do) of the embedding, then of the neighbour lists' search
    and fold (`phase` tells which). wait: seconds to wait for another build (None: as long as it takes).
    backfill: embeds the pending articles first, elsewhere (Ray); what is left is embedded here.
    searcher: searches the neighbour lists (index/neighbours.py; default: this process).
    """
    started = time.perf_counter()
    tell = phase or (lambda _name: None)
    with home.building("build" + (f" --model {model}" if model else ""), wait=wait):
        tell("plan")
        with home.writing("build: planning") as store:
            settings = store.settings()
            previous_model = store.state("built_model")
            built_fingerprint = store.state("built_fingerprint")
        if model is not None:
            settings = settings.with_value("model", model)
        embedder = embedder or make_embedder(settings)
        fields = settings.text_field_list()
        fingerprint = embedder.fingerprint()  # may build the int8 model once: no lock held
        switching = model is not None and model != previous_model
        model_changed = built_fingerprint not in (None, fingerprint) or switching
        previous = _previous(home.path, fingerprint)

        with home.writing("build: planning") as store:
            # the ids of what to embed: their texts are read a window at a time (a backfill reads
            # them in shards, so it needs only their number here)
            pending = store.pending_ids(fingerprint, fields) if backfill is None else np.zeros(0, np.int64)
            waiting = len(pending) if backfill is None else store.count_pending(fingerprint, fields)
            articles_version = store.articles_version()
        up_to_date = _up_to_date(previous, waiting, articles_version, full, settings.index_type)
        plan = Plan(fingerprint, fields, model, settings.index_type, settings.lexical_index)
        killed = None if up_to_date or waiting else killed_build(home.path, plan, articles_version, full)
        clean(home.path, grace_seconds, keep=killed.path if killed else None)  # what killed builds left
        if up_to_date:
            assert previous is not None
            meta = previous.meta
            return BuildReport(
                meta.model, 0, meta.count, time.perf_counter() - started, 0.0, previous_model, False,
                meta.calibration, previous.path, meta.kind, nothing_to_do=True,
            )  # fmt: skip
        if killed is not None:
            finished = _Finish(home, plan, embedder, progress, searcher, tell, grace_seconds)
            live, kept = finished.killed(killed)
            return BuildReport(
                live.meta.model, 0, live.meta.count, time.perf_counter() - started, 0.0, previous_model,
                model_changed, live.meta.calibration, live.path, live.meta.kind,
                lists_search=getattr(searcher, "outcome", None), resumed=kept,
            )  # fmt: skip

        tell("embed")
        backfilled: BackfillResult | None = None
        embed_seconds = 0.0
        if backfill is not None:
            if waiting:
                backfilled = backfill(home, embedder, fingerprint, fields, progress)
                embed_seconds = backfilled.seconds
            with home.writing("build: planning") as store:
                pending = store.pending_ids(fingerprint, fields)  # ingested or changed meanwhile
        embedded = 0
        if len(pending) or backfill is None:
            embedded, seconds = _embed(home, embedder, fingerprint, pending, fields, progress)
            embed_seconds += seconds

        tell("snapshot")
        work = new_work_folder(home.path)  # the vectors stream straight into the new build's folder
        try:
            with home.writing("build: taking the snapshot") as store:
                snap = _take_snapshot(
                    store, fingerprint, previous if not full else None, settings.index_type, work
                )
            catalog = snap.catalog.finish()  # in id order, with the store closed
            kind = snap.kind

            tell("calibrate")
            calibration = _calibrate(embedder, snap, fields)

            tell("lexical")
            carried = previous if snap.changed is not None else None
            changed = snap.changed if snap.changed is not None else np.zeros(0, np.int64)
            text = prepare_text(
                _reader(home), snap.ids, catalog.languages, fields, carried, changed,
                settings.lexical_index, work,
            )  # fmt: skip

            tell("index")
            meta = IndexMeta(
                model=embedder.name,
                model_fingerprint=fingerprint,
                dimension=snap.vectors.dimension,
                count=len(snap.ids),
                built_at=datetime.now(UTC).isoformat(),
                package_version=__version__,
                calibration=calibration,
                kind=kind,
                params=snap.params or {},
                stale=snap.stale,
                articles_version=snap.articles_version,
                lexical=text.meta,
            )
            measured = snap.cached_calibration is None  # the next build can finish this one if killed
            note_resume(work, plan, meta, catalog, snap.ids, measured, carried, changed)
            folder = write_build(
                home.path, snap.ids, snap.vectors, meta, catalog, snap.faiss_index, work=work
            )
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise

        finished = _Finish(home, plan, embedder, progress, searcher, tell, grace_seconds)
        live = finished.go_live(folder, text, carried.path if carried else None, changed, measured)
    return BuildReport(
        live.meta.model,
        (backfilled.embedded if backfilled else 0) + embedded,
        len(snap.ids),
        time.perf_counter() - started,
        embed_seconds,
        previous_model,
        model_changed,
        calibration,
        folder,
        kind,
        snap.faiss_index is not None,
        snap.added,
        snap.removed,
        backfill=backfilled,
        lists_search=getattr(searcher, "outcome", None),
    )


def _reader(home: Home) -> Callable[[Callable[[Texts], object]], object]:
    """Runs a function with the store's texts, in one short session of the write lock."""

    def read(fn: Callable[[Texts], object]) -> object:
        with home.writing("build: reading texts") as store:
            return fn(store.texts)

    return read


@dataclass(frozen=True)
class _Finish:
    """The phases that finish a build whose folder is written (the neighbour lists, the copies, going
    live), and those a killed build's folder still needs (its index, if not written yet)."""

    home: Home
    plan: Plan
    embedder: Embedder
    progress: Progress | None
    searcher: neighbours.Searcher | None
    tell: Phase
    grace_seconds: float

    def killed(self, killed: Killed) -> tuple[VectorIndex, Resumed]:
        """Finish a killed build's folder and make it live; what of its work was kept."""
        folder, graph = killed.path, killed.meta.count
        if not killed.written:
            self.tell("index")
            ids = np.load(folder / "ids.npy")
            graph = filling.held(folder)
            note = killed.note
            catalog = WrittenCatalog(
                ids, load_numeric(folder, "languages.npy"), note["sections"], note["languages"]
            )
            vectors = VectorFile.open(folder / VECTORS_FILE)
            folder = write_build(self.home.path, ids, vectors, killed.meta, catalog, work=folder)
        written = load_folder(folder)
        graph = graph if written.meta.kind in GRAPH_KINDS else 0
        kept = Resumed(graph, neighbours.saved_count(folder, len(written)))
        previous, changed = None, np.zeros(0, np.int64)
        if killed.note.get("previous") is not None:  # an update of the live build
            previous = load_folder(index_root(self.home.path) / killed.note["previous"])
            changed = np.load(folder / CHANGED_FILE)
        meta = written.meta
        text = resumed_text(folder, written.ids, meta.lexical, previous, changed, self.plan.lexical_index)
        carried = previous.path if previous is not None else None
        measured = bool(killed.note.get("calibration_measured"))
        return self.go_live(folder, text, carried, changed, measured, resume=True), kept

    def go_live(
        self,
        folder: Path,
        text: TextPhase,
        carried: Path | None,
        changed: np.ndarray,
        measured: bool,
        resume: bool = False,
    ) -> VectorIndex:
        """Finish `folder` and make it live. `measured`: whether its calibration was measured (and
        is recorded as the model's). `resume`: the folder of a killed build (its lists' search
        goes on from what it saved)."""
        self.tell("neighbours")
        written = load_folder(folder)
        lists = neighbours.build(written, carried, changed, self.progress, self.searcher, resume=resume)

        self.tell("copies")
        finish_text(text, written, _reader(self.home), self.plan.fields, lists)

        self.tell("switch")
        with self.home.writing("build: switching to the new build") as store:
            _record(store, self.embedder, self.plan, written.meta, measured)
            self.home.refresh_overlay(store, folder)  # settings now, and removals while this build ran
            switch(self.home.path, folder)
            went_live(folder)
            store.delete_other_embeddings(self.plan.fingerprint)

        self.tell("clean")
        clean(self.home.path, self.grace_seconds)
        return load_folder(folder)


def _up_to_date(
    previous: VectorIndex | None, pending: int, articles_version: int, full: bool, index_type: str
) -> bool:
    """True when a build would write exactly what is live already."""
    if previous is None or full or pending:
        return False
    meta = previous.meta
    return meta.articles_version == articles_version and choose_kind(meta.count, index_type) == meta.kind


def _embed(
    home: Home,
    embedder: Embedder,
    fingerprint: str,
    ids: np.ndarray,
    fields: list[str],
    progress: Progress | None,
) -> tuple[int, float]:
    """Embed the pending articles `ids` (ascending) EMBED_WINDOW at a time: a window's texts are read
    in one short session and sorted by length (similar lengths per batch: less padding), then
    embedded and saved CHUNK at a time, each chunk in a short write session. Only one window's
    texts are held; an article removed since the plan is not in its window's texts and is passed over.
    Returns the number of articles embedded and the seconds it took."""
    if progress:
        progress(0, len(ids))
    started, embedded = time.perf_counter(), 0
    for start in range(0, len(ids), EMBED_WINDOW):
        window = ids[start : start + EMBED_WINDOW]
        with home.writing("build: reading texts to embed") as store:
            table = store.texts_to_embed(window, fields)
        columns = (table.column(name).to_pylist() for name in ("article_id", "text", "text_hash"))
        rows = sorted(zip(*columns, strict=True), key=lambda row: len(row[1]))
        del table
        for first in range(0, len(rows), CHUNK):
            chunk = rows[first : first + CHUNK]
            vectors = embedder.embed([text for _, text, _ in chunk])
            chunk_ids, hashes = [i for i, _, _ in chunk], [h for _, _, h in chunk]
            with home.writing("build: saving embeddings") as store:
                store.save_embeddings(fingerprint, chunk_ids, hashes, vectors)
            embedded += len(chunk)
            if progress:
                progress(start + first + len(chunk), len(ids))
        if progress and len(rows) < len(window):
            progress(start + len(window), len(ids))  # what was removed meanwhile counts as done
    return embedded, time.perf_counter() - started


def _previous(home: Path, fingerprint: str) -> VectorIndex | None:
    """The live build if it was made with this model in the current format, else None."""
    folder = current_build(home)
    if folder is None:
        return None
    try:
        return load_folder(folder, expect_fingerprint=fingerprint)
    except (RecommenderError, FileNotFoundError):
        return None


def _take_snapshot(
    store: Store, fingerprint: str, previous: VectorIndex | None, index_type: str, work: Path
) -> _Snapshot:
    """Read, in one session, everything the build needs from the store: the catalog columns of every
    embedded article and their vectors, both streamed into `work` (only the changed vectors are read
    when the previous index is updated)."""
    rows = store.snapshot_rows(fingerprint)
    catalog = CatalogWriter(work, rows.schema)
    for batch in rows:
        catalog.add(batch)
    ids = catalog.ids()
    if len(ids) == 0:
        catalog.close()
        raise RecommenderError("nothing to index: ingest articles first (`recommender ingest FILE`)")
    kind = choose_kind(len(ids), index_type)
    update = None
    if previous is not None and previous.meta.kind == kind:
        update = _update(store, fingerprint, previous, ids, work)
    if update is not None:
        vectors, faiss_index, stale, added, removed, changed = update
        snap = _Snapshot(ids, vectors, catalog, store.articles_version(), kind, faiss_index)
        snap.stale, snap.added, snap.removed, snap.changed = stale, added, removed, changed
        snap.params = previous.meta.params if previous is not None else None
    else:
        path = work / VECTORS_FILE
        vectors = from_batches(store.embedding_batches(fingerprint), ids, path, vector_dtype(kind))
        snap = _Snapshot(ids, vectors, catalog, store.articles_version(), kind)
        snap.added = len(ids)
    key = _calibration_key(fingerprint)
    cached = store.state(key)
    if cached:
        data = json.loads(cached)
        if 0.5 <= len(ids) / max(data["count"], 1) <= 2.0:
            snap.cached_calibration = data
    if snap.cached_calibration is None:
        snap.calibration_texts = store.texts(copy_sample(ids))
    return snap


def _update(
    store: Store, fingerprint: str, previous: VectorIndex, current: np.ndarray, work: Path
) -> tuple[VectorFile, Any, int, int, int, np.ndarray] | None:
    """The previous index with removed and re-embedded articles taken out and new vectors added,
    and the vectors of `current` in order, written to `work` from the previous build's file and the
    changed vectors. None when a rebuild is the better deal: most of the
    corpus changed, an HNSW graph holds too many superseded vectors (it cannot delete them) or was
    built shallower than the corpus now needs, or an IVF index outgrew its lists."""
    import faiss

    since = datetime.fromisoformat(previous.meta.built_at)
    changed = np.union1d(store.embedded_ids(fingerprint, since), np.setdiff1d(current, previous.ids))
    changed = np.intersect1d(changed, current)
    gone = np.setdiff1d(previous.ids, current)
    replaced = np.intersect1d(previous.ids, changed)
    kind = previous.meta.kind
    stale = previous.meta.stale + (len(gone) + len(replaced) if kind in GRAPH_KINDS else 0)
    if len(changed) + len(gone) > 0.5 * len(previous) or stale > REBUILD_STALE_SHARE * len(current):
        return None
    trained_for = (previous.meta.params.get("nlist", 1) / 4) ** 2  # nlist was about 4 * sqrt(n)
    if kind == "ivf" and len(current) > 4 * trained_for:
        return None  # the corpus outgrew its lists: retrain
    # builds before the deeper graphs existed all used HNSW_EF_CONSTRUCTION and did not record it
    built_deep = previous.meta.params.get("efConstruction", HNSW_EF_CONSTRUCTION)
    if kind in GRAPH_KINDS and built_deep < ef_construction_for(len(current)):
        return None  # a graph built for a smaller corpus: build the deeper one
    new_ids, new_vectors = store.embeddings(fingerprint, changed.tolist())
    if not np.array_equal(new_ids, changed):
        return None
    keep = ~np.isin(previous.ids, np.union1d(gone, replaced))
    ids = np.sort(np.concatenate([previous.ids[keep], new_ids]), kind="stable")
    if not np.array_equal(ids, current):
        return None  # not the same set of articles: rebuild from the store instead
    new_vectors = new_vectors.reshape(-1, previous.meta.dimension)
    old = VectorFile.open(previous.path / VECTORS_FILE)
    vectors = merged(old, np.asarray(previous.ids), new_ids, new_vectors, current, work / VECTORS_FILE)
    index: Any = faiss.read_index(str(previous.path / "vectors.faiss"))  # a private, writable copy
    with all_cores():
        if kind not in GRAPH_KINDS and len(gone) + len(replaced):
            index.remove_ids(np.ascontiguousarray(np.union1d(gone, replaced), np.int64))
        if len(new_ids):
            index.add_with_ids(np.ascontiguousarray(new_vectors, np.float32), np.ascontiguousarray(new_ids))
    return vectors, index, stale, len(new_ids), len(gone) + len(replaced), changed


def _calibration_key(fingerprint: str) -> str:
    return f"calibration:v{CALIBRATION_VERSION}:{fingerprint}"


def _calibrate(embedder: Embedder, snap: _Snapshot, fields: list[str]) -> Calibration:
    """Random-pair statistics are cheap and always fresh; the copy threshold is kept per model
    and measured again only when the corpus has grown or shrunk by half since."""
    mean, std = random_pair_stats(snap.vectors)
    if snap.cached_calibration is not None:
        data = snap.cached_calibration
        return Calibration(mean, std, data["near_duplicate_threshold"], data["method"])
    texts = snap.calibration_texts or {}
    return calibrate(embedder.embed, snap.ids, snap.vectors, lambda ids: texts, fields)


def _record(store: Store, embedder: Embedder, plan: Plan, meta: IndexMeta, measured: bool) -> None:
    """The store's side of going live, in one transaction: the model (on a switch), what was built,
    and the calibration, when it was `measured` for this build."""
    store.con.execute("BEGIN TRANSACTION")
    if plan.model is not None:
        store.set_setting("model", plan.model, transaction=False)
    store.set_state("built_model", embedder.name)
    store.set_state("built_fingerprint", plan.fingerprint)
    if measured:
        data = {**asdict(meta.calibration), "count": meta.count}
        store.set_state(_calibration_key(plan.fingerprint), json.dumps(data))
    store.con.execute("COMMIT")


__all__ = ["PHASES", "Backfill", "BackfillResult", "BuildReport", "Phase", "Progress", "Resumed", "build"]
