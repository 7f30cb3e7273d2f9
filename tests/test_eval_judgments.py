"""Several judgment files merged per (source, candidate): a shared set plus its deepened pools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender.cli import app
from recommender.errors import InvalidSetting, UnreadableInput
from recommender.evaluation import read_judgments
from recommender.evaluation.judgments import merge_graded, read_judgment_files

from .test_evaluation import GRADED, built  # noqa: F401  (the fixture: a small built store)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_files_merge_per_pair(tmp_path: Path):
    first = write(tmp_path / "a.csv", "source_id,candidate_id,grade\ns,a,2\ns,b,D\nt,a,1\n")
    second = write(tmp_path / "b.csv", "source_id,candidate_id,grade\ns,a,2\ns,c,0\nu,a,1\n")
    merged = read_judgment_files([first, second])
    assert merged.grades == {"s": {"a": "2", "b": "D", "c": "0"}, "t": {"a": "1"}, "u": {"a": "1"}}
    assert merged.counts()["pairs"] == 5  # s,a is in both files with one grade: counted once
    assert merged.duplicates("s") == {"b"}
    assert merged.files == (first, second)
    assert merged.origins[("s", "c")] == f"{second}:3"
    assert merged.sha256 != read_judgments(first).sha256
    assert read_judgment_files([first]) == read_judgments(first)  # one file: as read


def test_conflicting_grades_are_an_error_naming_both_places(tmp_path: Path):
    first = write(tmp_path / "a.csv", "source_id,candidate_id,grade\ns,a,2\ns,b,1\n")
    second = write(tmp_path / "b.csv", "article_id,related_id,grade\ns,x,0\ns,b,0\ns,a,D\n")
    with pytest.raises(UnreadableInput) as caught:
        read_judgment_files([first, second])
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{second}:3: pair (s, b) graded 0 here but 1 in {first}:3")
    assert "(2 conflicting pairs; the first shown)" in message
    with pytest.raises(UnreadableInput, match=r"a.csv:2: pair \(s, a\) graded 2 here but D in .*b.csv:4"):
        merge_graded([read_judgments(second), read_judgments(first)])


def test_scored_pairs_and_proxy_do_not_merge(tmp_path: Path):
    graded = write(tmp_path / "g.csv", "source_id,candidate_id,grade\ns,a,2\n")
    pairs = write(tmp_path / "p.csv", "text1,text2,score\na,b,1\n")
    with pytest.raises(InvalidSetting, match=r"p\.csv holds scored text pairs: evaluate scored pairs one"):
        read_judgment_files([graded, pairs], similar_at="low")
    with pytest.raises(InvalidSetting, match="no judgments file"):
        read_judgment_files([])


def test_bad_second_file_keeps_its_one_line_error(tmp_path: Path):
    good = write(tmp_path / "good.csv", "source_id,candidate_id,grade\ns,a,2\n")
    bad = write(tmp_path / "bad.csv", "source_id,candidate_id,grade\ns,b,2\ns,c,maybe\n")
    with pytest.raises(UnreadableInput, match=r"bad.csv:3: grade 'maybe'"):
        read_judgment_files([good, bad])


def run_eval(home: Path, out: Path, *files: Path, systems: str = "engine,lexical,random"):
    args = ["eval", *(a for f in files for a in ("-j", str(f))), "-r", str(out), "--k", "2,3"]
    return CliRunner().invoke(app, [*args, "--systems", systems, "--home", str(home)], env={"COLUMNS": "200"})


def test_cli_eval_merges_repeated_judgments(built, tmp_path: Path):  # noqa: F811
    """Judge what the first run lists as unjudged, run again with both files: nothing unjudged is
    left in any top 2 (the deepening loop of eval/judging/)."""
    built.close()
    shared = write(tmp_path / "shared.csv", GRADED)
    alone = run_eval(built.home, tmp_path / "one", shared)
    assert alone.exit_code == 0, alone.output
    one = json.loads((tmp_path / "one" / "report.json").read_text())
    todo = {(s, c) for entry in one["unjudged"].values() for s, cs in entry["by_source"].items() for c in cs}
    judged = {tuple(line.split(",")[:2]) for line in GRADED.splitlines()[1:]}
    assert todo and not todo & judged
    assert one["unjudged"]["random"]["count"] > 0 and one["metrics"]["random"]["judged@2"] < 1.0
    deeper = write(
        tmp_path / "deeper.csv",
        "source_id,candidate_id,grade\n" + "".join(f"{s},{c},0\n" for s, c in sorted(todo)),
    )
    both = run_eval(built.home, tmp_path / "two", shared, deeper)
    assert both.exit_code == 0, both.output
    two = json.loads((tmp_path / "two" / "report.json").read_text())
    assert two["judgments"]["files"] == [str(shared), str(deeper)]
    assert two["judgments"]["counts"]["pairs"] == one["judgments"]["counts"]["pairs"] + len(todo)
    for name in ("engine", "lexical", "random"):
        assert two["unjudged"][name] == {"count": 0, "by_source": {}}
        assert two["metrics"][name]["judged@2"] == 1.0


def test_cli_eval_conflict_is_one_line(built, tmp_path: Path):  # noqa: F811
    built.close()
    shared = write(tmp_path / "shared.csv", GRADED)
    other = write(tmp_path / "other.csv", "source_id,candidate_id,grade\nvote-2,cup-1,1\n")
    result = run_eval(built.home, tmp_path / "r", shared, other)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("error: ") and "graded 1 here but 0 in" in result.output
    proxy = CliRunner().invoke(
        app, ["eval", "-j", "proxy", "-j", str(shared), "-r", str(tmp_path / "p"), "--home", str(built.home)]
    )
    assert proxy.exit_code == 1 and "proxy judgments cannot be merged" in proxy.output


def test_readme_tables_come_from_the_report(built, tmp_path: Path):  # noqa: F811
    import runpy

    built.close()
    shared = write(tmp_path / "shared.csv", GRADED)
    result = run_eval(built.home, tmp_path / "r", shared, systems="engine,similarity-only,lexical,random")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    tables = runpy.run_path(str(Path(__file__).resolve().parent.parent / "eval" / "tables.py"))
    text = tables["graded"](report, "engine", ["lexical", "similarity-only", "legacy"])
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert set(report["metrics"]) <= set(rows)
    engine = report["metrics"]["engine"]
    assert (
        f"| engine | {engine['ndcg@2']:.3f} |" in rows["engine"]
        or f"**{engine['ndcg@2']:.3f}**" in rows["engine"]
    )
    p = report["significance"]["ndcg@2"]["engine"]["lexical"]
    assert f"p = {p:.3g}" in rows["ndcg@2"] and "legacy" not in text  # absent systems are not invented
