"""How a graph index holds up as it grows, measured on one graph while it is filled.

    python -m benchmarks.graph_growth --size 2M --checkpoints 500k,1M,1.5M,2M --out growth.jsonl

The hard synthetic corpus of `--size` articles is generated (or read from the bench cache) into a
float16 vector file, the index a build of that size makes is started (`kinds.empty_index`: the
same kind, codes, M and efConstruction), and the vectors are added in order. At each checkpoint the
adding stops and the same sampled queries (articles of the first checkpoint's prefix) are searched
at several efSearch, one thread, every candidate re-scored from the mapped float16 vectors as a
serving process does; recall@10 is against exact search over what the graph holds, each query's own
article left out. Each checkpoint prints one JSON line (and appends it to `--out`): the articles
held, the seconds and articles/s of adding so far on every core, and recall and p50/p99 per efSearch.
`--ef-construction N` and `--m N` build the graph deeper or shallower, with more or fewer links a
node, than a build of that size would.
`--save FILE` writes the graph as it stands at the end, as a build writes its `vectors.faiss`, for
measures of serving it that need it on disk, and beside it FILE.json (the rows it holds, the
seconds of adding them). `--resume FILE` fills such a graph on from the rows it holds, in another
run (a 5M graph at efConstruction 400 takes longer than one sitting); give it the same --size and
first checkpoint, so the queries are the same; checkpoints it already holds are not measured again.

The last checkpoint is the graph a build of `--size` makes; the earlier ones are prefixes of that
corpus (fewer articles per story than a corpus of their own size), so read them as a graph growing,
not as smaller corpora. `--deadline` (seconds from start) stops adding once the next checkpoint
would not be reached in time by the rate so far, and measures what the graph holds then.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .synthetic import DIM, VERSION, cache_root, iter_sizes, vector_chunks

CHUNK = 32_768  # vectors added at a time (the build's own chunk)


def vector_file(size: int, work: Path, processes: int) -> tuple[Path, float]:
    """The corpus's vectors as float16 rows in `work` (from the bench cache's float32 copy where it
    has this size), and the seconds it took. The file is written under a temporary name and renamed
    when whole: the file is made at its full size first, so a killed run would otherwise leave one
    that a later run takes for the corpus, its unwritten rows zeros."""
    from recommender.index.vectors import VectorFile, VectorWriter

    path = work / f"vectors-{size}-v{VERSION}-f16.npy"
    started = time.perf_counter()
    if not path.exists():
        cached = cache_root() / f"vectors-{size}-v{VERSION}.npy"
        chunks = (c for _, c in VectorFile.open(cached).chunks()) if cached.exists() else None
        partial = path.with_name(path.name + ".partial")
        writer = VectorWriter(partial, size, DIM, np.float16)
        for chunk in chunks or vector_chunks(size, processes=processes):
            writer.write(chunk)
        writer.close()
        os.replace(partial, path)
    return path, time.perf_counter() - started


def measure(index: Any, kind: str, held: int, mapped: np.ndarray, picked: np.ndarray, efs: list[int]) -> dict:
    """Recall@10 and one-thread search times at each efSearch over the first `held` rows."""
    import faiss

    from recommender.index import kinds

    ids = np.arange(1, held + 1, dtype=np.int64)
    queries = np.asarray(mapped[picked], np.float32)
    truth = kinds.without_self(ids[kinds.exact_top(mapped[:held], queries, 11)], picked + 1, 10)
    exact = kinds.row_lookup(ids, mapped[:held])  # as a build reads its vectors
    faiss.omp_set_num_threads(1)
    for query in queries[:20]:  # the first searches fault the mapped pages in: not timed
        kinds.search(index, query, 11, kinds.rescored(kind, {"efSearch": efs[0]}, 11), exact)
    found_by: dict[str, Any] = {}
    for ef in efs:
        kinds.set_search_depth(index, kind, ef)
        rescore = kinds.rescored(kind, {"efSearch": ef}, 11)
        times, found = [], []
        for query in queries:
            started = time.perf_counter()
            labels, _ = kinds.search(index, query, 11, rescore, exact if rescore else None)
            times.append((time.perf_counter() - started) * 1000)
            found.append(labels[0])
        recall = kinds.recall_at(kinds.without_self(np.array(found), picked + 1, 10), truth)
        found_by[str(ef)] = {
            "recall": round(recall, 4),
            "p50_ms": round(float(np.percentile(times, 50)), 2),
            "p99_ms": round(float(np.percentile(times, 99)), 2),
        }
    return found_by


def grow(args: argparse.Namespace) -> list[dict]:
    import faiss

    from recommender.index import kinds
    from recommender.index.vectors import VectorFile

    began = time.perf_counter()
    size = args.size
    checkpoints = sorted({c for c in args.checkpoints if c < size} | {size})
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    path, generated_s = vector_file(size, work, args.processes)
    vectors = VectorFile.open(path)
    mapped = np.load(path, mmap_mode="r")
    kind = args.kind
    index, params = kinds.empty_index(kind, size, vectors, links=args.m or None)
    if args.ef_construction:  # another depth than a build of this size would use (nothing added yet)
        kinds.hnsw_graph(index).hnsw.efConstruction = params["efConstruction"] = args.ef_construction
    held, adding_s = 0, 0.0
    if args.resume:  # a graph an earlier run saved: filled on from the rows it holds
        index = faiss.read_index(args.resume)
        graph = kinds.hnsw_graph(index).hnsw
        params.update(efConstruction=int(graph.efConstruction), M=int(graph.nb_neighbors(1)))
        done = json.loads(Path(args.resume + ".json").read_text())
        held, adding_s = int(index.ntotal), float(done["adding_s"])
        assert done["held"] == held, f"{args.resume} holds {held} rows, its .json says {done['held']}"
    picked = np.sort(np.random.default_rng(11).choice(checkpoints[0], args.queries, replace=False))
    efs = [int(e) for e in args.efs.split(",")]
    header = {
        "size": size, "kind": kind, **params, "queries": args.queries, "cores": os.cpu_count(),
        "vectors_s": round(generated_s, 1),
    }  # fmt: skip
    print(json.dumps(header), flush=True)
    lines: list[dict] = []
    for target in checkpoints:
        if target <= held:
            continue  # measured by the run that saved the graph
        partial = False
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        while held < target:
            rate = held / adding_s if adding_s else 0.0
            left = args.deadline - (time.perf_counter() - began) - args.reserve
            if args.deadline and rate and (target - held) / rate > left:
                partial = True  # the checkpoint is out of reach: measure what is there
                break
            stop = min(held + CHUNK, target)
            rows = np.ascontiguousarray(vectors.read(held, stop), np.float32)
            started = time.perf_counter()
            index.add_with_ids(rows, np.arange(held + 1, stop + 1, dtype=np.int64))
            adding_s += time.perf_counter() - started
            held = stop
        if partial and lines and lines[-1]["held"] == held:
            break  # already measured there
        line = {
            "held": held, "partial": partial, "adding_s": round(adding_s, 1),
            "articles_per_s": round(held / adding_s, 1) if adding_s else None,
            "efsearch": measure(index, kind, held, mapped, picked, efs),
        }  # fmt: skip
        print(json.dumps(line), flush=True)
        lines.append(line)
        if args.out:
            with open(args.out, "a") as out:
                out.write(json.dumps({**header, **line}) + "\n")
        if partial:
            break
    if args.save:  # under a temporary name until whole, as the corpus file: a killed write leaves none
        faiss.write_index(index, args.save + ".partial")
        os.replace(args.save + ".partial", args.save)
        Path(args.save + ".json").write_text(json.dumps({"held": held, "adding_s": round(adding_s, 1)}))
    return lines


def main(argv: list[str] | None = None) -> int:
    description = __doc__.split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m benchmarks.graph_growth", description=description)
    parser.add_argument("--size", type=lambda t: next(iter_sizes(t)), default=200_000)
    parser.add_argument("--checkpoints", type=lambda t: list(iter_sizes(t)), default=[])
    parser.add_argument("--kind", default="hnswsq", choices=("hnsw", "hnswsq"))
    parser.add_argument("--m", type=int, default=0, help="links a node (M); 0: a build's own")
    parser.add_argument("--ef-construction", type=int, default=0, help="0: a build's own for --size")
    parser.add_argument("--efs", default="256,512,768,1024", help="comma-separated efSearch values")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--deadline", type=float, default=0.0, help="seconds from start (0: none)")
    parser.add_argument("--reserve", type=float, default=60.0, help="seconds kept for the last measure")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="vector generation")
    parser.add_argument("--work", default=str(cache_root() / "growth"))
    parser.add_argument("--out", default="")
    parser.add_argument("--save", default="", help="write the graph here at the end (a FAISS index file)")
    parser.add_argument("--resume", default="", help="fill on a graph --save wrote (with its .json)")
    grow(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
