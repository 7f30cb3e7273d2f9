"""Build-time lexical neighbours: same-story articles first, never oneself, never another language,
a round trip through memory-mapped files, texts outside the store scored on the same scale, and
incremental updates (texts written for this test); the neighbour lists against a brute force, exact
below EXACT_BELOW articles and bounded above it (synthetic corpora), and the pieces the bounded
search relies on. Mutations: the lexical entries of tests/mutations.py."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("scipy")

from recommender.index import forked, lexical
from recommender.index.lexical import Lexical, build, calibrated, term_ids, text_query, text_score, words
from recommender.index.scratch import Scratch

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


ARRAYS = ("idf", "postings_ptr", "postings_rows", "postings_w", "query", "self_score", "rows", "scores")


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
    return build(lexical.Counts.of(docs), list(vocabulary), languages, copies)


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
    new = lexical.Counts.of([doc])
    updated = lexical.update(data, meta, old_to_new, count, np.array([count - 1]), new, new_languages)
    rows, _ = updated.neighbours(count - 1)
    assert len(rows) and story[rows[0]] == "flood"
    assert count - 1 not in rows
    assert any(count - 1 in updated.neighbours(i)[0] for i in range(3))  # entered a flood list
    for i in range(len(texts)):
        assert all(new_languages[r] == new_languages[i] for r in updated.neighbours(i)[0])


def _zipf_corpus(n: int = 1500, vocabulary: int = 3000, seed: int = 7) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, vocabulary + 1)
    p = zipf / zipf.sum()
    docs = [rng.choice(vocabulary, int(rng.integers(5, 60)), p=p).astype(np.int32) for _ in range(n)]
    return docs, np.where(rng.random(n) < 0.3, "en", "bn")


def _brute_force(data: Lexical) -> np.ndarray:
    """Every (source, candidate) score, from the weights themselves: dense, no bound, no cap."""
    n, vocabulary = len(data), len(data.idf)
    weights = np.zeros((n, vocabulary))
    terms = np.repeat(np.arange(vocabulary), np.diff(data.postings_ptr))
    weights[data.postings_rows, terms] = data.postings_w
    marks = np.zeros((n, vocabulary))
    for row, query in enumerate(np.asarray(data.query)):
        marks[row, query[query >= 0]] = 1.0
    return marks @ weights.T / np.maximum(data.self_score, 1e-9)[:, None]


def _exact_lists(scores: np.ndarray, languages: np.ndarray) -> list[np.ndarray]:
    n = len(scores)
    lists = []
    for row in range(n):
        allowed = (languages == languages[row]) & (np.arange(n) != row) & (scores[row] > 0)
        candidates = np.flatnonzero(allowed)
        order = np.lexsort((candidates, -np.round(scores[row, candidates], 5)))
        lists.append(candidates[order][: lexical.NEIGHBOURS])
    return lists


def test_neighbours_on_a_larger_corpus_equal_a_brute_force_ranking() -> None:
    """Below EXACT_BELOW articles every query term proposes candidates, and each row's top entries
    are found through run maxima: the lists must be exactly the best NEIGHBOURS by score."""
    docs, languages = _zipf_corpus()
    data, _ = build(lexical.Counts.of(docs), [f"w{i}" for i in range(3000)], languages)
    assert len(docs) < lexical.EXACT_BELOW
    scores = _brute_force(data)
    for row, best in enumerate(_exact_lists(scores, languages)):
        got_rows, got_scores = data.neighbours(row)
        assert np.allclose(got_scores, scores[row, got_rows], atol=1e-5)
        assert np.allclose(np.sort(got_scores), np.sort(scores[row, best]), atol=1e-5), row


def _story_corpus(seed: int = 11) -> tuple[list[np.ndarray], np.ndarray, int]:
    """News-like: 150 stories of 10 articles; each article has 5-7 of its story's 8 own words
    (rare) among 20-60 words drawn Zipf-like from 1000 common ones. Returns (docs, languages, terms)."""
    rng = np.random.default_rng(seed)
    common, stories, size, own = 1000, 150, 10, 8
    zipf = 1.0 / np.arange(1, common + 1)
    p = zipf / zipf.sum()
    docs = []
    for story in range(stories):
        words = common + story * own + np.arange(own)
        for _ in range(size):
            mine = rng.choice(words, int(rng.integers(5, 8)), replace=False)
            docs.append(
                np.concatenate([mine, rng.choice(common, int(rng.integers(20, 61)), p=p)]).astype(np.int32)
            )
    languages = np.where(np.arange(len(docs)) // size % 4 == 0, "en", "bn")  # whole stories per language
    return docs, languages, common + stories * own


def test_bounded_neighbours_keep_the_exact_best_five(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above EXACT_BELOW only rare query terms propose candidates: on a corpus where that leaves
    out most query terms, the listed scores are still the full scores, and the exact top 5 of
    (nearly) every article is still listed. (On text without distinctive words, e.g. _zipf_corpus,
    the bound loses much more: it relies on related articles sharing rare words.)"""
    monkeypatch.setattr(lexical, "EXACT_BELOW", 0)
    monkeypatch.setattr(lexical, "RARE_DF", 40)
    docs, languages, terms = _story_corpus()
    data, _ = build(lexical.Counts.of(docs), [f"w{i}" for i in range(terms)], languages)
    df = np.diff(data.postings_ptr)
    query = np.asarray(data.query)
    assert np.mean(df[query[query >= 0]] > 40) > 0.5  # the cap bounds most query terms
    scores = _brute_force(data)
    top5, top32, changed = [], [], 0
    for row, best in enumerate(_exact_lists(scores, languages)):
        got_rows, got_scores = data.neighbours(row)
        assert row not in got_rows and all(languages[got_rows] == languages[row])
        assert np.allclose(got_scores, scores[row, got_rows], atol=1e-5)  # full scores, not the rare part
        assert np.all(np.diff(got_scores) <= 1e-6)
        if len(best):
            top5.append(np.isin(best[:5], got_rows).mean())
            top32.append(np.isin(best, got_rows).mean())
            changed += not np.array_equal(np.sort(got_rows), np.sort(best))
    print(
        f"recall of the exact top 5 {np.mean(top5):.4f}, top 32 {np.mean(top32):.4f}, lists changed {changed}"
    )
    assert changed > 0  # the bounded path ran: some lists are not the exact ones
    assert np.mean(top5) >= 0.99
    assert np.mean(top32) >= 0.6


def test_each_term_proposes_at_most_its_heaviest_postings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lexical, "EXACT_BELOW", 10)
    monkeypatch.setattr(lexical, "RARE_DF", 3)
    ptr = np.array([0, 2, 8, 12])  # terms of 2, 6 and 4 postings, rows ascending within a term
    weights = np.array([0.3, 0.4, 0.5, 0.9, 0.5, 0.1, 0.9, 0.5, 0.2, 0.2, 0.2, 0.2], np.float32)
    assert lexical.proposing(ptr, weights, 9).all()  # below EXACT_BELOW: every posting
    chosen = lexical.proposing(ptr, weights, 10)
    assert np.flatnonzero(chosen).tolist() == [0, 1, 2, 3, 6, 8, 9, 10]  # ties to the lower row


def test_top_entries_are_each_rows_k_largest_with_ties() -> None:
    """The run-maximum bound and the partition keep exactly the entries at or above their row's
    k-th largest value (ties all kept), on rows of every length, empty ones included."""
    rng = np.random.default_rng(3)
    k = 9
    counts = np.concatenate([[0, 1, k - 1, k, k + 1, 4 * k, 40 * k, 400 * k], rng.integers(0, 300, 60)])
    rng.shuffle(counts)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    data = rng.integers(1, 50, int(counts.sum())).astype(np.float32)  # many ties
    got = lexical._top_entries(indptr, data, k)
    want = []
    for row in range(len(counts)):
        values = data[indptr[row] : indptr[row + 1]]
        kth = np.sort(values)[-k] if len(values) >= k else -np.inf
        want += (indptr[row] + np.flatnonzero(values >= kth)).tolist()
    assert got.tolist() == want


def test_best_orders_by_score_then_lower_candidate() -> None:
    r = np.array([1, 0, 0, 0, 1, 0])
    c = np.array([5, 9, 2, 7, 3, 4])
    v = np.array([0.5, 0.5, 0.5, 0.9, 0.5, 0.1], np.float32)
    rows, cands, scores, rank = lexical._best(r, c, v, 3)
    assert rows.tolist() == [0, 0, 0, 1, 1]
    assert cands.tolist() == [7, 2, 9, 3, 5]
    assert rank.tolist() == [0, 1, 2, 0, 1]
    assert scores.tolist() == pytest.approx([0.9, 0.5, 0.5, 0.5, 0.5])


def test_counts_kept_a_chunk_at_a_time_equal_the_whole_corpus_counted_at_once() -> None:
    """The build counts each chunk of texts as soon as it is tokenized (no word arrays kept): the
    joined chunks are the same documents, terms ascending, unknown words in the length only."""
    docs, _ = _zipf_corpus(n=300)
    docs = [np.concatenate([d, np.full(i % 3, -1, np.int32)]) for i, d in enumerate(docs)]
    docs[7] = np.zeros(0, np.int32)  # an empty text
    whole = lexical.Counts.of(docs)
    joined = lexical.Counts.join([lexical.Counts.of(docs[i : i + 41]) for i in range(0, len(docs), 41)])
    for name in ("offsets", "terms", "counts", "lengths"):
        assert np.array_equal(getattr(whole, name), getattr(joined, name)), name
    for i in (0, 7, 8, 299):
        terms = whole.terms[whole.offsets[i] : whole.offsets[i + 1]]
        known, counts = np.unique(docs[i][docs[i] >= 0], return_counts=True)
        assert np.array_equal(terms, known)
        assert np.array_equal(whole.counts[whole.offsets[i] : whole.offsets[i + 1]], counts)
        assert whole.lengths[i] == len(docs[i])
    assert np.array_equal(whole.documents(5, 9), np.repeat(np.arange(4), np.diff(whole.offsets[5:10])))
    many = lexical.Counts.of([np.zeros(70_000, np.int32)])
    assert many.counts.tolist() == [lexical.COUNT_CAP] and many.lengths.tolist() == [70_000]


def test_weighing_and_ranking_a_block_of_documents_at_a_time_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Weights, query terms, self scores, postings, lists and anchors of a build whose blocks hold a
    few documents each equal those of one block holding them all."""
    docs, languages = _zipf_corpus(n=600)
    vocabulary = [f"w{i}" for i in range(3000)]
    copies = ((3, " ".join(f"w{t}" for t in docs[3][:20])),)
    whole, whole_meta = build(lexical.Counts.of(docs), vocabulary, languages, copies)
    monkeypatch.setattr(lexical, "DOCUMENT_BLOCK", 97)
    assert len(list(lexical.document_blocks(lexical.Counts.of(docs).offsets))) > 100
    blocks, blocks_meta = build(lexical.Counts.of(docs), vocabulary, languages, copies)
    assert blocks_meta == whole_meta
    for name in ARRAYS:
        assert np.array_equal(getattr(blocks, name), getattr(whole, name)), name
    counts = lexical.Counts.of(docs)
    weight = lexical.weights_of(counts, whole.idf, whole_meta.average_length)
    row = 11
    at = slice(counts.offsets[row], counts.offsets[row + 1])
    expected = lexical.bm25(
        counts.counts[at].astype(np.float64),
        len(docs[row]),
        whole.idf[counts.terms[at]],
        whole_meta.average_length,
    )
    assert np.allclose(weight[at], expected)


def test_postings_are_term_major_with_rows_ascending() -> None:
    docs, _ = _zipf_corpus(n=200)
    data, _ = build(lexical.Counts.of(docs), [f"w{i}" for i in range(3000)], np.array(["bn"] * 200))
    ptr, rows = np.asarray(data.postings_ptr), np.asarray(data.postings_rows)
    for term in (0, 1, 57, 2999):
        holding = [i for i, d in enumerate(docs) if term in d]
        assert rows[ptr[term] : ptr[term + 1]].tolist() == holding


def test_an_update_that_moves_rows_keeps_postings_term_major_with_rows_ascending() -> None:
    docs, languages = _zipf_corpus(n=300)
    data, meta = build(lexical.Counts.of(docs), [f"w{i}" for i in range(3000)], languages)
    old_to_new = np.random.default_rng(1).permutation(300)
    moved = np.empty(305, dtype=languages.dtype)
    moved[old_to_new] = languages
    moved[300:] = languages[:5]
    new = lexical.Counts.of(docs[:5])
    updated = lexical.update(data, meta, old_to_new, 305, np.arange(300, 305), new, moved)
    ptr, rows = np.asarray(updated.postings_ptr), np.asarray(updated.postings_rows)
    assert ptr[-1] == data.postings_ptr[-1] + len(new.terms)
    for term in np.flatnonzero(np.diff(ptr) > 1):
        assert np.all(np.diff(rows[ptr[term] : ptr[term + 1]]) > 0), term
    first = np.flatnonzero(np.diff(ptr))[0]
    holding = {int(old_to_new[i]) for i, d in enumerate(docs) if first in d}
    holding |= {300 + i for i in range(5) if first in docs[i]}
    assert set(rows[ptr[first] : ptr[first + 1]].tolist()) == holding


def test_an_update_enters_new_articles_into_older_lists_a_block_at_a_time_with_the_same_lists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every older article may share a term with every new one: the pairs are scored a block of
    older articles at a time (at most UPDATE_PAIRS), and the lists do not depend on the blocks."""
    docs, languages = _zipf_corpus(n=400)
    data, meta = build(lexical.Counts.of(docs[:300]), [f"w{i}" for i in range(3000)], languages[:300])
    new = lexical.Counts.of(docs[300:])
    args = (data, meta, np.arange(300), 400, np.arange(300, 400), new, languages)
    whole = lexical.update(*args)
    calls = []
    product = sp.csr_matrix.__matmul__

    def counted(self, other):  # type: ignore[no-untyped-def]
        calls.append((self.shape[0], other.shape[1]))
        return product(self, other)

    monkeypatch.setattr(lexical, "UPDATE_PAIRS", 700)  # 7 older articles a block
    monkeypatch.setattr(sp.csr_matrix, "__matmul__", counted)
    blocked = lexical.update(*args)
    into_older = [rows for rows, columns in calls if columns == 100]  # older articles x the new ones
    assert into_older == [7] * (300 // 7) + [300 % 7]
    assert np.array_equal(blocked.rows, whole.rows) and np.array_equal(blocked.scores, whole.scores)
    entered = np.isin(np.asarray(whole.rows[:300]), np.arange(300, 400)).any(axis=1)
    assert entered.sum() > 100  # the new articles entered many older lists


def test_kept_offsets_count_the_kept_entries_before_each_term_empty_terms_included() -> None:
    ptr = np.array([0, 0, 3, 3, 7, 8, 8])  # terms of 0, 3, 0, 4, 1 and 0 entries
    keep = np.array([1, 0, 1, 0, 0, 1, 1, 1], bool)
    assert lexical._kept_offsets(keep, ptr).tolist() == [0, 0, 2, 2, 4, 5, 5]
    assert lexical._kept_offsets(np.zeros(0, bool), np.zeros(3, np.int64)).tolist() == [0, 0, 0]


def test_postings_turned_row_major_a_block_at_a_time_equal_a_transposed_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The neighbour step's row-major copy of the postings that do not propose (`_rows_where`) is
    filled a block of entries at a time: the same matrix as transposing all of them at once,
    terms ascending in every row, empty rows and terms included, however the blocks fall."""
    rng = np.random.default_rng(5)
    n, terms = 60, 40
    per_term = [np.sort(rng.choice(n - 5, int(rng.integers(0, 12)), replace=False)) for _ in range(terms)]
    ptr = np.zeros(terms + 1, np.int64)
    np.cumsum([len(rows) for rows in per_term], out=ptr[1:])
    post_rows = np.concatenate(per_term).astype(np.int32)  # rows 55..59 hold nothing
    post_w = rng.random(len(post_rows)).astype(np.float32)
    keep = rng.random(len(post_rows)) < 0.7
    expected = lexical._postings_where(keep, ptr, post_rows, post_w, n).T.tocsr()
    expected.sort_indices()
    for block in (1, 7, 10**6):
        monkeypatch.setattr(lexical, "DOCUMENT_BLOCK", block)
        got = lexical._rows_where(keep, ptr, post_rows, post_w, n)
        assert got.shape == expected.shape
        assert np.array_equal(got.indptr, expected.indptr), block
        assert np.array_equal(got.indices, expected.indices), block
        assert np.array_equal(got.data, expected.data), block


def test_lists_made_by_forked_processes_equal_those_made_in_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """From forked.FROM_ITEMS sources the neighbour step's blocks run in forked helpers: every list
    and score is the one a single process makes, in both languages, bounded path included."""
    monkeypatch.setattr(lexical, "EXACT_BELOW", 0)
    monkeypatch.setattr(lexical, "RARE_DF", 40)
    monkeypatch.setattr(lexical, "BLOCK_SOURCES", 97)  # many blocks
    docs, languages, terms = _story_corpus()
    counts, vocabulary = lexical.Counts.of(docs), [f"w{i}" for i in range(terms)]
    assert forked.processes_for(len(docs)) == 1  # so few: made in this process
    alone, _ = build(counts, vocabulary, languages)

    parent, block_lists = os.getpid(), lexical._block_lists

    def in_a_child(*args):
        assert os.getpid() != parent, "a block was made in the parent"
        return block_lists(*args)

    monkeypatch.setattr(lexical, "_block_lists", in_a_child)
    monkeypatch.setattr(forked, "FROM_ITEMS", 1)
    monkeypatch.setattr(forked.os, "sched_getaffinity", lambda _: {0, 1, 2}, raising=False)
    assert forked.processes_for(len(docs)) == 3
    spread, _ = build(counts, vocabulary, languages)
    assert np.array_equal(np.asarray(spread.rows), np.asarray(alone.rows))
    assert np.array_equal(np.asarray(spread.scores), np.asarray(alone.scores))
    assert (np.asarray(alone.rows) >= 0).mean() > 0.5  # lists to compare, not empty ones


def _file_backed(array: np.ndarray) -> bool:
    """True when the array's memory is a mapping (a scratch file), not the process's own."""
    import mmap

    base = array
    while getattr(base, "base", None) is not None:
        base = base.base
    return isinstance(base.obj if isinstance(base, memoryview) else base, mmap.mmap)


def test_postings_placed_a_block_at_a_time_equal_the_sparse_transpose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`postings_of` places each block of documents' entries after the earlier blocks' ones: the
    same postings (rows ascending within a term) as transposing the whole matrix, in scratch files
    or in memory, however the blocks fall; the document frequencies counted by blocks too."""
    docs, _, terms = _story_corpus()
    counts = lexical.Counts.of(docs)
    weight = lexical.weights_of(
        counts, lexical.idf_of(np.bincount(counts.terms, minlength=terms), len(docs)), 40.0
    )
    expected = lexical.postings(lexical._by_document(counts, weight, terms))
    for block in (1, 97, 10**6):
        monkeypatch.setattr(lexical, "DOCUMENT_BLOCK", block)
        df = lexical.document_frequency(counts, terms)
        assert np.array_equal(df, np.bincount(counts.terms, minlength=terms)), block
        for where in (tmp_path, None):
            got = lexical.postings_of(counts, weight, df, Scratch(where))
            for a, b in zip(got, expected, strict=True):
                assert a.dtype == b.dtype and np.array_equal(a, b), (block, where)
            assert _file_backed(got[1]) == (where is not None)


def test_a_lexical_build_in_scratch_files_equals_one_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a folder, every array of the full build that grows with the entries (counts, weights,
    postings, query terms, the neighbour step's masks and copies, the lists) is a scratch file,
    unlinked from the start; the data equals a build in memory, exact and bounded, two languages,
    small blocks."""
    docs, languages, terms = _story_corpus()
    vocabulary = [f"w{i}" for i in range(terms)]
    made: list[tuple[str, np.ndarray]] = []
    real = Scratch.empty

    def watched(self, shape, dtype):
        array = real(self, shape, dtype)
        if self.folder is not None:
            made.append((str(np.dtype(dtype)), array))
        return array

    monkeypatch.setattr(Scratch, "empty", watched)
    monkeypatch.setattr(lexical, "DOCUMENT_BLOCK", 97)
    for exact_below in (10**6, 0):
        monkeypatch.setattr(lexical, "EXACT_BELOW", exact_below)
        monkeypatch.setattr(lexical, "RARE_DF", 40)
        built = {}
        for where in (tmp_path, None):
            writer = lexical.CountsWriter(Scratch(where))
            for start in range(0, len(docs), 250):
                writer.add(lexical.Counts.of(docs[start : start + 250]))
            counts = writer.counts()
            assert _file_backed(counts.terms) == (where is not None)
            built[where] = build(counts, vocabulary, languages, scratch=Scratch(where))
        (mapped, mapped_meta), (plain, plain_meta) = built[tmp_path], built[None]
        assert mapped_meta == plain_meta
        for name in ARRAYS:
            assert np.array_equal(getattr(mapped, name), getattr(plain, name)), (exact_below, name)
        for name in ("postings_rows", "postings_w", "query", "rows", "scores"):
            assert _file_backed(getattr(mapped, name)), name
        assert list(tmp_path.iterdir()) == []
    kinds = {dtype for dtype, _ in made}
    assert {"float32", "int32", "bool"} <= kinds  # weights and postings, query terms, the masks


def test_counts_written_a_chunk_at_a_time_equal_the_chunks_joined(tmp_path: Path) -> None:
    docs, _, _ = _story_corpus()
    chunks = [lexical.Counts.of(docs[start : start + 333]) for start in range(0, len(docs), 333)]
    joined = lexical.Counts.join(chunks)
    for where in (tmp_path, None):
        writer = lexical.CountsWriter(Scratch(where))
        for chunk in chunks:
            writer.add(chunk)
        got = writer.counts()
        for name in ("offsets", "terms", "counts", "lengths"):
            assert np.array_equal(getattr(got, name), getattr(joined, name)), (where, name)


def test_blocks_of_sources_are_cut_by_their_postings_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """The neighbour step's blocks of sources: consecutive, each touching at most BLOCK_WORK
    postings (or one source alone) and at most BLOCK_SOURCES sources, the work counted in chunks of
    sources, equal to the cut made from every source's work at once."""
    rng = np.random.default_rng(9)
    query = np.where(rng.random((500, 6)) < 0.2, -1, rng.integers(0, 40, (500, 6))).astype(np.int32)
    df = rng.integers(0, 30, 40)
    sources = rng.permutation(500)[:300]
    monkeypatch.setattr(lexical, "BLOCK_WORK", 200)
    monkeypatch.setattr(lexical, "BLOCK_SOURCES", 7)
    work = np.where(query >= 0, df[np.maximum(query, 0)], 0).sum(axis=1)[sources]
    got = list(lexical._blocks(query, sources, df))
    assert got[0].start == 0 and got[-1].stop == len(sources)
    assert all(a.stop == b.start for a, b in itertools.pairwise(got))
    for block in got:
        assert block.stop - block.start <= 7
        assert work[block].sum() <= 200 or block.stop - block.start == 1
        if block.stop < len(sources) and block.stop - block.start < 7:  # it stopped for the work
            assert work[block.start : block.stop + 1].sum() > 200
