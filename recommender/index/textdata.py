"""The build's two text phases: the lexical index (index/lexical.py) and the text overlaps that tell
copies and daily series apart (index/copies.py), both written into the build folder.

Phase `lexical` runs before the index is built (its anchors go into meta.json): it reads the texts
from the store in chunks, in short read sessions, and tokenizes each once (stemmed words for the
lexical index, unstemmed shingles for the copy test); of a chunk it keeps only its counted terms
(lexical.Counts) and its shingle hashes (copies.ShingleSets, in a scratch file of the new build's
folder), never its words. The lexical files go into that folder as soon as they are made, and the
rest of the build reads them memory-mapped. A full build reads every text; an incremental one reads
only the new and changed articles and carries the rest over from the live build. Phase `copies`
runs once the FAISS index is written: each new article's nearest neighbours (dense relevance >=
PROPOSE_RELEVANCE; read from the build's neighbour lists, or searched no deeper than PROPOSE_DEPTH
where it has none) and lexical neighbours are checked for text overlap, SOURCE_BLOCK articles at a
time.

The lexical index needs scipy (the `lexical` extra) and the `lexical_index` setting; without them
the build writes no lexical files and sidebars rank by the dense signal alone.
"""

from __future__ import annotations

import importlib.util
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..embedding.base import article_text
from . import copies, forked, lexical
from .calibration import copy_sample, republished_copy
from .folder import VectorIndex, positions
from .lexical import Lexical, LexicalMeta
from .neighbours import Neighbours
from .scratch import Scratch
from .snapshot import load_numeric
from .tokenize import stem_bengali, tokens

READ_CHUNK = 2_000  # texts read per store session
PROPOSE_NEIGHBOURS = 16  # nearest neighbours whose text is compared with an article's
PROPOSE_CHUNK = 2_048  # articles whose proposals are scored in one block
SOURCE_BLOCK = 8_192  # articles whose proposed pairs are measured together
PROPOSE_RELEVANCE = 0.5  # ... when at least this alike on the dense scale (every judged copy has 1.0)
# Searched for them (a build without neighbour lists: the compressed graph), a graph goes no deeper
# than this, as a full build searches every article once. On the 2M hard synthetic graph (500
# articles, scratch run on a busy box) efSearch 128 found 92.8% of the pairs exact search proposes
# and 99.4% of those with cosine >= 0.95 in 2.3 ms an article; the tuned 1,024: 98.1%, 99.6%, 14.9 ms.
PROPOSE_DEPTH = 128
FULL_SHARE = 0.5  # more new or changed articles than this share: rebuild the lexical index

Texts = Callable[[list[int]], dict[int, tuple[str, str]]]  # internal ids -> (title, body)
Reader = Callable[[Callable[[Texts], object]], object]  # runs a function with the store's texts


def lexical_available() -> bool:
    """True when the lexical index can be built here (scipy installed)."""
    return importlib.util.find_spec("scipy") is not None


@dataclass
class TextPhase:
    """What the lexical phase made, for the build's meta.json and the copies phase."""

    ids: np.ndarray
    languages: np.ndarray  # a code per catalog row (-1: none)
    lexical: Lexical | None
    meta: LexicalMeta | None
    shingles: copies.ShingleSets  # catalog row -> shingle hashes
    previous: Path | None = None  # the live build carried over (incremental), else None
    old_to_new: np.ndarray | None = None  # previous row -> row here, -1 = gone or changed
    new_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # read and tokenized here
    seconds: float = 0.0
    note: str = ""
    written: bool = False  # the lexical files are in the new build's folder already (read mapped)

    @property
    def incremental(self) -> bool:
        return self.previous is not None


def prepare(
    read: Reader,
    ids: np.ndarray,
    languages: np.ndarray,
    fields: list[str],
    previous: VectorIndex | None,
    changed: np.ndarray,
    enabled: bool,
    work: Path | None = None,
) -> TextPhase:
    """The lexical phase: `read(fn)` calls fn with a function that reads texts in one store session;
    `languages`: each catalog row's language code (-1: none); `previous`: the live build to carry
    over (None: full build); `changed`: ids re-embedded since; `work`: the new build's folder, being
    written: the lexical files are written there as soon as they are made and read back
    memory-mapped (the rest of the build does not hold them in its memory), the arrays that grow
    with the postings while they are made are scratch files there (index/scratch.py), and the
    shingle hashes wait there (copies.ShingleSets). Without it this process keeps all of it in
    memory, the lexical data until `finish` writes it, and the hashes go to the system's temporary
    folder."""
    started = time.perf_counter()
    enabled = enabled and lexical_available()
    carried = _carried(previous, ids, changed, enabled)
    if carried is not None:
        assert previous is not None
        old_to_new, new_rows = carried
        scratch = Scratch(work)
        counted = lexical.CountsWriter(scratch)
        data = Lexical.load(previous.path) if enabled else None
        vocabulary = data.term_ids() if data is not None else {}
        shingle_sets = copies.ShingleSets(len(ids), work)
        for rows, sets, counts, _ in _tokenized(read, ids, new_rows, fields, vocabulary, data is not None):
            shingle_sets.add(rows, sets)
            if counts is not None:
                counted.add(counts)
        meta = previous.meta.lexical
        if data is not None and meta is not None:
            new = counted.counts()
            data = lexical.update(data, meta, old_to_new, len(ids), new_rows, new, languages, scratch)
        phase = TextPhase(ids, languages, data, meta if data is not None else None, shingle_sets)
        phase.previous, phase.old_to_new, phase.new_rows = previous.path, old_to_new, new_rows
    else:
        phase = _full(read, ids, languages, fields, enabled, work)
    if not lexical_available():
        phase.note = "no lexical index: scipy is not installed (pip install 'recommender[lexical]')"
    elif not enabled:
        phase.note = "no lexical index: setting lexical_index is off"
    if work is not None and phase.lexical is not None:
        phase.lexical.save(work)
        phase.lexical, phase.written = Lexical.load(work), True
    phase.seconds = time.perf_counter() - started
    if phase.meta is not None:
        phase.meta = replace(phase.meta, seconds=round(phase.seconds, 3))
    return phase


def resumed(
    folder: Path,
    ids: np.ndarray,
    meta: LexicalMeta | None,
    previous: VectorIndex | None = None,
    changed: np.ndarray | None = None,
    enabled: bool = False,
) -> TextPhase:
    """The lexical phase of a killed build, from its folder (its lexical files are in it), as
    `prepare` made it with the same `previous`, `changed` and `enabled`: its shingle hashes died
    with it, so the copies phase reads the texts it compares again."""
    data = Lexical.load(folder) if meta is not None else None
    languages = load_numeric(folder, "languages.npy")
    phase = TextPhase(ids, languages, data, meta, copies.ShingleSets(len(ids), folder))
    phase.written = data is not None
    enabled = enabled and lexical_available()
    carried = _carried(previous, ids, np.zeros(0, np.int64) if changed is None else changed, enabled)
    if carried is not None and previous is not None:
        phase.previous, (phase.old_to_new, phase.new_rows) = previous.path, carried
    return phase


def _carried(
    previous: VectorIndex | None, ids: np.ndarray, changed: np.ndarray, enabled: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    """(previous row -> new row, rows to read) when the live build's text data can be carried
    over; None when a full pass is due."""
    if previous is None or not copies_present(previous.path):
        return None
    meta = previous.meta.lexical
    if enabled and (meta is None or not Lexical.present(previous.path) or lexical.stale(meta, len(ids))):
        return None
    old_to_new = positions(ids, previous.ids)
    old_to_new[np.isin(previous.ids, changed)] = -1
    fresh = np.ones(len(ids), bool)
    fresh[old_to_new[old_to_new >= 0]] = False
    new_rows = np.flatnonzero(fresh)
    if len(new_rows) > FULL_SHARE * max(len(ids), 1):
        return None
    return old_to_new, new_rows


def copies_present(folder: Path) -> bool:
    return all((folder / name).exists() for name in copies.FILES)


def _full(
    read: Reader,
    ids: np.ndarray,
    languages: np.ndarray,
    fields: list[str],
    enabled: bool,
    work: Path | None,
) -> TextPhase:
    vocabulary: dict[str, int] = {}
    scratch = Scratch(work)  # the lexical arrays that grow with the archive: files in the build's folder
    counted = lexical.CountsWriter(scratch)  # a chunk's terms counted as soon as it is tokenized
    shingle_sets = copies.ShingleSets(len(ids), work)
    sample = set(copy_sample(ids))
    sample_texts: dict[int, tuple[str, str]] = {}
    every = np.arange(len(ids))
    for rows, sets, counts, raw in _tokenized(read, ids, every, fields, vocabulary, enabled, grow=True):
        shingle_sets.add(rows, sets)
        if counts is not None:
            counted.add(counts)
        for row, pair in zip(rows.tolist(), raw, strict=True):
            if int(ids[row]) in sample:
                sample_texts[row] = pair
    if not enabled:
        return TextPhase(ids, languages, None, None, shingle_sets)
    synthetic = []
    for row, (title, body) in sample_texts.items():
        if len(_sentences(body)) >= 3:
            copy_title, copy_body = republished_copy(title, body)
            synthetic.append((row, f"{copy_title}\n{copy_body}"))
    data, meta = lexical.build(counted.counts(), list(vocabulary), languages, synthetic[:64], scratch=scratch)
    return TextPhase(ids, languages, data, meta, shingle_sets)


def _tokenized(
    read: Reader,
    ids: np.ndarray,
    rows: np.ndarray,
    fields: list[str],
    vocabulary: dict[str, int],
    count_terms: bool,
    grow: bool = False,
) -> Iterator[tuple[np.ndarray, list[np.ndarray], lexical.Counts | None, list[tuple[str, str]]]]:
    """(rows, shingle sets, term counts or None, (title, body) pairs) of each chunk of the given
    catalog rows, in order. The texts are read here, a chunk per store session, and tokenized by
    forked helpers when there are many (`forked.processes_for`), a few chunks ahead; each chunk's
    terms come back as its own small vocabulary, given their ids here in the order one process
    would give them, so the counts and `vocabulary` (grown where `grow`) are the same either way."""
    chunks = _chunks(read, ids, rows, fields)
    processes = forked.processes_for(len(rows))
    if processes <= 1:
        for part, texts, raw in chunks:
            yield part, *_counted(_tokenize(texts, count_terms), vocabulary, grow), raw
        return
    with forked.pool(processes) as helpers:
        pending: deque = deque()
        for part, texts, raw in chunks:
            pending.append((part, helpers.apply_async(_tokenize, (texts, count_terms)), raw))
            while len(pending) > 2 * processes:
                done, result, done_raw = pending.popleft()
                yield done, *_counted(result.get(), vocabulary, grow), done_raw
        for done, result, done_raw in pending:
            yield done, *_counted(result.get(), vocabulary, grow), done_raw


Tokenized = tuple[list[np.ndarray], list[str] | None, list[np.ndarray]]  # (sets, terms, term ids)


def _tokenize(texts: list[str], count_terms: bool) -> Tokenized:
    """Texts' shingle sets and, where `count_terms`, their terms (each Bengali word stemmed) as ids
    into a vocabulary of this chunk alone, numbered as the terms first occur (else terms None)."""
    words = [tokens(text) for text in texts]
    sets = [copies.shingle_hashes(w) for w in words]
    if not count_terms:
        return sets, None, []
    local: dict[str, int] = {}
    docs = [lexical.term_ids([stem_bengali(w) for w in text], local, grow=True) for text in words]
    return sets, list(local), docs


def _counted(
    tokenized: Tokenized, vocabulary: dict[str, int], grow: bool
) -> tuple[list[np.ndarray], lexical.Counts | None]:
    """A tokenized chunk's shingle sets and its term counts in the build's vocabulary (None when its
    terms were not counted)."""
    sets, terms, docs = tokenized
    if terms is None:
        return sets, None
    ids = lexical.term_ids(terms, vocabulary, grow)
    return sets, lexical.Counts.of([ids[doc] for doc in docs])


def _sentences(body: str) -> list[str]:
    from .calibration import _sentences as split

    return split(body)


def _chunks(
    read: Reader, ids: np.ndarray, rows: np.ndarray, fields: list[str]
) -> Iterator[tuple[np.ndarray, list[str], list[tuple[str, str]]]]:
    """(rows, texts, (title, body) pairs) of the given catalog rows, READ_CHUNK per store session."""
    for start in range(0, len(rows), READ_CHUNK):
        part = rows[start : start + READ_CHUNK]
        wanted = [int(i) for i in ids[part]]
        found: dict[int, tuple[str, str]] = {}

        def fetch(texts: Texts, wanted: list[int] = wanted, found: dict = found) -> None:
            found.update(texts(wanted))

        read(fetch)
        pairs = [found.get(i, ("", "")) for i in wanted]  # removed meanwhile: no words
        texts = [article_text(t, b, fields) for t, b in pairs]
        yield part, texts, pairs


def finish(
    phase: TextPhase, index: VectorIndex, read: Reader, fields: list[str], lists: Neighbours | None = None
) -> None:
    """The copies phase: measure the text overlap of proposed pairs and write every text file of
    the build `index` (its folder is written but not live yet). `lists`: the build's neighbour
    lists, when it stored them (the dense proposals are read from them instead of searched).

    The articles propose their pairs a block of SOURCE_BLOCK at a time (`_Proposals`), so that the
    phase's memory does not grow with the build; a pair that both of its articles propose is
    measured once, from the first of them, wherever that can be told from the lists alone."""
    n = len(phase.ids)
    proposals = _Proposals.of_phase(phase, index, lists)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start in range(0, n, SOURCE_BLOCK):
        pairs = proposals.first(np.arange(start, min(n, start + SOURCE_BLOCK)))
        wanted = np.unique(pairs)
        missing = wanted[~phase.shingles.holds(wanted)]  # incremental: older articles' partners
        for part, sets, _, _ in _tokenized(read, phase.ids, missing, fields, {}, count_terms=False):
            phase.shingles.add(part, sets)
        found.append(copies.measure(phase.shingles, pairs))
        phase.shingles.release()
    phase.shingles.close()
    a, b, value = (np.concatenate([f[i] for f in found]) if found else np.zeros(0) for i in range(3))
    if phase.incremental and phase.previous is not None and phase.old_to_new is not None:
        old = copies.Overlaps.load(phase.previous)
        source, partner, contained = old.pairs()
        src, dst = phase.old_to_new[source], phase.old_to_new[partner]
        keep = (src >= 0) & (dst >= 0) & (source < partner)
        a = np.concatenate([src[keep], a])
        b = np.concatenate([dst[keep], b])
        value = np.concatenate([contained[keep], value])
    copies.Overlaps.from_pairs(n, a, b, value).save(index.path)
    if phase.lexical is not None and not phase.written:
        phase.lexical.save(index.path)
    _fsync(index.path)


@dataclass(frozen=True)
class _Proposals:
    """Which pairs of articles the copies phase measures. A new (or re-embedded) article proposes
    its dense neighbours alike enough (`_dense_proposals`) and its lexical neighbours; an older
    article (incremental build) proposes the new ones that entered its lexical list."""

    index: VectorIndex
    lists: Neighbours | None
    lexical_rows: np.ndarray | None  # (n, NEIGHBOURS) catalog rows, -1 padded
    new: np.ndarray  # (n,) bool: the rows read and tokenized by this build

    @classmethod
    def of_phase(cls, phase: TextPhase, index: VectorIndex, lists: Neighbours | None) -> _Proposals:
        new = np.ones(len(phase.ids), bool)
        if phase.incremental:
            new[:] = False
            new[phase.new_rows] = True
        lexical_rows = phase.lexical.rows if phase.lexical is not None else None
        return cls(index, lists, lexical_rows, new)

    def lexical(self, sources: np.ndarray) -> np.ndarray:
        """(source, partner) pairs from the sources' lexical lists."""
        if self.lexical_rows is None:
            return np.zeros((0, 2), np.int64)
        partner = np.asarray(self.lexical_rows[sources], np.int64)
        source = np.broadcast_to(sources[:, None], partner.shape)
        keep = partner >= 0
        keep[keep] = self.new[source[keep]] | self.new[partner[keep]]
        return np.stack([source[keep], partner[keep]], axis=1)

    def first(self, sources: np.ndarray) -> np.ndarray:
        """(source, partner) pairs the given rows propose, less those that the partner, an earlier
        row, proposes too as far as its lexical list (or, for a dense pair, its neighbour list)
        tells: that pair is measured from the partner's block. Where the dense neighbours were
        searched (no lists), such a pair may be measured twice; none is missed."""
        dense, likeness = _dense_proposals(self.index, sources[self.new[sources]], self.lists)
        pairs = np.concatenate([dense, self.lexical(sources)])
        back = np.flatnonzero(pairs[:, 1] < pairs[:, 0])
        source, partner = pairs[back, 0], pairs[back, 1]
        twice = np.zeros(len(back), bool)
        if self.lexical_rows is not None:
            twice |= (self.lexical_rows[partner] == source[:, None]).any(axis=1)
        if self.lists is not None and _reads_lists(self.index, self.lists):
            # a cosine is symmetric: a new partner proposes the pair when the source is in its list
            # (clearly above the bar: the two sides' float32 sums may differ in the last bits)
            at = np.flatnonzero(back < len(dense))
            clear = likeness[back[at]] >= _propose_bar(self.index) + 1e-4
            theirs = self.lists.ids[partner[at], :PROPOSE_NEIGHBOURS]
            in_list = (theirs == self.index.ids[source[at]][:, None]).any(axis=1)
            twice[at] |= in_list & clear & self.new[partner[at]]
        keep = np.ones(len(pairs), bool)
        keep[back[twice]] = False
        return pairs[keep]


def _dense_proposals(
    index: VectorIndex, rows: np.ndarray, lists: Neighbours | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(row, neighbour row) pairs of each given row's nearest neighbours that are alike enough
    (cosine at least `_propose_bar`), and their cosines."""
    if len(rows) == 0 or len(index) < 2:
        return np.zeros((0, 2), np.int64), np.zeros(0, np.float32)
    if _reads_lists(index, lists):
        assert lists is not None
        found = np.asarray(lists.ids[rows, :PROPOSE_NEIGHBOURS])  # searched already, itself left out
        neighbour = positions(index.ids, found.ravel()).reshape(found.shape)
        sims = np.zeros(found.shape, np.float32)
        for start in range(0, len(rows), PROPOSE_CHUNK):  # their cosines, a bounded block at a time
            part = slice(start, start + PROPOSE_CHUNK)
            near = np.asarray(index.vectors[np.maximum(neighbour[part], 0).ravel()], np.float32)
            vectors = np.asarray(index.vectors[rows[part]], np.float32)
            sims[part] = np.einsum("rkd,rd->rk", near.reshape(len(vectors), found.shape[1], -1), vectors)
    else:
        k = min(PROPOSE_NEIGHBOURS + 1, len(index))
        found = np.zeros((len(rows), k), np.int64)
        sims = np.zeros((len(rows), k), np.float32)
        for start in range(0, len(rows), PROPOSE_CHUNK):  # a bounded block of queries at a time
            part = slice(start, start + PROPOSE_CHUNK)
            queries = np.asarray(index.vectors[rows[part]], np.float32)
            found[part], sims[part] = index.search_many(queries, k, PROPOSE_DEPTH)
        neighbour = positions(index.ids, found.ravel()).reshape(found.shape)
    source = np.repeat(rows, found.shape[1]).reshape(found.shape)
    keep = (neighbour >= 0) & (sims >= _propose_bar(index)) & (neighbour != source)
    return np.stack([source[keep], neighbour[keep]], axis=1), sims[keep]


def _propose_bar(index: VectorIndex) -> float:
    """The cosine a dense neighbour needs to be proposed: PROPOSE_RELEVANCE on the dense scale."""
    calibration = index.meta.calibration
    floor = calibration.similarity_mean
    return floor + PROPOSE_RELEVANCE * (calibration.near_duplicate_threshold - floor)


def _reads_lists(index: VectorIndex, lists: Neighbours | None) -> bool:
    """Whether the dense proposals are read from the build's neighbour lists (else searched)."""
    return lists is not None and lists.width >= min(PROPOSE_NEIGHBOURS, len(index) - 1)


def _fsync(folder: Path) -> None:
    import os

    for name in (*copies.FILES, *lexical.FILES):
        path = folder / name
        if path.exists():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
