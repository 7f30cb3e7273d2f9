"""What one sidebar is asked for (`Query`), who may appear in it (`Visibility`) and the frozen
parameters the stages run with (`RankingParams`), made once per call from the settings, the
overlay and the query: no stage reads a setting or the overlay on its own.

`RankingParams.legacy` is the engine as it was before issue 9 (additive recency, copies by cosine,
no lexical signal, fill from the section's newest dated articles), kept so that an evaluation can
show the old engine beside the new one under one name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

from ..config import Settings
from ..errors import InvalidSetting
from ..index.overlay import SectionValues
from .catalog import Catalog

MAX_N = 1_000  # the longest list one call may ask for
FILLS = ("below_floor", "section", "none")
LEGACY_RECENCY_WEIGHT = 0.25  # the shipped defaults before issue 9
LEGACY_HALF_LIFE_DAYS = 7.0
LEGACY_SECTION_WEIGHT = 1.0  # section boosts were on before the cross-validation turned them off


@dataclass(frozen=True)
class Query:
    """What a caller may ask of one sidebar besides its length."""

    n: int = 5
    as_of: datetime | None = None  # default: now; later articles are never shown
    cross_language: bool | None = None  # default: the store's setting
    max_age_days: float | None = None
    exclude_sections: tuple[str, ...] = field(default_factory=tuple)
    section: str | None = None  # show this section only
    since: datetime | None = None  # published at or after (undated articles fail it)
    until: datetime | None = None  # published at or before (undated articles fail it)
    fill: str | None = None  # when short: below_floor, section or none (default: the setting)

    def checked(self) -> Query:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or not 1 <= self.n <= MAX_N:
            raise InvalidSetting(f"n must be a whole number from 1 to {MAX_N}, got {self.n!r}")
        age = self.max_age_days
        if age is not None and (isinstance(age, bool) or not isinstance(age, int | float)):
            raise InvalidSetting(f"max age must be a number of days, got {age!r}")
        if age is not None and not (math.isfinite(age) and age > 0):  # NaN fails both tests
            raise InvalidSetting(f"max age must be a finite number of days above 0, got {age}")
        if self.fill is not None and self.fill not in FILLS:
            raise InvalidSetting(f"fill must be one of {', '.join(FILLS)}, got {self.fill!r}")
        for name in ("as_of", "since", "until"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, datetime):
                raise InvalidSetting(f"{name} must be a date and time, got {value!r}")
        return self


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


@dataclass(frozen=True)
class Visibility:
    """Who may appear in one source's sidebar: the one filter the engine, the evaluation's baselines
    and the benchmarks' brute force all apply (`mask`)."""

    source_row: int
    language: int  # the source's language code (-1 none)
    as_of: float  # epoch seconds: later articles are never shown
    cross_language: bool = False
    max_age_days: float | None = None
    since: float | None = None
    until: float | None = None
    exclude_codes: tuple[int, ...] = ()
    only_code: int | None = None  # show this section code only (-2: a section nobody has)
    blocked_rows: tuple[int, ...] = ()

    @classmethod
    def of(
        cls,
        catalog: Catalog,
        source_row: int,
        query: Query,
        settings: Settings,
        same_section_only: bool = False,
        language: int | None = None,
    ) -> Visibility:
        """The filter for a stored source (`source_row`), or for a text not in the store
        (`source_row` -1, its language code given)."""
        as_of = _epoch(query.as_of)
        cross = settings.cross_language if query.cross_language is None else query.cross_language
        names = {name.lower(): code for code, name in enumerate(catalog.section_names)}
        exclude = tuple(names[s.lower()] for s in query.exclude_sections if s.lower() in names)
        only: int | None = None
        if query.section is not None:
            only = names.get(query.section.lower(), -2)
        elif same_section_only and source_row >= 0:
            only = int(catalog.sections[source_row])
        blocked = catalog.blocked_rows(catalog.external_id(source_row) if source_row >= 0 else None)
        return cls(
            source_row,
            int(catalog.languages[source_row]) if language is None else language,
            datetime.now(UTC).timestamp() if as_of is None else as_of,
            bool(cross),
            query.max_age_days,
            _epoch(query.since),
            _epoch(query.until),
            exclude,
            only,
            tuple(int(r) for r in blocked),
        )

    def mask(self, catalog: Catalog, rows: np.ndarray) -> np.ndarray:
        """True for the rows that may be shown (never the source itself)."""
        rows = np.asarray(rows, np.int64)
        published = catalog.published[rows]
        keep = (rows != self.source_row) & ~(published > self.as_of)  # undated (NaN) stay
        if catalog.removed is not None:
            keep &= ~catalog.removed[rows]  # removed from the store since the build
        if self.max_age_days is not None:
            keep &= (self.as_of - published) <= self.max_age_days * 86400  # undated fail
        if self.since is not None:
            keep &= published >= self.since
        if self.until is not None:
            keep &= published <= self.until
        if self.exclude_codes or self.only_code is not None:
            sections = catalog.sections[rows]
            for code in self.exclude_codes:  # a handful at most: cheaper than np.isin
                keep &= sections != code
            if self.only_code is not None:
                keep &= sections == self.only_code
        if not self.cross_language:
            keep &= catalog.languages[rows] == self.language
        if self.blocked_rows:
            keep &= ~np.isin(rows, self.blocked_rows)
        return keep


@dataclass(frozen=True)
class RankingParams:
    """Everything the stages of one sidebar read, fixed for the call (see sidebar.py for the formula)."""

    n: int
    source_row: int  # -1: a text not in the store (Recommender.related_to_text)
    source_section: int  # section code of the source, -1 none
    visibility: Visibility
    # scorer
    similarity_weight: float
    recency_weight: float
    recency_mode: str  # "multiplier": relevance * (1 - w + w * recency); "additive": + w * recency
    undated_recency: float
    section_boost: float  # the source section's weighted boost, given to same-section candidates
    cross_language_penalty: float
    half_lives: np.ndarray  # days, per section code; the last entry for articles without a section
    sim_floor: float  # cosine of two random articles: relevance 0
    sim_ceiling: float  # cosine of a republished copy: relevance 1 (and the cosine copy rule)
    lexical_weight: float  # share of the calibrated lexical score in relevance (0: dense only)
    lexical_random: float  # the lexical scale's anchors (index/lexical.py)
    lexical_copy: float
    # selection and fill
    min_relevance: float
    copy_rule: str  # "text" (containment and dates) or "cosine" (sim_ceiling)
    copy_containment: float
    series_days: float
    fill: str
    overfetch: int
    pins: tuple[tuple[int, int], ...] = ()  # (row, position from 1) pinned into this sidebar

    @property
    def as_of(self) -> float:
        return self.visibility.as_of

    @classmethod
    def build(
        cls,
        catalog: Catalog,
        source_row: int,
        query: Query,
        settings: Settings | None = None,
        language: int | None = None,
    ) -> RankingParams:
        """The parameters of one call: `settings` (default: the overlay's) replace the store's own.
        A text not in the store has `source_row` -1 and its `language` code."""
        settings = settings or catalog.settings
        values = catalog.section_values
        code = int(catalog.sections[source_row]) if source_row >= 0 else -1
        source_values = values[code] if code >= 0 else SectionValues()
        boost = settings.section_boost if source_values.boost is None else source_values.boost
        if settings.half_life_days == catalog.settings.half_life_days:
            half_lives = catalog.half_life_by_code  # made once per catalog
        else:
            half_lives = np.array(
                [settings.half_life_days if v.half_life_days is None else v.half_life_days for v in values]
                + [settings.half_life_days]
            )
        calibration = catalog.index.meta.calibration
        ceiling = settings.duplicate_threshold(calibration.near_duplicate_threshold)
        lexical = catalog.lexical_meta if catalog.lexical is not None else None
        if source_row >= 0 and catalog.lexical is not None and not catalog.lexical.self_score[source_row] > 0:
            lexical = None  # no query terms (every word common): the lexical signal says nothing
        external = catalog.external_id(source_row) if source_row >= 0 else None
        pins = tuple(
            (row, pin.position)
            for pin in catalog.overlay.pins
            if pin.source == external and (row := catalog.find(pin.article)) >= 0
        )
        return cls(
            n=query.n,
            source_row=source_row,
            source_section=code,
            visibility=Visibility.of(
                catalog, source_row, query, settings, source_values.same_section_only, language
            ),
            similarity_weight=settings.similarity_weight,
            recency_weight=settings.recency_weight,
            recency_mode=settings.recency_mode,
            undated_recency=settings.undated_recency,
            section_boost=settings.section_weight * boost if code >= 0 else 0.0,
            cross_language_penalty=settings.cross_language_penalty,
            half_lives=half_lives,
            sim_floor=calibration.similarity_mean,
            sim_ceiling=max(ceiling, calibration.similarity_mean + 1e-6),
            lexical_weight=settings.lexical_weight if lexical is not None else 0.0,
            lexical_random=lexical.random_pair if lexical is not None else 0.0,
            lexical_copy=lexical.copy if lexical is not None else 1.0,
            min_relevance=settings.min_relevance,
            copy_rule=settings.copy_rule if catalog.overlaps is not None else "cosine",
            copy_containment=settings.copy_containment,
            series_days=settings.series_days,
            fill=query.fill or settings.fill,
            overfetch=settings.overfetch,
            pins=pins,
        )

    @classmethod
    def legacy(
        cls, catalog: Catalog, source_row: int, query: Query, settings: Settings | None = None
    ) -> RankingParams:
        """The engine before issue 9: additive recency (0.25, half-life 7 days unless a section has
        its own), section boosts on, copies by cosine, dense relevance only, fill from the section's
        newest articles."""
        settings = settings or catalog.settings
        settings = replace(
            settings,
            recency_weight=LEGACY_RECENCY_WEIGHT,
            half_life_days=LEGACY_HALF_LIFE_DAYS,
            section_weight=LEGACY_SECTION_WEIGHT,
        )
        params = cls.build(catalog, source_row, query, settings)
        return replace(
            params, recency_mode="additive", copy_rule="cosine", lexical_weight=0.0, fill="section"
        )
