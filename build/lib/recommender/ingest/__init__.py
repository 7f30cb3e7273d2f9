"""Article files into the store: readers, row checks, dates and normalization, and the report."""

from .pipeline import ingest
from .readers import FIELDS, parse_field_map
from .report import IngestReport, Rejection

__all__ = ["FIELDS", "IngestReport", "Rejection", "ingest", "parse_field_map"]
