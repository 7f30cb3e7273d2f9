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


@pytest.fixture
def seeded(home: Path, tmp_path: Path) -> Recommender:
    use_model(home, "hashing:256")
    rec = Recommender(home, embedder=HashingEmbedder(256))
    rec.ingest([write_jsonl(tmp_path / "seeds.jsonl", seeds())])
    rec.build()
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


def test_too_many_fresh_articles_search_every_list_again(
    seeded: Recommender, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(neighbours, "REFRESH_FLOOR", 3)
    monkeypatch.setattr(neighbours, "REFRESH_SHARE", 0.0)
    rows = seeds()
    extra = [
        dict(row, id=f"{row['id']}-again", url=f"https://example.test/{row['id']}-again") for row in rows[:6]
    ]
    seeded.ingest([write_jsonl(tmp_path / "more.jsonl", extra)])
    seeded.build()
    catalog = seeded.catalog()
    stored = catalog.neighbours
    assert stored is not None and len(stored.fresh) == 0
    for row in range(len(catalog)):
        assert stored.ids[row].tolist() == searched_list(catalog, row)


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
