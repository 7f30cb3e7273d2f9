"""Two-fold cross-validation of ranking settings: pure, seeded functions and the command on a store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recommender.errors import InvalidSetting
from recommender.evaluation.tune import cross_validate, fold_means, grid, main, parse_grid, two_folds

from .test_evaluation import GRADED, built  # noqa: F401  (the fixture: a small built store)

SOURCES = [f"s{i}" for i in range(10)]


def test_folds_are_seeded_disjoint_and_order_free():
    a, b = two_folds(SOURCES, seed=0)
    assert sorted(a + b) == SOURCES and not set(a) & set(b) and len(a) == len(b) == 5
    assert (a, b) == two_folds(list(reversed(SOURCES)), seed=0)  # input order does not matter
    assert (a, b) != two_folds(SOURCES, seed=1)
    odd_a, odd_b = two_folds(SOURCES[:7], seed=0)
    assert (len(odd_a), len(odd_b)) == (3, 4)


def test_grid_and_its_parsing():
    spec = parse_grid(["alpha=0.5,0.7", " recency_weight = 0,0.1 "])
    assert spec == {"alpha": [0.5, 0.7], "recency_weight": [0.0, 0.1]}
    assert grid(spec) == [
        {"alpha": 0.5, "recency_weight": 0.0},
        {"alpha": 0.5, "recency_weight": 0.1},
        {"alpha": 0.7, "recency_weight": 0.0},
        {"alpha": 0.7, "recency_weight": 0.1},
    ]
    for bad, message in [
        (["alpha"], "NAME=V1,V2"),
        (["alpha=x"], "must be numbers"),
        (["a=1", "a=2"], "given twice"),
        ([], "at least one"),
    ]:
        with pytest.raises(InvalidSetting, match=message):
            parse_grid(bad)


def test_each_fold_is_tuned_on_itself_and_scored_on_the_other():
    a, b = two_folds(SOURCES, seed=0)
    # point 0 is best on fold A, point 1 on fold B; point 2 is middling everywhere
    scores = [
        {**dict.fromkeys(a, 0.9), **dict.fromkeys(b, 0.1)},
        {**dict.fromkeys(a, 0.2), **dict.fromkeys(b, 0.8)},
        dict.fromkeys(SOURCES, 0.5),
    ]
    cv = cross_validate(scores, SOURCES, seed=0)
    assert cv["A.choice"] == 0 and cv["B.choice"] == 1
    assert cv["A.train"] == pytest.approx(0.9) and cv["A.test"] == pytest.approx(0.1)
    assert cv["B.train"] == pytest.approx(0.8) and cv["B.test"] == pytest.approx(0.2)
    assert cv["cv"] == pytest.approx(0.15)  # held-out scores: worse than the middling point: overfit shows
    assert cv == cross_validate(scores, list(reversed(SOURCES)), seed=0)
    assert all(isinstance(v, float) for v in cv.values())
    ties = cross_validate([dict.fromkeys(SOURCES, 0.5)] * 3, SOURCES, seed=0)
    assert ties["A.choice"] == ties["B.choice"] == 0  # ties: the earlier point
    means = fold_means(scores, SOURCES, seed=0)
    assert means[0] == {"A": pytest.approx(0.9), "B": pytest.approx(0.1), "all": pytest.approx(0.5)}
    with pytest.raises(InvalidSetting, match="at least 2 sources"):
        cross_validate(scores, ["s0"], seed=0)


def test_tune_command_on_a_store(built, tmp_path: Path, capsys):  # noqa: F811
    built.close()
    judged = tmp_path / "j.csv"
    judged.write_text(GRADED, encoding="utf-8")
    out = tmp_path / "tune.json"
    args = [
        "--home",
        str(built.home),
        "-j",
        str(judged),
        "--grid",
        "recency_weight=0,0.25",
        "--metric",
        "ndcg@2",
    ]
    assert main([*args, "--report", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert [row["settings"] for row in report["grid"]] == [
        {},
        {"recency_weight": 0.0},
        {"recency_weight": 0.25},
    ]
    assert sorted(report["folds"]["A"] + report["folds"]["B"]) == ["cup-2", "flood-2", "vote-2"]
    cv = report["cv"]
    assert set(cv) == {
        "A.sources",
        "B.sources",
        "A.choice",
        "B.choice",
        "A.train",
        "A.test",
        "B.train",
        "B.test",
        "cv",
    }
    assert 0.0 <= cv["cv"] <= 1.0
    assert "cross-validated ndcg@2" in printed and "| recency_weight=0.25 |" in printed
    assert report["as_configured"]["all"] == pytest.approx(
        report["grid"][2]["all"]
    )  # default 0.25 = its point
    again = tmp_path / "again.json"
    assert main([*args, "--report", str(again)]) == 0
    assert json.loads(again.read_text()) == report  # seeded, reproducible
    assert main([*args[:4], "--grid", "no_such_setting=1"]) == 1
    assert "unknown setting 'no_such_setting'" in capsys.readouterr().err
