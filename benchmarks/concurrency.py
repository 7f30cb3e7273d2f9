"""Serving beside a writer, and the memory of several serving processes (issue 8).

- related() p50/p99 in this process while nothing else happens, against the same queries while another
  process writes to the same home (ingest one article, change a section boost, remove an article, in a
  loop: what a CMS does), in interleaved rounds; each figure is the median of the rounds, with the range.
- Memory of 4 reader processes serving the same home: the sum of their RSS (shared pages counted in
  every process) and of their PSS (each shared page split between the processes that map it, so counted
  once in the sum), against one process alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from recommender import Recommender

from .latency import MAX_AGE_DAYS, WARMUP, N, Query, load_corpus, pick_queries
from .report import Row

ROUNDS = 3
READERS = 4
ROOT = Path(__file__).resolve().parent.parent


def run(home: Path, label: str, queries: int, exclude: str, log: Any = print) -> list[Row]:
    rec = Recommender(home)
    corpus = load_corpus(rec)
    picked = pick_queries(corpus, queries + WARMUP, exclude, seed=1)
    warm, timed = picked[:WARMUP], picked[WARMUP:]

    def ask(q: Query) -> None:
        rec.related(q.external_id, N, as_of=q.as_of, max_age_days=MAX_AGE_DAYS, exclude_sections=q.exclude)

    for q in warm:
        ask(q)
    quiet: list[dict[str, float]] = []
    loaded: list[dict[str, float]] = []
    writes: list[int] = []
    for round_ in range(ROUNDS):
        quiet.append(_percentiles(_timed(ask, timed)))
        stop = home.parent / f".bench-writer-{round_}.stop"
        writer = _writer(home, stop, round_)
        time.sleep(1.0)  # the writer is running
        loaded.append(_percentiles(_timed(ask, timed)))
        stop.touch()
        out, _ = writer.communicate(timeout=120)
        stop.unlink(missing_ok=True)
        writes.append(int(out.strip().splitlines()[-1]))
        log(f"[bench] concurrency {label} round {round_ + 1}: quiet {quiet[-1]}, writing {loaded[-1]}")
    rec.close()

    rows = []
    for p in ("p50", "p99"):
        q = [r[p] for r in quiet]
        w = [r[p] for r in loaded]
        rows.append(
            Row("concurrency", label, f"related() {p}, another process writing", float(np.median(w)), "ms",
                f"related() {p}, nothing else running", float(np.median(q)),
                f"{ROUNDS} interleaved rounds of {len(timed)} queries: writing {min(w):.3g}-{max(w):.3g}, "
                f"quiet {min(q):.3g}-{max(q):.3g}")
        )  # fmt: skip
    rows.append(
        Row("concurrency", label, "writes by the other process", float(np.median(writes)), "per round", "",
            None, "each: ingest 1 article, set a section boost or remove 1 article (own lock session)")
    )  # fmt: skip
    rows += _memory_rows(home, label, timed[:200])
    return rows


def _memory_rows(home: Path, label: str, queries: list[Query]) -> list[Row]:
    one = _readers(home, queries, 1)
    many = _readers(home, queries, READERS)
    meta = Recommender(home).index().meta
    raw = meta.count * meta.dimension * 4 / 1e6
    return [
        Row("concurrency", label, f"{READERS} readers, PSS summed (shared pages once)", many["pss"], "MB",
            "1 reader alone, PSS", one["pss"], f"raw float32 vectors {raw:.0f} MB"),
        Row("concurrency", label, f"{READERS} readers, RSS summed (shared pages in each)", many["rss"], "MB",
            "1 reader alone, RSS", one["rss"], "RSS counts every mapped page in every process"),
    ]  # fmt: skip


def _readers(home: Path, queries: list[Query], count: int) -> dict[str, float]:
    """Start `count` reader processes, let each answer the queries, then read their memory together."""
    payload = json.dumps([[q.external_id, q.as_of.isoformat(), list(q.exclude)] for q in queries])
    procs = [
        subprocess.Popen([sys.executable, "-m", "benchmarks.concurrency", "reader", str(home)], cwd=ROOT,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]  # fmt: skip
    for proc in procs:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(payload + "\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    totals = {"rss": 0.0, "pss": 0.0}
    for proc in procs:
        memory = _smaps_rollup(proc.pid)
        totals["rss"] += memory["Rss"] / 1e3
        totals["pss"] += memory["Pss"] / 1e3
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)
    return totals


def _smaps_rollup(pid: int) -> dict[str, int]:
    """kB figures of /proc/PID/smaps_rollup (Rss, Pss, ...)."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        out[name.rstrip(":")] = int(value)
    return out


def _writer(home: Path, stop: Path, round_: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.concurrency", "writer", str(home), str(stop), str(round_)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def _writer_loop(home: Path, stop: Path, round_: int) -> None:
    """Write to the home until `stop` exists; print the number of writes."""
    rec = Recommender(home)
    sections = [s.name for s in rec.sections()][:3] or ["national"]
    source = home.parent / f".bench-writer-{round_}.jsonl"
    done = 0
    while not stop.exists():
        ident = f"bench-writer-{round_}-{done}"
        row = {"id": ident, "title": f"Writer article {done}", "body": f"A new article, number {done}.",
               "section": sections[0], "language": "en", "published_at": "2025-12-01T10:00:00Z"}  # fmt: skip
        source.write_text(json.dumps(row) + "\n")
        rec.ingest([source])
        rec.set_section(sections[done % len(sections)], boost=0.1 + 0.01 * (done % 5))
        rec.remove([ident])
        done += 3
    source.unlink(missing_ok=True)
    print(done)


def _reader_child(home: Path) -> None:
    from datetime import datetime

    queries = json.loads(sys.stdin.readline())
    rec = Recommender(home)
    for external_id, as_of, exclude in queries:
        rec.related(external_id, N, as_of=datetime.fromisoformat(as_of), max_age_days=MAX_AGE_DAYS,
                    exclude_sections=exclude)  # fmt: skip
    print("ready", flush=True)
    sys.stdin.read()  # hold the memory until the parent has measured it


def _timed(fn: Any, items: list[Query]) -> list[float]:
    out = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - started) * 1000.0)
    return out


def _percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"p50": round(float(np.percentile(a, 50)), 3), "p99": round(float(np.percentile(a, 99)), 3)}


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "writer":
        _writer_loop(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
    elif command == "reader":
        _reader_child(Path(sys.argv[2]))
