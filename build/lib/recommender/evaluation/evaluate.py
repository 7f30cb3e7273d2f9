"""One call from a judgments file (or "proxy") to a finished report dict."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..embedding import Embedder, make_embedder
from ..store import Store
from .judgments import ScoredPairs, proxy_judgments, read_judgments
from .runner import Options, Progress, evaluate_graded, evaluate_pairs
from .systems import Corpus

if TYPE_CHECKING:
    from ..api import Recommender

PROXY = "proxy"


def evaluate(
    rec: Recommender,
    store: Store,
    judgments: str | Path,
    options: Options,
    *,
    similar_at: str | None = None,
    score_column: str | None = None,
    language: str | None = None,
    sample: int = 300,
    model: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate against a judgments file, or against same-section proxy judgments ("proxy").

    `store` is open for reading (texts for the baselines); the engine reads the live build.
    """
    if str(judgments) == PROXY:
        corpus = Corpus.load(store)
        pairs = [(a.external_id, a.section) for a in corpus.articles]
        graded = proxy_judgments(pairs, pairs, sample, options.seed)
        return evaluate_graded(store, rec.catalog(), graded, options, progress)
    read = read_judgments(Path(judgments), similar_at, score_column, language)
    if isinstance(read, ScoredPairs):
        settings = store.settings()
        embedder: Embedder = make_embedder(settings.with_value("model", model) if model else settings)
        systems = [s for s in options.systems if s in ("engine", "lexical")] or ["engine", "lexical"]
        return evaluate_pairs(read, embedder, systems, progress)
    return evaluate_graded(store, rec.catalog(), read, options, progress)
