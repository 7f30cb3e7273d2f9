"""Ingest speed and peak memory on a generated file, beside DuckDB's own reader as the ceiling.

    python -m benchmarks.ingest_bench [--rows 1000000] [--rounds 2] [--formats jsonl,parquet]

The file: synthetic articles shaped like the shared crawl (Bengali and English, bodies of about
2,500 characters, a third undated, a third with Bengali printed dates, a third ISO), written once
into the cache. Each measurement runs in its own process, so its peak RSS (VmHWM) is its own:
- engine:  `recommender ingest FILE` into an empty store: every row decoded, type-checked, cleaned,
  dates parsed, staged in batches and stored in one transaction;
- ceiling: DuckDB's read_json / read_parquet straight into a table of the same columns in an
  empty database file: no checks at all, the fastest any ingest into DuckDB can be.
Rounds interleave engine and ceiling; the table gives the median and the range over rounds.
Run as `python -m benchmarks.ingest_bench child engine|ceiling FILE` it is that child.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .report import Row, mb, peak_rss_bytes, print_table

ROOT = Path(__file__).resolve().parent.parent
VERSION = 1
BENGALI_DIGITS = str.maketrans("0123456789", "০১২৩৪৫৬৭৮৯")
BENGALI_MONTHS = ["জানুয়ারি", "ফেব্রুয়ারি", "মার্চ", "এপ্রিল", "মে", "জুন", "জুলাই", "আগস্ট", "সেপ্টেম্বর", "অক্টোবর", "নভেম্বর", "ডিসেম্বর"]  # fmt: skip  # noqa: E501


def make_file(rows: int, kind: str, folder: Path) -> Path:
    """The benchmark file, generated once per size and format (deterministic)."""
    path = folder / f"ingest-{rows}-v{VERSION}.{kind}"
    if path.exists():
        return path
    from .synthetic import make_corpus

    corpus = make_corpus(rows)
    work = path.with_name(path.name + ".part")
    if kind == "jsonl":
        with work.open("w", encoding="utf-8") as fh:
            for i in range(rows):
                fh.write(json.dumps(_row(corpus, i), ensure_ascii=False) + "\n")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        for start in range(0, rows, 50_000):
            chunk = [_row(corpus, i) for i in range(start, min(rows, start + 50_000))]
            table = pa.Table.from_pylist(chunk, schema=_parquet_schema(pa))
            writer = writer or pq.ParquetWriter(work, table.schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()
    os.replace(work, path)
    return path


def _parquet_schema(pa: Any) -> Any:
    names = ("id", "url", "title", "body", "section", "language", "published_at", "crawled_at")
    return pa.schema([(name, pa.string()) for name in names])


def _row(corpus: Any, i: int) -> dict[str, Any]:
    """One article as the crawl has them: long body, url, a date in one of the crawl's shapes."""
    body = corpus.bodies[i]
    body = " ".join([body] * max(1, 2_500 // max(len(body), 1)))
    when = corpus.published[i].astype("datetime64[s]").item()
    if i % 3 == 0:
        date = None
    elif i % 3 == 1:
        date = f"প্রকাশ : {when.day:02d} {BENGALI_MONTHS[when.month - 1]} {when.year}, {when:%H:%M}"
        date = date.translate(BENGALI_DIGITS)
    else:
        date = when.isoformat() + "+06:00"
    return {
        "id": corpus.ids[i],
        "url": f"https://bench.example/{corpus.sections[i]}/{corpus.ids[i]}",
        "title": corpus.titles[i],
        "body": body,
        "section": corpus.sections[i],
        "language": corpus.languages[i],
        "published_at": date,
        "crawled_at": "2026-11-01T00:00:00+00:00",
    }


def child(mode: str, path: Path) -> dict[str, Any]:
    """One measurement in this process: rows/s and peak RSS."""
    with tempfile.TemporaryDirectory(prefix="ingest-bench-", dir=path.parent) as tmp:
        started = time.perf_counter()
        if mode == "engine":
            from recommender import Recommender

            with Recommender(Path(tmp) / "store") as rec:
                report = rec.ingest([path], timezone="Asia/Dhaka")
            stored = report.added
            extra = {"rejected": report.rejected_count}
        else:
            import duckdb

            con = duckdb.connect(str(Path(tmp) / "ceiling.duckdb"))
            reader = "read_parquet" if path.suffix == ".parquet" else "read_json"
            options = "" if reader == "read_parquet" else ", format='newline_delimited'"
            con.execute(f"CREATE TABLE articles AS SELECT * FROM {reader}('{path}'{options})")
            stored = con.execute("SELECT count(*) FROM articles").fetchone()[0]  # type: ignore[index]
            con.close()
            extra = {}
        seconds = time.perf_counter() - started
    return {"mode": mode, "rows": stored, "seconds": seconds, "peak_rss": peak_rss_bytes(), **extra}


def measure(mode: str, path: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.ingest_bench", "child", mode, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{mode} child failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(rows: int, rounds: int, kinds: list[str], folder: Path) -> list[Row]:
    out: list[Row] = []
    for kind in kinds:
        path = make_file(rows, kind, folder)
        size_mb = mb(path.stat().st_size)
        results: dict[str, list[dict[str, Any]]] = {"engine": [], "ceiling": []}
        for _ in range(rounds):
            for mode in ("engine", "ceiling"):  # interleaved, so a busy moment hits both
                results[mode].append(measure(mode, path))
        label = f"{rows:,} {kind}"
        rate = {m: [r["rows"] / r["seconds"] for r in rs] for m, rs in results.items()}
        peak = {m: [mb(r["peak_rss"]) for r in rs] for m, rs in results.items()}
        stored = results["engine"][0]["rows"]
        out.append(
            Row(
                "ingest",
                label,
                "rows/s",
                round(statistics.median(rate["engine"]), 1),
                "rows/s",
                "DuckDB read into a table (no checks)",
                round(statistics.median(rate["ceiling"]), 1),
                f"engine {_span(rate['engine'])}, ceiling {_span(rate['ceiling'])}; {rounds} rounds; "
                f"file {size_mb:,.0f} MB; {stored:,} stored, {results['engine'][0]['rejected']} rejected",
            )
        )
        out.append(
            Row(
                "ingest",
                label,
                "peak RSS",
                round(statistics.median(peak["engine"])),
                "MB",
                "DuckDB read into a table (no checks)",
                round(statistics.median(peak["ceiling"])),
                f"engine {_span(peak['engine'], '.0f')}, ceiling {_span(peak['ceiling'], '.0f')} MB",
            )
        )
    return out


def _span(values: list[float], fmt: str = ",.0f") -> str:
    return f"{min(values):{fmt}}-{max(values):{fmt}}"


def main(argv: list[str]) -> None:
    if argv[:1] == ["child"]:
        print(json.dumps(child(argv[1], Path(argv[2]))))
        return
    p = argparse.ArgumentParser(prog="python -m benchmarks.ingest_bench", description=__doc__)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--formats", default="jsonl,parquet")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "recommender" / "bench")
    args = p.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    rows = run(args.rows, args.rounds, [k.strip() for k in args.formats.split(",") if k.strip()], args.cache)
    print_table(f"ingest, {args.rows:,} rows", rows)


if __name__ == "__main__":
    main(sys.argv[1:])
