"""Ranking contract tests on stores whose right answers are known by construction.

The hashing embedder makes texts that share words close, so each test writes articles whose
similarity order is obvious, and checks one rule of the sidebar.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from recommender.errors import ArticleNotFound, InvalidSetting

from .conftest import article, write_jsonl

NOW = datetime(2025, 11, 30, 12, tzinfo=UTC)
PUTIN = (
    "Putin arrived in Astana for a state visit. He held talks with Tokayev on energy and trade. "
    "A gas pipeline agreement is expected at the summit. Officials said the visit lasts two days. "
)
CRICKET = (
    "Bangladesh begin the cricket series at Mirpur. The captain expects a batting pitch. "
    "The bowling attack has two new pacers. Tickets for the first match sold out. "
)


# the story's words in another order (a report in another language naming the same things: no
# run of four words in common, so not a copy by text)
BN_WORDS = (
    "Astana Putin visit state arrived talks Tokayev held energy trade, pipeline gas summit agreement "
    "expected officials visit days two said lasts. "
)


def day(n: int) -> str:
    return (NOW - timedelta(days=n)).isoformat()


# Unrelated stories, so that "as alike as two random articles" means something in small stores.
FILLER = [
    article(f"filler-{i}", title, body, published_at=day(i))
    for i, (title, body) in enumerate(
        [
            ("Stock market", "Share prices rose on the stock market today. Banks led the gains."),
            ("New bridge", "Engineers finished a steel bridge over the canal. Traffic starts in May."),
            ("Film award", "An actress won the jury prize for her debut film. Critics praised it."),
            ("Rice harvest", "Farmers expect a large rice harvest after good rains this season."),
            ("Phone launch", "A company launched a cheaper smartphone with a bigger battery."),
            ("School exams", "Final school exams begin next week for two million pupils."),
        ]
    )
]


def corpus() -> list[dict]:
    intl = {"section": "international"}
    return [
        article("src", "Putin arrives in Astana", PUTIN + "Crowds lined the road from the airport.",
                published_at=day(3), **intl),
        article("follow", "Putin and Tokayev sign deals in Astana", "Putin and Tokayev signed twelve "
                "agreements on energy and trade. The gas pipeline agreement was the largest. Putin said the "
                "visit to Astana was a success.", published_at=day(2), **intl),
        article("old", "Putin to visit Astana", "Putin will visit Astana for a state visit. He will hold "
                "talks with Tokayev on energy and trade. A new airport terminal opened.",
                published_at=day(60), **intl),
        # republished: the lead sentence cut and a credit line added, in another section
        article("copy", "Putin arrives in Astana today", PUTIN.split(". ", 1)[1] + "Crowds lined the road "
                "from the airport. Reporting by agencies.", section="world", published_at=day(3)),
        article("other-sec", "Gas traders watch Astana talks", "Gas traders watched the energy and trade "
                "talks between Putin and Tokayev in Astana.", section="economy", published_at=day(2)),
        article("future", "Putin leaves Astana", "Putin left Astana after talks with Tokayev on energy "
                "and trade. The gas pipeline agreement was signed.", published_at=day(-2), **intl),
        article("cricket1", "Series starts", CRICKET, section="sports", published_at=day(1)),
        article("cricket2", "Second match", "Bangladesh won the second match of the cricket series at "
                "Mirpur. The captain praised the bowling attack.", section="sports", published_at=day(0)),
        article("bn", "পুতিন আস্তানায়", "পুতিন কাজাখস্তান সফরে। " + BN_WORDS, language="bn", published_at=day(2),
                **intl),
        article("intl-recent", "Floods in Europe", "Heavy rain flooded rivers across central Europe. "
                "Damage is still being counted.", published_at=day(1), **intl),
    ]  # fmt: skip


@pytest.fixture
def built(rec, tmp_path: Path):
    rows = corpus()
    for r in rows:
        r.setdefault("language", "en")
    rec.ingest([write_jsonl(tmp_path / "c.jsonl", rows)])
    rec.build()
    return rec


def ids(items) -> list[str]:
    return [i.id for i in items]


def test_never_self_never_future_never_copies(built) -> None:
    got = ids(built.related("src", n=8, as_of=NOW))
    assert "src" not in got
    assert "future" not in got  # published after as_of
    assert "copy" not in got  # a republished copy of the source
    assert got[0] == "follow"


def test_future_article_is_shown_once_as_of_allows_it(built) -> None:
    assert "future" in ids(built.related("src", n=8, as_of=NOW + timedelta(days=5)))


def test_recency_prefers_newer_of_equally_close_stories(built) -> None:
    got = ids(built.related("src", n=8, as_of=NOW))
    assert got.index("follow") < got.index("old")


def test_recency_decides_between_equally_close_stories(rec, tmp_path: Path) -> None:
    """Two copies of one report, a day apart: only one is shown, and recency picks the newer
    (the older was stored first, so without recency the tie goes to it)."""
    body = "The river rose above the danger mark at six points. Boats reached the flooded villages."
    rows = [
        article(
            "src",
            "Floods in the north",
            "Rescue boats reached flooded villages near the river. Schools closed as water rose.",
            published_at=day(0),
        ),
        article("older", "River above danger mark", body, published_at=day(3)),
        article("newer", "River above danger mark", body, published_at=day(2)),
        *FILLER,
    ]
    rec.ingest([write_jsonl(tmp_path / "r.jsonl", rows)])
    rec.build()
    shown = [r for r in rec.related("src", n=3, as_of=NOW) if r.id in ("older", "newer")]
    assert [r.id for r in shown] == ["newer"]  # one copy only, the fresher one
    assert shown[0].recency == pytest.approx(0.5 ** (2 / 3.0))
    rec.set_setting("recency_weight", "0")  # without recency the tie goes to the first stored
    assert [r.id for r in rec.related("src", n=3, as_of=NOW) if r.id in ("older", "newer")] == ["older"]


def test_section_boost_and_its_setting(built) -> None:
    built.set_setting("min_relevance", "0")  # show weak matches too: this test is about boosts
    off = {r.id: r for r in built.related("src", n=8, as_of=NOW)}
    assert off["follow"].section_boost == 0.0  # section_weight 0 by default: boosts are off
    built.set_setting("section_weight", "1")
    base = {r.id: r for r in built.related("src", n=8, as_of=NOW)}
    assert base["follow"].section_boost == pytest.approx(0.1)
    assert base["other-sec"].section_boost == 0.0
    built.set_section("international", boost=0.5)
    boosted = {r.id: r for r in built.related("src", n=8, as_of=NOW)}
    assert boosted["follow"].section_boost == pytest.approx(0.5)
    assert boosted["follow"].score == pytest.approx(base["follow"].score + 0.4, abs=1e-6)


def test_score_is_the_documented_formula(built) -> None:
    s = built.settings()
    for r in built.related("src", n=5, as_of=NOW):
        w = s.recency_weight
        expected = s.similarity_weight * r.relevance * (1 - w + w * r.recency) + r.section_boost
        assert r.score == pytest.approx(expected - r.language_penalty)
        assert 0.0 <= r.relevance <= 1.0 and 0.0 <= r.recency <= 1.0
        lw = s.lexical_weight
        assert r.relevance == pytest.approx((1 - lw) * r.dense + lw * r.lexical)
    legacy = built.related("src", n=5, as_of=NOW, preset="legacy")
    for r in legacy:
        expected = s.similarity_weight * r.relevance + 0.25 * r.recency + r.section_boost
        assert r.score == pytest.approx(expected - r.language_penalty)
        assert r.relevance == r.dense


def test_language_same_by_default_cross_on_request(built) -> None:
    assert "bn" not in ids(built.related("src", n=9, as_of=NOW))
    crossed = {r.id: r for r in built.related("src", n=9, as_of=NOW, cross_language=True)}
    assert crossed["bn"].language_penalty == pytest.approx(0.1)  # allowed, still ranked a little lower
    assert crossed["follow"].language_penalty == 0.0
    built.set_setting("cross_language", "true")
    built.set_setting("cross_language_penalty", "0")
    again = {r.id: r for r in built.related("src", n=9, as_of=NOW)}
    assert again["bn"].score == pytest.approx(crossed["bn"].score + 0.1)


def test_filters_max_age_and_excluded_sections(built) -> None:
    got = ids(built.related("src", n=8, as_of=NOW, max_age_days=30))
    assert "old" not in got
    got = ids(built.related("src", n=8, as_of=NOW, exclude_sections=["economy"]))
    assert "other-sec" not in got


def test_fallback_fills_from_newest_same_section(built) -> None:
    items = built.related(
        "src", n=4, as_of=NOW, exclude_sections=["economy"], max_age_days=30, fill="section"
    )
    assert len(items) == 2  # one good match; the rest of the section is too old or in Bengali
    fallback = [i for i in items if i.fallback]
    assert [i.id for i in fallback] == ["intl-recent"]  # unrelated, but the section's newest
    assert all(not i.fallback for i in items[: len(items) - len(fallback)])


def test_n_respected_and_checked(built) -> None:
    assert len(built.related("cricket1", n=1, as_of=NOW)) == 1
    with pytest.raises(InvalidSetting):
        built.related("src", n=0)


def test_unknown_article(built) -> None:
    with pytest.raises(ArticleNotFound, match="nope"):
        built.related("nope")


def test_article_added_after_build_says_build(built, tmp_path: Path) -> None:
    built.ingest([write_jsonl(tmp_path / "new.jsonl", [article("new", "New", "fresh words")])])
    with pytest.raises(ArticleNotFound, match=r"not in the live build.*run `recommender build`"):
        built.related("new")


def test_near_duplicates_among_candidates_are_dropped(rec, tmp_path: Path) -> None:
    warning = (
        "The weather office raised signal seven for Chittagong as the cyclone nears the coast. "
        "Fishing boats were told to return. Shelters opened along the coast. "
        "The cyclone may reach land tomorrow night."
    )
    rows = [
        article("s", "Cyclone nears coast", "A cyclone is nearing the coast near Chittagong. Evacuation "
                "began in low areas. Shelters opened along the coast.", published_at=day(1)),
        article("a", "Signal seven raised", warning, published_at=day(1)),
        article("a-copy", "Signal seven raised for coast", warning.split(". ", 1)[1], published_at=day(1)),
        article("b", "Families reach shelters", "Families reached cyclone shelters on the coast near "
                "Chittagong with their cattle.", published_at=day(1)),
        *FILLER,
    ]  # fmt: skip
    rec.ingest([write_jsonl(tmp_path / "d.jsonl", rows)])
    rec.build()
    got = ids(rec.related("s", n=3, as_of=NOW))
    assert "b" in got
    assert ("a" in got) != ("a-copy" in got)


def test_unknown_section_matches_nothing(rec, tmp_path: Path) -> None:
    rows = [
        article("s", "Flood in the north", "River water rose in the north. Villages were flooded.",
                published_at=day(1)),
        article("a", "Flood relief", "Relief reached flooded villages in the north as river water rose.",
                published_at=day(1)),
        *FILLER,
    ]  # fmt: skip
    rec.ingest([write_jsonl(tmp_path / "n.jsonl", rows)])
    rec.build()
    items = rec.related("s", n=3, as_of=NOW, fill="section")
    assert [i.id for i in items] == ["a"]  # no section: no boost, and nothing to fall back on
    assert items[0].section_boost == 0.0
    items = rec.related("s", n=3, as_of=NOW)  # the default fill: the best below the floor, flagged
    assert items[0].id == "a" and len(items) == 3 and all(i.fill == "below_floor" for i in items[1:])
