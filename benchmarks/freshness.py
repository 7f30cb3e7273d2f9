"""Time from ingesting a new follow-up (or removing or rewriting an article) to the older story's
sidebar showing it, against a full index rebuild of the same store.

As on a live site, the writes (ingest, build, remove) are made by another process, a long-lived writer
that takes commands on its stdin (so that its start-up is not timed), while this process serves the
sidebar through the public API and watches for the change.

Over HTTP: `python -m benchmarks.freshness push [--home /work/stores/crawl] [--pushes 4]` runs
`recommender serve` on a copy of a built store and pushes follow-ups one at a time (PUT
/v1/articles, each a follow-up of another older story), timing each from the PUT's answer to the
first GET of the older story whose sidebar holds it: the first push starts the service's build
process and loads the model (cold), the later ones find it loaded (warm)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from recommender import Recommender

from .report import Row
from .synthetic import EXCLUDED_SECTION, Corpus, SyntheticEmbedder, article_id, follow_up, future, make_corpus

N = 10  # a slightly longer sidebar, so a miss is told from a near miss


def _older_story(corpus: Corpus, smallest: int, largest: int) -> int:
    """A recent article of a story with `smallest`..`largest` articles, outside the excluded section."""
    counts = np.bincount(corpus.topics)
    newest = np.argsort(corpus.published)[::-1][: max(50, len(corpus) // 10)]
    for row in newest:
        if smallest <= counts[corpus.topics[row]] <= largest and corpus.sections[row] != EXCLUDED_SECTION:
            return int(row)
    return int(newest[0])


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _until(check: Callable[[], bool], tries: int = 20) -> tuple[bool, int]:
    """Ask the sidebar until `check` holds (at most `tries` times); (held, tries used)."""
    for k in range(1, tries + 1):
        if check():
            return True, k
        time.sleep(0.05)
    return False, tries


class Writer:
    """The writing process: `python -m benchmarks.freshness writer HOME`, one JSON command a line."""

    def __init__(self, home: Path) -> None:
        root = Path(__file__).resolve().parent.parent
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.freshness", "writer", str(home)],
            cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def __call__(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        reply: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return reply

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _serve_writes(home: Path) -> None:
    """The writer's side: ingest, build and remove as told, answering each with what it did."""
    rec = Recommender(home, embedder=SyntheticEmbedder())
    for line in sys.stdin:
        command = json.loads(line)
        op = command.pop("op")
        if op == "ingest":
            rec.ingest([command["path"]])
            reply: dict[str, Any] = {}
        elif op == "build":
            report = rec.build(full=command.get("full", False))
            reply = {"incremental": report.incremental}
        else:
            rec.remove(command["ids"])
            reply = {}
        print(json.dumps(reply), flush=True)


def run(home: Path, size: int, label: str, log: Callable[[str], None] = print) -> list[Row]:
    """Follow-up in, article rewritten, article removed: each step timed on a copy of the store."""
    corpus = make_corpus(size)
    older = _older_story(corpus, 4, 20)  # a typical story
    older_id = corpus.ids[older]
    story_size = int((corpus.topics == corpus.topics[older]).sum())
    when = future(1.0)
    as_of = when + timedelta(hours=1)
    rows: list[Row] = []
    bench = "freshness"
    with tempfile.TemporaryDirectory(dir=home.parent, prefix=".freshness-") as tmp:
        work = Path(tmp) / "store"
        started = time.perf_counter()
        shutil.copytree(home, work)
        log(f"[bench] freshness: copied the {label} store in {time.perf_counter() - started:.1f} s")
        write = Writer(work)
        with Recommender(work) as rec:

            def sidebar() -> list[str]:
                return [r.id for r in rec.related(older_id, N, as_of=as_of)]

            before = sidebar()  # warm: index and catalog loaded
            new = follow_up(corpus, older, len(corpus), when)
            path = _write(Path(tmp) / "follow-up.jsonl", [new])

            t0 = time.perf_counter()
            write("ingest", path=str(path))
            t1 = time.perf_counter()
            report = write("build")
            t2 = time.perf_counter()
            shown, _ = _until(lambda: new["id"] in sidebar())
            t3 = time.perf_counter()
            position = sidebar().index(new["id"]) + 1 if shown else 0
            how = "incremental" if report["incremental"] else "rebuilt"

            # Rewrite an article of the sidebar onto another story: it must leave the sidebar.
            victim = next((i for i in before if i != new["id"]), before[0] if before else older_id)
            other = int(corpus.topics[(older + 1) % len(corpus)])
            donor = int(np.flatnonzero(corpus.topics == other)[0])
            rewritten = {
                "id": victim,
                "title": corpus.titles[donor] + " rewritten",
                "body": corpus.bodies[donor].replace(f"D{donor} ", f"D{len(corpus) + 1} "),
                "section": corpus.sections[donor],
                "language": corpus.languages[donor],
                "published_at": when.isoformat(),
            }
            upath = _write(Path(tmp) / "update.jsonl", [rewritten])
            u0 = time.perf_counter()
            write("ingest", path=str(upath))
            write("build")
            left, _ = _until(lambda: victim not in sidebar())
            u1 = time.perf_counter()

            # Remove the follow-up: it must leave the sidebar.
            r0 = time.perf_counter()
            write("remove", ids=[new["id"]])  # out of every sidebar at once, before any build
            gone, _ = _until(lambda: new["id"] not in sidebar())
            r1 = time.perf_counter()

            # The same for the newest article of one of the biggest stories (many equally close articles).
            big = _older_story(corpus, 50, 10**9)
            big_size = int((corpus.topics == corpus.topics[big]).sum())
            big_new = follow_up(corpus, big, len(corpus) + 2, when)
            b0 = time.perf_counter()
            write("ingest", path=str(_write(Path(tmp) / "big.jsonl", [big_new])))
            write("build")
            big_ids = [r.id for r in rec.related(corpus.ids[big], N, as_of=as_of)]
            b1 = time.perf_counter()
            long_ids = [r.id for r in rec.related(corpus.ids[big], 50, as_of=as_of)]
            big_pos = big_ids.index(big_new["id"]) + 1 if big_new["id"] in big_ids else 0
            long_pos = long_ids.index(big_new["id"]) + 1 if big_new["id"] in long_ids else 0

            f0 = time.perf_counter()
            write("build", full=True)
            full_seconds = time.perf_counter() - f0
        write.close()
    full_note = "full index rebuild of the same store (nothing to embed)"
    rows += [
        Row(bench, label, "follow-up: ingest", t1 - t0, "s", "", None, f"1 JSONL row into {size:,} articles"),
        Row(bench, label, "follow-up: build", t2 - t1, "s", full_note, full_seconds, how),
        Row(
            bench,
            label,
            "follow-up: ingest → in sidebar",
            t3 - t0,
            "s",
            full_note,
            full_seconds,
            f"shown at #{position} of {N} in {older_id}'s sidebar ({story_size}-article story)"
            if shown
            else f"NOT SHOWN in {older_id}'s sidebar ({story_size}-article story)",
        ),
        Row(
            bench,
            label,
            f"follow-up in a {big_size}-article story: ingest → sidebar",
            b1 - b0,
            "s",
            full_note,
            full_seconds,
            f"shown at #{big_pos} of {N}"
            if big_pos
            else f"NOT SHOWN in the top {N}"
            + (f" (#{long_pos} of 50 when n=50)" if long_pos else " nor in the top 50"),
        ),
        Row(
            bench,
            label,
            "rewrite: ingest → out of sidebar",
            u1 - u0,
            "s",
            full_note,
            full_seconds,
            f"{victim} rewritten onto another story: {'left' if left else 'STILL SHOWN'}",
        ),
        Row(
            bench,
            label,
            "remove: remove → out of sidebar",
            r1 - r0,
            "s",
            full_note,
            full_seconds,
            f"{article_id(len(corpus))} removed (no build): {'gone' if gone else 'STILL SHOWN'}",
        ),
    ]
    return rows


def push_to_sidebar(
    source: Path, pushes: int, workers: int = 1, deadline_s: float = 180.0, log: Callable[[str], None] = print
) -> list[float | None]:
    """Seconds from each PUT's answer to the older story's sidebar holding the pushed article (None:
    not within `deadline_s`), pushes one after another on a copy of `source` (module doc)."""
    from .loadgen import Server, free_port
    from .serve_load import TOKEN, _push_and_see, _push_records, article_paths, service_argv

    times: list[float | None] = []
    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp:
        home = Path(tmp) / "store"
        shutil.copytree(source, home, ignore=shutil.ignore_patterns("*.lock", ".write*", ".build*"))
        olders = article_paths(home, limit=pushes)
        port = free_port()
        with Server(service_argv(home, port, workers), port, env={"RECOMMENDER_API_TOKEN": TOKEN}) as srv:
            srv.wait_ready("/healthz")
            for k, path in enumerate(olders):
                older = path.removeprefix("/v1/related/")
                [(new_id, record)] = _push_records(home, older, 1, prefix=f"bench-fresh-{k}-")
                seen = _push_and_see(srv.base, older, new_id, record, deadline_s)
                times.append(seen)
                when = f"{seen:.1f} s" if seen is not None else f"NOT within {deadline_s:g} s"
                log(f"[bench] push {k + 1} ({'cold' if k == 0 else 'warm'}): in the sidebar after {when}")
    return times


def _push_main(argv: list[str]) -> None:
    import argparse

    from .loadgen import machine_load

    p = argparse.ArgumentParser(prog="python -m benchmarks.freshness push")
    p.add_argument("--home", type=Path, default=Path("/work/stores/crawl"), help="a built store (copied)")
    p.add_argument("--pushes", type=int, default=4)
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args(argv)
    print(f"[bench] {machine_load()}")
    times = push_to_sidebar(args.home, args.pushes, args.workers)
    warm = [t for t in times[1:] if t is not None]
    first = f"{times[0]:.1f} s" if times and times[0] is not None else "not seen"
    later = f"{min(warm):.1f}-{max(warm):.1f} s" if warm else "none seen"
    print(f"[bench] push -> in an older story's sidebar: first push {first}, later {later}; {machine_load()}")


if __name__ == "__main__":
    if sys.argv[1] == "writer":
        _serve_writes(Path(sys.argv[2]))
    elif sys.argv[1] == "push":
        _push_main(sys.argv[2:])
