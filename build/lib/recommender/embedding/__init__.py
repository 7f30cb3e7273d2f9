"""Turning article text into normalized vectors: the sentence-transformers model, or a hashing stand-in.

`make_embedder(settings)` picks one from the store's settings. The real model is loaded lazily on
first use, so commands that never embed (related, stats, --help) never import torch.
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


__all__ = [
    "HASHING_PREFIX",
    "Embedder",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "article_text",
    "make_embedder",
    "normalize",
]
