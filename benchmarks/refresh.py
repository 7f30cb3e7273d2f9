"""An incremental build with more fresh articles than its lists carry: folded into the lists
against the engine before, which searched every list again.

    python -m benchmarks.refresh --size 100k --fresh 0.03 [--rounds 2] [--probes 500] [--work DIR]
                                 [--floor N]

One synthetic store (benchmarks/synthetic.py, with its vectors: the builds only index) holds the
`--size` articles but the newest `--fresh` share of them, and is built whole once. Then the newest
articles are written to it, more than a build carries as fresh ids (neighbours.refresh_limit), and
each run copies that store and builds it in a fresh process: `fold` (the engine: the fresh ids
folded into every carried list, index/neighbours.py `_fold`) and `search every list` (the baseline:
the engine before, when such a build searched every article's list again), in interleaved rounds.
Printed per run: the build's seconds, the neighbour phase's, its peak RSS, and the recall@10 of the
stored lists of `--probes` articles (the same ones for both, drawn from the articles built before) against an
exact search of the build's vectors, the article itself left out; then a table of both side by side.
A store kept in `--work` is used again by the next run of the same size and share.
`--floor N`: the builds carry at most N fresh ids (neighbours.REFRESH_FLOOR; for small stores).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .report import Row, print_table
from .synthetic import SyntheticEmbedder, iter_sizes, populate

ROOT = Path(__file__).resolve().parent.parent
RUNS = ("fold", "search every list")
K = 10


def child(home: Path, run: str, probes: int, seed: int, floor: int = 0) -> dict[str, Any]:
    """One incremental build of the store at `home`: the engine's, or (run "search every list")
    with every list searched again as before the fold; its times and its lists' recall."""
    from recommender import Recommender
    from recommender.index import neighbours

    if floor:
        neighbours.REFRESH_FLOOR = floor
    if run == "search every list":
        carried = neighbours._carried

        def searching_all(index, previous, changed, lists):  # type: ignore[no-untyped-def]
            carry = carried(index, previous, changed, lists)
            return None if carry is not None and carry.fold else carry

        neighbours._carried = searching_all
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = time.perf_counter()

    started = time.perf_counter()
    with Recommender(home, embedder=SyntheticEmbedder()) as rec:
        report = rec.build(phase=phase)
        seconds = time.perf_counter() - started
        catalog = rec.catalog()
        if not report.incremental:  # e.g. a graph that the larger corpus wants built deeper
            raise SystemExit(f"the build was not incremental (a rebuild of {report.kind}): no lists to fold")
        assert catalog.neighbours is not None and len(catalog.neighbours.fresh) == 0
        recall = lists_recall(catalog, probes, seed, report.added)
    return {
        "run": run,
        "seconds": round(seconds, 1),
        "neighbours_seconds": round(phases["copies"] - phases["neighbours"], 1),
        "added": report.added,
        "kind": report.kind,
        "recall_at_10": round(recall, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def lists_recall(catalog: Any, probes: int, seed: int, newest: int) -> float:
    """Recall@10 of the stored lists of `probes` articles built before the newest `newest`
    (drawn with `seed`) against exact search of the build's vectors, each article left out."""
    older = np.flatnonzero(catalog.ids < np.sort(catalog.ids)[len(catalog) - newest])
    rows = np.random.default_rng(seed).choice(older, size=min(probes, len(older)), replace=False)
    queries = catalog.vectors_of(rows)
    best = np.full((len(rows), K + 1), -np.inf, np.float32)
    best_rows = np.zeros((len(rows), K + 1), np.int64)
    for start in range(0, len(catalog), 65_536):  # exact top K+1, a block of the vectors at a time
        block = catalog.vectors_of(np.arange(start, min(start + 65_536, len(catalog))))
        sims = np.concatenate([best, queries @ block.T], axis=1)
        at = np.concatenate(
            [best_rows, np.broadcast_to(np.arange(start, start + len(block)), (len(rows), len(block)))],
            axis=1,
        )
        top = np.argpartition(-sims, K, axis=1)[:, : K + 1]
        best, best_rows = np.take_along_axis(sims, top, 1), np.take_along_axis(at, top, 1)
    found = 0
    for i, row in enumerate(rows):
        order = np.argsort(-best[i])
        exact = [r for r in best_rows[i][order] if r != row][:K]
        listed = [r for r in catalog.stored_neighbours(int(row), K) if r >= 0][:K]
        found += len(set(exact) & set(listed))
    return found / (K * len(rows))


def run_child(home: Path, run: str, probes: int, seed: int, floor: int) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.refresh",
        "child",
        str(home),
        run,
        str(probes),
        str(seed),
        str(floor),
    ]
    out = subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def compare(size: int, fresh: float, rounds: int, probes: int, work: Path, floor: int = 0) -> list[Row]:
    from recommender import Recommender

    newest = int(size * fresh)
    template = work / f"template-{size}-{newest}"
    if not (template / "ready").exists():  # kept in --work for the next run
        shutil.rmtree(template, ignore_errors=True)
        populate(template, size, rows=range(0, size - newest))
        with Recommender(template, embedder=SyntheticEmbedder()) as rec:
            rec.build()
        populate(template, size, rows=range(size - newest, size))
        (template / "ready").touch()
    results: dict[str, list[dict[str, Any]]] = {run: [] for run in RUNS}
    for r in range(rounds):
        for run in RUNS if r % 2 == 0 else reversed(RUNS):
            home = work / "home"
            shutil.rmtree(home, ignore_errors=True)
            shutil.copytree(template, home)
            result = run_child(home, run, probes, 7, floor)
            results[run].append(result)
            print(json.dumps({"round": r + 1, **result}), flush=True)
    label = f"{size:,} synthetic, {newest:,} new"
    base = results["search every list"]
    out = []
    for figure, key in (("build, s", "seconds"), ("neighbour phase, s", "neighbours_seconds")):
        for run in RUNS:
            values = [x[key] for x in results[run]]
            mid, base_mid = statistics.median(values), statistics.median(x[key] for x in base)
            out.append(
                Row(
                    "refresh",
                    label,
                    f"{figure}: {run}",
                    mid,
                    "s",
                    "search every list" if run == "fold" else "",
                    base_mid if run == "fold" else None,
                    f"range {min(values)}-{max(values)}, {len(values)} round(s); {results[run][0]['kind']}",
                )
            )
    recall = {run: [x["recall_at_10"] for x in results[run]] for run in RUNS}
    out.append(
        Row(
            "refresh",
            label,
            "lists' recall@10: fold",
            recall["fold"][0],
            "",
            "search every list",
            recall["search every list"][0],
            f"{probes} older articles against exact search; every round: {recall}",
        )
    )
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        print(
            json.dumps(
                child(
                    Path(argv[1]), argv[2], int(argv[3]), int(argv[4]), int(argv[5]) if len(argv) > 5 else 0
                )
            )
        )
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.refresh", description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=lambda t: next(iter_sizes(t)), default=100_000)
    parser.add_argument("--fresh", type=float, default=0.03, help="share of the articles that are new")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--probes", type=int, default=500)
    parser.add_argument("--work", default="", help="folder for the stores, kept (default: a temporary one)")
    parser.add_argument("--floor", type=int, default=0, help="fresh ids carried at most (0: the engine's)")
    args = parser.parse_args(argv)
    if args.work:  # the store built before the newest articles is kept there for the next run
        rows = compare(args.size, args.fresh, args.rounds, args.probes, Path(args.work), args.floor)
    else:
        with tempfile.TemporaryDirectory() as work:
            rows = compare(args.size, args.fresh, args.rounds, args.probes, Path(work), args.floor)
    print_table("an incremental build past the fresh ids' limit: fold vs every list searched again", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
