"""The DuckDB store: schema and migrations, every query in one place, and the Store class."""

from .database import DB_FILENAME, Article, SectionInfo, Store, UpsertCounts

__all__ = ["DB_FILENAME", "Article", "SectionInfo", "Store", "UpsertCounts"]
