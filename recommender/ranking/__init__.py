"""From candidates to a sidebar: the in-memory catalog, scoring, filters, copies and fill."""

from .catalog import Catalog
from .sidebar import Query, Related, Scored, ranking_params, related, score, score_parts

__all__ = ["Catalog", "Query", "Related", "Scored", "ranking_params", "related", "score", "score_parts"]
