"""Build-time lexical neighbours: same-story articles first, never oneself, never another language,
a round trip through memory-mapped files, texts
outside the store scored on the same scale, and incremental updates. Texts written for this test.

Mutations checked to fail here: not zeroing the diagonal (an article lists itself), not masking
languages, ordering ascending instead of descending."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("scipy")

from recommender.index import lexical
from recommender.index.lexical import Lexical, build, calibrated, term_ids, text_query, text_score, words

STORIES = {
    "flood": [
        "সুনামগঞ্জে বন্যায় পানিবন্দি লাখো মানুষ, ত্রাণ বিতরণ শুরু",
        "সুনামগঞ্জের হাওরে বন্যার পানি বাড়ছে, পানিবন্দি মানুষের দুর্ভোগ",
        "বন্যাদুর্গত সুনামগঞ্জে পানিবন্দি মানুষের কাছে ত্রাণ নিয়ে গেলেন উপদেষ্টা",
    ],
    "cricket": [
        "মিরপুরে শান্তর সেঞ্চুরিতে জিম্বাবুয়েকে হারাল বাংলাদেশ",
        "শান্তর ব্যাটে মিরপুর টেস্টে বাংলাদেশের জয়",
        "জিম্বাবুয়ের বিপক্ষে সিরিজ জয়ের পর শান্ত বললেন দলের কথা",
    ],
    "budget": [
        "নতুন বাজেটে আয়করের সীমা বাড়ানোর প্রস্তাব অর্থ উপদেষ্টার",
        "আয়করমুক্ত আয়ের সীমা বাড়ছে, বাজেট প্রস্তাবে যা আছে",
        "বাজেটে করছাড়ের সুবিধা কারা পাবেন",
    ],
}
ENGLISH = [
    "Floods in Sunamganj (সুনামগঞ্জে বন্যা) leave thousands পানিবন্দি as ত্রাণ relief begins",  # quotes Bengali
    "Shanto century seals Mirpur Test win over Zimbabwe",
]


def _corpus() -> tuple[list[str], list[str], np.ndarray]:
    texts, story = [], []
    for name, items in STORIES.items():
        texts += items
        story += [name] * len(items)
    texts += ENGLISH
    story += ["flood-en", "cricket-en"]
    languages = np.array(["bn"] * 9 + ["en"] * 2)
    return texts, story, languages


def _build(
    texts: list[str], languages: np.ndarray, copies: tuple = ()
) -> tuple[Lexical, lexical.LexicalMeta]:
    vocabulary: dict[str, int] = {}
    docs = [term_ids(words(t), vocabulary, grow=True) for t in texts]
    return build(docs, list(vocabulary), languages, copies)


def test_the_best_match_is_from_the_same_story() -> None:
    texts, story, languages = _corpus()
    neighbours, _ = _build(texts, languages)
    for i in range(9):
        rows, scores = neighbours.neighbours(i)
        assert i not in rows
        assert story[rows[0]] == story[i], (i, rows)
        assert np.all(np.diff(scores) <= 1e-6)  # best first
        assert np.all((scores > 0) & (scores <= 1.0 + 1e-6))


def test_other_languages_are_never_neighbours() -> None:
    texts, _, languages = _corpus()
    neighbours, _ = _build(texts, languages)
    for i in range(len(texts)):
        rows, _ = neighbours.neighbours(i)
        assert all(languages[r] == languages[i] for r in rows)


def test_round_trip_through_memory_mapped_files(tmp_path: Path) -> None:
    texts, _, languages = _corpus()
    built, _ = _build(texts, languages)
    built.save(tmp_path)
    assert Lexical.present(tmp_path)
    loaded = Lexical.load(tmp_path)
    for i in range(len(texts)):
        assert np.array_equal(loaded.neighbours(i)[0], built.neighbours(i)[0])
        assert np.allclose(loaded.neighbours(i)[1], built.neighbours(i)[1])
    assert loaded.term_ids() == built.term_ids()


def test_a_text_outside_the_store_scores_like_a_stored_one() -> None:
    texts, _, languages = _corpus()
    data, meta = _build(texts, languages)
    query = text_query(data, meta, texts[0])
    assert np.isclose(query.self_score, float(data.self_score[0]), rtol=1e-4)
    same_story = text_score(query, text_query(data, meta, texts[1]))
    other_story = text_score(query, text_query(data, meta, texts[3]))
    assert same_story > other_story >= 0.0
    assert text_score(query, query) == pytest.approx(1.0)


def test_the_calibrated_scale_runs_from_random_pairs_to_copies() -> None:
    texts, _, languages = _corpus()
    copy = texts[0] + " " + texts[0]
    _, meta = _build(texts, languages, ((0, copy),))
    assert meta.copy > meta.random_pair >= 0.0
    assert calibrated(meta.random_pair, meta) == 0.0
    assert calibrated(meta.copy, meta) == 1.0
    assert calibrated(10.0, meta) == 1.0  # clipped


def test_an_update_gives_a_new_article_its_neighbours_and_enters_older_lists() -> None:
    texts, story, languages = _corpus()
    data, meta = _build(texts, languages)
    added = "সুনামগঞ্জে বন্যার পানিবন্দি মানুষের জন্য আরও ত্রাণ পাঠাল সরকার"
    count = len(texts) + 1
    old_to_new = np.arange(len(texts))
    new_languages = np.append(languages, "bn")
    doc = term_ids(words(added), data.term_ids())
    updated = lexical.update(data, meta, old_to_new, count, np.array([count - 1]), [doc], new_languages)
    rows, _ = updated.neighbours(count - 1)
    assert len(rows) and story[rows[0]] == "flood"
    assert count - 1 not in rows
    assert any(count - 1 in updated.neighbours(i)[0] for i in range(3))  # entered a flood list
    for i in range(len(texts)):
        assert all(new_languages[r] == new_languages[i] for r in updated.neighbours(i)[0])


def test_neighbours_on_a_larger_corpus_equal_a_brute_force_ranking() -> None:
    """Above 2 x CHUNKS articles the build bounds each row's top k by run maxima before sorting:
    the lists must still be exactly the best NEIGHBOURS by score (ties to the lower row)."""
    rng = np.random.default_rng(7)
    n, vocabulary = 1500, 3000
    zipf = 1.0 / np.arange(1, vocabulary + 1)
    p = zipf / zipf.sum()
    docs = [rng.choice(vocabulary, int(rng.integers(5, 60)), p=p).astype(np.int32) for _ in range(n)]
    languages = np.where(rng.random(n) < 0.3, "en", "bn")
    data, _ = build(docs, [f"w{i}" for i in range(vocabulary)], languages)
    assert n > 2 * lexical.CHUNKS
    weights = np.zeros((n, vocabulary))
    terms = np.repeat(np.arange(vocabulary), np.diff(data.postings_ptr))
    weights[data.postings_rows, terms] = data.postings_w
    marks = np.zeros((n, vocabulary))
    for row, query in enumerate(np.asarray(data.query)):
        marks[row, query[query >= 0]] = 1.0
    scores = marks @ weights.T / np.maximum(data.self_score, 1e-9)[:, None]
    for row in range(n):
        allowed = (languages == languages[row]) & (np.arange(n) != row) & (scores[row] > 0)
        candidates = np.flatnonzero(allowed)
        order = np.lexsort((candidates, -np.round(scores[row, candidates], 5)))
        best = candidates[order][: lexical.NEIGHBOURS]
        got_rows, got_scores = data.neighbours(row)
        assert np.allclose(got_scores, scores[row, got_rows], atol=1e-5)
        assert np.allclose(np.sort(got_scores), np.sort(scores[row, best]), atol=1e-5), row
