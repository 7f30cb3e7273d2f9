"""Turning article text into normalized vectors: the sentence-transformers model, or a hashing stand-in.

`make_embedder(settings)` picks one from the store's settings. The real model is loaded lazily on
first use, so commands that never embed (related, stats, --help) never import torch, and `stats`
never converts or quantizes a model (cached_fingerprint).
"""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from ..errors import ModelUnavailable
from .base import Embedder, article_text, normalize
from .hashing import HASHING_PREFIX, HashingEmbedder
from .transformer import SentenceTransformerEmbedder


def make_embedder(settings: Settings, cache_dir: Path | None = None) -> Embedder:
    """The embedder the settings name: "hashing[:DIM]" or a sentence-transformers model."""
    if settings.model.startswith(HASHING_PREFIX):
        _, _, dim = settings.model.partition(":")
        try:
            return HashingEmbedder(int(dim) if dim else 256)
        except ValueError as exc:
            raise ModelUnavailable(f"bad hashing model spec {settings.model!r}: use hashing:DIM") from exc
    return SentenceTransformerEmbedder(
        settings.model,
        prefix=settings.effective_prefix(),
        max_seq_length=settings.max_seq_length,
        batch_size=settings.batch_size,
        cache_dir=cache_dir,
        backend=settings.backend,
    )


def cached_fingerprint(embedder: Embedder) -> str | None:
    """The embedder's fingerprint if it can be had without building a model, else None."""
    known = getattr(embedder, "cached_fingerprint", None)
    return known() if known is not None else embedder.fingerprint()


__all__ = [
    "HASHING_PREFIX",
    "Embedder",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "article_text",
    "cached_fingerprint",
    "make_embedder",
    "normalize",
]
