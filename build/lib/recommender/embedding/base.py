"""What every embedder is: texts in, L2-normalized float32 rows out; helpers they share."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    """Anything that turns texts into L2-normalized float32 rows."""

    name: str

    def fingerprint(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def article_text(title: str, body: str, fields: list[str]) -> str:
    """The text embedded for an article; sql.TEXT_EXPRESSIONS computes the same in DuckDB."""
    parts = {"title": title, "body": body}
    return "\n".join(parts[f] for f in fields)


# No token the bundled tokenizer makes covers more than a few characters, so the first
# max_seq_length * CHARS_PER_TOKEN characters hold every token a model reads: cutting there before
# tokenization changes no vector of real text, and bounds the cost of a 50 MB body.
CHARS_PER_TOKEN = 32


def model_input(text: str, max_tokens: int) -> str:
    """The part of `text` a model reading `max_tokens` tokens can see, cut before tokenization."""
    return text[: max_tokens * CHARS_PER_TOKEN]


def normalize(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


def digest(parts: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(list(parts)).encode()).hexdigest()[:16]


def folder_digest(folder: Path) -> str:
    """Small files in full, large ones by size and their first and last megabyte."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode())
        size = path.stat().st_size
        h.update(str(size).encode())
        with path.open("rb") as fh:
            if size <= 2 << 20:
                h.update(fh.read())
            else:
                h.update(fh.read(1 << 20))
                fh.seek(-(1 << 20), 2)
                h.update(fh.read(1 << 20))
    return "dir:" + h.hexdigest()
