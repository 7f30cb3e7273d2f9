"""Settings: one validation table (config.SPECS) for the CLI, the library and per-call overrides;
`--reset`; an explicit 0.0 is a value, not "unset"."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from recommender import Recommender
from recommender.cli import app
from recommender.config import SPECS, Settings, parse_value
from recommender.embedding.backends import BACKENDS
from recommender.errors import InvalidSetting
from recommender.index.kinds import KINDS

from .conftest import article, write_jsonl

BAD = [
    ("min_relevance", "nan"),
    ("recency_weight", "inf"),
    ("similarity_weight", "-inf"),
    ("recency_weight", "-1"),
    ("section_weight", "-0.5"),
    ("min_relevance", "2"),
    ("undated_recency", "1.5"),
    ("near_duplicate_threshold", "1.5"),
    ("near_duplicate_threshold", "-1"),
    ("near_duplicate_threshold", "nan"),
    ("half_life_days", "0"),
    ("overfetch", "0"),
    ("overfetch", "2.5"),
    ("batch_size", "1e9"),
    ("cross_language", "maybe"),
    ("text_fields", "body,nonexistent"),
    ("text_fields", "title,title"),
    ("text_fields", ""),
    ("index_type", "annoy"),
    ("backend", "cuda"),
    ("timezone", "Mars/Olympus"),
    ("max_seq_length", "1024"),  # the bundled model reads at most 512 tokens
    ("max_body_chars", "10"),
]


@pytest.mark.parametrize(("key", "raw"), BAD)
def test_bad_values_are_refused_with_the_rule(key: str, raw: str) -> None:
    with pytest.raises(InvalidSetting, match=key):
        Settings().with_value(key, raw)


@pytest.mark.parametrize(("key", "raw"), BAD[:6])
def test_bad_values_are_refused_by_the_cli_in_one_line(tmp_path: Path, key: str, raw: str) -> None:
    result = CliRunner().invoke(app, ["settings", key, raw, "--home", str(tmp_path / "h")])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: setting {key}") and result.output.count("\n") == 1


def test_per_call_overrides_go_through_the_same_table() -> None:
    with pytest.raises(InvalidSetting, match="recency_weight"):
        dataclasses.replace(Settings(), recency_weight=math.nan)
    with pytest.raises(InvalidSetting, match="cross_language"):
        Settings(cross_language="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidSetting, match="overfetch"):
        Settings(overfetch=True)  # a bool is not a count
    assert Settings(recency_weight=0).recency_weight == 0.0  # ints widen to floats


def test_allowed_values_match_the_modules_that_use_them() -> None:
    assert SPECS["backend"].allowed == BACKENDS
    assert SPECS["index_type"].allowed == KINDS


def test_reset_puts_the_default_back(tmp_path: Path) -> None:
    home = str(tmp_path / "h")
    runner = CliRunner()
    assert (
        "recency_weight = 0.5"
        in runner.invoke(app, ["settings", "recency_weight", "0.5", "--home", home]).output
    )
    result = runner.invoke(app, ["settings", "recency_weight", "--reset", "--home", home])
    assert result.exit_code == 0 and result.output == "recency_weight = 0.1\n"
    assert "recency_weight = 0.1" in runner.invoke(app, ["settings", "--home", home]).output


def test_a_bad_stored_value_names_its_fix_and_reset_repairs_it(tmp_path: Path) -> None:
    import duckdb

    home = tmp_path / "h"
    Recommender(home).set_setting("min_relevance", "0.4")
    con = duckdb.connect(str(home / "recommender.duckdb"))  # as an older version would have stored it
    con.execute("UPDATE settings SET value = 'nan' WHERE key = 'min_relevance'")
    con.close()
    with pytest.raises(InvalidSetting, match="recommender settings min_relevance --reset"):
        Recommender(home).settings()
    assert Recommender(home).reset_setting("min_relevance").min_relevance == 0.3
    assert Recommender(home).settings().min_relevance == 0.3


def test_section_values_follow_the_same_rules(tmp_path: Path) -> None:
    runner = CliRunner()
    home = str(tmp_path / "h")
    for option, value in (
        ("--boost", "nan"),
        ("--boost", "inf"),
        ("--half-life", "0"),
        ("--half-life", "nan"),
    ):
        result = runner.invoke(app, ["sections", "set", "world", option, value, "--home", home])
        assert result.exit_code == 1 and result.output.startswith("error: section"), result.output


@pytest.mark.parametrize("age", ["nan", "inf", "0", "-3"])
def test_related_max_age_is_checked(built_store: Path, age: str) -> None:
    result = CliRunner().invoke(app, ["related", "a", "--max-age-days", age, "--home", str(built_store)])
    assert result.exit_code == 1 and "max age must be" in result.output


# --- an explicit zero is a value ---------------------------------------------------------------
@pytest.fixture
def built_store(tmp_path: Path) -> Path:
    home = tmp_path / "built"
    rec = Recommender(home)
    rows = [
        article(
            "a", "Flood in the north", "river flood villages rescue boats north", published_at="2025-11-01"
        ),
        article(
            "b", "Flood relief arrives", "river flood villages relief boats north", published_at="2025-11-02"
        ),
        article("c", "Cricket final", "cricket final captain wickets runs", published_at="2025-11-02"),
    ]
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", rows)])
    rec.build(model="hashing:64")
    rec.close()
    return home


def test_a_zero_threshold_is_honoured_not_treated_as_unset(built_store: Path) -> None:
    as_of = datetime(2025, 11, 3, tzinfo=UTC)
    with Recommender(built_store) as rec:
        rec.set_setting("min_relevance", "0")
        assert "b" in [r.id for r in rec.related("a", as_of=as_of)]  # calibrated threshold: b is shown
        rec.set_setting("copy_rule", "cosine")  # the threshold decides copies only under this rule
        rec.set_setting("near_duplicate_threshold", "0.0")  # b (cosine far above 0) is now a "copy"
        assert rec.settings().near_duplicate_threshold == 0.0
        assert "b" not in [r.id for r in rec.related("a", as_of=as_of, fill="none")]
        assert rec.settings().duplicate_threshold(0.97) == 0.0


def test_json_output_is_valid_json_always(built_store: Path) -> None:
    runner = CliRunner()
    runner.invoke(app, ["settings", "min_relevance", "0", "--home", str(built_store)])
    result = runner.invoke(
        app, ["related", "a", "--json", "--as-of", "2025-11-03", "--home", str(built_store)]
    )

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    items = json.loads(result.stdout, parse_constant=refuse)
    assert items and all(math.isfinite(i["score"]) for i in items)


# --- properties ---------------------------------------------------------------------------------
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=200, deadline=None)
@given(key=st.sampled_from(sorted(k for k, s in SPECS.items() if s.kind is float)), value=st.floats())
def test_a_float_setting_is_accepted_exactly_when_finite_and_in_range(key: str, value: float) -> None:
    spec = SPECS[key]
    inside = math.isfinite(value)
    if spec.low is not None:
        inside &= value > spec.low if spec.low_open else value >= spec.low
    if spec.high is not None:
        inside &= value <= spec.high
    try:
        parsed = Settings().with_value(key, repr(value))
    except InvalidSetting:
        assert not inside
    else:
        assert inside and getattr(parsed, key) == value


@settings(max_examples=200, deadline=None)
@given(key=st.sampled_from(sorted(SPECS)), raw=st.text(max_size=20))
def test_any_text_either_parses_to_a_valid_setting_or_is_refused_by_name(key: str, raw: str) -> None:
    try:
        value = parse_value(key, raw)
    except InvalidSetting as exc:
        assert key in str(exc)
        return
    try:
        Settings(**{key: value})
    except InvalidSetting as exc:  # a rule involving two settings (or a value's shape)
        assert key in str(exc)


@settings(max_examples=100, deadline=None)
@given(key=st.sampled_from(sorted(k for k, s in SPECS.items() if s.kind is float)), value=finite)
def test_a_stored_value_reads_back_as_stored(key: str, value: float) -> None:
    from recommender.config import format_value

    try:
        first = Settings().with_value(key, repr(value))
    except InvalidSetting:
        return
    again = Settings.from_stored([(key, format_value(getattr(first, key)))])
    assert getattr(again, key) == getattr(first, key)
