"""Time and memory of a full build's lexical phase on a store (issue 9: "build time and memory of the
lexical index per 100k"), in this process alone:

    python -m benchmarks.lexical_phase HOME        # e.g. ~/.cache/recommender/bench/100000-v3

Reads the live build's ids and languages, then runs the build's own lexical phase
(index/textdata.prepare, as a full build does: texts read from the store in chunks, tokenized,
BM25 weights, query terms, 32 neighbours per article, the scale's anchors) and prints its wall and
CPU seconds and the process's peak RSS before and after (the difference is what the phase adds).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pyarrow as pa


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lexical_phase", description=__doc__)
    parser.add_argument("home", type=Path)
    args = parser.parse_args(argv)
    from recommender import Recommender
    from recommender.home import Home
    from recommender.index.textdata import prepare

    home = Home(args.home)
    with Recommender(args.home) as rec:
        catalog = rec.catalog()  # the live build's ids and languages, from its files
        ids = np.asarray(catalog.ids)
        names = [catalog.language_name(row) for row in range(len(ids))]
        fields = catalog.settings.text_field_list()
    articles = pa.table({"language": pa.array(names, pa.string())})

    def read(fn):
        with home.writing("benchmark: reading texts") as store:
            return fn(store.texts)

    before = peak_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    phase = prepare(read, ids, articles, fields, None, np.zeros(0, np.int64), True)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert phase.lexical is not None, phase.note
    print(
        f"lexical phase, {len(ids):,} articles: {wall:.1f} s wall, {cpu:.1f} s CPU; "
        f"peak RSS {before:,.0f} MB before, {peak_mb():,.0f} MB after "
        f"(vocabulary {len(phase.lexical.idf):,} terms, {len(phase.lexical.postings_rows):,} postings)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
