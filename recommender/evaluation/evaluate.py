"""One call from a judgments file (or "proxy") to a finished report dict."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..embedding import Embedder, make_embedder
from ..errors import InvalidSetting, RecommenderError
from ..store import Store
from .judgments import ScoredPairs, proxy_judgments, read_judgment_files, text_key
from .runner import PAIR_SYSTEMS, Options, Progress, Relevance, evaluate_graded, evaluate_pairs
from .systems import Corpus

if TYPE_CHECKING:
    from ..api import Recommender

PROXY = "proxy"


def evaluate(
    rec: Recommender,
    store: Store,
    judgments: str | Path | Sequence[str | Path],
    options: Options,
    *,
    similar_at: str | None = None,
    score_column: str | None = None,
    language: str | None = None,
    sample: int = 300,
    model: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate against a judgments file, several graded-links files merged per pair, or
    same-section proxy judgments ("proxy").

    `store` is open for reading (texts for the baselines); the engine reads the live build.
    """
    files = [judgments] if isinstance(judgments, (str, Path)) else list(judgments)
    if PROXY in map(str, files) and len(files) > 1:
        raise InvalidSetting("proxy judgments cannot be merged with judgment files: give one or the other")
    if files and str(files[0]) == PROXY:
        corpus = Corpus.load(store)
        pairs = [(a.external_id, a.section) for a in corpus.articles]
        graded = proxy_judgments(pairs, pairs, sample, options.seed)
        return evaluate_graded(store, rec.catalog(), graded, options, progress)
    read = read_judgment_files([Path(f) for f in files], similar_at, score_column, language)
    if isinstance(read, ScoredPairs):
        settings = store.settings()
        embedder: Embedder = make_embedder(settings.with_value("model", model) if model else settings)
        chosen = [s for s in options.systems if s in PAIR_SYSTEMS] or list(PAIR_SYSTEMS)
        if "engine" in chosen and "dense" not in chosen:
            chosen.append("dense")  # the engine's relevance beside the bare embedding cosine
        relevance = None if model else engine_relevance(rec)
        known = {} if model else stored_vectors(rec, store, read)
        return evaluate_pairs(read, embedder, chosen, progress, relevance=relevance, known=known)
    return evaluate_graded(store, rec.catalog(), read, options, progress)


def engine_relevance(rec: Recommender) -> Relevance | None:
    """The engine's relevance of two texts on the live build's scales and idf (ranking/drafts.py),
    fed the vectors the evaluation already has; None where this engine has no such function or
    no build (the engine column is then the embedding cosine, and the report says so)."""
    try:
        drafts = importlib.import_module("recommender.ranking.drafts")
        catalog = rec.catalog()
    except (ImportError, RecommenderError):
        return None
    text_relevance = drafts.text_relevance

    def relevance(text_a: str, text_b: str, same_language: bool, vectors: np.ndarray) -> float:
        return float(text_relevance(catalog, catalog.settings, vectors, text_a, text_b, same_language))

    return relevance


def stored_vectors(rec: Recommender, store: Store, pairs: ScoredPairs) -> dict[str, np.ndarray]:
    """Live-build vectors of the pair texts the store holds (title + newline + body equal to the
    text up to whitespace, as `eval/pairs_store.py` writes them): embedded once at build time, not
    again here."""
    wanted: dict[str, list[str]] = {}
    for text in {t for p in pairs.pairs for t in (p.text1, p.text2)}:
        wanted.setdefault(text_key(text), []).append(text)
    try:
        index = rec.catalog().index
    except RecommenderError:
        return {}
    articles, texts = store.catalog()
    found = [
        (a.id, t) for a, stored in zip(articles, texts, strict=True) for t in wanted.get(text_key(stored), ())
    ]
    if not found:
        return {}
    rows = index.rows(np.array([i for i, _ in found], np.int64))
    return {
        t: np.asarray(index.vectors[r], np.float32) for (_, t), r in zip(found, rows, strict=True) if r >= 0
    }
