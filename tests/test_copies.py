"""Copies by text: a republished copy (lead and tail cut, headline edited) is caught, another
outlet's rewrite of the same event is not, although both are about the same thing and the rewrite
quotes the same statement. Texts written for this test.

Mutations checked to fail here: Jaccard instead of containment (the cut copy falls below the
threshold), shingles of single words (the rewrite shares most words and is caught)."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from recommender.index.copies import (
    COPY_CONTAINMENT,
    VERBATIM_CONTAINMENT,
    Overlaps,
    ShingleSets,
    containment,
    is_copy,
    measure,
    shingles,
)

from .conftest import rss_mb

ORIGINAL = (
    "নারায়ণগঞ্জে নির্বাচনী সহিংসতা নিয়ে স্বরাষ্ট্র উপদেষ্টার সতর্কবার্তা\n"
    "নারায়ণগঞ্জ জেলা প্রশাসনের সম্মেলনকক্ষে শনিবার দুপুরে আইনশৃঙ্খলা কমিটির বিশেষ সভা অনুষ্ঠিত হয়। "
    "সভায় প্রধান অতিথি ছিলেন স্বরাষ্ট্র উপদেষ্টা। তিনি বলেন, নির্বাচনের আগে কোনো ধরনের সহিংসতা সহ্য করা হবে না। "
    "জেলার প্রতিটি উপজেলায় অতিরিক্ত পুলিশ ও বিজিবি সদস্য মোতায়েন করা হবে বলে তিনি জানান। "
    "সভায় জেলা প্রশাসক, পুলিশ সুপার এবং বিভিন্ন রাজনৈতিক দলের স্থানীয় নেতারা উপস্থিত ছিলেন। "
    "উপদেষ্টা আরও বলেন, যাঁরা অস্ত্র নিয়ে মাঠে নামবেন তাঁদের বিরুদ্ধে কঠোর ব্যবস্থা নেওয়া হবে। "
    "গত সপ্তাহে সিদ্ধিরগঞ্জে দুই পক্ষের সংঘর্ষে অন্তত বারোজন আহত হন। "
    "স্থানীয় ব্যবসায়ীরা জানান, সংঘর্ষের পর থেকে বাজারে বেচাকেনা কমে গেছে। "
    "সভা শেষে উপদেষ্টা সাংবাদিকদের প্রশ্নের উত্তর দেন এবং দ্রুত তদন্ত শেষ করার নির্দেশ দেন।"
)

# Another portal republishes the middle of the same text under a shorter headline.
COPY = (
    "নারায়ণগঞ্জে সহিংসতা নিয়ে উপদেষ্টার সতর্কবার্তা\n"
    "সভায় প্রধান অতিথি ছিলেন স্বরাষ্ট্র উপদেষ্টা। তিনি বলেন, নির্বাচনের আগে কোনো ধরনের সহিংসতা সহ্য করা হবে না। "
    "জেলার প্রতিটি উপজেলায় অতিরিক্ত পুলিশ ও বিজিবি সদস্য মোতায়েন করা হবে বলে তিনি জানান। "
    "সভায় জেলা প্রশাসক, পুলিশ সুপার এবং বিভিন্ন রাজনৈতিক দলের স্থানীয় নেতারা উপস্থিত ছিলেন। "
    "উপদেষ্টা আরও বলেন, যাঁরা অস্ত্র নিয়ে মাঠে নামবেন তাঁদের বিরুদ্ধে কঠোর ব্যবস্থা নেওয়া হবে।"
)

# Another outlet's own report of the same meeting: same facts and the same quoted sentence.
REWRITE = (
    "সহিংসতা ঠেকাতে নারায়ণগঞ্জে বাড়তি পুলিশ-বিজিবি: স্বরাষ্ট্র উপদেষ্টা\n"
    "ভোটের আগে নারায়ণগঞ্জে বাড়তি পুলিশ ও বিজিবি সদস্য পাঠানো হচ্ছে। শনিবার জেলা প্রশাসকের কার্যালয়ে "
    "আইনশৃঙ্খলা বিষয়ক এক বৈঠকে এ কথা জানান স্বরাষ্ট্র উপদেষ্টা। "
    "তিনি বলেন, নির্বাচনের আগে কোনো ধরনের সহিংসতা সহ্য করা হবে না। "
    "সিদ্ধিরগঞ্জে সাম্প্রতিক সংঘর্ষের প্রসঙ্গ টেনে উপদেষ্টা বলেন, অস্ত্রধারীদের কোনো ছাড় দেওয়া হবে না। "
    "বৈঠকে পুলিশ সুপার ও জেলা প্রশাসকসহ স্থানীয় রাজনীতিকেরা অংশ নেন। "
    "পরে তিনি সাংবাদিকদের সঙ্গে কথা বলেন এবং সংঘর্ষের তদন্ত দ্রুত শেষ করতে বলেন।"
)


def test_verbatim_copy_is_caught() -> None:
    assert containment(ORIGINAL, COPY) >= 0.9
    assert is_copy(ORIGINAL, COPY)


def test_rewrite_by_another_outlet_is_kept() -> None:
    assert containment(ORIGINAL, REWRITE) < COPY_CONTAINMENT
    assert not is_copy(ORIGINAL, REWRITE)


def test_containment_is_symmetric_and_bounded() -> None:
    assert containment(ORIGINAL, COPY) == containment(COPY, ORIGINAL)
    assert containment(ORIGINAL, ORIGINAL) == 1.0
    assert containment("", ORIGINAL) == 0.0


def test_measured_overlaps_keep_proposed_pairs_only_and_read_both_ways(tmp_path) -> None:
    texts = [ORIGINAL, COPY, REWRITE]
    sets = {i: shingles(t) for i, t in enumerate(texts)}
    a, b, value = measure(sets, np.array([[0, 1], [2, 0], [1, 1], [1, 0]]), floor=0.5)
    assert (a.tolist(), b.tolist()) == ([0], [1])  # the rewrite falls below the floor
    assert value[0] == containment(ORIGINAL, COPY)
    overlaps = Overlaps.from_pairs(3, a, b, value)
    overlaps.save(tmp_path)
    loaded = Overlaps.load(tmp_path)
    assert loaded.of(0)[0].tolist() == [1] and loaded.of(1)[0].tolist() == [0]
    assert len(loaded.of(2)[0]) == 0
    # nobody proposed the pair: nothing measured
    assert len(measure(sets, np.array([[0, 2]]))[0]) == 0


def _bulletin(day: str, carat22: str, carat21: str, carat18: str, silver: str) -> str:
    """A daily gold-price bulletin: one template, the figures and the date change."""
    return (
        f"আজ {day} নভেম্বর স্বর্ণের দাম\n"
        f"বাংলাদেশ জুয়েলার্স সমিতি আজ {day} নভেম্বর থেকে স্বর্ণের নতুন দাম নির্ধারণ করেছে। "
        f"২২ ক্যারেটের প্রতি ভরি স্বর্ণের দাম {carat22} টাকা, ২১ ক্যারেটের দাম {carat21} টাকা এবং "
        f"১৮ ক্যারেটের দাম {carat18} টাকা। সনাতন পদ্ধতির প্রতি ভরি স্বর্ণের দাম আগের মতোই রাখা হয়েছে। "
        f"রুপার দাম প্রতি ভরি {silver} টাকা। সমিতির মূল্য নির্ধারণ কমিটির বৈঠকে এ সিদ্ধান্ত নেওয়া হয়।"
    )


def test_a_daily_series_item_on_another_day_is_not_a_copy() -> None:
    monday = _bulletin("১২", "১,৪৫,২৩০", "১,৩৮,৬৪০", "১,১৮,৮২০", "২,৪৪৯")
    thursday = _bulletin("১৫", "১,৪৭,১১০", "১,৪০,৪৩০", "১,২০,৩৬০", "২,৫১২")
    assert COPY_CONTAINMENT <= containment(monday, thursday) < VERBATIM_CONTAINMENT
    assert is_copy(monday, thursday, days_apart=0.5)
    assert not is_copy(monday, thursday, days_apart=3.0)


def test_the_same_text_days_later_is_a_copy_whatever_the_dates() -> None:
    """A page published again (a section page crawled on several days): not a series item."""
    assert containment(ORIGINAL, COPY) >= VERBATIM_CONTAINMENT
    assert is_copy(ORIGINAL, COPY, days_apart=0.5)
    assert is_copy(ORIGINAL, COPY, days_apart=8.7)


def test_shingle_sets_kept_in_blocks_read_back_by_row() -> None:
    """The build keeps every article's shingles in a few flat arrays: each row reads back its own
    set, rows never added read None, and measuring from them equals measuring from plain arrays."""
    texts = [ORIGINAL, COPY, REWRITE, "", ORIGINAL + " " + REWRITE]
    plain = {i: shingles(t) for i, t in enumerate(texts)}
    kept = ShingleSets(7)
    kept.add(np.array([4, 1]), [plain[4], plain[1]])
    kept.add(np.array([0, 3, 2]), [plain[0], plain[3], plain[2]])
    for row, hashes in plain.items():
        assert np.array_equal(kept.get(row), hashes), row
    assert kept.get(5) is None and kept.get(6) is None
    assert kept.holds(np.array([0, 5, 4])).tolist() == [True, False, True]
    every = np.array([[a, b] for a in range(5) for b in range(5)])
    for got, expected in zip(measure(kept, every, 0.0), measure(plain, every, 0.0), strict=True):
        assert np.array_equal(got, expected)


def test_pairs_measured_a_block_at_a_time_give_what_all_at_once_gives(monkeypatch) -> None:
    """The copy phase turns proposed pairs into Python ints a block at a time (all at once they
    took 3.7 GB for 24M pairs): every block is measured, in order."""
    import recommender.index.copies as copies_module

    rng = np.random.default_rng(8)
    sets = {i: np.unique(rng.integers(0, 60, int(rng.integers(0, 30))).astype(np.uint32)) for i in range(40)}
    proposals = rng.integers(0, 42, (500, 2))  # rows 40 and 41 have no set: skipped
    whole = measure(sets, proposals, 0.2)
    monkeypatch.setattr(copies_module, "PAIR_BLOCK", 7)
    for got, expected in zip(measure(sets, proposals, 0.2), whole, strict=True):
        assert np.array_equal(got, expected)
    assert len(whole[0]) > 20  # pairs to compare


def test_shingle_sets_wait_on_disk_and_leave_memory_once_released(tmp_path: Path) -> None:
    """The hashes go to an unlinked file in the given folder, not into the build's memory; reading
    maps the file and `release` unmaps it, so what a block read leaves this process again; and
    the file is gone with the sets (nothing is left in the folder at any time)."""
    trim = ctypes.CDLL("libc.so.6").malloc_trim  # what the allocator keeps free is not held: give it back
    trim(0)
    anon = rss_mb("RssAnon")  # before the sets exist: memory they free may not hide hashes kept
    rng = np.random.default_rng(3)
    sets = [np.sort(rng.choice(2**32 - 1, 4_000, replace=False)).astype(np.uint32) for _ in range(4_000)]
    kept = ShingleSets(5_000, tmp_path)
    for start in range(0, len(sets), 500):  # 64 MB of hashes, a chunk at a time as the build adds them
        kept.add(np.arange(start, start + 500), sets[start : start + 500])
        sets[start : start + 500] = [None] * 500  # type: ignore[list-item]  # the build keeps none
    trim(0)
    assert rss_mb("RssAnon") - anon < 16, "the hashes stayed in memory"
    assert list(tmp_path.iterdir()) == []  # unlinked: a killed build leaves nothing behind
    mapped = rss_mb("RssFile")
    total = sum(int(kept.get(row).sum(dtype=np.uint64)) for row in range(4_000))  # type: ignore[union-attr]
    assert total > 0 and rss_mb("RssFile") - mapped > 48  # read through the mapping
    kept.release()
    assert rss_mb("RssFile") - mapped < 8
    again = np.random.default_rng(3)
    first = np.sort(again.choice(2**32 - 1, 4_000, replace=False)).astype(np.uint32)
    assert np.array_equal(kept.get(0), first) and kept.get(4_999) is None
    kept.close()


def _overlapping_rows(count: int, seed: int, first: int = 0) -> list[dict]:
    """Articles told from a few stories' sentences, each taking five to nine of its story's twelve
    (in order, as a rewrite or a cut copy would), so that many pairs share between none and all of
    their shingles; half of each story is tagged as another language."""
    from .conftest import article

    rng = np.random.default_rng(seed)
    places = ["Khulna", "Sylhet", "Rajshahi", "Barisal", "Rangpur"]
    things = ["bridge", "market", "school", "port"]
    rows = []
    for i in range(first, first + count):
        story = i % 5
        pool = [
            f"In {places[story]} the {things[(story + k) % 4]} council met for the {k + 1}th time on "
            f"matter {story * 12 + k} and officials said {k * 7 + story} people were waiting."
            for k in range(12)
        ]
        chosen = np.sort(rng.choice(12, int(rng.integers(5, 10)), replace=False))
        body = " ".join(pool[k] for k in chosen)
        language = "en" if i % 10 < 5 else "bn"  # lexical lists stay within a tag, dense ones do not
        rows.append(article(f"a{i}", f"{places[story]} council, part {i}", body, language=language))
    return rows


def _proposed(rec, folder: Path, new_ids: list[str]) -> list[tuple[int, int]]:
    """The pairs a build's copy phase must measure, from its files: a new article's lexical
    neighbours and its first PROPOSE_NEIGHBOURS dense ones alike enough, an older article's new
    lexical neighbours."""
    from recommender.index import textdata
    from recommender.index.lexical import Lexical
    from recommender.index.neighbours import Neighbours

    index, catalog = rec.index(), rec.catalog()
    lexical_rows, lists = Lexical.load(folder).rows, Neighbours.load(folder).ids
    new = {catalog.row(i) for i in new_ids}
    bar = textdata._propose_bar(index)
    pairs = set()
    for x in range(len(index)):
        for y in lexical_rows[x][lexical_rows[x] >= 0].tolist():
            if x in new or y in new:
                pairs.add((min(x, y), max(x, y)))
        if x in new:
            for found in lists[x, : textdata.PROPOSE_NEIGHBOURS].tolist():
                y = int(index.rows(np.array([found]))[0])
                if found >= 0 and y >= 0 and float(index.vectors[x] @ index.vectors[y]) >= bar:
                    pairs.add((min(x, y), max(x, y)))
    return sorted(pairs)


def test_the_copy_phase_measures_blocks_of_articles_as_it_would_all_at_once(
    tmp_path: Path, monkeypatch
) -> None:
    """The copy phase proposes and measures pairs SOURCE_BLOCK articles at a time: with blocks of 7
    it stores the same overlaps as in one block, full build and incremental, and measures no pair
    twice (every build here reads its dense proposals from neighbour lists)."""
    from recommender import Recommender
    from recommender.embedding import HashingEmbedder
    from recommender.index import copies as copies_module
    from recommender.index import textdata

    from .conftest import write_jsonl

    measured: list[tuple[int, int]] = []
    real = copies_module.measure

    def spy(sets, proposals, floor=copies_module.OVERLAP_FLOOR):
        pairs = np.sort(np.asarray(proposals, np.int64), axis=1)
        measured.extend(map(tuple, np.unique(pairs[pairs[:, 0] != pairs[:, 1]], axis=0).tolist()))
        return real(sets, proposals, floor)

    monkeypatch.setattr(copies_module, "measure", spy)
    rows = _overlapping_rows(90, seed=1)
    more = _overlapping_rows(20, seed=2, first=90)
    more[0]["body"] = rows[3]["body"]  # a verbatim copy of an older article arrives
    more.append({**rows[80], "body": rows[80]["body"] + " Officials added that the work goes on."})  # edited
    stored: dict[int, list] = {}
    for block in (7, 10**9):
        monkeypatch.setattr(textdata, "SOURCE_BLOCK", block)
        rec = Recommender(tmp_path / f"home-{block}", embedder=HashingEmbedder(64))
        rec.ingest([write_jsonl(tmp_path / "a.jsonl", rows)])
        runs = []
        for step in ("full", "incremental"):
            measured.clear()
            report = rec.build()
            assert report.incremental == (step == "incremental")
            assert len(measured) == len(set(measured)) > 0, f"{step}: a pair measured twice"
            new_ids = [r["id"] for r in (rows if step == "full" else more)]  # read by this build
            assert sorted(measured) == _proposed(rec, report.index_path, new_ids), step
            runs.append((sorted(measured), Overlaps.load(report.index_path)))
            rec.ingest([write_jsonl(tmp_path / "b.jsonl", more)])
        stored[block] = runs
    for (pairs, small), (whole_pairs, whole) in zip(stored[7], stored[10**9], strict=True):
        assert pairs == whole_pairs
        for got, expected in zip(small.pairs(), whole.pairs(), strict=True):
            assert np.array_equal(got, expected)
    _, overlaps = stored[7][1]
    assert len(overlaps.pairs()[0]) > 100  # pairs that share shingles
    assert min(overlaps.pairs()[2]) >= copies_module.OVERLAP_FLOOR


_BENGALI = [
    "সরকার", "সরকারের", "নির্বাচনে", "নির্বাচন", "প্রধানমন্ত্রী", "ঢাকায়", "ঢাকা", "খেলায়", "বাংলাদেশের",
    "বাংলাদেশ", "পুতিন", "কাজাখস্তান", "সফরে",
]  # fmt: skip
_ENGLISH = [
    "the", "minister", "visit", "visited", "visits", "kazakhstan", "cricket", "match", "election", "dhaka",
    "storm", "floods",
]  # fmt: skip


def test_texts_tokenized_by_forked_helpers_are_counted_as_in_one_process(monkeypatch) -> None:
    """Chunks tokenized by forked helpers give the same shingle sets, term counts and vocabulary
    (the same ids, in the same order) as one process, growing the vocabulary or not."""
    import os

    from recommender.index import forked, textdata

    monkeypatch.setattr(textdata, "READ_CHUNK", 70)  # many chunks, several of them in flight at once
    rng = np.random.default_rng(3)
    words = _BENGALI + _ENGLISH + [f"w{i}" for i in range(400)]
    articles = {
        i: (" ".join(rng.choice(words, 6)), " ".join(rng.choice(words, int(rng.integers(0, 80)))))
        for i in range(1, 1001)
    }
    ids = np.arange(1, 1001)

    def read(fn):
        return fn(lambda wanted: {i: articles[i] for i in wanted})

    def tokenized(vocabulary: dict[str, int], grow: bool) -> list:
        chunks = textdata._tokenized(read, ids, np.arange(1000), ["title", "body"], vocabulary, True, grow)
        return [(rows, sets, vars(counts), raw) for rows, sets, counts, raw in chunks]

    alone_vocabulary: dict[str, int] = {}
    alone = tokenized(alone_vocabulary, grow=True)
    known = dict(list(alone_vocabulary.items())[::3])  # most words unknown: term id -1
    alone_known = tokenized(dict(known), grow=False)

    parent, tokens = os.getpid(), textdata.tokens

    def in_a_helper(text: str) -> list[str]:
        assert os.getpid() != parent, "a chunk was tokenized in the build's process"
        return tokens(text)

    monkeypatch.setattr(textdata, "tokens", in_a_helper)
    monkeypatch.setattr(forked, "processes_for", lambda items: 3)
    spread_vocabulary: dict[str, int] = {}
    for mine, theirs in [
        (alone, tokenized(spread_vocabulary, grow=True)),
        (alone_known, tokenized(dict(known), grow=False)),
    ]:
        assert len(mine) == len(theirs) == 15
        for (rows, sets, counts, raw), (rows2, sets2, counts2, raw2) in zip(mine, theirs, strict=True):
            assert np.array_equal(rows, rows2) and raw == raw2
            assert all(np.array_equal(a, b) for a, b in zip(sets, sets2, strict=True))
            assert counts.keys() == counts2.keys()
            assert all(np.array_equal(counts[k], counts2[k]) for k in counts)
    assert list(spread_vocabulary.items()) == list(alone_vocabulary.items())
    entries = [sum(len(c["terms"]) for _, _, c, _ in run) for run in (alone, alone_known)]
    assert 0 < entries[1] < entries[0]  # without growing, the unknown words are not counted
