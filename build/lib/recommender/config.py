"""Where a store lives and the settings it keeps: every default in one place, typed and validated."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from .errors import InvalidSetting

HOME_ENV = "RECOMMENDER_HOME"
DEFAULT_HOME = Path("indexes")


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The home directory: the argument, else $RECOMMENDER_HOME, else ./indexes."""
    if home is not None:
        return Path(home)
    env = os.environ.get(HOME_ENV)
    return Path(env) if env else DEFAULT_HOME


@dataclass(frozen=True)
class Settings:
    """Engine settings stored as rows in the DuckDB `settings` table; unset keys take these defaults.

    The score of a candidate is
        similarity_weight * relevance + recency_weight * recency + section boost - language penalty
    (see ranking/sidebar.py); the first group below feeds that formula, the second the embedding step.
    """

    similarity_weight: float = 1.0
    recency_weight: float = 0.25
    section_boost: float = 0.1  # for sections without their own row in `sections`
    section_weight: float = 1.0  # multiplies every section boost; 0 turns section boosts off
    half_life_days: float = 7.0  # idem
    undated_recency: float = 0.25  # recency credited to articles without a publication date
    # Below this a candidate is not "good" and fallback fills instead. On the judged Bengali dev
    # set (shared/data/bn_judgments_dev), 0.3 keeps all 127 "reader wants it next" pairs and 97%
    # of "same topic" ones, and turns away 30% of the judged-unrelated pool candidates.
    min_relevance: float = 0.3
    cross_language: bool = False  # False: only articles in the source's language
    cross_language_penalty: float = 0.1  # when allowed, other languages still rank a little lower
    near_duplicate_threshold: float | None = None  # None: calibrated from data at build time
    overfetch: int = 4  # FAISS candidates fetched per requested result, before filters
    index_type: str = "auto"  # auto: exact below 20k articles, HNSW below 300k, IVF above; or flat|hnsw|ivf

    model: str = "multilingual-e5-small"
    prefix: str = "auto"  # "auto": "query: " for e5 models, nothing otherwise
    text_fields: str = "title,body"
    # Plain truncation at 512 tokens. Within the judged Bengali pools the first 256 tokens rank
    # about as well (nDCG@5 0.893 vs 0.903; 128: 0.878; 2-3 windows averaged: 0.886-0.890;
    # benchmarks/long_articles.py), but over the whole crawl a 256-token store fell from nDCG@5
    # 0.815 to 0.688: leads of rewrites look like copies, and the copy threshold calibrated on
    # them (0.962 vs 0.973) drops 24 of 127 grade-2 pairs as duplicates (eval/README.md).
    max_seq_length: int = 512
    batch_size: int = 32
    # "auto": OpenVINO int8 for the bundled model where it can be built (about 3x faster, vectors
    # within cosine 0.99 of fp32), else torch; "torch" or "openvino-int8" force one (backends.py).
    backend: str = "auto"
    timezone: str = "UTC"  # zone assumed for dates written without one

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_stored(cls, stored: Iterable[tuple[str, str]]) -> Settings:
        """Settings from (key, text value) pairs as the store keeps them; unknown keys are skipped."""
        current = cls()
        for key, value in stored:
            if key in _TYPES:
                current = current.with_value(key, value)
        return current

    def with_value(self, key: str, raw: str | None) -> Settings:
        """A copy with `key` parsed from its text form; raises InvalidSetting naming the problem."""
        if key not in self.keys():
            raise InvalidSetting(f"unknown setting {key!r}; known: {', '.join(self.keys())}")
        changes: dict[str, Any] = {key: parse_value(key, raw)}
        return replace(self, **changes)

    def effective_prefix(self) -> str:
        if self.prefix != "auto":
            return self.prefix
        return "query: " if "e5" in self.model.lower() else ""

    def text_field_list(self) -> list[str]:
        names = [f.strip() for f in self.text_fields.split(",") if f.strip()]
        bad = [n for n in names if n not in ("title", "body")]
        if not names or bad:
            raise InvalidSetting(f"text_fields must list title and/or body, got {self.text_fields!r}")
        return names


_TYPES = {f.name: f.type for f in fields(Settings)}


def parse_value(key: str, raw: str | None) -> object:
    """Parse the text form of setting `key` (as stored, or as typed on the command line)."""
    kind = _TYPES[key]
    if raw is None or (raw.strip().lower() in ("", "none", "null", "auto") and "None" in str(kind)):
        if "None" in str(kind):
            return None
        raise InvalidSetting(f"setting {key} needs a value")
    text = raw.strip()
    try:
        if kind.startswith("float"):
            value: object = float(text)
        elif kind.startswith("int"):
            value = int(text)
        elif kind.startswith("bool"):
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(text)
            value = lowered in ("true", "1", "yes", "on")
        else:
            value = raw
    except ValueError as exc:
        raise InvalidSetting(f"setting {key}: {raw!r} is not a valid {kind}") from exc
    _check_range(key, value)
    return value


def _check_range(key: str, value: object) -> None:
    positive = {"half_life_days", "overfetch", "max_seq_length", "batch_size"}
    if key in positive and isinstance(value, int | float) and value <= 0:
        raise InvalidSetting(f"setting {key} must be positive, got {value}")
    if key in ("undated_recency",) and isinstance(value, float) and not 0 <= value <= 1:
        raise InvalidSetting(f"setting {key} must be between 0 and 1, got {value}")
    if key == "index_type" and value not in ("auto", "flat", "hnsw", "ivf"):
        raise InvalidSetting(f"setting index_type must be auto, flat, hnsw or ivf, got {value!r}")
    if key == "backend":
        from .embedding.backends import BACKENDS

        if value not in BACKENDS:
            raise InvalidSetting(f"setting backend must be one of {', '.join(BACKENDS)}, got {value!r}")
    if key == "timezone":
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidSetting(f"setting timezone: unknown time zone {value!r}") from exc


def format_value(value: object) -> str:
    """The text form stored in DuckDB and printed by the CLI."""
    if value is None:
        return "auto"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
