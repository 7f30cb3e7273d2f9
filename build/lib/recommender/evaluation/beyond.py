"""Beyond accuracy: what a sidebar looks like to a reader, whatever the judgments say.

Each list is a `Shown` (corpus rows of the source and its suggestions); each metric is a small
pure function over such lists and the corpus arrays, returning a float (NaN when undefined).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class Shown:
    """One system's list for one source, as corpus rows, best first."""

    source: int
    items: list[int]
    fallback: list[bool] = field(default_factory=list)


def coverage(lists: Sequence[Shown], catalog_size: int) -> float:
    """Share of the catalog suggested at least once: low means the same few stories everywhere."""
    if catalog_size == 0:
        return float("nan")
    return len({i for shown in lists for i in shown.items}) / catalog_size


def same_value_rate(lists: Sequence[Shown], values: Sequence[str]) -> float:
    """Share of suggestions with the source's value (section, language) where both are known."""
    pairs = [(values[s.source], values[i]) for s in lists for i in s.items]
    known = [(a, b) for a, b in pairs if a and b]
    return sum(a == b for a, b in known) / len(known) if known else float("nan")


def near_duplicate_share(lists: Sequence[Shown], vectors: np.ndarray, threshold: float) -> float:
    """Share of suggestions at or above the copy threshold to the source or to an item above it."""
    shown = copies = 0
    for s in lists:
        kept: list[int] = [s.source]
        for item in s.items:
            shown += 1
            if np.any(vectors[kept] @ vectors[item] >= threshold):
                copies += 1
            kept.append(item)
    return copies / shown if shown else float("nan")


def judged_duplicate_rate(lists: Sequence[Shown], duplicates: Mapping[int, set[int]]) -> float:
    """Share of lists (of sources with a judged near-duplicate) that show that duplicate."""
    judged = [s for s in lists if duplicates.get(s.source)]
    if not judged:
        return float("nan")
    return sum(bool(duplicates[s.source] & set(s.items)) for s in judged) / len(judged)


def intra_list_diversity(lists: Sequence[Shown], vectors: np.ndarray) -> float:
    """Mean pairwise cosine distance inside a list, averaged over lists of two or more."""
    values = []
    for s in lists:
        if len(s.items) < 2:
            continue
        m = vectors[s.items]
        sims = m @ m.T
        upper = sims[np.triu_indices(len(s.items), k=1)]
        values.append(float(np.mean(1.0 - upper)))
    return float(np.mean(values)) if values else float("nan")


def age_gaps_days(lists: Sequence[Shown], published: np.ndarray) -> list[float]:
    """Absolute days between each source and each suggestion, where both are dated."""
    gaps = [
        abs(published[s.source] - published[i]) / SECONDS_PER_DAY
        for s in lists
        for i in s.items
        if not (np.isnan(published[s.source]) or np.isnan(published[i]))
    ]
    return [float(g) for g in gaps]


def fallback_rate(lists: Sequence[Shown]) -> float:
    flags = [f for s in lists for f in s.fallback]
    return sum(flags) / len(flags) if flags else 0.0


def fill_rate(lists: Sequence[Shown], n: int) -> float:
    """Share of the n slots that were filled (a system may return fewer than n)."""
    return sum(min(len(s.items), n) for s in lists) / (n * len(lists)) if lists else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def beyond_accuracy(
    lists: Sequence[Shown],
    *,
    n: int,
    sections: Sequence[str],
    languages: Sequence[str],
    published: np.ndarray,
    vectors: np.ndarray,
    threshold: float,
    latencies_ms: Sequence[float],
    duplicates: Mapping[int, set[int]] | None = None,
) -> dict[str, float]:
    """Every beyond-accuracy figure for one system, on lists cut to the sidebar length n."""
    cut = [Shown(s.source, s.items[:n], s.fallback[:n]) for s in lists]
    gaps = age_gaps_days(cut, published)
    out = {
        "coverage": coverage(cut, len(sections)),
        "same_section": same_value_rate(cut, sections),
        "same_language": same_value_rate(cut, languages),
        "near_duplicates": near_duplicate_share(cut, vectors, threshold),
        "diversity": intra_list_diversity(cut, vectors),
        "median_age_gap_days": float(np.median(gaps)) if gaps else float("nan"),
        "fallback": fallback_rate(cut),
        "filled": fill_rate(cut, n),
        "latency_p50_ms": percentile(latencies_ms, 50),
        "latency_p95_ms": percentile(latencies_ms, 95),
    }
    if duplicates is not None:
        out["judged_duplicates_shown"] = judged_duplicate_rate(cut, duplicates)
    return out
