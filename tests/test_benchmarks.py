"""The benchmark suite's own code works: a tiny synthetic store, the latency harness and its baselines.

Timings are not asserted (the suite is run by `python -m benchmarks`, never by the tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks import latency, synthetic
from benchmarks.report import markdown


def test_synthetic_store_and_latency_harness(tmp_path: Path) -> None:
    corpus = synthetic.make_corpus(300)
    assert len(corpus) == 300 and len(set(corpus.ids)) == 300
    assert synthetic.make_corpus(300).titles == corpus.titles  # deterministic
    embedder = synthetic.SyntheticEmbedder()
    vectors = embedder.embed([f"{t}\n{b}" for t, b in zip(corpus.titles, corpus.bodies, strict=True)])
    assert vectors.shape == (300, synthetic.DIM)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    stats = synthetic.cosine_stats(corpus, vectors, pairs=500)
    assert stats["random pair"] < stats["same story"] < stats["republished copy"]

    info = synthetic.ensure_store(300, root=tmp_path, log=False)
    assert not info.cached and synthetic.ensure_store(300, root=tmp_path, log=False).cached
    rows = latency.run(info.home, "300", embedder, 20, synthetic.EXCLUDED_SECTION, {"recall": 0.95})
    figures = {r.figure: r for r in rows}
    assert figures["candidate recall@10"].value == 1.0  # exact search below the approximate sizes
    overlap = figures["sidebar overlap with brute force"].value
    assert overlap is not None and 0.95 <= overlap <= 1.0  # the same stages, minus the ANN search
    assert {r.baseline for r in rows if r.figure == "related() p50"} == {
        "numpy brute force p50",
        "lexical TF-IDF MLT p50",
        "legacy preset p50",
        "no stored lists (FAISS search) p50",
    }
    assert figures["lexical index + overlaps on disk"].value > 0
    assert "| latency | 300 |" in markdown(rows, "python -m benchmarks --quick", 1.0)


def test_ingest_benchmark_runs_on_a_small_file(tmp_path: Path) -> None:
    from benchmarks import ingest_bench

    for kind in ("jsonl", "parquet"):
        path = ingest_bench.make_file(300, kind, tmp_path)
        engine = ingest_bench.child("engine", path)
        ceiling = ingest_bench.child("ceiling", path)
        assert engine["rows"] == ceiling["rows"] == 300 and engine["rejected"] == 0
        assert engine["seconds"] > 0 and engine["peak_rss"] > 0
