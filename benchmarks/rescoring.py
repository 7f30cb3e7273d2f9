"""What re-scoring with a coarser copy of the vectors costs in recall@10.

Whether the float16 vectors that the compressed graph re-scores its candidates with could be
smaller (int8 would halve the 7.7 GB a 10M server maps of them).

    python -m benchmarks.rescoring --sizes 1M,2M

For each size the hard synthetic corpus is made (every core, in memory: 1.5 GB a million). For
sampled articles the exact `--candidates` nearest rows are found (what a perfect graph would hand
over, each article left out of its own list) and re-ranked by each copy of their vectors, the
query kept in float32 as a serving process keeps it; recall@10 is against the exact order. Prints
one JSON line a size, with the median gap between the 10th and 11th neighbour that a copy's error
has to stay under.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable

import numpy as np

from .synthetic import iter_sizes, sized_vectors

Decode = Callable[[np.ndarray], np.ndarray]  # float32 rows -> float32 rows as the copy holds them


def _faiss_copy(kind: str, sample: np.ndarray) -> Decode:
    """A FAISS scalar quantizer of this kind, trained on `sample` (per-dimension ranges)."""
    import faiss

    quantizer = faiss.ScalarQuantizer(sample.shape[1], getattr(faiss.ScalarQuantizer, kind))
    quantizer.train(np.ascontiguousarray(sample, np.float32))

    def decode(rows: np.ndarray) -> np.ndarray:
        flat = np.ascontiguousarray(rows.reshape(-1, rows.shape[-1]), np.float32)
        return quantizer.decode(quantizer.compute_codes(flat)).reshape(rows.shape)

    return decode


def _per_vector_int8(rows: np.ndarray) -> np.ndarray:
    scale = np.abs(rows).max(axis=-1, keepdims=True) / 127
    scale[scale == 0] = 1
    return np.round(rows / scale) * scale


def copies(sample: np.ndarray) -> dict[str, Decode]:
    """Each copy measured, by name (bytes an article at 384 dimensions in the name's parentheses)."""
    return {
        "float32 (1,536 B: the exact order)": lambda rows: rows,
        "float16 (768 B: what a build keeps)": lambda rows: rows.astype(np.float16).astype(np.float32),
        "bfloat16 (768 B)": _faiss_copy("QT_bf16", sample),
        "int8, range per dimension (384 B)": _faiss_copy("QT_8bit", sample),
        "int8, scale per vector (384 B)": _per_vector_int8,
        "6 bits, range per dimension (288 B)": _faiss_copy("QT_6bit", sample),
    }


def rescoring_recall(
    vectors: np.ndarray, queries: int = 500, candidates: int = 1024, seed: int = 7, block: int = 50
) -> dict[str, float]:
    """Recall@10 of each copy re-ranking the exact `candidates` nearest rows of sampled rows, and
    the median gap between the exact 10th and 11th similarity."""
    from recommender.index import kinds

    n = len(vectors)
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(n, min(queries, n), replace=False))
    sample = np.asarray(vectors[np.sort(rng.choice(n, min(n, 100_000), replace=False))], np.float32)
    made = copies(sample)
    found: dict[str, list[np.ndarray]] = {name: [] for name in made}
    truths, gaps = [], []
    for start in range(0, len(picked), block):
        rows_of = picked[start : start + block]
        query = np.asarray(vectors[rows_of], np.float32)
        top = kinds.exact_top(vectors, query, min(candidates + 1, n))
        ranked = kinds.without_self(top, rows_of, min(candidates, n - 1))
        held = np.asarray(vectors[ranked.ravel()], np.float32).reshape(*ranked.shape, -1)
        exact = np.einsum("qkd,qd->qk", held, query)
        gaps.extend(exact[:, 9] - exact[:, 10])
        truths.append(ranked[:, :10])
        for name, decode in made.items():
            scores = np.einsum("qkd,qd->qk", decode(held), query)
            order = np.argsort(-scores, axis=1, kind="stable")[:, :10]
            found[name].append(np.take_along_axis(ranked, order, 1))
    truth = np.concatenate(truths)
    recall = {name: round(kinds.recall_at(np.concatenate(f), truth), 4) for name, f in found.items()}
    return {"gap 10th-11th": round(float(np.median(gaps)), 6), **recall}


def main(argv: list[str] | None = None) -> int:
    description = __doc__.split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rescoring", description=description)
    parser.add_argument("--sizes", type=lambda t: list(iter_sizes(t)), default=[100_000])
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--candidates", type=int, default=1024, help="exact nearest rows re-ranked")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    for size, vectors, made in sized_vectors(args.sizes, args.processes):
        figures = rescoring_recall(vectors, args.queries, args.candidates)
        line = {"size": size, "made_s": round(made, 1), "candidates": args.candidates, **figures}
        print(json.dumps(line), flush=True)
        del vectors
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
