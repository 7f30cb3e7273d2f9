"""Scored pairs: the engine's own relevance of two texts beside the bare embedding cosine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recommender.errors import InvalidSetting
from recommender.evaluation import read_judgments
from recommender.evaluation.runner import evaluate_pairs


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    words = "river flood rescue vote ballot cricket captain bridge film market shares prize".split()  # noqa: SIM905
    rows = ["text1,text2,score,lang1,lang2"]
    for i in range(24):
        base = list(rng.choice(words, 6))
        overlap = i % 4
        other = base[: 6 - 2 * overlap] + list(rng.choice(words, 2 * overlap))
        rows.append(f'"{" ".join(base)}","{" ".join(other)}",{overlap + 1},en,en')
    path = tmp_path / "pairs.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_engine_column_is_the_relevance_given(rec, pairs_file: Path):
    judged = read_judgments(pairs_file, similar_at="low")
    calls: list[tuple[str, str]] = []

    def relevance(a: str, b: str) -> float:
        calls.append((a, b))
        return -len(set(a.split()) & set(b.split()))  # deliberately backwards: shared words lower it

    report = evaluate_pairs(judged, rec._embedder, relevance=relevance)
    assert len(calls) == len(judged.pairs) and calls[0] == (judged.pairs[0].text1, judged.pairs[0].text2)
    engine, dense = report["correlations"]["engine"]["all"], report["correlations"]["dense"]["all"]
    assert engine["pearson"] < 0 < dense["pearson"]  # the engine column is the callable's, not the cosine
    assert "Recommender.relevance" in {s["name"]: s["description"] for s in report["systems"]}["engine"]
    only = evaluate_pairs(judged, rec._embedder, ("engine",), relevance=relevance)
    assert list(only["correlations"]) == ["engine"]
    with pytest.raises(InvalidSetting, match="not \\['bm25'\\]"):
        evaluate_pairs(judged, rec._embedder, ("engine", "bm25"))
