"""Build-time lexical neighbours: same-story articles first, never oneself, never another language,
and a round trip through memory-mapped files. Texts written for this test.

Mutations checked to fail here: not zeroing the diagonal (an article lists itself), not masking
languages, ordering ascending instead of descending."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("bm25s")

from recommender.index.lexical import LexicalNeighbours, build
from recommender.index.tokenize import tokens

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


def test_the_best_match_is_from_the_same_story() -> None:
    texts, story, languages = _corpus()
    neighbours = build([tokens(t, stem=True) for t in texts], languages, k=4)
    for i in range(9):
        rows, scores = neighbours.of(i)
        assert i not in rows
        assert story[rows[0]] == story[i], (i, rows)
        assert np.all(np.diff(scores) <= 1e-6)  # best first
        assert np.all((scores > 0) & (scores <= 1.0 + 1e-6))


def test_other_languages_are_never_neighbours() -> None:
    texts, _, languages = _corpus()
    neighbours = build([tokens(t, stem=True) for t in texts], languages, k=4)
    for i in range(len(texts)):
        rows, _ = neighbours.of(i)
        assert all(languages[r] == languages[i] for r in rows)


def test_round_trip_through_memory_mapped_files(tmp_path: Path) -> None:
    texts, _, languages = _corpus()
    built = build([tokens(t, stem=True) for t in texts], languages, k=3)
    built.save(tmp_path)
    loaded = LexicalNeighbours.load(tmp_path)
    assert isinstance(loaded.rows, np.memmap)
    for i in range(len(texts)):
        assert np.array_equal(loaded.of(i)[0], built.of(i)[0])
        assert np.allclose(loaded.of(i)[1], built.of(i)[1])
