"""Metric contracts on synthetic judgments whose right answers are known by construction."""

from math import log2

import numpy as np
import pytest

from recommender.evaluation import beyond, metrics
from recommender.evaluation.beyond import Shown

QRELS = {"q1": {"a": 2, "b": 1, "c": 0}, "q2": {"d": 1, "e": 0}}


def test_perfect_and_reversed_rankings():
    perfect = {"q1": ["a", "b", "c"], "q2": ["d", "e"]}
    worst = {"q1": ["c", "b", "a"], "q2": ["e", "d"]}
    names = metrics.metric_names([3])
    best = metrics.means(metrics.per_source(QRELS, perfect, names))
    assert best["ndcg@3"] == pytest.approx(1.0)
    assert best["mrr@3"] == pytest.approx(1.0)
    assert best["recall@3"] == pytest.approx(1.0)
    assert best["precision@3"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    bad = metrics.means(metrics.per_source(QRELS, worst, names))
    assert bad["ndcg@3"] < best["ndcg@3"]
    assert bad["mrr@3"] == pytest.approx((1 / 2 + 1 / 2) / 2)


def test_ndcg_matches_the_formula():
    # q1 ranked b, x (unjudged), a: gains 1, 0, 2 against the ideal 2, 1.
    ranked = {"q1": ["b", "x", "a"], "q2": ["d"]}
    dcg = 1 / log2(2) + 0 + 2 / log2(4)
    ideal = 2 / log2(2) + 1 / log2(3)
    scores = metrics.per_source(QRELS, ranked, ["ndcg@3"])["ndcg@3"]
    assert scores[0] == pytest.approx(dcg / ideal)  # ranx's default nDCG uses linear gains
    assert scores[1] == pytest.approx(1.0)


def test_sources_without_relevant_candidates_are_left_out():
    qrels = {**QRELS, "q3": {"z": 0}}
    assert metrics.evaluable(qrels) == ["q1", "q2"]
    scores = metrics.per_source(qrels, {"q1": ["a"], "q2": [], "q3": ["z"]}, ["ndcg@5"])
    assert len(scores["ndcg@5"]) == 2
    assert scores["ndcg@5"][1] == 0.0  # an empty list scores zero, not an error


def test_condensed_lists_drop_only_unjudged():
    ranked = {"q1": ["x", "a", "y", "b"], "q2": ["e"]}
    assert metrics.condensed(QRELS, ranked) == {"q1": ["a", "b"], "q2": ["e"]}
    assert metrics.judged_share(QRELS, ranked, 2) == pytest.approx(2 / 3)


def test_significance_separates_a_consistently_better_system():
    qrels = {f"q{i}": {"good": 1, "bad": 0} for i in range(20)}
    better = {q: ["good", "bad"] for q in qrels}
    worse = {q: ["bad", "good"] for q in qrels}
    mixed = {q: (["good", "bad"] if i % 2 else ["bad", "good"]) for i, q in enumerate(qrels)}
    p = metrics.significance(qrels, {"better": better, "worse": worse, "mixed": mixed}, ["mrr@2"])
    assert p["mrr@2"]["better"]["worse"] < 0.001
    assert p["mrr@2"]["worse"]["better"] == p["mrr@2"]["better"]["worse"]
    same = metrics.significance(qrels, {"a": better, "b": dict(better)}, ["mrr@2"])
    assert same["mrr@2"]["a"]["b"] == pytest.approx(1.0) or np.isnan(same["mrr@2"]["a"]["b"])


# --- beyond accuracy -------------------------------------------------------------------------
def unit(*rows: list[float]) -> np.ndarray:
    m = np.array(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_coverage_and_same_value_rates():
    lists = [Shown(0, [1, 2]), Shown(1, [2, 0])]
    assert beyond.coverage(lists, 4) == pytest.approx(3 / 4)
    sections = ["sport", "sport", "politics", ""]
    # pairs: (sport,sport) (sport,politics) (sport,politics) (sport,sport)
    assert beyond.same_value_rate(lists, sections) == pytest.approx(0.5)
    assert np.isnan(beyond.same_value_rate([Shown(3, [0])], sections))  # unknown source section


def test_near_duplicates_against_source_and_earlier_items():
    vectors = unit([1, 0, 0], [1, 0.01, 0], [0, 1, 0], [0, 1, 0.01])
    lists = [Shown(0, [1, 2, 3])]  # 1 copies the source, 3 copies item 2
    assert beyond.near_duplicate_share(lists, vectors, 0.99) == pytest.approx(2 / 3)
    assert beyond.near_duplicate_share(lists, vectors, 1.01) == 0.0


def test_diversity_of_orthogonal_and_identical_lists():
    vectors = unit([1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1])
    assert beyond.intra_list_diversity([Shown(0, [1, 2])], vectors) == pytest.approx(1.0)
    assert beyond.intra_list_diversity([Shown(0, [2, 3])], vectors) == pytest.approx(0.0, abs=1e-6)
    assert np.isnan(beyond.intra_list_diversity([Shown(0, [1])], vectors))


def test_age_gaps_fill_and_fallback():
    day = 86400.0
    published = np.array([10 * day, 7 * day, np.nan, 12 * day])
    lists = [Shown(0, [1, 2, 3], [False, False, True])]
    assert beyond.age_gaps_days(lists, published) == [3.0, 2.0]
    assert beyond.fill_rate(lists, 5) == pytest.approx(3 / 5)
    assert beyond.fallback_rate(lists) == pytest.approx(1 / 3)


def test_judged_duplicates_shown_counts_lists():
    lists = [Shown(0, [5, 6]), Shown(1, [7]), Shown(2, [8])]
    duplicates = {0: {6}, 1: {9}, 2: set()}
    assert beyond.judged_duplicate_rate(lists, duplicates) == pytest.approx(1 / 2)


def test_beyond_accuracy_cuts_lists_to_the_sidebar():
    vectors = unit([1, 0], [0, 1], [1, 1], [1, -1])
    out = beyond.beyond_accuracy(
        [Shown(0, [1, 2, 3], [False, False, True])],
        n=2,
        sections=["a", "a", "b", "a"],
        languages=["bn", "bn", "bn", "en"],
        published=np.array([0.0, 0.0, 86400.0, 0.0]),
        vectors=vectors,
        threshold=0.99,
        latencies_ms=[1.0, 2.0, 3.0],
    )
    assert out["coverage"] == pytest.approx(2 / 4)
    assert out["same_section"] == pytest.approx(0.5)
    assert out["same_language"] == pytest.approx(1.0)
    assert out["fallback"] == 0.0  # the fallback item is third, beyond n
    assert out["median_age_gap_days"] == pytest.approx(0.5)
    assert out["latency_p50_ms"] == pytest.approx(2.0)
    assert "judged_duplicates_shown" not in out
