"""Build metadata: what a build records beside its vectors and checks again on load."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .lexical import LexicalMeta

# 3: the serving snapshot (catalog columns) and overlay beside the vectors; 4 (never released):
# the lexical index and text overlaps, or the compressed kind; 5: both (index/textdata.py; ivfpq:
# PQ codes, float16 vectors re-scoring its candidates; hnswsq, added later without a new format:
# a graph over 4-bit codes, the same float16 vectors). Older builds are rebuilt, not read.
FORMAT_VERSION = 5
READABLE_FORMATS = (FORMAT_VERSION,)


@dataclass(frozen=True)
class Calibration:
    """Similarity anchors measured on this corpus with this model (see calibration.py)."""

    similarity_mean: float  # cosine of two random articles, on average
    similarity_std: float
    near_duplicate_threshold: float  # cosine at and above which two articles are copies
    method: str


@dataclass(frozen=True)
class IndexMeta:
    """What a build records beside its vectors and checks again on load."""

    model: str
    model_fingerprint: str
    dimension: int
    count: int
    built_at: str
    package_version: str
    calibration: Calibration
    kind: str = "flat"
    params: dict[str, Any] = field(default_factory=dict)  # efSearch / nlist, nprobe; recall@10
    stale: int = 0  # superseded vectors still in an HNSW graph (it cannot delete); rebuilt past 20%
    build_seconds: float = 0.0
    articles_version: int = 0  # the store's article version the snapshot was taken at
    sections: list[str] = field(default_factory=list)  # names of the section codes in sections.npy
    languages: list[str] = field(default_factory=list)  # names of the language codes in languages.npy
    lexical: LexicalMeta | None = None  # None: no lexical index in this build (dense relevance only)
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_json(cls, data: dict) -> IndexMeta:
        lexical = data.get("lexical")
        return cls(
            **{
                **data,
                "calibration": Calibration(**data["calibration"]),
                "lexical": LexicalMeta(**lexical) if lexical else None,
            }
        )
