"""Related-story engine for news sites: multilingual embeddings, FAISS, DuckDB.

from recommender import Recommender
Recommender("indexes/").related("article-id", n=5)
"""

__version__ = "0.1.0"

from .api import Recommender, Stats, related
from .errors import (
    ArticleNotFound,
    IndexNotBuilt,
    InvalidSetting,
    ModelMismatch,
    ModelUnavailable,
    NoStore,
    RecommenderError,
    UnreadableInput,
)
from .ranking import Related

__all__ = [
    "ArticleNotFound",
    "IndexNotBuilt",
    "InvalidSetting",
    "ModelMismatch",
    "ModelUnavailable",
    "NoStore",
    "Recommender",
    "RecommenderError",
    "Related",
    "Stats",
    "UnreadableInput",
    "__version__",
    "related",
]
