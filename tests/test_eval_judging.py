"""eval/judging/judging.py: the deepening loop run as a user runs it (sheets, grades, merge, eval)."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import article, write_jsonl
from .test_evaluation import GRADED, STORIES

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "eval" / "judging" / "judging.py"


def judging(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )


def test_deepen_grade_merge_leaves_nothing_unjudged(rec, tmp_path: Path):
    rows = [
        article(i, title, body, section=section, published_at=f"{day}T09:00:00+00:00", language="en")
        for i, section, day, title, body in STORIES
    ]
    rows[0]["title"] = "Vote <b>date</b> | *set*"  # article text is data: escaped on the sheet
    rec.ingest([write_jsonl(tmp_path / "a.jsonl", rows)])
    rec.build()
    rec.close()
    shared = tmp_path / "shared.csv"
    shared.write_text(GRADED, encoding="utf-8")
    sheets = tmp_path / "sheets"
    home = str(rec.home)
    made = judging("deepen", "--home", home, "-j", str(shared), "--systems", "engine,lexical,random")
    assert made.returncode == 2 and "--out" in made.stderr  # argparse names what is missing
    made = judging(
        *("deepen", "--home", home, "-j", str(shared), "--systems", "engine,lexical,random", "--k", "3"),
        *("--out", str(sheets), "--prefix", "t", "--seed", "5"),
    )
    assert made.returncode == 0, made.stderr
    pools = json.loads((sheets / "t_pools.json").read_text())
    judged = {tuple(line.split(",")[:2]) for line in GRADED.splitlines()[1:]}
    pairs = [(s, c) for s, cs in pools.items() for c in cs]
    assert pairs and not set(pairs) & judged and len(set(pairs)) == len(pairs)
    sheet = (sheets / "t_batch01.md").read_text()
    assert "Grade: ____" in sheet and not re.search(r"\b(engine|lexical|random|score)\b", sheet)  # blind
    if "vote-1" in {c for _, c in pairs} | set(pools):
        assert r"Vote \<b\>date\</b\> \| \*set\*" in sheet
    with (sheets / "t_batch01_key.csv").open() as handle:
        key = list(csv.DictReader(handle))
    assert {(r["source_id"], r["candidate_id"]) for r in key} == set(pairs)
    assert sheet.count("### Item ") == len(key)

    grades = tmp_path / "grades"
    grades.mkdir()
    graded = grades / "t_batch01.csv"
    body = [f"t_batch01,{r['item']},0," for r in key]
    graded.write_text("batch,item,grade,reason\n" + "\n".join(body[:-1]) + "\n")
    out = tmp_path / "deeper.csv"
    merge = ("merge", "--sheets", str(sheets), "--prefix", "t", "--grades", str(grades), "--out", str(out))
    short = judging(*merge)
    assert short.returncode == 1 and f"1 items not graded (first: item {len(key)})" in short.stderr
    graded.write_text(
        "batch,item,grade,reason\n" + "\n".join([*body[:-1], body[-1].replace(",0,", ",maybe,")])
    )
    bad = judging(*merge)
    assert bad.returncode == 1 and f"t_batch01.csv:{len(key) + 1}: grade 'MAYBE'" in bad.stderr
    graded.write_text("batch,item,grade,reason\n" + "\n".join(body) + "\n")
    done = judging(*merge)
    assert done.returncode == 0, done.stderr

    again = judging(
        *("deepen", "--home", home, "-j", str(shared), "-j", str(out), "--systems", "engine,lexical,random"),
        *("--k", "3", "--out", str(tmp_path / "again"), "--prefix", "t"),
    )
    assert again.returncode == 0, again.stderr
    assert "nothing unjudged" in again.stdout
