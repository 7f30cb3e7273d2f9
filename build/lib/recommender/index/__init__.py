"""The serving index: FAISS kinds, the build folder on disk, calibration and the build itself."""

from .folder import (
    VectorIndex,
    clean,
    current_build,
    index_root,
    load_index,
    positions,
    read_meta,
    switch,
    write_build,
)
from .kinds import all_cores, build_faiss, choose_kind, exact_top, recall_at, tune
from .meta import Calibration, IndexMeta

__all__ = [
    "Calibration",
    "IndexMeta",
    "VectorIndex",
    "all_cores",
    "build_faiss",
    "choose_kind",
    "clean",
    "current_build",
    "exact_top",
    "index_root",
    "load_index",
    "positions",
    "read_meta",
    "recall_at",
    "switch",
    "tune",
    "write_build",
]
