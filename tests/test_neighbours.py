"""Neighbour lists stored at build time: a sidebar read from them equals one from a vector search,
on a full build and after incremental builds that add, rewrite and remove articles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recommender import Recommender
from recommender.embedding import HashingEmbedder
from recommender.index import neighbours
from recommender.ranking import candidates
from recommender.ranking.catalog import Catalog

from .conftest import SEEDS, use_model, write_jsonl

N = 5


def seeds() -> list[dict]:
    return [json.loads(line) for line in SEEDS.read_text(encoding="utf-8").splitlines() if line.strip()]


def sidebars(rec: Recommender, catalog: Catalog, lists: bool, n: int = N) -> dict[str, list[str]]:
    """Every article's sidebar, read from the stored lists or (lists=False) searched."""
    stored = catalog.neighbours
    catalog.neighbours = stored if lists else None
    try:
        return {
            catalog.external_id(row): [item.id for item in rec.related(catalog.external_id(row), n)]
            for row in range(len(catalog))
        }
    finally:
        catalog.neighbours = stored


def counting_searches(catalog: Catalog) -> list[int]:
    """Replace the catalog's vector search by one that counts its calls (k of each)."""
    calls: list[int] = []
    search = catalog.index.search

    def counted(vector: np.ndarray, k: int):
        calls.append(k)
        return search(vector, k)

    catalog.index.search = counted  # type: ignore[method-assign]
    return calls


def seeded_home(home: Path, tmp_path: Path, rows: list[dict] | None = None) -> Recommender:
    """A store of the seed articles (or `rows`), built with the hashing embedder."""
    use_model(home, "hashing:256")
    rec = Recommender(home, embedder=HashingEmbedder(256))
    rec.ingest([write_jsonl(tmp_path / "seeds.jsonl", seeds() if rows is None else rows)])
    rec.build()
    return rec


@pytest.fixture
def seeded(home: Path, tmp_path: Path) -> Recommender:
    rec = seeded_home(home, tmp_path)
    yield rec
    rec.close()


def searched_list(catalog: Catalog, row: int) -> list[int]:
    """The row's nearest article ids as the vector index finds them now, itself left out."""
    found, _ = catalog.index.search(catalog.vectors_of(np.array([row]))[0], neighbours.LIST + 1)
    return [i for i in found.tolist() if i != catalog.ids[row]][: neighbours.LIST]


def test_a_full_build_stores_each_articles_nearest_itself_left_out(seeded: Recommender) -> None:
    catalog = seeded.catalog()
    stored = catalog.neighbours
    assert stored is not None and stored.ids.shape == (len(catalog), neighbours.LIST)
    assert len(stored.fresh) == 0
    for row in range(len(catalog)):
        assert stored.ids[row].tolist() == searched_list(catalog, row)


def test_sidebars_from_the_lists_equal_searched_ones_and_need_no_search(seeded: Recommender) -> None:
    catalog = seeded.catalog()
    assert sidebars(seeded, catalog, lists=True) == sidebars(seeded, catalog, lists=False)
    calls = counting_searches(catalog)
    for row in range(len(catalog)):
        seeded.related(catalog.external_id(row), N)
    assert all(k > neighbours.LIST for k in calls)  # only a sidebar that widens past a list searches
    assert len(calls) < len(catalog) / 4
    seeded.related(catalog.external_id(0), 20)  # n 20 needs 90 nearest: more than a list holds
    assert calls[-1] == 20 * 4 + 11


def test_after_incremental_builds_new_articles_reach_older_sidebars(
    seeded: Recommender, tmp_path: Path
) -> None:
    rows = seeds()
    # new articles: follow-ups of older stories (their text plus a new paragraph), one rewrite, one removal
    follow_ups = [
        dict(row, id=f"{row['id']}-follow", url=f"https://example.test/{row['id']}-follow",
             body=row["body"] + " নতুন তথ্য: আজ আরও জানা গেছে। New details emerged today.")
        for row in rows[:40:4]
    ]  # fmt: skip
    rows[5] = dict(rows[5], title=rows[60]["title"], body=rows[60]["body"] + " Updated.")  # now another story
    seeded.ingest([write_jsonl(tmp_path / "more.jsonl", rows + follow_ups)])
    seeded.remove([rows[7]["id"]])
    seeded.build()
    catalog = seeded.catalog()
    stored = catalog.neighbours
    assert stored is not None
    fresh = {catalog.external_id(int(r)) for r in catalog.rows_of_ids(stored.fresh)}
    assert fresh == {f["id"] for f in follow_ups} | {rows[5]["id"]}
    rewritten = catalog.row(rows[5]["id"])  # its own list was searched again, with its new text
    assert stored.ids[rewritten].tolist() == searched_list(catalog, rewritten)
    searched = sidebars(seeded, catalog, lists=False)
    assert sidebars(seeded, catalog, lists=True) == searched
    # the follow-ups are in older articles' sidebars, though no older list was searched again
    shown = {item for row_id, items in searched.items() if row_id not in fresh for item in items}
    assert shown & {f["id"] for f in follow_ups}


def changes(rows: list[dict]) -> tuple[list[dict], list[str]]:
    """Changes since a build: follow-ups of older stories, one story rewritten as another, and
    articles to remove (one of them a follow-up's original)."""
    follow_ups = [
        dict(row, id=f"{row['id']}-follow", url=f"https://example.test/{row['id']}-follow",
             body=row["body"] + " নতুন তথ্য: আজ আরও জানা গেছে। New details emerged today.")
        for row in rows[:60:3]
    ]  # fmt: skip
    rewritten = dict(rows[5], title=rows[61]["title"], body=rows[61]["body"] + " Updated.")
    return [*follow_ups, rewritten], [rows[7]["id"], rows[9]["id"]]


def ranked(catalog: Catalog, row: int, rows: np.ndarray) -> list[tuple[float, str]]:
    """(-cosine to `row`, id) of the rows once each, best first (ties: by id)."""
    rows = np.array(list(dict.fromkeys(int(r) for r in rows if r >= 0 and r != row)), np.int64)
    sims = catalog.vectors_of(rows) @ catalog.vectors_of(np.array([row]))[0] if len(rows) else []
    return sorted((-round(float(s), 5), catalog.external_id(int(r))) for r, s in zip(rows, sims, strict=True))


def served_lists(catalog: Catalog) -> dict[str, list[tuple[float, str]]]:
    """Each article's nearest as a sidebar reads them: its stored list and the fresh articles
    beside it, best first, at most a list's width (ranking/candidates.py)."""
    width = catalog.neighbours.width
    out = {}
    for row in range(len(catalog)):
        found = candidates._listed(
            catalog, catalog.vectors_of(np.array([row]))[0], catalog.stored_neighbours(row, 1)
        )
        out[catalog.external_id(row)] = ranked(catalog, row, found[0])[:width]
    return out


def test_too_many_fresh_articles_are_folded_into_every_list_as_sidebars_read_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two stores given the same changes: one build carries the fresh ids (sidebars score them
    beside each list), the other, told to carry at most 3, folds them into every list. Each folded
    list is what a sidebar of the first read; the sidebars are the same; nothing fresh is left."""
    rows = seeds()
    added, removed = changes(rows)
    homes = []
    for name in ("carried", "folded"):
        rec = seeded_home(tmp_path / name, tmp_path)
        rec.ingest([write_jsonl(tmp_path / "more.jsonl", added)])
        rec.remove(removed)
        if name == "folded":
            monkeypatch.setattr(neighbours, "REFRESH_FLOOR", 3)
            monkeypatch.setattr(neighbours, "REFRESH_SHARE", 0.0)
        rec.build()
        homes.append(rec)
    carried, folded = (rec.catalog() for rec in homes)
    assert len(carried.neighbours.fresh) == len(added) and len(folded.neighbours.fresh) == 0
    assert folded.ids.tolist() == carried.ids.tolist()
    served = served_lists(carried)
    fresh = {carried.external_id(int(r)) for r in carried.rows_of_ids(carried.neighbours.fresh)}
    moved = 0
    for row in range(len(folded)):
        name = folded.external_id(row)
        if name in fresh:  # searched by both builds
            assert folded.neighbours.ids[row].tolist() == carried.neighbours.ids[row].tolist()
            continue
        listed = folded.stored_neighbours(row, 1)
        assert ranked(folded, row, listed) == served[name], name
        assert [s for s, _ in ranked(folded, row, listed)] == [
            -round(float(s), 5)
            for s in folded.vectors_of(listed[listed >= 0]) @ folded.vectors_of(np.array([row]))[0]
        ]  # stored best first
        moved += listed.tolist() != carried.stored_neighbours(row, 1).tolist()
    assert moved > len(folded) // 4  # the follow-ups moved into many older lists
    assert sidebars(homes[1], folded, lists=True) == sidebars(homes[0], carried, lists=True)
    assert sidebars(homes[1], folded, lists=True) == sidebars(homes[1], folded, lists=False)
    for rec in homes:
        rec.close()


def test_a_fold_searches_a_list_left_with_nothing_to_bound_it(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list whose every entry was rewritten or removed says nothing of the articles outside it:
    the fold searches it instead. Fresh ids carried from an earlier build are folded too, into
    every list but their own."""
    rows = seeds()[:12]
    rec = seeded_home(home, tmp_path, rows)
    for step, part in enumerate((rows[1:6], rows[6:])):  # half a store an update at most
        if step == 1:
            monkeypatch.setattr(neighbours, "REFRESH_FLOOR", 3)
            monkeypatch.setattr(neighbours, "REFRESH_SHARE", 0.0)
        rewritten = [dict(row, body=row["body"] + " Updated.") for row in part]
        rec.ingest([write_jsonl(tmp_path / "rewritten.jsonl", rewritten)])
        report = rec.build()
        assert report.added == len(part) and report.removed == len(part)  # an update, not a rebuild
        assert len(rec.catalog().neighbours.fresh) == (5 if step == 0 else 0)
    catalog = rec.catalog()
    stored = catalog.neighbours
    assert stored is not None and stored.width == 11
    first = catalog.row(rows[0]["id"])  # kept, its every entry rewritten since its list was searched
    assert stored.ids[first].tolist() == searched_list(catalog, first)
    assert all(catalog.ids[row] not in stored.ids[row] for row in range(len(catalog)))
    assert sidebars(rec, catalog, lists=True) == sidebars(rec, catalog, lists=False)
    rec.close()


def test_the_fold_counts_with_the_search(
    seeded: Recommender, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(neighbours, "REFRESH_FLOOR", 3)
    monkeypatch.setattr(neighbours, "REFRESH_SHARE", 0.0)
    monkeypatch.setattr(neighbours, "FOLD_CELLS", 100)  # a few rows a block
    seeded.ingest([write_jsonl(tmp_path / "more.jsonl", changes(seeds())[0])])
    seen: list[tuple[int, int]] = []
    seeded.build(progress=lambda done, total: seen.append((done, total)))
    lists = [step for step in seen if step[1] == len(seeded.catalog())]
    assert lists[0] == (0, len(seeded.catalog())) and lists[-1] == (len(seeded.catalog()),) * 2
    assert [done for done, _ in lists] == sorted(done for done, _ in lists) and len(lists) > 10


def test_the_fresh_ids_carried_grow_with_the_archive_up_to_a_cap() -> None:
    assert neighbours.refresh_limit(10_000) == neighbours.REFRESH_FLOOR == 2_000
    assert neighbours.refresh_limit(300_000) == 6_000  # 2%
    assert neighbours.refresh_limit(10_000_000) == neighbours.REFRESH_CAP == 10_000


def test_a_small_store_searches(home: Path, tmp_path: Path) -> None:
    use_model(home, "hashing:256")
    rec = Recommender(home, embedder=HashingEmbedder(256))
    rec.ingest([write_jsonl(tmp_path / "few.jsonl", seeds()[:12])])
    rec.build()
    catalog = rec.catalog()
    assert catalog.neighbours is not None and catalog.neighbours.width == 11
    assert catalog.stored_neighbours(0, 30) is None  # 5 x 4 + 10 nearest: more than there are
    assert sidebars(rec, catalog, lists=True) == sidebars(rec, catalog, lists=False)
    rec.close()


def test_lists_are_filled_in_the_build_folder_and_carried_a_block_at_a_time(
    seeded: Recommender, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lists file is written through a mapping while the lists are found (the build does not
    hold them), and an incremental build carries every unchanged article's list over, however its
    blocks fall (16 rows here)."""
    before = seeded.catalog()
    old = {before.external_id(row): before.neighbours.ids[row].tolist() for row in range(len(before))}
    monkeypatch.setattr(neighbours, "SEARCH_CHUNK", 1)
    filled: list[str] = []
    search = neighbours._search

    def watched(index, rows, lists, progress=None, searcher=neighbours.searched, checkpoints=None):
        assert isinstance(lists, np.memmap), "the lists are in memory"
        filled.append(str(Path(lists.filename).relative_to(index.path)))
        search(index, rows, lists, progress, searcher, checkpoints)

    monkeypatch.setattr(neighbours, "_search", watched)
    rows = seeds()
    extra = [dict(rows[3], id="late-3", url="https://example.test/late-3", body=rows[3]["body"] + " More.")]
    seeded.ingest([write_jsonl(tmp_path / "late.jsonl", rows + extra)])
    seeded.build()
    catalog = seeded.catalog()
    assert filled == [neighbours.FILES[0]]
    assert catalog.neighbours is not None and catalog.neighbours.fresh.tolist() == [
        catalog.ids[catalog.row("late-3")]
    ]
    carried = [
        catalog.external_id(row) for row in range(len(catalog)) if catalog.external_id(row) != "late-3"
    ]
    assert len(carried) == len(old) > 16
    for name in carried:
        assert catalog.neighbours.ids[catalog.row(name)].tolist() == old[name], name


def test_a_compressed_graph_stores_lists_searched_deeper_than_its_sidebars_search(
    seeded: Recommender, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compressed graph (hnswsq) stores lists too, searched at the depth and re-scoring tuned
    for the lists (deeper than a sidebar's search where that falls short), and its sidebars read
    them: no vector search."""
    from recommender.index import folder, kinds

    monkeypatch.setattr(kinds, "HNSWSQ_EF_LADDER", (12,))  # a serving search that falls short
    monkeypatch.setattr(kinds, "RECALL_TARGET", 1.01)  # out of reach: the lists go to the ladder's end
    searches: list[tuple[int, int, int | None]] = []
    search = folder.search

    def watched(index, queries, k, rescore=0, exact=None, efsearch=None):
        searches.append((k, rescore, efsearch))
        return search(index, queries, k, rescore, exact, efsearch)

    monkeypatch.setattr(folder, "search", watched)
    seeded.set_setting("index_type", "hnswsq")
    seeded.build(full=True)
    catalog = seeded.catalog()
    params = catalog.index.meta.params
    assert catalog.index.meta.kind == "hnswsq" and params["efSearch"] == 12
    deep = kinds.HNSWSQ_LISTS_LADDER[-1]
    assert params["lists_efSearch"] == deep and params["lists_rescore"] >= 12
    k = neighbours.LIST + 1
    assert (k, max(k, params["lists_rescore"]), deep) in searches  # the lists' search
    stored = catalog.neighbours
    assert stored is not None and stored.ids.shape == (len(catalog), neighbours.LIST)
    vectors = catalog.vectors_of(np.arange(len(catalog)))
    cosines = vectors @ vectors.T
    np.fill_diagonal(cosines, -np.inf)
    found = 0
    for row in range(len(catalog)):  # so deep over 120 articles: the exact nearest, itself left out
        nearest = np.sort(cosines[row])[::-1][: neighbours.LIST]  # (ties may come in either order)
        listed = cosines[row, catalog.rows_of_ids(stored.ids[row])]
        assert np.allclose(listed[:10], nearest[:10], atol=1e-6)  # what tuning measures: exact
        found += int(np.isin(listed, nearest).sum())  # past it, the codes choose what is re-scored
    assert found >= 0.97 * len(catalog) * neighbours.LIST
    calls = counting_searches(catalog)
    for row in range(len(catalog)):
        seeded.related(catalog.external_id(row), N)
    assert all(k > neighbours.LIST for k in calls) and len(calls) < len(catalog) / 4


def test_a_searcher_that_leaves_rows_unanswered_fails_the_lists(seeded: Recommender) -> None:
    """A searcher (index.neighbours.Searcher: this process or Ray) must answer every row once; one
    that drops a block fails the build's lists instead of leaving them empty."""
    index = seeded.index()

    def drops_the_last_block(index, rows, k):
        yield from neighbours.searched(index, rows[:-5], k)

    lists = np.full((len(index), min(neighbours.LIST, len(index) - 1)), -1, np.int64)
    with pytest.raises(RuntimeError, match=f"answered {len(index) - 5} rows for {len(index)}"):
        neighbours._search(index, np.arange(len(index)), lists, searcher=drops_the_last_block)
