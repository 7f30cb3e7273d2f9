"""The CLI end to end on the hashing embedder: commands, output, and one-line errors."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender.cli import app

from .conftest import article, use_model, write_jsonl

runner = CliRunner()


def run(*args: str, home: Path):
    return runner.invoke(app, [*args, "--home", str(home)], env={"COLUMNS": "250"})


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    rows = [
        article(
            "a",
            "Metro rail extension opens",
            "metro rail extension opens dhaka commuters station",
            section="national",
            published_at="2025-11-01T10:00:00+06:00",
        ),
        article(
            "b",
            "Metro rail draws crowds",
            "metro rail extension crowds dhaka commuters station",
            section="national",
            published_at="2025-11-02T10:00:00+06:00",
        ),
        article(
            "c",
            "Cricket series begins",
            "cricket series begins mirpur wicket",
            section="sports",
            published_at="2025-11-02T10:00:00+06:00",
        ),
    ]
    return write_jsonl(tmp_path / "c.jsonl", rows)


def built(home: Path, corpus: Path) -> None:
    assert run("ingest", str(corpus), home=home).exit_code == 0
    result = run("build", "--model", "hashing:128", home=home)
    assert result.exit_code == 0, result.output


def test_ingest_build_related_table_and_json(tmp_path: Path, corpus: Path) -> None:
    home = tmp_path / "h"
    result = run("ingest", str(corpus), home=home)
    assert result.exit_code == 0
    assert "3 added" in result.output and "0 rejected" in result.output
    result = run("build", "--model", "hashing:128", home=home)
    assert "embedded 3 article(s)" in result.output
    result = run("related", "a", "--as-of", "2025-11-03T00:00:00", home=home)
    assert result.exit_code == 0 and "Metro rail draws crowds" in result.output
    result = run("related", "a", "--json", "--as-of", "2025-11-03T00:00:00", home=home)
    items = json.loads(result.stdout)
    assert items[0]["id"] == "b"
    assert {
        "id",
        "title",
        "url",
        "section",
        "published_at",
        "score",
        "similarity",
        "recency",
        "section_boost",
        "fallback",
    } <= set(items[0])


def test_related_prints_the_ranking_query(tmp_path: Path, corpus: Path) -> None:
    home = tmp_path / "h"
    built(home, corpus)
    result = run("related", "a", "--sql", home=home)
    assert "score = similarity_weight * relevance" in result.output and "lexical_weight=" in result.output


def test_related_query_options_section_dates_fill_and_preset(tmp_path: Path, corpus: Path) -> None:
    home = tmp_path / "h"
    built(home, corpus)

    def ids(*options: str) -> list[str]:
        result = run("related", "a", "--json", *options, home=home)
        assert result.exit_code == 0, result.output
        return [item["id"] for item in json.loads(result.stdout)]

    assert ids("--section", "sports") == ["c"]
    assert ids("--section", "sports", "--fill", "none") == []  # unrelated: only a fill would show it
    assert ids("--until", "2025-11-01T12:00:00") == []  # b and c are newer
    assert ids("--since", "2025-11-02T00:00:00", "--fill", "none") == ["b"]
    assert ids("--preset", "legacy")[0] == "b"
    empty = run("related", "a", "--section", "sports", "--fill", "none", home=home)
    assert "only section 'sports'" in empty.output and "filling is off" in empty.output
    bad = run("related", "a", "--fill", "sometimes", home=home)
    assert bad.exit_code == 1 and "fill must be one of" in bad.output and "Traceback" not in bad.output


def test_rejected_rows_reported_and_written(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "title": "ok", "body": "fine"}\n{"id": "2", "title": "", "body": "x"}\n')
    rejects = tmp_path / "rejects.csv"
    result = run("ingest", str(bad), "--rejects", str(rejects), home=tmp_path / "h")
    assert result.exit_code == 0
    assert "bad.jsonl:line 2 [title] missing title" in result.output
    assert "missing title" in rejects.read_text()


def test_nothing_readable_exits_non_zero(tmp_path: Path) -> None:
    result = run("ingest", str(tmp_path / "nope.jsonl"), home=tmp_path / "h")
    assert result.exit_code == 1
    assert "nope.jsonl: no such file" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["related", "zzz"], "no article with id 'zzz'"),
        (["settings", "recency_weight", "lots"], "is not a finite number from 0 to 1"),
        (["settings", "nonsense", "1"], "unknown setting"),
        (["ingest", "x.jsonl", "--field", "title"], "expected OURS=THEIRS"),
    ],
)
def test_named_errors_are_one_line(tmp_path: Path, corpus: Path, args: list[str], message: str) -> None:
    home = tmp_path / "h"
    built(home, corpus)
    result = run(*args, home=home)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_index_not_built(tmp_path: Path, corpus: Path) -> None:
    home = tmp_path / "h"
    run("ingest", str(corpus), home=home)
    result = run("related", "a", home=home)
    assert result.exit_code == 1 and "run `recommender build` first" in result.output


def test_a_store_switched_but_not_built_keeps_serving_its_build(tmp_path: Path, corpus: Path) -> None:
    home = tmp_path / "h"
    built(home, corpus)
    use_model(home, "hashing:64")  # as a switch killed after its commit, before its build went live
    result = run("related", "a", home=home)
    assert result.exit_code == 0 and "Related to" in result.output
    stats = run("stats", home=home).output
    assert "hashing:64" in stats and "articles, hashing:128" in stats


def test_remove_sections_settings_stats(tmp_path: Path, corpus: Path) -> None:
    home = tmp_path / "h"
    built(home, corpus)
    assert "removed 1" in run("remove", "c", home=home).output
    result = run("remove", "zzz", home=home)
    assert result.exit_code == 1 and "not found: zzz" in result.output
    assert run("sections", "set", "national", "--boost", "0.3", "--half-life", "2", home=home).exit_code == 0
    listing = run("sections", "list", home=home).output
    assert "national" in listing and "0.3" in listing
    assert "recency_weight = 0.5" in run("settings", "recency_weight", "0.5", home=home).output
    assert "cross_language = false" in run("settings", home=home).output
    stats = run("stats", home=home).output
    assert "articles" in stats and "hashing:128" in stats and "pending embeddings" in stats
