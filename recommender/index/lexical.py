"""Build-time lexical data: every article's best lexical matches, as arrays a reader memory-maps.

The lexical score of a candidate for a source is BM25 more-like-this: the source's QUERY_TERMS
heaviest terms (by their BM25 weight in the source, terms in more than half of the articles left
out) scored against the candidate with BM25 (k1 1.2, b 0.75, Lucene idf, as `bm25s` computes it),
divided by the source's score against itself, so that 1 means "as much of the source's key terms
as the source itself" and unrelated pairs sit near 0. Words come from tokenize.tokens (stemmed).

At serving time nothing is tokenized or scored: `neighbours.rows[i]` lists the catalog rows of the
NEIGHBOURS best matches of article i in its own language (best first, -1 padding) and
`neighbours.scores[i]` their scores, so the lexical candidates of a sidebar are two array reads.
Building needs the `lexical` extra (bm25s, scipy); reading needs numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

QUERY_TERMS = 50
NEIGHBOURS = 32
K1, B = 1.2, 0.75
MAX_DF = 0.5  # query terms in more than this share of the articles carry no signal
CHUNK = 1024  # sources scored per sparse product (bounds the dense block: CHUNK x articles floats)
ROWS_FILE, SCORES_FILE = "lexical_rows.npy", "lexical_scores.npy"


@dataclass(frozen=True)
class LexicalNeighbours:
    """Each article's best lexical matches: rows (n, k) int32, -1 = none; scores (n, k) float32."""

    rows: np.ndarray
    scores: np.ndarray

    def of(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Catalog rows and scores of one article's lexical matches, best first."""
        rows = np.asarray(self.rows[row])
        keep = rows >= 0
        return rows[keep], np.asarray(self.scores[row], np.float32)[keep]

    def save(self, folder: Path) -> None:
        np.save(folder / ROWS_FILE, self.rows)
        np.save(folder / SCORES_FILE, self.scores)

    @classmethod
    def load(cls, folder: Path) -> LexicalNeighbours:
        return cls(
            np.load(folder / ROWS_FILE, mmap_mode="r"),
            np.load(folder / SCORES_FILE, mmap_mode="r"),
        )


def bm25_weights(token_lists: Sequence[list[str]]) -> tuple[Any, np.ndarray]:
    """(articles x terms) CSR matrix of BM25 term weights (bm25s, Lucene variant) and document
    frequencies of the terms."""
    import bm25s
    import scipy.sparse as sp

    model = bm25s.BM25(k1=K1, b=B, method="lucene")
    model.index([list(t) or [""] for t in token_lists], show_progress=False)
    scores = model.scores
    n_terms = len(scores["indptr"]) - 1
    by_term = sp.csc_matrix(
        (scores["data"], scores["indices"], scores["indptr"]), shape=(len(token_lists), n_terms)
    )
    return by_term.tocsr(), np.diff(scores["indptr"])


def query_matrix(weights: Any, document_frequency: np.ndarray, terms: int = QUERY_TERMS) -> Any:
    """Binary (articles x terms) matrix of each article's `terms` heaviest terms."""
    import scipy.sparse as sp

    n = weights.shape[0]
    common = document_frequency > MAX_DF * n
    rows, cols = [], []
    for i in range(n):
        start, end = weights.indptr[i], weights.indptr[i + 1]
        idx, val = weights.indices[start:end], weights.data[start:end]
        keep = ~common[idx]
        idx, val = idx[keep], val[keep]
        top = idx[np.argsort(-val, kind="stable")[:terms]]
        rows.append(np.full(len(top), i))
        cols.append(top)
    r, c = np.concatenate(rows or [np.zeros(0, int)]), np.concatenate(cols or [np.zeros(0, int)])
    return sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=weights.shape)


def build(
    token_lists: Sequence[list[str]], languages: np.ndarray, k: int = NEIGHBOURS, terms: int = QUERY_TERMS
) -> LexicalNeighbours:
    """The k best lexical matches of every article among the articles of its own language."""
    weights, df = bm25_weights(token_lists)
    queries = query_matrix(weights, df, terms)
    n = weights.shape[0]
    self_score = np.asarray(queries.multiply(weights).sum(axis=1)).ravel()
    by_doc = weights.T.tocsr()
    languages = np.asarray(languages)
    k = max(1, min(k, n - 1))
    rows = np.full((n, k), -1, np.int32)
    scores = np.zeros((n, k), np.float32)
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        block = np.asarray((queries[start:stop] @ by_doc).todense(), np.float32)
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0  # never oneself
        block[languages[start:stop, None] != languages[None, :]] = 0.0
        part = np.argpartition(-block, k - 1, axis=1)[:, :k] if k < n else np.argsort(-block, axis=1)
        vals = np.take_along_axis(block, part, axis=1)
        order = np.lexsort((part, -vals), axis=1)
        part, vals = np.take_along_axis(part, order, 1), np.take_along_axis(vals, order, 1)
        norm = np.maximum(self_score[start:stop, None], 1e-9)
        rows[start:stop] = np.where(vals > 0, part, -1)
        scores[start:stop] = np.where(vals > 0, vals / norm, 0.0)
    return LexicalNeighbours(rows, scores)
