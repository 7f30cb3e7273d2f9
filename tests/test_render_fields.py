"""Render fields end to end: ingested under their usual names, checked, stored, written into the
build's snapshot, and carried by every sidebar item (library, API); snippets cut at a boundary."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pytest

from recommender import Recommender
from recommender.embedding import HashingEmbedder
from recommender.index.snippet import ELLIPSIS, boundary, cut, snippet

from .conftest import article, read_store, use_model, write_jsonl

BODY = "Floods in the north. Rivers rose overnight and thousands of families left their homes for shelters."


# unrelated stories, so that "as alike as two random articles" means something in small stores
FILLER = [
    article(f"filler-{i}", title, text)
    for i, (title, text) in enumerate(
        [
            ("Stock market", "Share prices rose on the stock market today. Banks led the gains."),
            ("New bridge", "Engineers finished a steel bridge over the canal. Traffic starts in May."),
            ("Film award", "An actress won the jury prize for her debut film. Critics praised it."),
            ("Rice harvest", "Farmers expect a large rice harvest after good rains this season."),
            ("Phone launch", "A company launched a cheaper smartphone with a bigger battery."),
        ]
    )
]


def body(i: int) -> str:
    """A body of the flood story with words of its own (identical bodies would be copies)."""
    return BODY + " " + " ".join(f"detail{i}w{k}" for k in range(15))


def stored(home: Path, external_id: str) -> tuple:
    with read_store(home) as store:
        return store.con.execute(
            "SELECT image, summary, authors, tags FROM articles WHERE external_id = ?", [external_id]
        ).fetchone()


def test_render_fields_stored_under_their_aliases_and_checked(rec: Recommender, tmp_path: Path) -> None:
    rows = [
        article(
            "a",
            "Flood one",
            BODY,
            image_url="https://cdn.test/a.jpg",
            description="The lead of a.",
            author="Staff Correspondent, Dhaka",
            keywords=["flood", "rivers", "flood"],
        ),
        article(
            "b",
            "Flood two",
            BODY,
            thumbnail="/img/b.jpg",
            excerpt="  The   lead\nof b. ",
            authors=["Rina Das", {"name": "Karim Uddin"}],
            tags="flood, north",
        ),
        article("c", "Flood three", BODY, image="javascript:alert(1)", url="ftp://files.test/c"),
        article("d", "Flood four", BODY, **{"og:image": {"url": "https://cdn.test/d.png"}, "lead": "Lead d"}),
    ]
    # one file each: a file's fields are matched once, by the first alias the file has
    report = rec.ingest([write_jsonl(tmp_path / f"{r['id']}.jsonl", [r]) for r in rows])
    assert report.added == 4 and not report.rejected
    assert stored(rec.home, "a") == (
        "https://cdn.test/a.jpg",
        "The lead of a.",
        ["Staff Correspondent, Dhaka"],
        ["flood", "rivers"],
    )
    assert stored(rec.home, "b") == (
        "https://example.test/img/b.jpg",
        "The lead of b.",
        ["Rina Das", "Karim Uddin"],
        ["flood", "north"],
    )  # a relative image url is resolved against the article's own url
    assert stored(rec.home, "c") == (None, None, None, None)  # stored all the same, without them
    assert stored(rec.home, "d") == ("https://cdn.test/d.png", "Lead d", None, None)
    dropped = {(w.id, w.field): w.reason for w in report.warnings}
    assert (
        "not an http(s) url" in dropped[("c", "image")] and "javascript:alert(1)" in dropped[("c", "image")]
    )
    assert "not an http(s) url" in dropped[("c", "url")]
    with read_store(rec.home) as store:
        assert store.article("c").url is None


def test_nested_render_fields_through_field_map(rec: Recommender, tmp_path: Path) -> None:
    row = article(
        "n",
        "Nested",
        BODY,
        media={"cover": {"src": "https://cdn.test/n.webp"}},
        meta={"byline": "A. Writer", "topics": ["politics"]},
    )
    source = write_jsonl(tmp_path / "n.jsonl", [row])
    rec.ingest([source], fields=["image=media.cover.src", "authors=meta.byline", "tags=meta.topics"])
    assert stored(rec.home, "n") == ("https://cdn.test/n.webp", None, ["A. Writer"], ["politics"])


def test_related_items_carry_snippet_image_authors_tags(rec: Recommender, tmp_path: Path) -> None:
    rows = [
        article(
            f"s{i}",
            f"Flood story {i}",
            body(i),
            image=f"https://cdn.test/{i}.jpg",
            authors=[f"Writer {i}"],
            tags=["flood"],
            published_at=f"2025-11-{10 + i}T10:00:00Z",
        )
        for i in range(4)
    ]
    rows[1]["summary"] = "A summary written by the desk."
    rec.ingest([write_jsonl(tmp_path / "s.jsonl", rows + FILLER)])
    rec.set_setting("snippet_chars", "60")
    rec.build()
    items = {r.id: r for r in rec.related("s0", n=3)}
    assert set(items) == {"s1", "s2", "s3"}
    assert items["s1"].snippet == "A summary written by the desk."
    assert items["s2"].snippet == "Floods in the north. Rivers rose overnight and thousands of" + ELLIPSIS
    assert (items["s2"].image, items["s2"].authors, items["s2"].tags) == (
        "https://cdn.test/2.jpg",
        ("Writer 2",),
        ("flood",),
    )
    data = items["s3"].to_dict()
    assert data["authors"] == ("Writer 3",) and data["snippet"].endswith(ELLIPSIS)


def test_a_build_makes_snippets_a_batch_of_rows_at_a_time(
    rec: Recommender, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot's snippets are made SNAPSHOT_BATCH rows at a time, as the store's rows are read
    (an archive's leads are never turned into Python strings all at once): the same rows in batches
    of 3 as in one, an empty store's snapshot included, and the build's catalog files hold them in
    id order though the store gives them out of order."""
    import pyarrow as pa

    from recommender.index.snapshot import Strings, load_numeric
    from recommender.store import database

    rows = [
        article(f"s{i}", f"Flood story {i}", body(i), published_at=f"2025-11-{10 + i}T10:00:00Z")
        for i in range(8)
    ]
    rows[1]["summary"] = "A summary written by the desk."
    rec.ingest([write_jsonl(tmp_path / "s.jsonl", rows + FILLER)])
    rec.set_setting("snippet_chars", "60")
    rec.build()
    rows[2]["body"] += " Rescue boats reached the last villages."  # embedded again: stored last
    rec.ingest([write_jsonl(tmp_path / "s.jsonl", rows + FILLER)])
    folder = rec.build().index_path
    fingerprint = rec.index().meta.model_fingerprint
    with read_store(rec.home) as store:
        whole = pa.Table.from_batches(list(store.snapshot_rows(fingerprint)))
        monkeypatch.setattr(database, "SNAPSHOT_BATCH", 3)
        batches = list(store.snapshot_rows(fingerprint))
        nothing = store.snapshot_rows("no such model")
        assert nothing.read_all().num_rows == 0 and nothing.schema.equals(whole.schema)
    assert len(whole) == len(rows + FILLER) > 3
    assert max(len(b) for b in batches) == 3 and sum(len(b) for b in batches) == len(whole)
    assert pa.Table.from_batches(batches).equals(whole)
    stored_order = whole.column("id").to_pylist()
    assert stored_order != sorted(stored_order)  # what the catalog files must put right
    by_id = whole.sort_by("id")
    strings = Strings(folder)
    assert np.array_equal(load_numeric(folder, "ids.npy"), by_id.column("id").to_numpy())
    for name in ("external_id", "snippet"):
        assert strings.column(name) == by_id.column(name).to_pylist()
    desk = strings.column("external_id").index("s1")
    assert strings.get("snippet", desk) == "A summary written by the desk."


def test_a_store_without_render_fields_serves_empty_ones(rec: Recommender, tmp_path: Path) -> None:
    rec.ingest(
        [
            write_jsonl(
                tmp_path / "p.jsonl", [article(f"p{i}", f"Plain {i}", body(i)) for i in range(3)] + FILLER
            )
        ]
    )
    rec.build()
    item = rec.related("p0", n=1)[0]
    assert (item.image, item.authors, item.tags) == (None, (), ())
    assert item.snippet and item.snippet.startswith("Floods in the north.")


# --- snippets ------------------------------------------------------------------------------------
BENGALI = "রাষ্ট্রপতি পুতিন কাজাখস্তানে পৌঁছেছেন। দুই দেশের মধ্যে গ্যাস পাইপলাইন ও জ্বালানি চুক্তি স্বাক্ষরিত হয়েছে"


def clusters_intact(text: str, original: str) -> bool:
    """The cut keeps whole grapheme clusters: the next character of the original starts a cluster."""
    head = text.removesuffix(ELLIPSIS)
    assert original.startswith(head)
    return boundary(original, len(head))


def test_snippet_cut_at_sentence_then_word() -> None:
    assert snippet(None, "Short body.", 50) == "Short body."
    assert snippet("  Desk   summary ", "Body", 50) == "Desk summary"
    assert snippet(None, "One sentence here. Then a second one that runs long", 30) == "One sentence here."
    assert cut("words and more words", 12) == "words and" + ELLIPSIS
    assert cut(BENGALI, 45) == "রাষ্ট্রপতি পুতিন কাজাখস্তানে পৌঁছেছেন।"  # ends at the danda
    assert snippet(None, None, 50) is None


@pytest.mark.parametrize("limit", range(2, 30))
def test_snippet_never_splits_a_bengali_grapheme_cluster(limit: int) -> None:
    word = "স্বাক্ষরিত" + "ক্ষ্ম্য" * 8 + "রাষ্ট্রপতি"  # one long word: conjuncts, vowel signs, no spaces
    out = cut(word, limit)
    assert len(out) <= limit and clusters_intact(out, word)
    assert unicodedata.combining(out.removesuffix(ELLIPSIS)[-1:] or "a") != 9  # no dangling virama


def test_snippet_boundaries_agree_with_unicode_grapheme_clusters() -> None:
    regex = pytest.importorskip("regex")  # the reference implementation of UAX #29 (with the embed extra)
    text = BENGALI.replace(" ", "") + "ক্ষ্ম‍্য"
    ends = set()
    at = 0
    for cluster in regex.findall(r"\X", text):
        at += len(cluster)
        ends.add(at)
    assert {i for i in range(1, len(text) + 1) if boundary(text, i)} == ends


def test_old_builds_read_without_render_columns(tmp_path: Path) -> None:
    """A build folder written before the render columns serves them as empty, not as an error."""
    import pyarrow as pa

    from recommender.index.snapshot import STRINGS_FILE, Strings

    table = pa.table({"external_id": ["x"], "url": [None], "title": ["t"]})
    with pa.OSFile(str(tmp_path / STRINGS_FILE), "wb") as sink, pa.ipc.new_file(sink, table.schema) as out:
        out.write_table(table)
    strings = Strings(tmp_path)
    assert strings.get("snippet", 0) is None and strings.names("tags", 0) == ()


def test_render_fields_changed_alone_reach_the_next_build(home: Path, tmp_path: Path) -> None:
    use_model(home, "hashing:64")
    rec = Recommender(home, embedder=HashingEmbedder(64))
    rows = [article(f"r{i}", f"Rain {i}", body(i)) for i in range(3)] + FILLER
    rec.ingest([write_jsonl(tmp_path / "r.jsonl", rows)])
    rec.build()
    rows[1]["image"] = "https://cdn.test/r1.jpg"
    assert rec.ingest([write_jsonl(tmp_path / "r2.jsonl", rows)]).updated == 1
    report = rec.build()
    assert report.embedded == 0  # no text changed: nothing embedded again
    assert {r.id: r.image for r in rec.related("r0", n=2)}["r1"] == "https://cdn.test/r1.jpg"


def test_api_items_carry_the_render_fields(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from recommender.serve import create_app

    from .serve_support import build_store, corpus

    rows = corpus()
    for row in rows:
        if row["id"].startswith("intl-"):
            row |= {
                "image": f"https://img.example/{row['id']}.jpg",
                "authors": "নিজস্ব প্রতিবেদক",
                "tags": ["রাশিয়া", "কাজাখস্তান"],
            }
    rows[0]["summary"] = "<b>সারসংক্ষেপ</b>"  # text, never markup: the widget escapes it
    home = build_store(tmp_path / "store", rows)
    with TestClient(create_app(home)) as client:
        items = {it["id"]: it for it in client.get("/v1/related/intl-2?n=6").json()["items"]}
    assert items["intl-1"]["snippet"] == "<b>সারসংক্ষেপ</b>"
    assert items["intl-3"]["image"] == "https://img.example/intl-3.jpg"
    assert items["intl-3"]["authors"] == ["নিজস্ব প্রতিবেদক"] and items["intl-3"]["tags"] == ["রাশিয়া", "কাজাখস্তান"]
    assert items["intl-3"]["snippet"].startswith("কাজাখস্তানের সঙ্গে জ্বালানি")
