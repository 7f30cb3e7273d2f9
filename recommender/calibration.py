"""Similarity anchors measured from the corpus itself, so thresholds fit whatever model is in use.

Cosine values mean different things for different models (multilingual-e5 puts unrelated news
near 0.75; other models near 0.1), so no threshold is a constant. At build time we measure:
- the cosine of random article pairs (what "unrelated" looks like for this model and corpus);
- the cosine between sampled articles and synthetic republished copies of them (a dateline added,
  a boilerplate line appended, the last sentence dropped, the headline shortened): what "the same
  text again" looks like. A low quantile of those is the near-duplicate threshold.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from .embedding import Embedder, article_text
from .index import Calibration

PAIR_SAMPLE = 4000
COPY_SAMPLE = 24
COPY_QUANTILE = 0.1
_SENTENCE_END = re.compile(r"(?<=[.!?।])\s+")


def random_pair_stats(vectors: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation of cosine over random distinct pairs of rows."""
    n = len(vectors)
    if n < 2:
        return 0.0, 1.0
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n, PAIR_SAMPLE)
    b = rng.integers(0, n - 1, PAIR_SAMPLE)
    b = b + (b >= a)  # never pair a row with itself
    sims = np.einsum("ij,ij->i", vectors[a], vectors[b])
    return float(sims.mean()), float(max(sims.std(), 1e-6))


def republished_copy(title: str, body: str, variant: int) -> tuple[str, str]:
    """A plausible syndicated copy of an article: the edits wire copies and reposts make."""
    sentences = [s for s in _SENTENCE_END.split(body) if s.strip()]
    if variant % 2 == 0 and len(sentences) > 2:
        body = " ".join(sentences[:-1])  # last sentence cut
    if variant % 3 == 0:
        body = "DHAKA (Agency) - " + body  # a dateline
    else:
        body = body + "\n\nFollow us for the latest news."  # a boilerplate footer
    words = title.split()
    if len(words) > 3:
        title = " ".join(words[:-1])  # headline trimmed
    return title, body


def calibrate(
    embedder: Embedder,
    ids: np.ndarray,
    vectors: np.ndarray,
    texts_of: Callable[[list[int]], dict[int, tuple[str, str]]],
    fields: list[str],
    seed: int = 0,
) -> Calibration:
    """Measure the anchors for this model on this corpus; texts_of(ids) gives {id: (title, body)}."""
    mean, std = random_pair_stats(vectors, seed)
    rng = np.random.default_rng(seed)
    texts = texts_of([int(i) for i in rng.permutation(ids)[:COPY_SAMPLE]])
    sample = sorted(texts)
    if not sample:
        return Calibration(mean, std, mean + 0.9 * (1 - mean), "no text to sample: default")
    rows = {int(i): k for k, i in enumerate(ids)}
    copies = [republished_copy(*texts[i], variant=k) for k, i in enumerate(sample)]
    copy_vectors = embedder.embed([article_text(t, b, fields) for t, b in copies])
    sims = np.einsum("ij,ij->i", vectors[[rows[i] for i in sample]], copy_vectors)
    threshold = float(np.quantile(sims, COPY_QUANTILE))
    # A copy must still be far more alike than a random pair; guard against tiny corpora.
    threshold = max(threshold, mean + 0.5 * (1 - mean))
    return Calibration(
        mean,
        std,
        min(threshold, 0.999),
        f"{len(sample)} synthetic republished copies, q{COPY_QUANTILE:g}; {PAIR_SAMPLE} random pairs",
    )
