"""Time, memory and list quality of a full build's lexical phase (issue 9: "build time and memory of
the lexical index per 100k"; issue 12: it must grow about linearly to reach 10M articles), in this
process alone:

    python -m benchmarks.lexical_phase HOME            # e.g. ~/.cache/recommender/bench/100000-v3
    python -m benchmarks.lexical_phase HOME --exact-below 0   # force the bounded path on a small store
    python -m benchmarks.lexical_phase HOME --exact-below 0 --rare-df 50   # ... with another cap
    python -m benchmarks.lexical_phase --synthetic 200000     # no store: benchmarks/synthetic texts

With HOME: reads the live build's ids and languages, then runs the build's own lexical phase
(index/textdata.prepare, as a full build does: texts read from the store in chunks, tokenized, BM25
weights, query terms, 32 neighbours per article, the scale's anchors). With --synthetic N:
generates the synthetic corpus's texts in a child process (not timed), tokenizes and counts them as
the build does (lexical.Counts) and runs lexical.build. The phase's large arrays are scratch files
in a temporary folder, as in a build's folder (index/scratch.py); `--in-memory` keeps them in the
process's memory instead, as a build without a folder does: the baseline of the same code. Prints
wall and CPU seconds of the phase and of its neighbour step (lexical._neighbours; its CPU includes
the forked processes that make its lists, `--processes`), the process's peak RSS before and after
(the difference is what the phase adds), the peak of the memory of this process and its children
together (the sum of their proportional set sizes, so pages they share count once; and of its
anonymous part, the memory no file backs), and the lists' quality against exact ones made by brute
force (every score of a sample of sources, dense): the mean recall of the exact top 32 and of the
exact top 5 in the phase's top 32, and the share of lists that are identical.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children that have ended."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Timed:
    """Wall and CPU seconds (forked helpers' included) spent in a function, summed over its calls."""

    def __init__(self, fn: Callable) -> None:
        self.fn, self.wall, self.cpu = fn, 0.0, 0.0

    def __call__(self, *args, **kwargs):
        wall, cpu = time.perf_counter(), cpu_seconds()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += cpu_seconds() - cpu


def _pss_mb(pid: int) -> tuple[float, float]:
    """(proportional set size, its anonymous part) of a process in MB: what it holds of the
    machine's memory, and the part no file backs (the page cache cannot give it back)."""
    found = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                key, _, value = line.partition(":")
                if key in ("Pss", "Pss_Anon"):
                    found[key] = int(value.split()[0]) / 1024
    except OSError:
        pass  # ended meanwhile
    return found.get("Pss", 0.0), found.get("Pss_Anon", 0.0)


def _tree(pid: int) -> list[int]:
    """The process and its descendants (from /proc's lists of children)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listed:
            children = [int(c) for c in listed.read().split()]
    except OSError:
        children = []
    return [pid, *(p for child in children for p in _tree(child))]


class TreeMemory:
    """Samples the summed proportional set size of this process and its children every `every`
    seconds in a thread, keeping the peak (MB), and the peak of its anonymous part; `stage(name)`
    starts a stage whose peaks are kept apart too (`stages`: name -> (peak, anonymous peak))."""

    def __init__(self, every: float = 0.25) -> None:
        self.every, self.peak, self.peak_anon = every, 0.0, 0.0
        self.stages: dict[str, tuple[float, float]] = {}
        self._stage = ""
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def stage(self, name: str) -> None:
        self._stage = name
        self.stages.setdefault(name, (0.0, 0.0))

    def _watch(self) -> None:
        while not self._done.wait(self.every):
            sizes = [_pss_mb(pid) for pid in _tree(os.getpid())]
            pss, anon = sum(s[0] for s in sizes), sum(s[1] for s in sizes)
            self.peak, self.peak_anon = max(self.peak, pss), max(self.peak_anon, anon)
            if self._stage:
                before = self.stages.get(self._stage, (0.0, 0.0))
                self.stages[self._stage] = (max(before[0], pss), max(before[1], anon))

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def exact_lists(data, languages: np.ndarray, sources: np.ndarray, k: int) -> list[np.ndarray]:
    """Each source's exact top k by brute force: its score against every article (all its query
    terms, dense), same language, not itself, score > 0, ties to the lower row."""
    import scipy.sparse as sp

    n, terms = len(data), len(data.idf)
    by_term = sp.csr_matrix(
        (np.asarray(data.postings_w), np.asarray(data.postings_rows), np.asarray(data.postings_ptr)),
        shape=(terms, n),
    )
    lists = []
    for start in range(0, len(sources), 64):
        src = sources[start : start + 64]
        query = np.asarray(data.query[src])
        ok = query >= 0
        marks = sp.csr_matrix(
            (np.ones(int(ok.sum()), np.float32), (np.nonzero(ok)[0], query[ok])), shape=(len(src), terms)
        )
        dense = (marks @ by_term).toarray() / np.maximum(np.asarray(data.self_score)[src], 1e-9)[:, None]
        for i, row in enumerate(src):
            allowed = np.flatnonzero((languages == languages[row]) & (dense[i] > 0))
            allowed = allowed[allowed != row]
            order = np.lexsort((allowed, -dense[i, allowed]))
            lists.append(allowed[order][:k])
    return lists


def quality(data, languages: np.ndarray, sample: int, seed: int = 0) -> str:
    """Recall of the exact lists in the phase's lists, on `sample` random sources."""
    n = len(data)
    sources = np.sort(np.random.default_rng(seed).choice(n, min(n, sample), replace=False))
    k = data.rows.shape[1]
    top_k, top_5, same = [], [], 0
    for row, exact in zip(sources, exact_lists(data, np.asarray(languages), sources, k), strict=True):
        got = np.asarray(data.rows[row])
        got = got[got >= 0]
        same += np.array_equal(np.sort(got), np.sort(exact))
        if len(exact):
            top_k.append(np.isin(exact, got).mean())
            top_5.append(np.isin(exact[:5], got).mean())
    return (
        f"lists vs exact (brute force, {len(sources)} sources): recall of the exact top {k} "
        f"{np.mean(top_k):.4f}, of the exact top 5 {np.mean(top_5):.4f}; "
        f"identical lists {same}/{len(sources)}"
    )


def from_store(home_path: Path, in_memory: bool = False) -> tuple[Callable[[], object], int]:
    from recommender import Recommender
    from recommender.home import Home
    from recommender.index.textdata import prepare

    home = Home(home_path)
    with Recommender(home_path) as rec:
        catalog = rec.catalog()  # the live build's ids and languages, from its files
        ids = np.array(catalog.ids)
        languages = np.array(catalog.languages)
        fields = catalog.settings.text_field_list()

    def read(fn):
        with home.writing("benchmark: reading texts") as store:
            return fn(store.texts)

    folder = tempfile.TemporaryDirectory(prefix=".lexical-bench-", dir=home_path)  # as a new build's

    def run():
        work = None if in_memory else Path(folder.name)
        phase = prepare(read, ids, languages, fields, None, np.zeros(0, np.int64), True, work)
        assert phase.lexical is not None, phase.note
        return phase.lexical, phase.languages

    return run, len(ids)


def synthetic_counts(n: int) -> tuple[object, list[str], list[str], float]:
    """The synthetic corpus's texts tokenized and counted as the build does, a chunk at a time:
    (lexical.Counts, vocabulary, languages, tokenizing CPU seconds)."""
    from benchmarks.synthetic import corpus_chunks
    from recommender.index import lexical

    vocabulary: dict[str, int] = {}
    counted = []
    languages: list[str] = []
    tokenizing = 0.0
    for chunk in corpus_chunks(n):
        started = time.process_time()
        docs = [
            lexical.term_ids(lexical.words(f"{title}\n{body}"), vocabulary, grow=True)
            for title, body in zip(chunk.titles, chunk.bodies, strict=True)
        ]
        counted.append(lexical.Counts.of(docs))
        tokenizing += time.process_time() - started
        languages += chunk.languages
    return lexical.Counts.join(counted), list(vocabulary), languages, tokenizing


def from_synthetic(n: int, in_memory: bool = False) -> tuple[Callable[[], object], int, float]:
    """The build to time on n synthetic articles, n, and the tokenizing seconds. The corpus is
    made in a child process, so that its memory does not hide the build's peak."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from recommender.index import lexical
    from recommender.index.scratch import Scratch

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        passed = list(pool.submit(synthetic_counts, n).result())
    vocabulary, languages, tokenizing = passed[1:]
    codes = np.array(languages, dtype=object)
    folder = tempfile.TemporaryDirectory(prefix="lexical-bench-")

    def run():  # the counts handed over, as the build's phase does (lexical.build frees them)
        scratch = Scratch(None if in_memory else Path(folder.name))
        data, _ = lexical.build(passed.pop(0), vocabulary, codes, scratch=scratch)
        return data, codes

    return run, n, tokenizing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lexical_phase", description=__doc__)
    parser.add_argument("home", type=Path, nargs="?", help="a store with a live build")
    parser.add_argument("--synthetic", type=int, default=0, help="N synthetic articles instead of a store")
    parser.add_argument("--sample", type=int, default=300, help="sources whose lists are checked (0: none)")
    parser.add_argument("--exact-below", type=int, default=None, help="override lexical.EXACT_BELOW")
    parser.add_argument("--rare-df", type=int, default=None, help="override lexical.RARE_DF")
    parser.add_argument(
        "--processes", type=int, default=None, help="processes making the lists (default: as a build)"
    )
    parser.add_argument(
        "--in-memory", action="store_true", help="the large arrays in memory (a build without a folder)"
    )
    args = parser.parse_args(argv)
    if (args.home is None) == (args.synthetic == 0):
        parser.error("give HOME or --synthetic N")
    from recommender.index import forked, lexical

    if args.exact_below is not None:
        lexical.EXACT_BELOW = args.exact_below
    if args.rare_df is not None:
        lexical.RARE_DF = args.rare_df
    if args.processes is not None:
        forked.processes_for = lambda items: args.processes  # type: ignore[assignment]
    timed = Timed(lexical._neighbours)
    lexical._neighbours = timed  # type: ignore[assignment]
    if args.synthetic:
        run, n, tokenizing = from_synthetic(args.synthetic, args.in_memory)
        what = f"lexical.build of {n:,} synthetic articles (tokenizing them first: {tokenizing:.1f} s CPU)"
    else:
        run, n = from_store(args.home.expanduser(), args.in_memory)
        what = f"lexical phase, {n:,} articles"
    what += ", large arrays in memory" if args.in_memory else ", large arrays in scratch files"
    before = peak_mb()
    wall, cpu = time.perf_counter(), cpu_seconds()
    with TreeMemory() as tree:
        data, languages = run()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    path = "exact"
    if n >= lexical.EXACT_BELOW:
        path = f"bounded (RARE_DF {lexical.RARE_DF}, RESCORE {lexical.RESCORE})"
    print(
        f"{what}: {wall:.1f} s wall, {cpu:.1f} s CPU; neighbours ({path}) {timed.wall:.1f} s wall, "
        f"{timed.cpu:.1f} s CPU; peak RSS {before:,.0f} MB before, {peak_mb():,.0f} MB after "
        f"(vocabulary {len(data.idf):,} terms, {len(data.postings_rows):,} postings); with its forked "
        f"processes, peak {tree.peak:,.0f} MB (summed PSS, sampled), {tree.peak_anon:,.0f} MB of it "
        "anonymous",
        flush=True,
    )
    if args.sample:
        print(quality(data, np.asarray(languages), args.sample))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
