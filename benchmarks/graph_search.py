"""How many of a compressed graph's candidates need re-scoring, measured on a saved graph.

    python -m benchmarks.graph_search GRAPH VECTORS --efs 1024,2048 --rescore 128,256,512 --rounds 3

GRAPH is a FAISS index file of the compressed kind over VECTORS, a float16 vector file whose row r
is the article r + 1, as `python -m benchmarks.graph_growth --save` writes them (a graph stopped
early holds the file's first rows: the search and the truth are over those). The same sampled
articles are searched at each efSearch, one thread, the index mapped as a serving process maps it:
the graph alone (its candidates by code, nothing re-scored), every candidate re-scored from the
mapped float16 rows (the baseline: what a build did before it tuned `rescore`), and only the best
R of them by code for each `--rescore` R below efSearch. Recall@10 is against exact search, each
query's own article left out. The ways are measured in interleaved rounds (each round runs every
way once, in a rotated order), so the box's load falls on all of them alike; each prints its
recall and the p50/p99 of every round, and one JSON line per efSearch goes to `--out`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np

WARM = 20  # searches run first, untimed: they fault the mapped pages in


def ways(efsearch: int, rescores: list[int]) -> list[tuple[str, int]]:
    """(name, candidates re-scored) for one efSearch: the graph alone (0), all, and each R below it."""
    fewer = [(f"best {r}", r) for r in sorted(set(rescores)) if 11 <= r < efsearch]
    return [("graph alone", 0), (f"all {efsearch}", efsearch), *fewer]


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    import faiss

    from recommender.index import kinds

    mapped = np.load(args.vectors, mmap_mode="r").view(np.ndarray)
    index = faiss.read_index(args.graph, kinds.mapped_reading("hnswsq"))
    if index.ntotal > len(mapped):
        raise SystemExit(f"{args.graph}: {index.ntotal} vectors, {args.vectors}: {len(mapped)} rows")
    held = int(index.ntotal)  # a graph stopped early holds the file's first rows
    mapped = mapped[:held]
    ids = np.arange(1, held + 1, dtype=np.int64)
    rows = min(held, args.queries_from or held)
    picked = np.sort(np.random.default_rng(args.seed).choice(rows, args.queries, replace=False))
    queries = np.asarray(mapped[picked], np.float32)
    truth = kinds.without_self(ids[kinds.exact_top(mapped, queries, 11)], picked + 1, 10)
    exact = kinds.row_lookup(ids, mapped)
    faiss.omp_set_num_threads(1)
    for query in queries[:WARM]:
        kinds.search(index, query, 11, 11, exact)
    lines = []
    for efsearch in [int(e) for e in args.efs.split(",")]:
        kinds.set_search_depth(index, "hnswsq", efsearch)
        chosen = ways(efsearch, [int(r) for r in args.rescore.split(",") if r])
        times: dict[str, list[list[float]]] = {name: [] for name, _ in chosen}
        found: dict[str, np.ndarray] = {}
        for round_no in range(args.rounds):
            shift = round_no % len(chosen)
            for name, rescore in chosen[shift:] + chosen[:shift]:
                took, labels = _timed(index, queries, rescore, exact)
                times[name].append(took)
                found[name] = labels
        line: dict[str, Any] = {"held": held, "efSearch": efsearch, "queries": args.queries}
        for name, _ in chosen:
            recall = kinds.recall_at(kinds.without_self(found[name], picked + 1, 10), truth)
            line[name] = {
                "recall": round(recall, 4),
                "p50_ms": [round(float(np.percentile(t, 50)), 2) for t in times[name]],
                "p99_ms": [round(float(np.percentile(t, 99)), 2) for t in times[name]],
            }
            print(_row(efsearch, name, line[name]), flush=True)
        lines.append(line)
        if args.out:
            with open(args.out, "a") as out:
                out.write(json.dumps(line) + "\n")
    return lines


def _timed(index: Any, queries: np.ndarray, rescore: int, exact: Any) -> tuple[list[float], np.ndarray]:
    """One search per query as a sidebar makes it: milliseconds each, and the 11 ids found (by code
    alone where `rescore` is 0)."""
    from recommender.index import kinds

    took, found = [], np.full((len(queries), 11), -1, np.int64)
    for q, query in enumerate(queries):
        started = time.perf_counter()
        if rescore:
            labels, _ = kinds.search(index, query, 11, rescore, exact)
        else:
            _, labels = index.search(query.reshape(1, -1), 11)
        took.append((time.perf_counter() - started) * 1000)
        found[q] = labels[0]
    return took, found


def _row(efsearch: int, name: str, figures: dict[str, Any]) -> str:
    def spread(values: list[float]) -> str:
        return f"{min(values):.2f}-{max(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"

    p50, p99 = spread(figures["p50_ms"]), spread(figures["p99_ms"])
    return f"efSearch {efsearch:>5}  {name:<12} recall@10 {figures['recall']:.4f}  p50 {p50} ms  p99 {p99} ms"


def main(argv: list[str] | None = None) -> int:
    description = __doc__.split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m benchmarks.graph_search", description=description)
    parser.add_argument("graph", help="a compressed graph's FAISS index file (graph_growth --save)")
    parser.add_argument("vectors", help="its float16 vector file (row r: article r + 1)")
    parser.add_argument("--efs", default="1024,2048", help="comma-separated efSearch values")
    parser.add_argument("--rescore", default="128,256,512", help="comma-separated re-scoring depths")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--queries-from", type=int, default=0, help="sample queries among the first N rows")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", default="")
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
