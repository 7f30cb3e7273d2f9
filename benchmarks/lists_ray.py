"""The neighbour lists' search on a local Ray against the same search in-process, on the same cores:

    python -m benchmarks.lists_ray [--size 100k] [--rows 20000] [--block 2048] [--rounds 2]
                                   [--lists-efsearch 2048]

A build folder of `--size` hard synthetic vectors in the compressed graph (hnswsq, the kind whose
lists cost most; its lists' depth tuned as a build tunes it) is written once, without lists (the
scale_bench index child). `--lists-efsearch N` sets the depth its lists are searched at (every
candidate re-scored) in its meta.json, as a larger build's tuning would (at 1M: 2,048), so that a
row costs what it costs there; without it, the depth tuned for this size. Then the lists of
`--rows` of its articles are searched, each run in a fresh process, the paths in interleaved
rounds: in-process on every core (a local build), and on a local Ray of 2 workers x 1 thread and of
1 worker x 2 threads, `--block` rows a task (build --ray). Printed per path: rows/s with their
range, the time against in-process, the part of it spent starting Ray (`ray.init`; the workers'
own start and their opening of the folder count in the rest), and whether every path stored the
same lists (they must: the same graph searched the same way).

Dependencies: numpy, faiss, ray. Run as `python -m benchmarks.lists_ray child ...` it is one of the
measured processes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .report import Row, print_table
from .scale_bench import probe_rows, run_child
from .synthetic import iter_sizes

PATHS = {"in-process": (0, 0), "ray 2x1": (2, 1), "ray 1x2": (1, 2)}  # (workers, threads); 0: no Ray


def child_lists(folder: Path, rows: int, workers: int, threads: int, block: int) -> dict[str, Any]:
    """Search the lists of `rows` probe articles of the build in `folder`, in this process (workers
    0) or on a local Ray; the seconds, Ray's own, and a digest of the lists found."""
    from recommender.index import neighbours
    from recommender.index.folder import load_folder

    index = load_folder(folder)
    picked = probe_rows(len(index), rows)
    width = min(neighbours.LIST, len(index) - 1)
    lists = np.full((len(index), width), -1, np.int64)
    searcher = None
    if workers:
        from recommender.scale import RayOptions, RaySearcher

        searcher = RaySearcher(
            RayOptions(workers=workers, threads=threads, lists_block=block, lists_local_below=0)
        )
    started = time.perf_counter()
    neighbours._search(index, picked, lists, searcher=searcher or neighbours.searched)
    seconds = time.perf_counter() - started
    outcome = searcher.outcome if searcher else None
    return {
        "seconds": seconds,
        "ray_seconds": outcome.seconds if outcome else seconds,
        "here": outcome.here if outcome else 0,
        "digest": hashlib.sha256(np.ascontiguousarray(lists[picked]).tobytes()).hexdigest(),
    }


def compare(size: int, rows: int, block: int, rounds: int, work: Path, depth: int = 0) -> list[Row]:
    root = work / f"lists-{size}"
    shutil.rmtree(root, ignore_errors=True)
    built = run_child(["index", str(root), str(size), "hnswsq", "none", "0"])
    params = built["params"]
    if depth:  # searched as deep as a larger build's lists are
        meta_file = Path(built["folder"]) / "meta.json"
        meta = json.loads(meta_file.read_text())
        meta["params"] = params = {**params, "lists_efSearch": depth, "lists_rescore": depth}
        meta_file.write_text(json.dumps(meta))
    print(
        f"[lists] {size:,} hnswsq built in {built['seconds']:.0f} s; lists searched at efSearch "
        f"{params.get('lists_efSearch')}, re-scoring {params.get('lists_rescore')}",
        flush=True,
    )
    seconds: dict[str, list[float]] = {name: [] for name in PATHS}
    startup: dict[str, list[float]] = {name: [] for name in PATHS}
    digests: set[str] = set()
    for r in range(rounds):
        for name in PATHS if r % 2 == 0 else reversed(PATHS):
            workers, threads = PATHS[name]
            args = [built["folder"], str(rows), str(workers), str(threads), str(block)]
            result = run_child(args, module="benchmarks.lists_ray")
            assert result["here"] == 0, f"{name}: blocks failed on Ray"
            seconds[name].append(result["seconds"])
            startup[name].append(result["seconds"] - result["ray_seconds"])
            digests.add(result["digest"])
            print(f"[lists] round {r + 1} {name}: {rows / result['seconds']:,.0f} rows/s", flush=True)
    same = "every path stored the same lists" if len(digests) == 1 else "THE PATHS' LISTS DIFFER"
    print(f"[lists] {same}", flush=True)
    local = statistics.median(seconds["in-process"])
    label = f"{size:,} hnswsq, {rows:,} rows"
    out = [
        Row(
            "lists",
            label,
            "in-process (every core)",
            rows / local,
            "rows/s",
            note=f"range {_range(rows, seconds['in-process'])}; {same}",
        )
    ]
    for name in ("ray 2x1", "ray 1x2"):
        s = statistics.median(seconds[name])
        out.append(
            Row(
                "lists",
                label,
                f"{name} (workers x threads), {block:,} rows a task",
                rows / s,
                "rows/s",
                "in-process (every core)",
                rows / local,
                f"range {_range(rows, seconds[name])}; "
                f"{100 * (s / local - 1):+.0f}% time vs in-process, starting Ray "
                f"{statistics.median(startup[name]):.1f} s of it",
            )
        )
    return out


def _range(rows: int, seconds: list[float]) -> str:
    return f"{rows / max(seconds):,.0f}-{rows / min(seconds):,.0f}"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["child"]:
        folder, rows, workers, threads, block = argv[1:6]
        print(json.dumps(child_lists(Path(folder), int(rows), int(workers), int(threads), int(block))))
        return 0
    p = argparse.ArgumentParser(prog="python -m benchmarks.lists_ray", description=__doc__.split("\n")[0])
    p.add_argument("--size", default="100k")
    p.add_argument("--rows", type=int, default=20_000)
    p.add_argument("--block", type=int, default=2_048)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--lists-efsearch", type=int, default=0, help="the lists' depth (0: as tuned)")
    p.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = p.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="lists-ray-"))
    try:
        size = next(iter(iter_sizes(args.size)))
        print_table(
            "neighbour lists' search: Ray-local vs in-process, same cores",
            compare(size, args.rows, args.block, args.rounds, work, args.lists_efsearch),
        )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
