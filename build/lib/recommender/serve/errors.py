"""The library's named errors as HTTP statuses, in one place, and the JSON error body.

Every error the service answers has the body {"error": {"code": ..., "message": ...}} (with
"details" for parameter problems), whatever raised it: the library, parameter validation, the body
size limit or an unknown route. The library's messages name files on the server; where they may,
a fixed public message is sent instead and the library's own goes to the log.
"""

from __future__ import annotations

from typing import Any

from ..errors import (
    ArticleNotFound,
    BackfillFailed,
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

# Most specific first; the base class last: (error, status, code, public message or None for the
# library's own, which for these names no file).
STATUS: list[tuple[type[RecommenderError], int, str, str | None]] = [
    (ArticleNotFound, 404, "article_not_found", "no article with this id"),
    (InvalidSetting, 422, "invalid_parameter", None),
    (UnreadableInput, 400, "unreadable_input", "the input cannot be read"),
    (IndexNotBuilt, 503, "index_not_built", "no index is built yet: run `recommender build`"),
    (NoStore, 503, "no_store", "no store here yet: run `recommender ingest` and `recommender build`"),
    (LockBusy, 503, "busy", "another process is writing to the store: try again shortly"),
    (MissingExtra, 501, "not_installed", None),
    (ModelMismatch, 503, "model_mismatch", "the index was built with another model: rebuild it"),
    (ModelUnavailable, 503, "model_unavailable", "the embedding model cannot be loaded"),
    (BackfillFailed, 500, "backfill_failed", "embedding some articles failed: see the service log"),
    (RecommenderError, 503, "unavailable", "the store cannot be read right now"),
]

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "writes_disabled",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


def status_of(exc: RecommenderError) -> tuple[int, str, str]:
    """The HTTP status, error code and public message for one of the library's named errors."""
    for kind, status, code, message in STATUS:
        if isinstance(exc, kind):
            return status, code, message or str(exc)
    return 500, "internal_error", "internal error"  # unreachable: RecommenderError is in the table


def public_message(exc: Exception) -> str:
    """What may be shown to anyone about an error: the public message of a named one, else its kind."""
    return status_of(exc)[2] if isinstance(exc, RecommenderError) else type(exc).__name__


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}
