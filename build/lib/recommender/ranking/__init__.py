"""From candidates to a sidebar: the in-memory catalog, then candidates -> scorer -> selection -> fill."""

from .catalog import Catalog
from .params import Query, RankingParams, Visibility
from .scorer import Scored, formula, score
from .sidebar import Related, related, score_parts, sidebar

__all__ = [
    "Catalog",
    "Query",
    "RankingParams",
    "Related",
    "Scored",
    "Visibility",
    "formula",
    "related",
    "score",
    "score_parts",
    "sidebar",
]
