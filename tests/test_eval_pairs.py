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
        rows.append(f'"{" ".join(base)}","{" ".join(other)}",{overlap + 1},en,{"de" if i % 5 == 0 else "en"}')
    path = tmp_path / "pairs.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_engine_column_is_the_relevance_given(rec, pairs_file: Path):
    judged = read_judgments(pairs_file, similar_at="low")
    calls: list[tuple[str, str, bool]] = []

    def relevance(a: str, b: str, same_language: bool, vectors: np.ndarray) -> float:
        calls.append((a, b, same_language))
        expected = rec._embedder.embed([a, b])
        assert vectors.shape == expected.shape and np.allclose(
            vectors, expected, atol=1e-5
        )  # no re-embedding
        return -len(set(a.split()) & set(b.split()))  # deliberately backwards: shared words lower it

    report = evaluate_pairs(judged, rec._embedder, relevance=relevance)
    assert len(calls) == len(judged.pairs) and calls[0][:2] == (judged.pairs[0].text1, judged.pairs[0].text2)
    assert [c[2] for c in calls] == [p.lang1 == p.lang2 for p in judged.pairs] and not all(
        c[2] for c in calls
    )
    engine, dense = report["correlations"]["engine"]["all"], report["correlations"]["dense"]["all"]
    assert engine["pearson"] < 0 < dense["pearson"]  # the engine column is the callable's, not the cosine
    assert "dense and lexical fused" in {s["name"]: s["description"] for s in report["systems"]}["engine"]
    only = evaluate_pairs(judged, rec._embedder, ("engine",), relevance=relevance)
    assert list(only["correlations"]) == ["engine"]
    with pytest.raises(InvalidSetting, match="not \\['bm25'\\]"):
        evaluate_pairs(judged, rec._embedder, ("engine", "bm25"))


def test_engine_relevance_is_found_on_a_built_store(rec, pairs_file: Path, tmp_path: Path):
    """The engine column calls ranking.drafts.text_relevance when this code has it, with the build's
    scales; without a build (or without the function) the column is the cosine and says so."""
    from recommender.evaluation.evaluate import engine_relevance

    from .conftest import article, write_jsonl

    assert engine_relevance(rec) is None  # nothing built yet
    rows = [
        article(f"a{i}", f"title {i}", f"river flood rescue boats village {i}", language="en")
        for i in range(6)
    ]
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", rows)])
    rec.build()
    relevance = engine_relevance(rec)
    try:
        import recommender.ranking.drafts  # noqa: F401
    except ImportError:
        assert relevance is None
        return
    assert relevance is not None
    vectors = rec._embedder.embed(["river flood", "river flood"])
    assert relevance("river flood", "river flood", True, vectors) == pytest.approx(1.0, abs=1e-3)


class Counting:
    """An embedder that counts the texts it embeds."""

    def __init__(self, inner) -> None:
        self.inner, self.texts, self.name = inner, 0, inner.name

    def embed(self, texts):
        self.texts += len(texts)
        return self.inner.embed(texts)


def _titled(i: int) -> str:
    return f"T{i},river flood rescue {i} boats,U{i},vote ballot {i % 3} river,{1 + i % 4}"


def _untitled(i: int) -> str:
    """SemEval's layouts: title and body joined by two spaces; one line of sentences; no spaces."""
    joined = f"Flood toll rises {i}  Rescuers found {i} more people near the river"
    sentences = f"Ballot count {i % 3} resumes. Officials said the river vote went on"
    unspaced = f"洪水{i}救援。" + "".join(f"河流{k}" for k in range(30))
    return f'"{joined}","{sentences if i % 2 else unspaced}",{1 + i % 4}'


@pytest.mark.parametrize(
    ("header", "row"), [("title1,text1,title2,text2,score", _titled), ("text1,text2,score", _untitled)]
)
def test_texts_the_store_holds_are_not_embedded_again(rec, tmp_path: Path, header: str, row):
    import subprocess
    import sys

    from recommender.evaluation.evaluate import stored_vectors
    from recommender.home import Home

    path = tmp_path / "pairs.csv"
    rows = [header, *(row(i) for i in range(8))]
    path.write_text("\n".join(rows) + "\n")
    judged = read_judgments(path, similar_at="low", language="en")
    root = Path(__file__).resolve().parent.parent
    made = subprocess.run(
        [sys.executable, str(root / "eval" / "pairs_store.py"), str(path), "--language", "en"],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(root), "PATH": ""},
    )
    (tmp_path / "texts.jsonl").write_text(made.stdout)
    texts = len({t for p in judged.pairs for t in (p.text1, p.text2)})
    assert f"{texts} texts" in made.stderr
    rec.ingest([tmp_path / "texts.jsonl"])
    rec.build()
    with Home(rec.home).reading() as store:
        known = stored_vectors(rec, store, judged)
    assert len(known) == texts  # every text, equal up to whitespace
    counting = Counting(rec._embedder)
    plain = evaluate_pairs(judged, counting, ("dense",))
    assert counting.texts == texts
    counting.texts = 0
    reused = evaluate_pairs(judged, counting, ("dense",), known=known)
    assert counting.texts == 0
    for group, values in plain["correlations"]["dense"].items():
        assert reused["correlations"]["dense"][group]["pearson"] == pytest.approx(values["pearson"], abs=1e-4)
