"""Related-story engine for news sites: multilingual embeddings, FAISS, DuckDB.

from recommender import Recommender
Recommender("indexes/demo").related("bn-int-001", n=5)
"""

__version__ = "0.1.0"

from .offline import switch_off_telemetry

switch_off_telemetry()  # before any dependency is imported: see offline.py

from .api import Recommender, Stats, related  # noqa: E402
from .errors import (  # noqa: E402
    ArticleNotFound,
    IndexNotBuilt,
    InvalidSetting,
    LockBusy,
    MissingExtra,
    ModelMismatch,
    ModelUnavailable,
    NoStore,
    RecommenderError,
    UnreadableInput,
)
from .ranking import Related  # noqa: E402

__all__ = [
    "ArticleNotFound",
    "IndexNotBuilt",
    "InvalidSetting",
    "LockBusy",
    "MissingExtra",
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
