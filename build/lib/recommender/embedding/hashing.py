"""A deterministic bag-of-words embedder: no model, no download; for tests and smoke runs."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from ..errors import ModelUnavailable
from .base import digest, normalize

HASHING_PREFIX = "hashing"
_WORD = re.compile(r"[\w\u0980-\u09ff\u200c\u200d]+")


class HashingEmbedder:
    """Deterministic bag-of-words vectors: no model, no download; for tests and smoke runs.

    Words are hashed into `dimension` signed buckets, so texts that share words are close and
    the same text always gives the same vector on every machine.
    """

    def __init__(self, dimension: int = 256) -> None:
        if dimension < 8:
            raise ModelUnavailable(f"hashing embedder needs at least 8 dimensions, got {dimension}")
        self.dimension = dimension
        self.name = f"{HASHING_PREFIX}:{dimension}"

    def fingerprint(self) -> str:
        return digest(["hashing-v1", str(self.dimension)])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dimension] += 1.0 if (h >> 32) & 1 else -1.0
        return normalize(out)
