"""TF-IDF cosine over words: the lexical more-like-this that Elasticsearch MLT and WordPress
related-post plugins stand for, and the baseline every change to the engine is measured against."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# Python's \w stops at Bengali vowel signs and virama; take the whole Bengali block plus the
# zero-width (non-)joiners so that a Bengali word stays one token.
TOKEN_PATTERN = r"[\u0980-\u09FF\u200c\u200d\w]+"
MIN_CORPUS_FOR_CUTOFFS = 50  # below this, document-frequency cut-offs would drop most words


def tfidf_matrix(texts: Sequence[str]) -> Any:
    """Rows of L2-normalized sublinear TF-IDF weights (a scipy sparse matrix), one per text.

    Terms in fewer than 2 texts or in more than half of them are dropped once the corpus is
    big enough for document frequencies to mean something.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    big = len(texts) >= MIN_CORPUS_FOR_CUTOFFS
    vectorizer = TfidfVectorizer(
        token_pattern=TOKEN_PATTERN,
        lowercase=True,
        sublinear_tf=True,
        min_df=2 if big else 1,
        max_df=0.5 if big else 1.0,
        norm="l2",
        dtype=np.float64,
    )
    return vectorizer.fit_transform(list(texts)).tocsr()
