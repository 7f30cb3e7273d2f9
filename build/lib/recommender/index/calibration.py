"""Similarity anchors measured from the corpus itself, so thresholds fit whatever model is in use.

Cosine values mean different things for different models (multilingual-e5 puts unrelated news
near 0.75; other models near 0.1), so no threshold is a constant. At build time we measure:
- the cosine of random article pairs (what "unrelated" looks like for this model and corpus);
- the cosine between sampled articles and synthetic republished copies of them (headline edited,
  lead and tail cut, see `republished_copy`): what "the same text again" looks like to this
  model. The median of those is the near-duplicate threshold.

Checked on the judged Bengali dev set (shared/data/bn_judgments_dev) with multilingual-e5-small:
the threshold came out at 0.973 on the 5,067-article crawl: all six judged near-duplicates
(0.978..1.0) lie above it, and so do 8 of the 127 "reader wants it next" pairs, which are
near-rewrites of one report by another outlet (a single-portal sidebar loses little by skipping them).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from ..embedding.base import article_text
from .meta import Calibration
from .vectors import Vectors, as_vectors

VERSION = 4  # part of the cache key: bump when the measurement changes
PAIR_SAMPLE = 4000
COPY_SAMPLE = 64
COPY_QUANTILE = 0.5
_SENTENCE_END = re.compile(r"(?<=[.!?।])\s+")


def random_pair_stats(vectors: np.ndarray | Vectors, seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation of cosine over random distinct pairs of rows."""
    vectors = as_vectors(vectors)
    n = len(vectors)
    if n < 2:
        return 0.0, 1.0
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n, PAIR_SAMPLE)
    b = rng.integers(0, n - 1, PAIR_SAMPLE)
    b = b + (b >= a)  # never pair a row with itself
    sims = np.einsum("ij,ij->i", vectors.take(a), vectors.take(b))
    return float(sims.mean()), float(max(sims.std(), 1e-6))


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def republished_copy(title: str, body: str) -> tuple[str, str]:
    """A copy as republishers make them: the headline edited, the lead and the tail cut.

    Keeps the middle half of the sentences (a quarter dropped at each end, at least one sentence
    each when there are three or more): about the least a reader would still call the same text.
    """
    sentences = _sentences(body)
    if len(sentences) >= 3:
        cut = max(1, len(sentences) // 4)
        body = " ".join(sentences[cut : len(sentences) - cut])
    words = title.split()
    if len(words) > 3:
        title = " ".join(words[:-1])
    return title, body


def copy_sample(ids: np.ndarray, seed: int = 0) -> list[int]:
    """The article ids whose texts `calibrate` reads (fetch them first when the store is closed)."""
    return [int(i) for i in np.random.default_rng(seed).permutation(ids)[: COPY_SAMPLE * 4]]


def calibrate(
    embed: Callable[[list[str]], np.ndarray],
    ids: np.ndarray,
    vectors: np.ndarray | Vectors,
    texts_of: Callable[[list[int]], dict[int, tuple[str, str]]],
    fields: list[str],
    seed: int = 0,
) -> Calibration:
    """Measure the anchors for this model on this corpus.

    `embed` embeds texts with the model in use; `texts_of(ids)` gives {id: (title, body)}.
    """
    mean, std = random_pair_stats(vectors, seed)
    drawn = copy_sample(ids, seed)
    texts = texts_of(drawn)
    drawn = [i for i in drawn if i in texts]
    # Copies are only meaningful for articles with a lead and a tail to cut.
    long_enough = [i for i in drawn if len(_sentences(texts[i][1])) >= 3]
    sample = (long_enough or drawn)[:COPY_SAMPLE]
    if not sample:
        return Calibration(mean, std, mean + 0.9 * (1 - mean), "no text to sample: default")
    rows = np.searchsorted(ids, np.array(sample, np.int64))  # ids ascending, as a build has them
    copies = [republished_copy(*texts[i]) for i in sample]
    copy_vectors = embed([article_text(t, b, fields) for t, b in copies])
    sims = np.einsum("ij,ij->i", as_vectors(vectors).take(rows), copy_vectors)
    threshold = float(np.quantile(sims, COPY_QUANTILE))
    # A copy must still be far more alike than a random pair; guard against tiny corpora.
    threshold = max(threshold, mean + 0.5 * (1 - mean))
    return Calibration(
        mean,
        std,
        min(threshold, 0.999),
        f"{len(sample)} synthetic republished copies, q{COPY_QUANTILE:g}; {PAIR_SAMPLE} random pairs",
    )
