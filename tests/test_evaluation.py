"""Judgment files, systems and whole evaluation runs on small hashing-embedder stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from recommender.cli import app
from recommender.errors import InvalidSetting, UnreadableInput
from recommender.evaluation import Options, proxy_judgments, read_judgments
from recommender.evaluation.runner import evaluate_graded, evaluate_pairs
from recommender.evaluation.systems import SYSTEM_NAMES, Corpus, make_systems

from .conftest import article, read_store, write_jsonl

NOW = datetime(2025, 12, 10, 12, tzinfo=UTC)

# Three story threads in two sections, dated so that replay order matters.
STORIES = [
    (
        "vote-1",
        "politics",
        "2025-12-01",
        "Election commission announces the vote date",
        "election commission vote date ballot parties candidates",
    ),
    (
        "vote-2",
        "politics",
        "2025-12-03",
        "Parties register candidates for the vote",
        "election candidates parties register ballot commission",
    ),
    (
        "vote-3",
        "politics",
        "2025-12-08",
        "Ballot counting ends, commission names winners",
        "election ballot counting commission winners parties",
    ),
    (
        "flood-1",
        "national",
        "2025-12-02",
        "River floods villages in the north",
        "river flood villages water rescue boats north",
    ),
    (
        "flood-2",
        "national",
        "2025-12-05",
        "Rescue boats reach flooded villages",
        "flood rescue boats villages water river relief",
    ),
    (
        "cup-1",
        "sports",
        "2025-12-04",
        "Bangladesh win the cricket opener",
        "cricket bangladesh opener wickets runs captain",
    ),
    (
        "cup-2",
        "sports",
        "2025-12-06",
        "Captain praises bowlers after second win",
        "cricket captain bowlers wickets win series",
    ),
    (
        "market",
        "economy",
        "2025-12-07",
        "Share prices rise on bank stocks",
        "shares stock market banks prices investors",
    ),
    (
        "bridge",
        "national",
        "2025-12-02",
        "New steel bridge opens to traffic",
        "bridge steel traffic engineers canal opening",
    ),
    (
        "film",
        "entertainment",
        "2025-12-05",
        "Debut film wins the jury prize",
        "film actress jury prize debut critics",
    ),
]
# vote-1 is judged on vote-2 (before it: visible) and vote-3 (after it: hidden when replayed).
GRADED = """article_id,related_id,grade
vote-2,vote-1,2
vote-2,vote-3,2
vote-2,cup-1,0
flood-2,flood-1,2
flood-2,bridge,1
flood-2,market,0
cup-2,cup-1,2
cup-2,vote-1,0
"""


@pytest.fixture
def built(rec, tmp_path: Path):
    rows = [
        article(i, title, body, section=section, published_at=f"{day}T09:00:00+00:00", language="en")
        for i, section, day, title, body in STORIES
    ]
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", rows)])
    rec.build()
    return rec


@pytest.fixture
def graded_file(tmp_path: Path) -> Path:
    path = tmp_path / "judgments.csv"
    path.write_text(GRADED, encoding="utf-8")
    return path


# --- judgment files --------------------------------------------------------------------------
def test_graded_links_with_duplicates(tmp_path: Path):
    path = tmp_path / "g.csv"
    path.write_text("source_id,candidate_id,grade,reason\ns,a,2,x\ns,b,D,copy\ns,c,0,\nt,a,1,\n")
    judged = read_judgments(path)
    assert judged.kind == "graded"
    assert judged.qrels() == {"s": {"a": 2, "b": 0, "c": 0}, "t": {"a": 1}}
    assert judged.duplicates("s") == {"b"}
    assert judged.counts()["D (near-duplicate)"] == 1
    assert judged.sha256 and len(judged.sha256) == 64


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("article_id,related_id,grade\na,b,2\na,c,maybe\n", "g.csv:3: grade 'maybe'"),
        ("article_id,related_id,grade\na,b,2\na,b,1\n", "g.csv:3: pair (a, b) graded 2 earlier and 1"),
        ("article_id,related_id,grade\na,a,2\n", "g.csv:2: an article judged against itself"),
        ("article_id,related_id\na,b\n", "need a 'grade' column"),
        ("x,y\n1,2\n", "cannot tell what it holds"),
    ],
)
def test_bad_graded_files_name_the_line(tmp_path: Path, content: str, message: str):
    path = tmp_path / "g.csv"
    path.write_text(content)
    with pytest.raises(UnreadableInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_judgments(path)


def test_scored_pairs_need_a_scale_direction(tmp_path: Path):
    path = tmp_path / "p.csv"
    path.write_text('text1,text2,Overall,lang1,lang2\n"a b","a b",1,de,en\n"a","c",4,en,en\n')
    with pytest.raises(InvalidSetting, match="--similar-at"):
        read_judgments(path)
    low = read_judgments(path, similar_at="low")
    high = read_judgments(path, similar_at="high")
    assert low.kind == high.kind == "pairs"
    assert list(low.target()) == [-1.0, -4.0]  # turned: higher = more similar
    assert list(high.target()) == [1.0, 4.0]
    assert [p.group for p in low.pairs] == ["de-en", "en-en"]


def test_scored_pairs_with_titles_and_a_default_language(tmp_path: Path):
    path = tmp_path / "p.csv"
    path.write_text('title_1,text_1,title_2,text_2,score\nHola,"texto uno",Adiós,"texto dos",oops\n')
    with pytest.raises(UnreadableInput, match="row 1: score 'oops'"):
        read_judgments(path, similar_at="high")
    path.write_text(
        'title_1,text_1,title_2,text_2,score\nHola,"texto uno",Adiós,"texto dos",3\n'
        'A,"x",,"",2\nB,"y",C,"z",\n'
    )
    judged = read_judgments(path, similar_at="high", language="es")
    pair = judged.pairs[0]
    assert (pair.text1, pair.lang1, pair.group) == ("Hola\ntexto uno", "es", "es-es")
    assert judged.skipped == ["row 2: empty text2", "row 3: no score"]  # reported, not dropped
    assert judged.counts()["rows left out"] == 2


def test_left_out_rows_are_summarized_by_reason():
    from recommender.evaluation.runner import _skipped_note

    note = _skipped_note(["row 7: empty text1", *(f"row {i}: no score" for i in range(9, 16))])
    assert note == "8 rows left out: 7 × no score (rows 9, 10, 11, 12, 13, ...); 1 × empty text1 (rows 7)"


def test_proxy_judgments_are_same_section_and_seeded():
    catalog = [("a", "x"), ("b", "x"), ("c", "y"), ("d", "y"), ("e", None), ("f", "z")]
    first = proxy_judgments(catalog, catalog, sample=3, seed=1)
    assert first.grades == proxy_judgments(catalog, catalog, sample=3, seed=1).grades
    assert set(first.grades) <= {"a", "b", "c", "d"}  # e has no section, f is alone in z
    for source, judged in first.grades.items():
        section = dict(catalog)[source]
        assert judged and all(dict(catalog)[c] == section for c in judged)
    assert "weaker evidence" in first.evidence


# --- systems ---------------------------------------------------------------------------------
def test_baselines_respect_replay_time_and_sections(built):
    with read_store(built.home) as store:
        corpus = Corpus.load(store)
    systems = {s.name: s for s in make_systems(list(SYSTEM_NAMES), built.catalog(), corpus, 7)}
    source = built.article("vote-2")
    as_of = source.published_at
    for system in systems.values():
        ids = [s.id for s in system.recommend(source, 9, as_of)]
        assert "vote-2" not in ids and "vote-3" not in ids, system.name  # itself; the future
    assert systems["lexical"].recommend(source, 1, as_of)[0].id == "vote-1"
    assert [s.id for s in systems["recent-section"].recommend(source, 5, None)] == ["vote-3", "vote-1"]
    random_ids = [s.id for s in systems["random"].recommend(source, 4, None)]
    assert random_ids == [s.id for s in systems["random"].recommend(source, 4, None)]
    assert systems["similarity-only"].settings.recency_weight == 0.0
    assert systems["similarity-only"].settings.lexical_weight == 0.0  # dense similarity only
    assert systems["legacy"].preset == "legacy" and systems["engine"].preset == "default"
    assert systems["section-boost"].settings.section_weight == 1.0
    with pytest.raises(InvalidSetting, match="unknown system 'bm42'"):
        make_systems(["bm42"], built.catalog(), corpus, 0)


# --- whole runs ------------------------------------------------------------------------------
def graded(rec, judged, options):
    with read_store(rec.home) as store:
        return evaluate_graded(store, rec.catalog(), judged, options)


def test_graded_evaluation_report(built, graded_file: Path):
    judged = read_judgments(graded_file)
    report = graded(built, judged, Options(SYSTEM_NAMES, ks=(2, 3)))
    assert [s["name"] for s in report["systems"]] == list(SYSTEM_NAMES)
    engine, random_ = report["metrics"]["engine"], report["metrics"]["random"]
    assert engine["ndcg@2"] > random_["ndcg@2"]
    assert report["metrics"]["lexical"]["mrr@3"] == pytest.approx(1.0)  # each story found first
    assert {"judged:ndcg@2", "judged@2", "coverage", "near_duplicates", "latency_p50_ms"} <= set(engine)
    assert any("published after the replay time" in n for n in report["notes"])  # vote-3 for vote-2
    p_value = report["significance"]["ndcg@2"]["engine"]["random"]
    assert 0.0 <= p_value <= 1.0  # NaN fails both
    assert report["significance"]["ndcg@2"]["random"]["engine"] == p_value
    assert set(report["breakdown"]["section"]) == {"politics", "national", "sports"}
    examples = report["examples"]
    assert examples and {"engine", "lexical"} <= set(examples[0]["lists"])
    json.dumps(report)  # plain data all the way down


def test_the_html_tests_use_the_keys_the_runner_produces(built, graded_file: Path):
    from .test_eval_html import METRIC_INFO

    report = graded(built, read_judgments(graded_file), Options(SYSTEM_NAMES))
    assert set(METRIC_INFO) <= set(report["metric_info"])
    for key, info in METRIC_INFO.items():
        assert info["group"] == report["metric_info"][key]["group"], key


def test_evaluation_is_reproducible(built, graded_file: Path):
    judged = read_judgments(graded_file)
    options = Options(SYSTEM_NAMES, ks=(2,), seed=3)
    first = graded(built, judged, options)
    second = graded(built, judged, options)

    def strip(report):
        return {
            s: {m: v for m, v in row.items() if "latency" not in m} for s, row in report["metrics"].items()
        }

    assert strip(first) == strip(second)
    assert first["examples"] == second["examples"]


def test_latest_replay_lets_follow_ups_count(built, graded_file: Path):
    judged = read_judgments(graded_file)
    source_mode = graded(built, judged, Options(("lexical",), ks=(2,)))
    latest = graded(built, judged, Options(("lexical",), ks=(2,), as_of="latest"))
    assert not any("replay time" in n for n in latest["notes"])
    assert latest["judgments"]["counts"] == source_mode["judgments"]["counts"]


def test_pairs_correlate_with_the_direction_given(tmp_path: Path, rec):
    rows = ["text1,text2,score,lang1,lang2"]
    rng = np.random.default_rng(0)
    words = "river flood rescue vote ballot cricket captain bridge film market shares prize".split()  # noqa: SIM905
    for i in range(30):
        base = list(rng.choice(words, 6))
        overlap = i % 4  # score 1 (same) .. 4 (different): fewer shared words as the score grows
        other = base[: 6 - 2 * overlap] + list(rng.choice(words, 2 * overlap))
        rows.append(f'"{" ".join(base)}","{" ".join(other)}",{overlap + 1},en,{"en" if i % 2 else "de"}')
    path = tmp_path / "pairs.csv"
    path.write_text("\n".join(rows) + "\n")
    report = evaluate_pairs(read_judgments(path, similar_at="low"), rec._embedder)
    assert set(report["correlations"]) == {"engine", "dense", "lexical"}
    assert report["correlations"]["engine"] == report["correlations"]["dense"]  # no text relevance given
    groups = report["correlations"]["engine"]
    assert {"en-en", "de-en", "cross-lingual", "all"} <= set(groups)
    assert groups["all"]["n"] == 30 and groups["all"]["pearson"] > 0.3
    flipped = evaluate_pairs(read_judgments(path, similar_at="high"), rec._embedder)
    assert flipped["correlations"]["engine"]["all"]["pearson"] == pytest.approx(-groups["all"]["pearson"])


def test_cli_eval_writes_both_files(built, graded_file: Path, tmp_path: Path):
    built.close()
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "-j",
            str(graded_file),
            "-r",
            str(out),
            "--k",
            "2,3",
            "--systems",
            "engine,lexical",
            "--home",
            str(built.home),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert list(report["metrics"]) == ["engine", "lexical"]
    html = (out / "report.html").read_text()
    assert "<svg" in html and "lexical" in html
    assert "nDCG@2" in result.output


def test_cli_eval_errors_are_one_line(built, tmp_path: Path):
    built.close()
    pairs = tmp_path / "p.csv"
    pairs.write_text("text1,text2,score\na,b,1\n")
    result = CliRunner().invoke(
        app, ["eval", "-j", str(pairs), "-r", str(tmp_path / "r"), "--home", str(built.home)]
    )
    assert result.exit_code == 1
    assert "--similar-at" in result.output and "Traceback" not in result.output


def test_one_line_judgments_file_is_one_clear_line(built, tmp_path: Path):
    built.close()
    one = tmp_path / "one.csv"
    one.write_text("article_id,related_id,grade\nvote-1,vote-2,2\n")  # vote-2 came later: hidden
    result = CliRunner().invoke(
        app, ["eval", "-j", str(one), "-r", str(tmp_path / "r"), "--home", str(built.home)]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "no judged article has a relevant candidate" in result.output and "--as-of latest" in result.output


def test_binary_judgments_file_is_one_clear_line(built, tmp_path: Path):
    built.close()
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xc1\xff\x00garbage\n")
    result = CliRunner().invoke(
        app, ["eval", "-j", str(binary), "-r", str(tmp_path / "r"), "--home", str(built.home)]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("error: ") and "not UTF-8 text (byte 0xC1)" in result.output


def test_cli_eval_summary_reads_at_80_columns(built, graded_file: Path, tmp_path: Path):
    built.close()
    result = CliRunner().invoke(
        app,
        ["eval", "-j", str(graded_file), "-r", str(tmp_path / "r"), "--k", "2,3", "--home", str(built.home)],
        env={"COLUMNS": "80"},
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if not line.startswith("report: ")]
    assert max(len(line) for line in lines) <= 80
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    info = report["metric_info"]
    shown = [m for m, i in info.items() if i["group"] in ("accuracy", "judged-only")][:8]
    for metric in shown:  # every column label whole, on one line, not cut or folded
        assert any(f" {info[metric]['label']} " in f" {line} " for line in lines), info[metric]["label"]
    for name in report["metrics"]:
        assert sum(line.replace("│", " ").split()[:1] == [name] for line in lines) >= 2  # a row per table
