"""Deepen judged pools: what systems show that nobody judged, as blind sheets; grades back to a file.

    D=../shared/data/bn_judgments_dev/bn_dev_judgments.csv
    # 1. replay the systems, write blind sheets of every unjudged top-k article (one command)
    python eval/judging/judging.py deepen --home H -j $D -j eval/judgments/dev_deepening.csv \\
        --systems engine,similarity-only,lexical --out SHEETS --prefix dev2
    #    (or from reports written by `recommender eval`: sheets --home H --report R/report.json ...)
    # 2. judges grade SHEETS/dev2_batchNN.md blind into GRADES/dev2_batchNN.csv
    #    (batch,item,grade,reason): see judge_prompt.txt
    # 3. join the grades to the keys: a graded-links file for `recommender eval -j`
    python eval/judging/judging.py merge --sheets SHEETS --prefix dev2 --grades GRADES \\
        --out eval/judgments/dev2.csv

Sheets follow ../shared/data/bn_judgments_dev/README.md step 3: per source its title and the first
600 characters of its cleaned body, per candidate title and first 400, each with outlet, section and
date; no system names or scores; candidates shuffled (seeded); batches of about 60 pairs with a
source never split. Article text is data: markdown and HTML characters are escaped on the sheets.
The key CSV of each batch (batch, item, source_id, candidate_id) and systems.json (which system
showed what) must not reach the judges. Texts are read from the store at run time; nothing here
copies article text into the repository.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import unicodedata
import urllib.parse
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

import numpy as np

SEED = 20260101
BATCH = 60  # pairs per sheet, about (a source is never split; a sheet may run 10 over)
SOURCE_CHARS, CANDIDATE_CHARS = 600, 400
GRADES = ("0", "1", "2", "D")

# Outlet boilerplate left off the sheets (Jugantor's print header, Samakal's header and ad footer)
JUGANTOR_HEAD = re.compile(r"^\s*প্রিন্ট:.*?প্রকাশ:\s*[^,]+,\s*[০-৯0-9:]+\s*(?:পিএম|এএম)\s*", re.S)
SAMAKAL_HEAD = re.compile(r"^\s*প্রকাশ:[^|]*\|[^|]*\|\s*আপডেট:[^|]*\|\s*[০-৯0-9:]+\s*")
SAMAKAL_FOOT = re.compile(r"\s*ই-মেইল:\s*samakalad@.*$", re.S)


def clean(body: str) -> str:
    body = JUGANTOR_HEAD.sub("", body)
    body = SAMAKAL_HEAD.sub("", body)
    return SAMAKAL_FOOT.sub("", body).strip()


def escape(text: str) -> str:
    """Markdown and HTML characters escaped, control characters turned to spaces."""
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return re.sub(r"([\\`*_\[\]<>#|{}])", r"\\\1", text)


def outlet(url: str) -> str:
    host = urllib.parse.urlparse(url).netloc.lower()
    return host.removeprefix("www.") or "(unknown)"


# --- pools ------------------------------------------------------------------------------------
def pools_from_reports(
    reports: Sequence[dict[str, Any]], systems: Sequence[str] = ()
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Every unjudged top-k article of every system (or of the named ones), per source (first seen
    first), and which system showed which (for the record; never on a sheet)."""
    pools: dict[str, list[str]] = {}
    shown: dict[str, dict[str, list[str]]] = {}
    for report in reports:
        for system, entry in report.get("unjudged", {}).items():
            if systems and system not in systems:
                continue
            for source, items in entry["by_source"].items():
                pool = pools.setdefault(source, [])
                pool.extend(c for c in items if c not in pool and c != source)
                shown.setdefault(source, {}).setdefault(system, []).extend(items)
    return {s: p for s, p in sorted(pools.items()) if p}, shown


# --- sheets -----------------------------------------------------------------------------------
class Texts:
    """Title, cleaned body, section and date of every stored article, read from the store."""

    def __init__(self, home: Path) -> None:
        from recommender.home import Home

        with Home(home).reading() as store:
            articles, texts = store.catalog()
        self.articles = {a.external_id: a for a in articles}
        self.bodies = {a.external_id: t.partition("\n")[2] for a, t in zip(articles, texts, strict=True)}

    def __contains__(self, article_id: str) -> bool:
        return article_id in self.articles

    def block(self, article_id: str, chars: int) -> list[str]:
        article = self.articles[article_id]
        url = article.url or article.external_id
        date = (
            article.published_at.astimezone(UTC).strftime("%Y-%m-%d") if article.published_at else "unknown"
        )
        excerpt = " ".join(clean(self.bodies[article_id]).split())[:chars]
        meta = f"{outlet(url)} | section: {article.section or '(none)'} | date: {date}"
        return [f"**{escape(article.title)}**", f"({escape(meta)})", "", escape(excerpt), ""]


def batches(pools: dict[str, list[str]], seed: int, size: int) -> list[list[tuple[str, list[str]]]]:
    """Sources in id order, each with its candidates shuffled, packed into batches of about `size`."""
    rng = np.random.default_rng(seed)
    out: list[list[tuple[str, list[str]]]] = [[]]
    filled = 0
    for source in sorted(pools):
        candidates = [pools[source][i] for i in rng.permutation(len(pools[source]))]
        if filled and filled + len(candidates) > size + 10:
            out.append([])
            filled = 0
        out[-1].append((source, candidates))
        filled += len(candidates)
    return [b for b in out if b]


def write_sheets(
    pools: dict[str, list[str]], texts: Texts, out: Path, prefix: str, seed: int = SEED, size: int = BATCH
) -> list[Path]:
    missing = sorted({a for s, cs in pools.items() for a in (s, *cs) if a not in texts})
    if missing:
        raise SystemExit(
            f"error: {len(missing)} articles of the pools are not in the store, e.g. {missing[0]}"
        )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for number, batch in enumerate(batches(pools, seed, size), 1):
        name = f"{prefix}_batch{number:02d}"
        lines = [
            f"# Judging sheet {name}",
            "",
            "Grade every (source, candidate) pair: 2 = a reader would clearly want this next; "
            "1 = same broader topic; 0 = unrelated; D = near-duplicate (the same text republished). "
            "Grade definitions and conventions: shared/data/bn_judgments_dev/README.md, step 3.",
            "",
        ]
        item = 0
        with (out / f"{name}_key.csv").open("w", newline="", encoding="utf-8") as handle:
            key = csv.writer(handle)
            key.writerow(["batch", "item", "source_id", "candidate_id"])
            for source_number, (source, candidates) in enumerate(batch, 1):
                lines += [f"## Source {source_number}", *texts.block(source, SOURCE_CHARS)]
                for candidate in candidates:
                    item += 1
                    key.writerow([name, item, source, candidate])
                    lines += [
                        f"### Item {item} (source {source_number})",
                        *texts.block(candidate, CANDIDATE_CHARS),
                    ]
                    lines += ["Grade: ____", ""]
        (out / f"{name}.md").write_text("\n".join(lines), encoding="utf-8")
        written.append(out / f"{name}.md")
        print(f"{name}: {item} pairs, {len(batch)} sources")
    return written


# --- grades back ------------------------------------------------------------------------------
def merge_grades(sheets: Path, prefix: str, grades: Path) -> list[list[str]]:
    """Rows (source_id, candidate_id, grade, reason) from each batch's key and its graded CSV
    (batch,item,grade,reason, one row per item); any gap or bad grade stops with the file and line."""
    rows: list[list[str]] = []
    keys = sorted(sheets.glob(f"{prefix}_batch*_key.csv"))
    if not keys:
        raise SystemExit(f"error: no {prefix}_batchNN_key.csv in {sheets}")
    for key_path in keys:
        batch = key_path.name.removesuffix("_key.csv")
        graded_path = grades / f"{batch}.csv"
        if not graded_path.is_file():
            raise SystemExit(f"error: {graded_path}: missing (batch {batch} not graded)")
        with key_path.open(newline="", encoding="utf-8") as handle:
            key = {row["item"]: row for row in csv.DictReader(handle)}
        seen: set[str] = set()
        with graded_path.open(newline="", encoding="utf-8-sig") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                item, grade = (row.get("item") or "").strip(), (row.get("grade") or "").strip().upper()
                if item not in key:
                    raise SystemExit(f"error: {graded_path}:{line}: item {item!r} is not on sheet {batch}")
                if item in seen:
                    raise SystemExit(f"error: {graded_path}:{line}: item {item} graded twice")
                if grade not in GRADES:
                    raise SystemExit(f"error: {graded_path}:{line}: grade {grade!r} is not one of 0, 1, 2, D")
                seen.add(item)
                reason = " ".join((row.get("reason") or "").split())
                rows.append([key[item]["source_id"], key[item]["candidate_id"], grade, reason])
        if len(seen) != len(key):
            left = sorted(set(key) - seen, key=int)
            raise SystemExit(f"error: {graded_path}: {len(left)} items not graded (first: item {left[0]})")
    return rows


# --- commands ---------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="judging.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    deepen = sub.add_parser("deepen", help="replay systems, write blind sheets of their unjudged top-k")
    deepen.add_argument("--home", type=Path, required=True)
    deepen.add_argument(
        "-j", "--judgments", action="append", required=True, help="graded links; repeat to merge"
    )
    deepen.add_argument("--systems", default="", help="comma-separated (default: every system of `eval`)")
    deepen.add_argument("--k", type=int, default=5, help="top k to judge (default 5)")
    sheets = sub.add_parser("sheets", help="blind sheets of the unjudged top-k in eval reports")
    sheets.add_argument("--home", type=Path, required=True)
    sheets.add_argument("--report", type=Path, action="append", required=True, help="report.json; repeatable")
    sheets.add_argument(
        "--systems", default="", help="only these systems' lists (default: all in the reports)"
    )
    for command in (deepen, sheets):
        command.add_argument("--out", type=Path, required=True, help="folder for sheets, keys, pools")
        command.add_argument("--prefix", required=True, help="sheet names: PREFIX_batchNN.md")
        command.add_argument("--seed", type=int, default=SEED)
    merge = sub.add_parser("merge", help="join graded sheets to their keys: a judgments CSV")
    merge.add_argument("--sheets", type=Path, required=True)
    merge.add_argument("--prefix", required=True)
    merge.add_argument("--grades", type=Path, required=True, help="folder of PREFIX_batchNN.csv grades")
    merge.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    if args.command == "merge":
        rows = merge_grades(args.sheets, args.prefix, args.grades)
        with args.out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["source_id", "candidate_id", "grade", "reason"])
            writer.writerows(rows)
        counts = {g: sum(r[2] == g for r in rows) for g in GRADES}
        print(f"{args.out}: {len(rows)} pairs over {len({r[0] for r in rows})} sources; grades {counts}")
        return 0

    if args.command == "deepen":
        from recommender import Recommender
        from recommender.evaluation.systems import SYSTEM_NAMES

        names = tuple(s.strip() for s in args.systems.split(",") if s.strip()) or SYSTEM_NAMES
        with Recommender(args.home) as rec:
            report = rec.evaluate(args.judgments, systems=names, ks=(args.k,))
        reports = [report]
    else:
        reports = [json.loads(p.read_text(encoding="utf-8")) for p in args.report]
    only = [s.strip() for s in args.systems.split(",") if s.strip()] if args.command == "sheets" else []
    pools, shown = pools_from_reports(reports, only)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.prefix}_pools.json").write_text(json.dumps(pools, ensure_ascii=False, indent=1))
    (args.out / f"{args.prefix}_systems.json").write_text(json.dumps(shown, ensure_ascii=False, indent=1))
    for report in reports:
        counts = {name: entry["count"] for name, entry in report.get("unjudged", {}).items()}
        print("unjudged top-k slots per system:", counts)
    if not pools:
        print("nothing unjudged: no sheets written")
        return 0
    write_sheets(pools, Texts(args.home), args.out, args.prefix, args.seed)
    print(
        f"{sum(map(len, pools.values()))} pairs over {len(pools)} sources; "
        "keys and systems.json are not for judges"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
