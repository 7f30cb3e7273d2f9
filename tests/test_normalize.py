import pytest

from recommender.ingest.normalize import clean_language, clean_url, content_hash, section_from_url


@pytest.mark.parametrize(
    ("url", "section"),
    [
        ("https://www.jugantor.com/national/1041907", "national"),
        ("https://www.thedailystar.net/news/world/usa/news/some-story-4054971", "world"),
        ("https://www.newagebd.net/post/politics/284092/khaledas-condition", "politics"),
        ("https://unb.com.bd/category/Opinion/some-title/169615", "opinion"),
        ("https://www.ittefaq.com.bd/766000/%E0%A6%AF%E0%A7%81", None),
        ("https://example.test/just-a-slug", None),
        (None, None),
    ],
)
def test_section_from_url(url, section) -> None:
    assert section_from_url(url) == section


def test_share_links_are_unwrapped() -> None:
    url = (
        "mailto:?subject=x&amp;body="
        "https%3A%2F%2Fwww.dhakatribune.com%2Fworld%2Fasia%2F398307%2Fslug%23image-"
    )
    assert clean_url(url) == "https://www.dhakatribune.com/world/asia/398307/slug"


def test_language_aliases_and_script_guess() -> None:
    assert clean_language("bangla", "", "") == "bn"
    assert clean_language("English", "", "") == "en"
    assert clean_language(None, "পুতিনের কাজাখস্তান সফর", "") == "bn"
    assert clean_language(None, "Putin visits Kazakhstan", "") == "en"
    assert clean_language(None, "", "") is None


def test_content_hash_tracks_text() -> None:
    assert content_hash("a", "b") == content_hash("a", "b")
    assert content_hash("a", "b") != content_hash("a", "c")
