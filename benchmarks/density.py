"""How tight the synthetic corpus's neighbourhoods are at each size: whether a bigger archive is
harder for approximate search.

    python -m benchmarks.density --sizes 2M,5M,10M

For each size the corpus's vectors are made (every core, in memory: 1.5 GB a million) and 300
sampled articles are searched exactly (each left out of its own list). Prints one JSON line a size:
the medians of the cosine of the 1st and 10th nearest neighbour and of the gap between the 10th
and 11th, which is what a search must resolve to return the right ten.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from .synthetic import iter_sizes, sized_vectors


def neighbourhoods(
    vectors: np.ndarray, queries: int = 300, seed: int = 5, block: int = 30
) -> dict[str, float]:
    """Medians over sampled rows of the 1st and 10th nearest neighbour's cosine and the 10th-11th gap."""
    n = len(vectors)
    picked = np.sort(np.random.default_rng(seed).choice(n, min(queries, n), replace=False))
    best = []
    for start in range(0, len(picked), block):
        rows = picked[start : start + block]
        sims = np.asarray(vectors[rows], np.float32) @ vectors.T
        sims[np.arange(len(rows)), rows] = -np.inf  # not its own neighbour
        top = np.partition(sims, -11, axis=1)[:, -11:]
        best.append(-np.sort(-top, axis=1))
    top = np.concatenate(best)
    return {
        "1st neighbour cosine": round(float(np.median(top[:, 0])), 4),
        "10th neighbour cosine": round(float(np.median(top[:, 9])), 4),
        "gap 10th-11th": round(float(np.median(top[:, 9] - top[:, 10])), 6),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.density", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=lambda t: list(iter_sizes(t)), default=[100_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    for size, vectors, made in sized_vectors(args.sizes, args.processes):
        figures = neighbourhoods(vectors, args.queries)
        print(json.dumps({"size": size, "made_s": round(made, 1), **figures}), flush=True)
        del vectors
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
