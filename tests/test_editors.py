"""Editors' controls: pins, blocks and same-section-only, stored in DuckDB, written into the live
build's overlay at once (as removals are), and set from the library, the CLI and (see
test_serve_writes.py) the HTTP API. Their effect on sidebars is ranking's (issue 9)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender import Recommender
from recommender.cli import app
from recommender.errors import ArticleNotFound, InvalidSetting
from recommender.index.folder import current_build
from recommender.index.overlay import Pin, read_overlay

from .serve_support import build_store, corpus

runner = CliRunner()
APPLIED_BY_RANKING = pytest.mark.usefixtures()  # ranking applies pins and blocks (issue 9)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return build_store(tmp_path / "store")


def overlay(home: Path):
    folder = current_build(home)
    assert folder is not None
    return read_overlay(folder)


def test_pins_and_blocks_reach_the_overlay_at_once(home: Path) -> None:
    rec = Recommender(home)
    before = overlay(home).version
    rec.pin("intl-1", "cricket-1", 2)
    rec.pin("intl-1", "metro-1", 1)
    rec.pin("intl-1", "cricket-1", 3)  # pinned again: moved, not doubled
    rec.block("xss-1")
    rec.block("intl-3", source="intl-1")
    rec.set_section("Sports", same_section_only=True)
    now = overlay(home)
    assert now.version > before
    assert set(now.pins) == {Pin("intl-1", "metro-1", 1), Pin("intl-1", "cricket-1", 3)}
    assert now.blocked == ("xss-1",) and now.blocks == {"intl-1": ("intl-3",)}
    assert now.sections["sports"].same_section_only
    controls = rec.controls()
    assert [(p.source, p.article, p.position) for p in controls.pins] == [
        ("intl-1", "metro-1", 1),
        ("intl-1", "cricket-1", 3),
    ]
    assert {(b.article, b.source) for b in controls.blocks} == {("xss-1", None), ("intl-3", "intl-1")}

    assert rec.unpin("intl-1", "cricket-1") and not rec.unpin("intl-1", "cricket-1")
    assert rec.unblock("xss-1") and not rec.unblock("xss-1")
    assert not rec.unblock("intl-3")  # that block is of one sidebar only
    assert rec.unblock("intl-3", source="intl-1")
    rec.set_section("sports", boost=0.2)  # other values leave same-section-only as it was
    rec.set_section("sports", same_section_only=False)
    now = overlay(home)
    assert now.pins == (Pin("intl-1", "metro-1", 1),) and now.blocked == () and now.blocks == {}
    assert (now.sections["sports"].boost, now.sections["sports"].same_section_only) == (0.2, False)


def test_controls_are_checked(home: Path) -> None:
    rec = Recommender(home)
    with pytest.raises(ArticleNotFound, match="nope"):
        rec.pin("intl-1", "nope")
    with pytest.raises(ArticleNotFound, match="nope"):
        rec.block("intl-1", source="nope")
    with pytest.raises(InvalidSetting, match="own sidebar"):
        rec.pin("intl-1", "intl-1")
    for bad in (0, 51, True):
        with pytest.raises(InvalidSetting, match="position"):
            rec.pin("intl-1", "intl-2", bad)
    assert overlay(home).pins == ()


def test_cli_pin_block_unpin_unblock_controls(home: Path) -> None:
    def cli(*args: str):
        return runner.invoke(app, [*args, "--home", str(home)], env={"COLUMNS": "250"})

    assert cli("pin", "intl-1", "metro-2", "--position", "2").exit_code == 0
    assert cli("block", "xss-1").exit_code == 0
    result = cli("block", "cricket-1", "--from", "intl-1")
    assert result.exit_code == 0 and "sidebar of intl-1" in result.output
    assert cli("sections", "set", "national", "--same-section-only").exit_code == 0
    listing = cli("controls").output
    assert "metro-2" in listing and "(every sidebar)" in listing and "cricket-1" in listing
    assert overlay(home).sections["national"].same_section_only
    assert cli("unpin", "intl-1", "metro-2").exit_code == 0
    missing = cli("unpin", "intl-1", "metro-2")
    assert missing.exit_code == 1 and "no pin" in missing.output
    assert cli("unblock", "cricket-1", "--from", "intl-1").exit_code == 0
    unknown = cli("pin", "intl-1", "nope")
    assert unknown.exit_code != 0 and "nope" in unknown.output and "Traceback" not in unknown.output
    for command in ("pin", "unpin", "block", "unblock", "controls"):
        help_text = runner.invoke(app, [command, "--help"]).output
        assert "Usage" in help_text and len(help_text) > 200


# --- their effect on sidebars: applied in ranking (issue 9) ----------------------------------------
@APPLIED_BY_RANKING
def test_a_pinned_article_shows_at_its_position(home: Path) -> None:
    rec = Recommender(home)
    rec.pin("intl-1", "cricket-2", 2)
    assert [r.id for r in rec.related("intl-1", n=5)][1] == "cricket-2"


@APPLIED_BY_RANKING
def test_a_blocked_article_leaves_sidebars(home: Path) -> None:
    rec = Recommender(home)
    shown = [r.id for r in rec.related("intl-1", n=5)]
    rec.block(shown[0])
    rec.block(shown[1], source="intl-1")
    after = [r.id for r in rec.related("intl-1", n=5)]
    assert shown[0] not in after and shown[1] not in after
    assert shown[0] not in [r.id for r in rec.related("intl-2", n=8)]


@APPLIED_BY_RANKING
def test_same_section_only_keeps_sidebars_in_their_section(tmp_path: Path) -> None:
    rows = corpus()
    intl = next(r for r in rows if r["id"] == "intl-2")
    rows.append({**intl, "id": "econ-1", "section": "economy", "title": "গ্যাস পাইপলাইন চুক্তিতে বাজারে প্রভাব",
                 "published_at": "2025-11-17T09:00:00+06:00"})  # days after intl-2: not its copy  # fmt: skip
    home = build_store(tmp_path / "store", rows)
    rec = Recommender(home)
    assert "econ-1" in [r.id for r in rec.related("intl-1", n=8)]  # close enough without the setting
    rec.set_section("international", same_section_only=True)
    items = rec.related("intl-1", n=8)
    assert items and all(r.section == "international" for r in items)
