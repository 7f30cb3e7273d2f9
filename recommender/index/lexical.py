"""Build-time lexical data: BM25 more-like-this neighbours, and what scoring any text needs.

The lexical score of a candidate c for a source s is BM25 more-like-this, as Elasticsearch's MLT
query computes it: the QUERY_TERMS heaviest terms of s (by their BM25 weight in s; terms found in
more than MAX_DF of the articles carry no signal and are left out) scored against c with BM25
(Lucene variant: k1 1.2, b 0.75, idf log(1 + (N - df + 0.5) / (df + 0.5)), as `bm25s` computes
it), divided by the score of s against itself, so that 1 means "as much of the source's key terms
as the source itself" and unrelated pairs sit near 0. Words come from tokenize.tokens, stemmed.

Files in a build folder, all memory-mapped by readers (serving needs numpy and pyarrow only;
building needs scipy, the `lexical` extra):
    lexical_terms.arrow        the vocabulary: term id = row
    lexical_idf.npy            float32 idf of each term, as of the last full build
    lexical_postings_ptr.npy   term-major postings: offsets (terms + 1,) int64, then for each entry
    lexical_postings_rows.npy  the catalog row (int32) and
    lexical_postings_w.npy     the term's BM25 weight in that article (float32)
    lexical_query.npy          (n, QUERY_TERMS) int32: each article's query terms, -1 padded
    lexical_self.npy           (n,) float32: each article's score against itself
    lexical_rows.npy           (n, NEIGHBOURS) int32: its best matches in its own language, -1 padded
                               (exact below EXACT_BELOW articles, else found within a bounded
                               candidate set: _neighbours)
    lexical_scores.npy         (n, NEIGHBOURS) float32: their scores, best first
and meta.json records `LexicalMeta` (documents, average length, the anchors of the scale).

A sidebar reads two rows (`neighbours`); nothing is tokenized or scored at serving time. An
incremental build (`update`) scores the new articles against everything with the idf and average
length of the last full build (words first seen since get no weight until the next full build) and
merges each new article into the older lists it beats.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from . import forked
from .scratch import IN_MEMORY, Scratch
from .tokenize import stem_bengali, tokens

QUERY_TERMS = 50
NEIGHBOURS = 32
K1, B = 1.2, 0.75
MAX_DF = 0.5  # query terms found in more than this share of the articles carry no signal
# Finding neighbours (_neighbours): below EXACT_BELOW articles every article holding a source's query
# term is a candidate and the lists are exact; above it each query term proposes at most RARE_DF
# articles (those where it weighs most), so the work grows with the corpus, not with its square
# (figures: benchmarks/lexical_phase.py, with the lists' recall against exact ones).
EXACT_BELOW = 20_000  # measured (benchmarks/lexical_phase.py --synthetic 20000): exact 3.8 s, bounded
# 3.3 s there, and exact grows with the square; the 5,067-article crawl's lists stay identical
RARE_DF = 500  # 100k synthetic store: recall of the exact top 5 1.0000, of the top 32 0.9993
RESCORE = 64  # candidates per source given their full score before its NEIGHBOURS are kept
BLOCK_WORK = 4_000_000  # postings entries that one block of sources touches
DOCUMENT_BLOCK = 1_000_000  # entries weighed and ranked together (~60 MB of temporary arrays)
COUNT_CAP = 65_535  # times a term is counted in one text at most (BM25 saturates long before)
BLOCK_SOURCES = 8_192
UPDATE_PAIRS = 1 << 24  # (older article, new article) pairs an update scores at once, at most
FILES = (
    "lexical_terms.arrow",
    "lexical_idf.npy",
    "lexical_postings_ptr.npy",
    "lexical_postings_rows.npy",
    "lexical_postings_w.npy",
    "lexical_query.npy",
    "lexical_self.npy",
    "lexical_rows.npy",
    "lexical_scores.npy",
)


def words(text: str) -> list[str]:
    """The lexical index's terms of a text: tokenize.tokens, each Bengali word stemmed."""
    return [stem_bengali(w) for w in tokens(text)]


@dataclass(frozen=True)
class LexicalMeta:
    """What meta.json records about a build's lexical data."""

    documents: int  # articles the idf was computed from (the last full build)
    average_length: float  # their mean length in words (BM25's avgdl)
    random_pair: float  # mean score of random same-language pairs: 0 of the calibrated scale
    copy: float  # median score of synthetic republished copies: 1 of the calibrated scale
    method: str = ""
    query_terms: int = QUERY_TERMS
    neighbours: int = NEIGHBOURS
    seconds: float = 0.0  # the build's lexical phase: reading, tokenizing, weighting, neighbours


@dataclass
class Lexical:
    """A build's lexical arrays (see the module docstring); read-only when loaded from a folder."""

    terms: list[str] | pa.Array  # term id -> term
    idf: np.ndarray
    postings_ptr: np.ndarray
    postings_rows: np.ndarray
    postings_w: np.ndarray
    query: np.ndarray
    self_score: np.ndarray
    rows: np.ndarray
    scores: np.ndarray
    _term_ids: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.self_score)

    def neighbours(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Catalog rows and scores of one article's lexical matches, best first."""
        rows = self.rows[row]
        keep = rows >= 0
        return rows[keep], self.scores[row][keep]

    def term_ids(self) -> dict[str, int]:
        """term -> id, made on first use (scoring texts outside the store needs it; sidebars do not)."""
        if self._term_ids is None:
            terms = self.terms.to_pylist() if isinstance(self.terms, pa.Array) else self.terms
            self._term_ids = {t: i for i, t in enumerate(terms)}
        return self._term_ids

    def save(self, folder: Path) -> None:
        terms = self.terms if isinstance(self.terms, pa.Array) else pa.array(self.terms, pa.string())
        table = pa.table({"term": terms})
        with pa.OSFile(str(folder / FILES[0]), "wb") as sink, pa.ipc.new_file(sink, table.schema) as out:
            out.write_table(table)
        arrays = (self.idf, self.postings_ptr, self.postings_rows, self.postings_w, self.query)
        for name, array in zip(FILES[1:], (*arrays, self.self_score, self.rows, self.scores), strict=True):
            np.save(folder / name, array)

    @classmethod
    def load(cls, folder: Path) -> Lexical:
        source = pa.memory_map(str(folder / FILES[0]), "r")
        terms = pa.ipc.open_file(source).read_all().column("term").combine_chunks()
        arrays = [np.load(folder / name, mmap_mode="r").view(np.ndarray) for name in FILES[1:]]
        return cls(terms, *arrays)

    @staticmethod
    def present(folder: Path) -> bool:
        return all((folder / name).exists() for name in FILES)


# --- weights ---------------------------------------------------------------------------------
def idf_of(document_frequency: np.ndarray, documents: int) -> np.ndarray:
    """Lucene's BM25 idf."""
    df = np.asarray(document_frequency, np.float64)
    return np.log1p((documents - df + 0.5) / (df + 0.5)).astype(np.float32)


def bm25(tf: np.ndarray, length: np.ndarray, idf: np.ndarray, average_length: float) -> np.ndarray:
    """BM25 weight of a term in a document (Lucene variant, as bm25s computes it)."""
    norm = K1 * (1.0 - B + B * np.asarray(length, np.float64) / max(average_length, 1e-9))
    return (idf * (tf / (tf + norm))).astype(np.float32)


@dataclass
class Counts:
    """Documents as their distinct known terms and how often each occurs, document-major (CSR):
    document i holds terms[offsets[i]:offsets[i + 1]], ascending, with their counts. Its length
    counts every word, unknown ones (term id -1) included. Six bytes an entry: what a build keeps
    of the texts it has tokenized, instead of every word of every article."""

    offsets: np.ndarray  # (documents + 1,) int64
    terms: np.ndarray  # int32
    counts: np.ndarray  # uint16: a term more frequent in one text is counted COUNT_CAP times
    lengths: np.ndarray  # (documents,) int64

    def __len__(self) -> int:
        return len(self.lengths)

    @classmethod
    def of(cls, docs: Sequence[np.ndarray]) -> Counts:
        """The counts of documents given as term-id arrays (`term_ids`)."""
        lengths = np.fromiter((len(d) for d in docs), np.int64, len(docs))
        term = np.concatenate([np.asarray(d, np.int64) for d in docs]) if len(docs) else np.zeros(0, np.int64)
        doc = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
        known = term >= 0
        size = int(term.max()) + 1 if known.any() else 1
        keys, counts = np.unique(doc[known] * size + term[known], return_counts=True)
        offsets = np.zeros(len(docs) + 1, np.int64)
        np.cumsum(np.bincount(keys // size, minlength=len(docs)), out=offsets[1:])
        capped = np.minimum(counts, COUNT_CAP).astype(np.uint16)
        return cls(offsets, (keys % size).astype(np.int32), capped, lengths)

    @classmethod
    def join(cls, parts: Sequence[Counts]) -> Counts:
        """The documents of several Counts, in order."""
        if not parts:
            return cls.of([])
        sizes = np.cumsum([0] + [len(p.terms) for p in parts])
        shifted = [p.offsets[1:] + base for p, base in zip(parts, sizes, strict=False)]
        offsets = np.concatenate([np.zeros(1, np.int64), *shifted])
        terms = np.concatenate([p.terms for p in parts])
        counts = np.concatenate([p.counts for p in parts])
        return cls(offsets, terms, counts, np.concatenate([p.lengths for p in parts]))

    def documents(self, first: int = 0, stop: int | None = None) -> np.ndarray:
        """The document (counted from `first`) of each entry of documents first..stop."""
        stop = len(self) if stop is None else stop
        return np.repeat(np.arange(stop - first, dtype=np.int64), np.diff(self.offsets[first : stop + 1]))


class CountsWriter:
    """Counts given a chunk of documents at a time, their entries appended to arrays of `scratch`
    (files in a build's folder: what a build keeps of its tokenized texts waits on disk, not in its
    memory); `counts()` gives all of them, in order, once the chunks are in."""

    def __init__(self, scratch: Scratch) -> None:
        self._terms, self._counts = scratch.appender(np.int32), scratch.appender(np.uint16)
        self._offsets: list[np.ndarray] = [np.zeros(1, np.int64)]
        self._lengths: list[np.ndarray] = []

    def add(self, part: Counts) -> None:
        self._offsets.append(part.offsets[1:] + len(self._terms))
        self._terms.add(part.terms)
        self._counts.add(part.counts)
        self._lengths.append(part.lengths)

    def counts(self) -> Counts:
        lengths = np.concatenate([np.zeros(0, np.int64), *self._lengths])
        return Counts(np.concatenate(self._offsets), self._terms.array(), self._counts.array(), lengths)


def document_blocks(offsets: np.ndarray) -> Iterator[tuple[int, int]]:
    """(first, stop) ranges of consecutive documents holding at most DOCUMENT_BLOCK entries together
    (at least one document each): what the build weighs and ranks at a time, so that its temporary
    arrays stay bounded however large the corpus."""
    n, work = len(offsets) - 1, DOCUMENT_BLOCK
    first = 0
    while first < n:
        stop = int(np.searchsorted(offsets, offsets[first] + work, "right")) - 1
        stop = min(max(stop, first + 1), n)
        yield first, stop
        first = stop


def weights_of(
    counts: Counts, idf: np.ndarray, average_length: float, scratch: Scratch = IN_MEMORY
) -> np.ndarray:
    """The BM25 weight (float32) of every entry of `counts`, computed a block of documents at a time
    (into `scratch`, when given)."""
    weight = scratch.empty(len(counts.terms), np.float32)
    for first, stop in document_blocks(counts.offsets):
        a, b = int(counts.offsets[first]), int(counts.offsets[stop])
        lengths = counts.lengths[first:stop][counts.documents(first, stop)]
        tf = counts.counts[a:b].astype(np.float64)
        weight[a:b] = bm25(tf, lengths, idf[counts.terms[a:b]], average_length)
    return weight


def query_terms(
    counts: Counts, weight: np.ndarray, common: np.ndarray, scratch: Scratch = IN_MEMORY
) -> tuple[np.ndarray, np.ndarray]:
    """((documents, QUERY_TERMS) int32, (documents,) float32): the heaviest uncommon terms of each
    document (ties to the lower term id), -1 padded, and the document's score against itself (the
    sum of their weights)."""
    n = len(counts)
    out = scratch.full((n, QUERY_TERMS), -1, np.int32)
    self_score = np.zeros(n, np.float32)
    for first, stop in document_blocks(counts.offsets):
        a, b = int(counts.offsets[first]), int(counts.offsets[stop])
        doc, term, w = counts.documents(first, stop), counts.terms[a:b], weight[a:b]
        keep = ~common[term]
        doc, term, w = doc[keep], term[keep], w[keep]
        order = np.lexsort((term, -w, doc))
        doc, term, w = doc[order], term[order], w[order]
        rank = np.arange(len(doc)) - np.searchsorted(doc, doc)
        top = rank < QUERY_TERMS
        out[first + doc[top], rank[top]] = term[top]
        self_score[first:stop] = np.bincount(doc[top], w[top].astype(np.float64), minlength=stop - first)
    return out, self_score


def _weight_lookup(matrix: Any) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A function (documents, terms) -> weights (0 where the document lacks the term) of a
    `_by_document` matrix, by binary search within each document's entries."""

    def lookup(d: np.ndarray, t: np.ndarray) -> np.ndarray:
        if len(d) == 0:
            return np.zeros(0, np.float32)
        return np.asarray(matrix[np.asarray(d, np.int64), np.asarray(t, np.int64)], np.float32).ravel()

    return lookup


def postings(matrix: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Term-major postings (ptr int64, rows int32, weights float32), rows ascending within a term,
    of a scipy sparse (documents x terms) matrix of weights: one O(entries) conversion, no sort
    of every entry."""
    by_term = matrix.tocsc()
    by_term.sort_indices()
    return (
        by_term.indptr.astype(np.int64),
        by_term.indices.astype(np.int32, copy=False),
        by_term.data.astype(np.float32, copy=False),
    )


def document_frequency(counts: Counts, vocabulary: int) -> np.ndarray:
    """How many documents hold each term, counted a block of entries at a time."""
    df = np.zeros(vocabulary, np.int64)
    for first, stop in document_blocks(counts.offsets):
        df += np.bincount(counts.terms[counts.offsets[first] : counts.offsets[stop]], minlength=vocabulary)
    return df


def postings_of(
    counts: Counts, weight: np.ndarray, df: np.ndarray, scratch: Scratch
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The term-major postings of document-major entries (as `postings` makes them: rows ascending
    within a term), placed a block of documents at a time into arrays of `scratch`: each block's
    entries go, by a stable sort on their term, after those of earlier blocks. Beyond its output
    it holds one block's temporaries and one offset per term."""
    ptr = np.zeros(len(df) + 1, np.int64)
    np.cumsum(df, out=ptr[1:])
    rows = scratch.empty(int(ptr[-1]), np.int32)
    weights = scratch.empty(int(ptr[-1]), np.float32)
    free = ptr[:-1].copy()  # each term's next free place
    for first, stop in document_blocks(counts.offsets):
        a, b = int(counts.offsets[first]), int(counts.offsets[stop])
        order = np.argsort(counts.terms[a:b], kind="stable")  # a term's entries stay in row order
        term = counts.terms[a:b][order]
        place = free[term] + np.arange(len(term)) - np.searchsorted(term, term)
        rows[place] = first + counts.documents(first, stop)[order]
        weights[place] = weight[a:b][order]
        held, count = np.unique(term, return_counts=True)
        free[held] += count
    return ptr, rows, weights


# --- the full build ----------------------------------------------------------------------------
def build(
    counts: Counts,
    vocabulary: Sequence[str],
    languages: np.ndarray,
    copies: Sequence[tuple[int, str]] = (),
    seed: int = 0,
    scratch: Scratch = IN_MEMORY,
) -> tuple[Lexical, LexicalMeta]:
    """Everything lexical for a corpus: weights, query terms, neighbours and the scale's anchors.

    `counts`: every article's terms and their counts (`Counts`), in catalog order; `vocabulary`: the
    terms of those ids; `languages`: a code per article; `copies`: (row, synthetic republished copy
    of that article) pairs, whose scores anchor the top of the scale (calibration.republished_copy).
    Beyond `counts` and its output (the postings: 8 bytes an entry), it holds each entry's weight
    (4 bytes, dropped before the neighbour step) and temporary arrays of bounded size: weights,
    query terms and postings are made a block of documents at a time (`document_blocks`).
    `scratch`: where the arrays that grow with the entries live (file-backed in a build's folder:
    then the build's own memory does not grow with them); default: in memory.
    """
    n, size = len(counts), len(vocabulary)
    average = float(counts.lengths.mean()) if n and counts.lengths.sum() else 1.0
    df = document_frequency(counts, size)
    idf = idf_of(df, n)
    weight = weights_of(counts, idf, average, scratch)
    query, self_score = query_terms(counts, weight, df > MAX_DF * n, scratch)
    lookup = _weight_lookup(_by_document(counts, weight, size))
    ptr, post_rows, post_w = postings_of(counts, weight, df, scratch)
    no_lists = np.zeros((0, NEIGHBOURS), np.int32), np.zeros((0, NEIGHBOURS), np.float32)
    data = Lexical(list(vocabulary), idf, ptr, post_rows, post_w, query, self_score, *no_lists)
    languages = np.asarray(languages)
    meta = LexicalMeta(n, average, *anchors(data, languages, lookup, copies, average, seed))
    del counts, weight, lookup  # the lists need the postings only (counts: handed over)
    sources = np.arange(n)
    data.rows, data.scores = _neighbours(
        query, self_score, ptr, post_rows, post_w, languages, sources, scratch
    )
    return data, meta


def _by_document(counts: Counts, weight: np.ndarray, vocabulary: int) -> Any:
    """The weights as a scipy CSR (documents x terms) matrix over the same arrays (no copy)."""
    import scipy.sparse as sp

    matrix = sp.csr_matrix((weight, counts.terms, counts.offsets), shape=(len(counts), vocabulary))
    matrix.has_sorted_indices = True
    return matrix


def anchors(
    data: Lexical,
    languages: np.ndarray,
    lookup: Callable[[np.ndarray, np.ndarray], np.ndarray],
    copies: Sequence[tuple[int, str]],
    average_length: float,
    seed: int = 0,
    pairs: int = 4000,
) -> tuple[float, float, str]:
    """(random-pair mean, synthetic-copy median, how): the 0 and 1 of the calibrated lexical scale."""
    n = len(data)
    rng = np.random.default_rng(seed)
    random_mean, measured = 0.0, 0
    if n > 1:
        a = rng.integers(0, n, pairs)
        b = rng.integers(0, n - 1, pairs)
        b = b + (b >= a)
        same = languages[a] == languages[b]
        a, b = a[same], b[same]
        if len(a):
            random_mean = float(np.mean(pair_scores(data, a, b, lookup)))
            measured = len(a)
    scores = []
    ids = data.term_ids()
    for row, text in copies:
        counted = Counts.of([term_ids(words(text), ids)])
        term, weight = counted.terms, weights_of(counted, data.idf, average_length)
        wanted = data.query[row]
        got = dict(zip(term.tolist(), weight.tolist(), strict=True))
        total = sum(got.get(int(t), 0.0) for t in wanted if t >= 0)
        if data.self_score[row] > 0:
            scores.append(total / float(data.self_score[row]))
    copy = float(np.median(scores)) if scores else 1.0
    copy = max(copy, random_mean + 0.1)  # a tiny or odd corpus must still leave room between them
    how = f"{measured} random same-language pairs; {len(scores)} synthetic republished copies, median"
    return random_mean, copy, how


def pair_scores(
    data: Lexical,
    sources: np.ndarray,
    candidates: np.ndarray,
    lookup: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> np.ndarray:
    """Lexical score of each (source, candidate) pair of catalog rows; `lookup(rows, terms)` gives
    the weights (the build's document-major entries)."""
    query = data.query[sources]
    doc = np.repeat(np.arange(len(sources)), query.shape[1])
    term = query.ravel()
    ok = term >= 0
    got = lookup(np.asarray(candidates)[doc[ok]], term[ok])
    total = np.bincount(doc[ok], got, minlength=len(sources))
    return (total / np.maximum(data.self_score[sources], 1e-9)).astype(np.float32)


def proposing(
    ptr: np.ndarray, post_w: np.ndarray, documents: int, scratch: Scratch = IN_MEMORY
) -> np.ndarray:
    """Which postings entries propose neighbour candidates: all of them below EXACT_BELOW
    documents (exact lists), else at most RARE_DF of each term, the ones where it weighs most
    (ties to the lower row), so that a source's work stays bounded."""
    df = np.diff(ptr)
    chosen = scratch.empty(len(post_w), bool)
    if documents < EXACT_BELOW:
        chosen.fill(True)
        return chosen
    rare = df <= RARE_DF
    for first, stop in document_blocks(ptr):  # a range of terms at a time
        chosen[ptr[first] : ptr[stop]] = np.repeat(rare[first:stop], df[first:stop])
    for term in np.flatnonzero(df > RARE_DF):
        start, weights = int(ptr[term]), post_w[ptr[term] : ptr[term + 1]]
        kth = np.partition(weights, len(weights) - RARE_DF)[len(weights) - RARE_DF]
        above = weights > kth
        chosen[start : start + len(weights)] = above
        tied = np.flatnonzero(weights == kth)[: RARE_DF - int(above.sum())]  # rows ascend in a term
        chosen[start + tied] = True
    return chosen


def _neighbours(
    query: np.ndarray,
    self_score: np.ndarray,
    ptr: np.ndarray,
    post_rows: np.ndarray,
    post_w: np.ndarray,
    languages: np.ndarray,
    sources: np.ndarray,
    scratch: Scratch = IN_MEMORY,
) -> tuple[np.ndarray, np.ndarray]:
    """(len(sources), NEIGHBOURS) best matches of the given source rows among all rows, in the
    source's own language, never itself, ties broken by the lower row.

    The work is the postings that a source's query terms touch, so each term proposes at most
    RARE_DF articles, those where it weighs most (`proposing`; every article below EXACT_BELOW):
    for each block of sources, one sparse product with the proposing postings in the sources'
    language gives every proposed candidate the part of its score that they carry. The RESCORE best
    candidates by that part get the rest of their score added (the weights of the source's query
    terms in postings that did not propose, looked up in a row-major copy of those), and the best
    NEIGHBOURS of them by the full score are kept. Below EXACT_BELOW articles the lists are exact;
    above it, an article that none of the source's terms proposes, or that ranks below RESCORE on
    the proposed part, is missed (benchmarks/lexical_phase.py measures how often). For many
    sources the blocks are made by forked helpers (`forked.processes_for`), which read the
    postings the build already holds: the same lists, in a fraction of the time. The masks and
    copies of the postings it makes are arrays of `scratch` (file-backed in a build's folder)."""
    n, terms = len(self_score), len(ptr) - 1
    out_rows = scratch.full((len(sources), NEIGHBOURS), -1, np.int32)
    out_scores = scratch.zeros((len(sources), NEIGHBOURS), np.float32)
    if n == 0 or terms == 0 or len(sources) == 0:
        return out_rows, out_scores
    proposes = proposing(ptr, post_w, n, scratch)
    rest = _entries_where(lambda a, b: ~proposes[a:b], len(proposes), scratch)
    others = _rows_where(rest, ptr, post_rows, post_w, n, scratch)  # row -> (term, weight) of the rest
    partial = np.diff(_kept_offsets(rest, ptr)) > 0  # terms with such postings
    del rest
    _, language = np.unique(np.asarray(languages), return_inverse=True)  # codes or names
    sources = np.asarray(sources, np.int64)
    several = len(np.unique(language)) > 1
    for code in np.unique(language[sources]):
        own = _in_language(proposes, language, post_rows, code, scratch) if several else proposes
        mine = np.flatnonzero(language[sources] == code)
        by_term = _postings_where(own, ptr, post_rows, post_w, n, scratch)
        work = _ListWork(query, self_score, by_term, others, partial)
        blocks = list(_blocks(query, sources[mine], np.diff(work.by_term.indptr)))
        for at, rank, rows, scores in _each_block(work, [(mine[b], sources[mine[b]]) for b in blocks]):
            out_rows[at, rank] = rows
            out_scores[at, rank] = scores
    return out_rows, out_scores


@dataclass(frozen=True)
class _ListWork:
    """What every block of sources of one language reads (the same arrays in every process)."""

    query: np.ndarray
    self_score: np.ndarray
    by_term: Any  # term -> (row, weight) of the proposing postings in this language
    others: Any  # row -> (term, weight) of the postings that do not propose
    partial: np.ndarray  # terms with postings that do not propose


_WORK: _ListWork | None = None  # what forked list makers read


def _each_block(work: _ListWork, blocks: list[tuple[np.ndarray, np.ndarray]]) -> Iterator[tuple]:
    """(at, rank, rows, scores) of each block of (positions, source rows), in order; by forked
    processes when there are enough sources (the lists are the same either way)."""
    global _WORK
    processes = min(forked.processes_for(sum(len(at) for at, _ in blocks)), len(blocks))
    if processes <= 1:
        yield from (_block_lists(work, at, src) for at, src in blocks)
        return
    _WORK = work
    try:
        with forked.pool(processes) as helpers:
            yield from helpers.imap(_forked_block, blocks)
    finally:
        _WORK = None


def _forked_block(block: tuple[np.ndarray, np.ndarray]) -> tuple:
    assert _WORK is not None
    return _block_lists(_WORK, *block)


def _block_lists(work: _ListWork, at: np.ndarray, src: np.ndarray) -> tuple:
    """One block's best NEIGHBOURS per source: (positions, ranks, rows, scores) of the entries."""
    import scipy.sparse as sp

    q = work.query[src]
    ok = q >= 0
    terms = work.by_term.shape[0]
    ones = np.ones(int(ok.sum()), np.float32)
    marks = sp.csr_matrix((ones, (np.nonzero(ok)[0], q[ok])), shape=(len(src), terms))
    product = (marks @ work.by_term).tocsr()  # source -> candidate: the part its proposing terms carry
    entry = _top_entries(product.indptr, product.data, RESCORE + 1)
    r = np.searchsorted(product.indptr, entry, "right") - 1
    c, v = product.indices[entry], product.data[entry]
    keep = c != src[r]
    r, c, v, _ = _best(r[keep], c[keep], v[keep], RESCORE)
    rest_terms = np.where(ok & work.partial[np.maximum(q, 0)], q, -1)[r]
    pair, column = np.nonzero(rest_terms >= 0)
    if len(pair):
        got = np.asarray(work.others[c[pair], rest_terms[pair, column]], np.float32).ravel()
        v = v + np.bincount(pair, got, minlength=len(r)).astype(np.float32)
    v = v / np.maximum(work.self_score[src[r]], 1e-9)
    r, c, v, rank = _best(r, c, v, NEIGHBOURS)
    return at[r], rank, c, v


def _entries_where(mask: Callable[[int, int], np.ndarray], size: int, scratch: Scratch) -> np.ndarray:
    """A bool per entry, `mask(start, stop)` of each block of DOCUMENT_BLOCK entries, in `scratch`."""
    out = scratch.empty(size, bool)
    for start in range(0, size, DOCUMENT_BLOCK):
        out[start : start + DOCUMENT_BLOCK] = mask(start, min(start + DOCUMENT_BLOCK, size))
    return out


def _in_language(
    proposes: np.ndarray, language: np.ndarray, post_rows: np.ndarray, code: int, scratch: Scratch
) -> np.ndarray:
    """The proposing entries that belong to articles of one language (`language`: a code per row)."""
    return _entries_where(
        lambda a, b: proposes[a:b] & (language[post_rows[a:b]] == code), len(proposes), scratch
    )


def _kept(keep: np.ndarray, values: np.ndarray, scratch: Scratch) -> np.ndarray:
    """values[keep], copied a block of DOCUMENT_BLOCK entries at a time into `scratch`."""
    out = scratch.empty(int(np.count_nonzero(keep)), values.dtype)
    at = 0
    for start in range(0, len(keep), DOCUMENT_BLOCK):
        part = values[start : start + DOCUMENT_BLOCK][keep[start : start + DOCUMENT_BLOCK]]
        out[at : at + len(part)] = part
        at += len(part)
    return out


def _postings_where(
    keep: np.ndarray,
    ptr: np.ndarray,
    post_rows: np.ndarray,
    post_w: np.ndarray,
    n: int,
    scratch: Scratch = IN_MEMORY,
):
    """The postings entries where `keep`, as a (terms x n) CSR matrix: term -> (row, weight)."""
    import scipy.sparse as sp

    kept = (_kept(keep, post_w, scratch), _kept(keep, post_rows, scratch), _kept_offsets(keep, ptr))
    return sp.csr_matrix(kept, shape=(len(ptr) - 1, n))


def _rows_where(
    keep: np.ndarray,
    ptr: np.ndarray,
    post_rows: np.ndarray,
    post_w: np.ndarray,
    n: int,
    scratch: Scratch = IN_MEMORY,
):
    """The postings entries where `keep`, as an (n x terms) CSR matrix: row -> (term, weight), terms
    ascending. Filled DOCUMENT_BLOCK entries at a time in term order (each block's entries placed
    by a stable sort on their row, after those of earlier blocks), so that beyond the matrix (8
    bytes a kept entry) it holds bounded temporaries only: transposing a term-major copy, as
    scipy would, holds both copies at once."""
    import scipy.sparse as sp

    per_row = np.zeros(n, np.int64)
    for start in range(0, len(keep), DOCUMENT_BLOCK):
        rows, counts = np.unique(
            post_rows[start : start + DOCUMENT_BLOCK][keep[start : start + DOCUMENT_BLOCK]],
            return_counts=True,
        )
        per_row[rows] += counts
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(per_row, out=offsets[1:])
    terms = scratch.empty(int(offsets[-1]), np.int32)
    weights = scratch.empty(int(offsets[-1]), np.float32)
    free = offsets[:-1].copy()  # each row's next free place
    for start in range(0, len(keep), DOCUMENT_BLOCK):
        entry = start + np.flatnonzero(keep[start : start + DOCUMENT_BLOCK])
        row = post_rows[entry]
        order = np.argsort(row, kind="stable")  # a row's entries stay in term order
        entry, row = entry[order], row[order]
        first = np.searchsorted(row, row)  # where the entry's row begins in this block
        place = free[row] + np.arange(len(row)) - first
        terms[place] = np.searchsorted(ptr, entry, "right") - 1
        weights[place] = post_w[entry]
        rows, counts = np.unique(row, return_counts=True)
        free[rows] += counts
    matrix = sp.csr_matrix((weights, terms, offsets), shape=(n, len(ptr) - 1))
    matrix.has_sorted_indices = True
    return matrix


def _kept_offsets(keep: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """For each offset of `ptr`, how many entries before it are kept: the offsets of the kept
    entries, summed a term at a time (no cumulative count of every entry, 8 bytes each)."""
    per_term = np.zeros(len(ptr) - 1, np.int64)
    if len(keep):
        sums = np.add.reduceat(keep, np.minimum(ptr[:-1], len(keep) - 1), dtype=np.int64)
        per_term = np.where(np.diff(ptr) > 0, sums, 0)
    offsets = np.zeros(len(ptr), np.int64)
    np.cumsum(per_term, out=offsets[1:])
    return offsets


def _blocks(query: np.ndarray, sources: np.ndarray, df: np.ndarray) -> Iterator[slice]:
    """Consecutive slices of `sources` (rows of `query`) whose query terms touch at most BLOCK_WORK
    postings together (at least one source, at most BLOCK_SOURCES). Each source's work is counted
    BLOCK_SOURCES sources at a time: the query terms are never copied whole."""
    work = np.zeros(len(sources), np.int64)
    for first in range(0, len(sources), BLOCK_SOURCES):
        terms = query[sources[first : first + BLOCK_SOURCES]]
        work[first : first + BLOCK_SOURCES] = np.where(terms >= 0, df[np.maximum(terms, 0)], 0).sum(axis=1)
    np.cumsum(work, out=work)
    start = 0
    while start < len(sources):
        done = int(work[start - 1]) if start else 0
        end = int(np.searchsorted(work, done + BLOCK_WORK, "right"))
        end = min(max(end, start + 1), start + BLOCK_SOURCES)
        yield slice(start, end)
        start = end


def _top_entries(indptr: np.ndarray, data: np.ndarray, k: int) -> np.ndarray:
    """Entries (indices into data, ascending) of a CSR matrix that are among their row's k largest,
    ties at the k-th value all kept. Each row is cut into runs (about 4k of them): the k-th largest
    run maximum comes from k distinct entries, so no entry below it is in the top k; the entries
    that pass get the exact k-th value of their row by a partition."""
    counts = np.diff(indptr)
    step = np.maximum(1, counts // (4 * k))
    runs = -(-counts // step)
    entry = np.arange(len(data))
    if len(data) and runs.max() >= k:
        run_row = np.repeat(np.arange(len(counts)), runs)
        run = np.arange(len(run_row)) - np.repeat(np.cumsum(runs) - runs, runs)
        maxima = np.maximum.reduceat(data, indptr[run_row] + step[run_row] * run)
        bound = _kth_largest(run_row, run, maxima, len(counts), k)  # -inf: fewer than k runs
        entry = np.flatnonzero(data >= np.repeat(bound, counts))
    row = np.searchsorted(indptr, entry, "right") - 1
    kept = np.bincount(row, minlength=len(counts))
    if not len(entry) or kept.max() <= k:
        return entry
    position = np.arange(len(entry)) - np.repeat(np.cumsum(kept) - kept, kept)
    return entry[data[entry] >= _kth_largest(row, position, data[entry], len(counts), k)[row]]


def _kth_largest(row: np.ndarray, position: np.ndarray, values: np.ndarray, rows: int, k: int) -> np.ndarray:
    """Each row's k-th largest value (-inf where it has fewer than k): values given by (row,
    position in the row), partitioned in chunks of rows of at most BLOCK_WORK cells."""
    width = int(position.max()) + 1
    out = np.full(rows, -np.inf, np.float32)
    if width < k:
        return out
    step = max(1, BLOCK_WORK // width)
    for first in range(0, rows, step):
        pick = (row >= first) & (row < first + step)
        cells = np.full((min(step, rows - first), width), -np.inf, np.float32)
        cells[row[pick] - first, position[pick]] = values[pick]
        out[first : first + step] = np.partition(cells, width - k, axis=1)[:, width - k]
    return out


def _best(
    r: np.ndarray, c: np.ndarray, v: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The k best (row r, candidate c, score v >= 0) entries of each r, highest v first, ties to
    the lower c, with their rank. Two stable sorts of int64 keys (a float32 >= 0 orders as its
    bits), much faster than np.lexsort's three."""
    by_candidate = np.argsort((r.astype(np.int64) << 32) | c, kind="stable")
    descending = np.uint32(0xFFFFFFFF) - np.asarray(v, np.float32).view(np.uint32)
    key = (r.astype(np.int64) << 32) | descending
    order = by_candidate[np.argsort(key[by_candidate], kind="stable")]
    r, c, v = r[order], c[order], v[order]
    rank = np.arange(len(r)) - np.searchsorted(r, r)
    top = rank < k
    return r[top], c[top], v[top], rank[top]


def term_ids(terms: list[str], vocabulary: dict[str, int], grow: bool = False) -> np.ndarray:
    """Term ids of words (-1 for words the vocabulary lacks, unless `grow` adds them)."""
    if grow:
        return np.fromiter((vocabulary.setdefault(t, len(vocabulary)) for t in terms), np.int32, len(terms))
    return np.fromiter((vocabulary.get(t, -1) for t in terms), np.int32, len(terms))


# --- incremental builds --------------------------------------------------------------------------
def update(
    previous: Lexical,
    meta: LexicalMeta,
    old_to_new: np.ndarray,
    count: int,
    new_rows: np.ndarray,
    new: Counts,
    languages: np.ndarray,
    scratch: Scratch = IN_MEMORY,
) -> Lexical:
    """The previous build's lexical data carried over to a new catalog of `count` rows: kept
    articles move to their new rows (`old_to_new`, -1 = gone or changed), the articles at `new_rows`
    (new or changed; `new`: their terms counted with the previous vocabulary's ids) are weighted
    with the frozen idf, get their own lists, and enter the older lists they beat. Neighbours lost
    to a removal leave a gap until the next full build. `scratch`: where the neighbour step's
    masks and copies of the postings live (as in `build`)."""
    import scipy.sparse as sp

    terms = len(previous.idf)
    new_rows = np.asarray(new_rows, np.int64)
    doc, term = new.documents(), new.terms
    weight = weights_of(new, previous.idf, meta.average_length, scratch)
    new_query, new_self = query_terms(new, weight, _common(previous, meta), scratch)

    # postings: kept entries moved to their new rows, then the new articles' entries
    moved = old_to_new[previous.postings_rows]
    keep = moved >= 0
    old_terms = np.repeat(np.arange(terms), np.diff(previous.postings_ptr))[keep]
    entries = (
        np.concatenate([previous.postings_w[keep], weight]),
        (np.concatenate([moved[keep], new_rows[doc]]), np.concatenate([old_terms, term])),
    )
    ptr, post_rows, post_w = postings(sp.coo_matrix(entries, shape=(count, terms)))

    query = np.full((count, QUERY_TERMS), -1, np.int32)
    self_score = np.zeros(count, np.float32)
    rows = np.full((count, previous.rows.shape[1]), -1, np.int32)
    scores = np.zeros((count, previous.rows.shape[1]), np.float32)
    kept_old = np.flatnonzero(old_to_new >= 0)
    target = old_to_new[kept_old]
    query[target] = previous.query[kept_old]
    self_score[target] = previous.self_score[kept_old]
    query[new_rows] = new_query
    self_score[new_rows] = new_self
    # older lists: partners moved to their new rows, the gone and changed ones dropped
    old_lists = np.asarray(previous.rows[kept_old])
    old_scores = np.asarray(previous.scores[kept_old])
    mapped = np.where(old_lists >= 0, old_to_new[np.maximum(old_lists, 0)], -1)
    rows[target], scores[target] = _compact(mapped, np.where(mapped >= 0, old_scores, 0.0))
    # the new articles' own lists, against everything
    new_lists, new_scores = _neighbours(
        query, self_score, ptr, post_rows, post_w, languages, new_rows, scratch
    )
    rows[new_rows], scores[new_rows] = new_lists, new_scores
    # the new articles into older lists: old query terms x new weights, when they beat the last;
    # a block of older articles at a time (every older article may share a term with every new one)
    if len(new) and len(target):
        new_w = _by_document(new, weight, terms).T.tocsr()
        step = max(1, UPDATE_PAIRS // len(new))
        for start in range(0, len(target), step):
            part = target[start : start + step]
            terms_of = query[part]
            used = terms_of >= 0
            marks = sp.csr_matrix(
                (np.ones(int(used.sum()), np.float32), (np.nonzero(used)[0], terms_of[used])),
                shape=(len(part), terms),
            )
            hits = (marks @ new_w).tocoo()
            source = part[hits.row]
            cand = new_rows[hits.col]
            value = hits.data / np.maximum(self_score[source], 1e-9)
            ok = (languages[cand] == languages[source]) & (value > 0) & (cand != source)
            _merge(rows, scores, source[ok], cand[ok], value[ok].astype(np.float32))
    return Lexical(previous.terms, previous.idf, ptr, post_rows, post_w, query, self_score, rows, scores)


def _common(previous: Lexical, meta: LexicalMeta) -> np.ndarray:
    """Terms found in more than MAX_DF of the articles at the last full build (never query terms):
    idf is a decreasing function of df, so the df bound is an idf bound."""
    limit = idf_of(np.array([MAX_DF * meta.documents]), meta.documents)[0]
    return np.asarray(previous.idf) < limit


def _compact(rows: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lists with their gaps (-1) moved to the end, best first kept."""
    order = np.lexsort((-scores, rows < 0), axis=1) if rows.size else np.zeros(rows.shape, np.int64)
    return np.take_along_axis(rows, order, 1), np.take_along_axis(scores, order, 1).astype(np.float32)


def _merge(rows: np.ndarray, scores: np.ndarray, source: np.ndarray, cand: np.ndarray, value: np.ndarray):
    """Put (source, candidate, score) entries into the lists they beat (in place), best first."""
    if len(source) == 0:
        return
    k = rows.shape[1]
    touched = np.unique(source)
    all_source = np.concatenate([np.repeat(touched, k), source])
    all_cand = np.concatenate([rows[touched].ravel(), cand])
    all_value = np.concatenate([scores[touched].ravel(), value])
    valid = all_cand >= 0
    all_source, all_cand, all_value = all_source[valid], all_cand[valid], all_value[valid]
    order = np.lexsort((all_cand, -all_value, all_source))
    all_source, all_cand, all_value = all_source[order], all_cand[order], all_value[order]
    first = np.r_[True, (all_source[1:] != all_source[:-1]) | (all_cand[1:] != all_cand[:-1])]
    all_source, all_cand, all_value = all_source[first], all_cand[first], all_value[first]  # no repeats
    rank = np.arange(len(all_source)) - np.searchsorted(all_source, all_source)
    rows[touched] = -1
    scores[touched] = 0.0
    top = rank < k
    rows[all_source[top], rank[top]] = all_cand[top]
    scores[all_source[top], rank[top]] = all_value[top]


# --- texts outside the store -------------------------------------------------------------------
@dataclass(frozen=True)
class TextQuery:
    """A text as the lexical index sees it: its query terms and its weight of every known term."""

    terms: np.ndarray  # its query terms (term ids)
    weights: dict[int, float]  # term id -> BM25 weight in this text
    self_score: float


def text_query(data: Lexical, meta: LexicalMeta, text: str) -> TextQuery:
    """Weights and query terms of a text not in the store, with the build's idf (numpy only)."""
    counted = Counts.of([term_ids(words(text), data.term_ids())])
    weight = weights_of(counted, data.idf, meta.average_length)
    query, self_score = query_terms(counted, weight, _common(data, meta))
    weights = dict(zip(counted.terms.tolist(), weight.tolist(), strict=True))
    return TextQuery(query[0][query[0] >= 0], weights, float(self_score[0]))


def text_score(query: TextQuery, other: TextQuery) -> float:
    """More-like-this score of `other` for the text of `query` (not symmetric)."""
    if query.self_score <= 0:
        return 0.0
    return sum(other.weights.get(int(t), 0.0) for t in query.terms) / query.self_score


def text_neighbours(data: Lexical, query: TextQuery, candidates: np.ndarray | None = None):
    """(rows, scores) of the catalog articles the text's query terms find, best first: one gather
    over the postings of at most QUERY_TERMS terms."""
    if query.self_score <= 0 or len(query.terms) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    parts = [(int(data.postings_ptr[t]), int(data.postings_ptr[t + 1])) for t in query.terms]
    rows = np.concatenate([data.postings_rows[a:b] for a, b in parts])
    weights = np.concatenate([data.postings_w[a:b] for a, b in parts])
    found, inverse = np.unique(rows, return_inverse=True)
    total = np.bincount(inverse, weights).astype(np.float32) / np.float32(query.self_score)
    order = np.lexsort((found, -total))
    return found[order].astype(np.int64), total[order]


def calibrated(score: np.ndarray | float, meta: LexicalMeta) -> np.ndarray:
    """A lexical score on the calibrated scale: 0 = random pair, 1 = republished copy, clipped."""
    span = max(meta.copy - meta.random_pair, 1e-9)
    return np.clip((np.asarray(score, np.float64) - meta.random_pair) / span, 0.0, 1.0)


def stale(meta: LexicalMeta, count: int) -> bool:
    """True when the corpus grew or shrank by half since the idf was computed: time for a full build."""
    return not 0.5 <= count / max(meta.documents, 1) <= 2.0 or math.isnan(meta.average_length)
