"""What the CLI prints: store text as text (Rich markup and terminal escapes are data), valid JSON
whose score parts match the table, an empty sidebar that says why, homes that must exist to be
read, and progress lines when nobody watches a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender.cli import app, progress_line
from recommender.display import visible

from .conftest import ROOT, article, write_jsonl

CORPUS = Path(__file__).resolve().parent / "fixtures" / "bad_input"
runner = CliRunner()


def run(*args: str, home: Path, columns: int = 200):
    return runner.invoke(app, [*args, "--home", str(home)], env={"COLUMNS": str(columns)})


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A store whose titles and sections hold markup, ANSI escapes and a right-to-left override."""
    home = tmp_path / "h"
    run("ingest", str(CORPUS / "markup.jsonl"), home=home)
    assert run("build", "--model", "hashing:64", home=home).exit_code == 0
    assert run("settings", "min_relevance", "0", home=home).exit_code == 0
    return home


def test_markup_and_escapes_in_titles_are_printed_as_text(hostile: Path) -> None:
    result = run("related", "a2", "--as-of", "2030-01-01", home=hostile)
    assert result.exit_code == 0, result.output
    assert "[video] Floods in the north" in result.output  # the tag is kept, not eaten as markup
    assert "[/] closes nothing" in result.output and "Traceback" not in result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "Red \\x1b[31malert\\x1b[0m and \\u202eevil" in result.output  # visible, inert


def test_sections_and_errors_print_markup_as_text(hostile: Path) -> None:
    listing = run("sections", "list", home=hostile)
    assert listing.exit_code == 0 and "[bold]world" in listing.output
    missing = run("related", "[/]", home=hostile)
    assert (
        missing.exit_code == 1
        and missing.output
        == f"error: no article with id '[/]' in {hostile}: it is not in the live build (if it was "
        "ingested since, run `recommender build`)\n"
    )
    gone = run("remove", "[red]x", home=hostile)
    assert "not found: [red]x" in gone.output


def test_json_score_parts_match_the_table(hostile: Path) -> None:
    table = run("related", "a2", "--as-of", "2030-01-01", home=hostile).output
    items = json.loads(run("related", "a2", "--json", "--as-of", "2030-01-01", home=hostile).stdout)
    assert items
    for item in items:
        parts = item["score_parts"]
        assert sum(parts.values()) == pytest.approx(item["score"])
        # weighted, as in the table: relevance * w * recency (recency as a multiplier, w = 0.1)
        assert parts["recency"] == pytest.approx(item["relevance"] * 0.1 * item["recency"])
        shown = f"{parts['relevance']:.2f} + {parts['recency']:.2f} + {parts['section']:.2f}"
        assert shown in table


def test_an_empty_sidebar_says_why(tmp_path: Path) -> None:
    home = tmp_path / "h"
    rows = [
        article("a", "Flood in the north", "river flood villages", published_at="2025-11-01"),
        article("b", "Cricket final", "cricket final wickets", published_at="2025-11-02"),
    ]
    run("ingest", str(write_jsonl(tmp_path / "a.jsonl", rows)), home=home)
    run("build", "--model", "hashing:64", home=home)
    filled = run("related", "a", "--as-of", "2025-11-03", home=home)  # the default fill: flagged
    assert "Cricket final" in filled.output and "* filled in:" in filled.output
    assert run("settings", "fill", "none", home=home).exit_code == 0  # show fewer rather than weak items
    result = run("related", "a", "--as-of", "2025-11-03", home=home)
    assert result.exit_code == 0
    assert (
        "No related articles for Flood in the north: no candidate reached min_relevance 0.3" in result.output
    )
    assert "filling is off (fill none)" in result.output


READS = [["related", "x"], ["stats"], ["sections", "list"], ["settings"], ["remove", "x"], ["build"]]


@pytest.mark.parametrize("args", READS, ids=[" ".join(a) for a in READS])
def test_reading_a_home_without_a_store_names_it_and_creates_nothing(tmp_path: Path, args: list[str]) -> None:
    home = tmp_path / "typo"
    result = run(*args, home=home)
    assert result.exit_code == 1
    assert result.output == f"error: no store at {home} (create one with `recommender ingest`)\n"
    assert not home.exists()


def test_the_library_does_not_create_a_store_to_read_from(tmp_path: Path) -> None:
    from recommender import NoStore, Recommender, related

    with pytest.raises(NoStore, match="no store at"):
        related("x", home=tmp_path / "nowhere")
    with pytest.raises(NoStore):
        Recommender(tmp_path / "nowhere").stats()
    assert not (tmp_path / "nowhere").exists()


def test_writing_creates_the_store(tmp_path: Path) -> None:
    assert run("settings", "recency_weight", "0.3", home=tmp_path / "new").exit_code == 0
    assert (tmp_path / "new" / "recommender.duckdb").exists()
    assert run("ingest", str(CORPUS / "bom.jsonl"), home=tmp_path / "other").exit_code == 0


def test_visible_escapes_every_control_character() -> None:
    for code in [*range(0x20), 0x7F, *range(0x80, 0xA0), 0x202E, 0x200F]:
        shown = visible(f"a{chr(code)}b")
        assert chr(code) not in shown and shown.startswith("a\\") and shown.endswith("b")
    assert visible("[video] বাংলা") == "[video] বাংলা"


def test_progress_lines_without_a_terminal(tmp_path: Path) -> None:
    home = tmp_path / "h"
    rows = [article(str(i), f"title {i}", f"body {i}") for i in range(600)]
    run("ingest", str(write_jsonl(tmp_path / "a.jsonl", rows)), home=home)
    env = {**os.environ, "RECOMMENDER_PROGRESS_SECONDS": "0", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "recommender.cli", "build", "--model", "hashing:64", "--home", str(home)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    embedding = [line for line in lines if line.startswith("embedding: ")]
    assert lines[: len(embedding)] == embedding  # then the neighbour lists' search, counted apart
    assert embedding[0] == "embedding: 0/600 (0%)"
    assert embedding[-1].startswith("embedding: 600/600 (100%), ") and embedding[-1].endswith("/s")
    assert any(" left" in line for line in embedding[1:-1])
    listing = lines[len(embedding) :]
    assert listing[0] == "neighbour lists: 0/600 (0%)"
    assert listing[-1].startswith("neighbour lists: 600/600 (100%), ") and listing[-1].endswith("/s")


def test_progress_line_format() -> None:
    assert progress_line("embedding", 0, 5067, 0.0) == "embedding: 0/5,067 (0%)"
    assert progress_line("embedding", 1024, 5067, 60.0) == "embedding: 1,024/5,067 (20%), 17.1/s, 3m56s left"
    assert progress_line("embedding", 5067, 5067, 300.0) == "embedding: 5,067/5,067 (100%), 16.9/s"


def test_json_never_holds_nan_or_infinity() -> None:
    from recommender.display import dumps

    assert json.loads(dumps({"a": float("nan"), "b": [float("inf"), 1.5]})) == {"a": None, "b": [None, 1.5]}


def test_stats_never_builds_a_model_nor_imports_torch(tmp_path: Path) -> None:
    home = tmp_path / "h"
    run("ingest", str(CORPUS / "bom.jsonl"), home=home)  # the bundled model, never built here
    code = (
        "import sys\nfrom recommender.cli import app\n"
        "try:\n    app(['stats', '--home', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules)\n"
    )
    cache = tmp_path / "fresh-cache"
    env = {**os.environ, "RECOMMENDER_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, str(home)], capture_output=True, text=True, env=env)
    assert done.stdout.strip().endswith("False"), done.stdout + done.stderr
    assert "pending embeddings" in done.stdout and "known once the model is built" in done.stdout
    assert not cache.exists()


def test_on_a_terminal_each_counted_phase_gets_its_own_rate_and_time_left(monkeypatch) -> None:
    """The bar of a build goes from the embedding to the neighbour lists: the counts start over, and
    so do the rate and the time left (not the embedding's samples carried into the lists')."""
    import io

    from rich.console import Console

    from recommender import cli

    monkeypatch.setattr(cli, "err", Console(file=io.StringIO(), force_terminal=True))
    with cli._progress("embedding") as bar:
        for done in (0, 200, 400, 600):
            bar.update(bar.phase, done, 600)
        task = bar.bar.tasks[0]
        assert task.speed is not None  # the embedding's rate is known
        bar.begin("snapshot")  # not counted: the label stays
        bar.begin("neighbours")
        bar.update(bar.phase, 0, 600)  # a full build: as many lists as articles embedded
        task = bar.bar.tasks[0]
        assert (task.description, task.completed, task.total) == ("neighbour lists", 0, 600)
        assert task.speed is None and task.time_remaining is None  # nothing yet of the lists' own
        bar.update(bar.phase, 10, 600)
        assert bar.bar.tasks[0].completed == 10
