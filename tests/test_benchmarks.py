"""The benchmark suite's own code works: a tiny synthetic store, the latency harness and its baselines.

Timings are not asserted (the suite is run by `python -m benchmarks`, never by the tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

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


def test_the_corpus_vectors_are_the_same_however_they_are_made(monkeypatch) -> None:
    """One theme table per corpus (made by forked processes or not) gives the vectors that drawing
    each chunk's theme words gives, and the embedder gives from the texts: to float32 rounding."""
    monkeypatch.setattr(synthetic, "THEME_BLOCK", 300)  # several blocks, so several processes
    themes = 30
    serial = synthetic.theme_table(themes)
    assert np.array_equal(synthetic.theme_table(themes, processes=2), serial)
    words = np.array([0, 7, 39, 40, 41, 1199])
    assert np.allclose(serial[words], synthetic.theme_vectors(words), atol=1e-7)

    n = 3_000
    monkeypatch.setattr(synthetic, "GEN_CHUNK", 700)
    serial_chunks = np.concatenate(list(synthetic.vector_chunks(n)))
    assert np.array_equal(np.concatenate(list(synthetic.vector_chunks(n, processes=2))), serial_chunks)
    corpus = synthetic.make_corpus(n)
    assert corpus.vectors is not None and np.array_equal(corpus.vectors, serial_chunks)
    texts = [f"{t}\n{b}" for t, b in zip(corpus.titles, corpus.bodies, strict=True)]
    from_texts = synthetic.SyntheticEmbedder().embed(texts[:400])  # theme words drawn here, no table
    assert np.allclose(from_texts, serial_chunks[:400], atol=1e-6)


def test_graph_growth_measures_the_graph_at_each_checkpoint(tmp_path: Path, monkeypatch) -> None:
    import faiss

    from benchmarks import graph_growth
    from recommender.index import kinds

    out = tmp_path / "growth.jsonl"
    argv = ["--size", "4000", "--checkpoints", "2000", "--queries", "40", "--efs", "16,2048"]
    saved = tmp_path / "graph.faiss"
    to = ["--work", str(tmp_path), "--out", str(out), "--save", str(saved)]
    graph_growth.main([*argv, "--processes", "1", *to])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["held"] for line in lines] == [2000, 4000]
    assert all(line["kind"] == "hnswsq" and line["efConstruction"] == 40 for line in lines)
    for line in lines:  # searched as deep as the graph is big, every candidate re-scored: all found
        assert line["efsearch"]["2048"]["recall"] >= 0.99
        assert line["efsearch"]["16"]["recall"] <= line["efsearch"]["2048"]["recall"]
    graph = faiss.read_index(str(saved))  # the whole graph, as the last checkpoint measured it
    assert graph.ntotal == 4000 and kinds.hnsw_graph(graph).hnsw.efConstruction == 40
    assert not saved.with_name(saved.name + ".partial").exists()

    # the saved graph searched again: every candidate re-scored, the best few, the codes alone
    from benchmarks import graph_search

    corpus = tmp_path / f"vectors-4000-v{synthetic.VERSION}-f16.npy"
    found = tmp_path / "search.jsonl"
    graph_search.main([str(saved), str(corpus), "--efs", "8,512", "--rescore", "16,64,4096"])
    graph_search.main([str(saved), str(corpus), "--efs", "512", "--rescore", "64", "--out", str(found)])
    (line,) = [json.loads(line) for line in found.read_text().splitlines()]
    assert set(line) == {"held", "efSearch", "queries", "graph alone", "all 512", "best 64"}
    assert all(len(line[way]["p50_ms"]) == 3 for way in ("graph alone", "all 512", "best 64"))
    assert line["all 512"]["recall"] >= 0.99 and line["best 64"]["recall"] >= 0.99
    assert line["graph alone"]["recall"] < line["all 512"]["recall"] - 0.1  # 4-bit codes alone

    monkeypatch.setattr(graph_growth, "CHUNK", 500)
    out.unlink()
    late = ["--deadline", "0.001", "--reserve", "0", "--ef-construction", "24", "--m", "12"]
    late += ["--save", str(saved)]
    graph_growth.main([*argv, "--work", str(tmp_path), "--out", str(out), *late])
    (line,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert line["held"] == 500 and line["partial"]  # out of time after the first chunk: measured there
    assert line["efConstruction"] == 24 and line["M"] == 12  # built as it was told, and said so
    graph = faiss.read_index(str(saved))  # held: the graph inside lives as long as it does
    told = kinds.hnsw_graph(graph).hnsw
    assert told.efConstruction == 24 and told.nb_neighbors(1) == 12
    found.unlink()  # a graph stopped early is searched over the rows it holds, truth too
    graph_search.main([str(saved), str(corpus), "--efs", "256", "--queries", "40", "--out", str(found)])
    (line,) = [json.loads(line) for line in found.read_text().splitlines()]
    assert line["held"] == 500 and line["all 256"]["recall"] >= 0.99

    # filled on in another run from the 500 rows saved, with the same queries, as it was built
    first = json.loads(Path(str(saved) + ".json").read_text())
    assert first["held"] == 500 and first["adding_s"] >= 0
    Path(str(saved) + ".json").write_text(json.dumps({**first, "adding_s": 1000.0}))  # seen if carried
    out.unlink()
    graph_growth.main([*argv, "--work", str(tmp_path), "--out", str(out), "--resume", str(saved), *to[-2:]])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["held"] for line in lines] == [2000, 4000] and not any(line["partial"] for line in lines)
    assert all(line["efConstruction"] == 24 and line["M"] == 12 for line in lines)
    assert 1000 <= lines[0]["adding_s"] < 1100  # the earlier run's seconds carried on
    assert all(line["efsearch"]["2048"]["recall"] >= 0.99 for line in lines)
    assert faiss.read_index(str(saved)).ntotal == 4000
    assert json.loads(Path(str(saved) + ".json").read_text())["held"] == 4000


def test_a_killed_vector_generation_leaves_no_corpus_file_behind(tmp_path: Path) -> None:
    """The corpus file is made at its full size before its rows are written: killed, it must not be
    there for the next run to take as whole (its unwritten rows zeros)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from benchmarks import graph_growth

    size = 20_000  # one chunk of the generator: its rows are written at the end
    final = tmp_path / f"vectors-{size}-v{synthetic.VERSION}-f16.npy"
    partial = final.with_name(final.name + ".partial")
    code = (
        "import pathlib, sys; from benchmarks.graph_growth import vector_file; "
        f"vector_file({size}, pathlib.Path(sys.argv[1]), 1)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for delay in (0.0, 0.1, 0.25):
        proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], env=env)
        deadline = time.monotonic() + 120
        while not partial.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "finished before it was killed: nothing tested"
        assert not final.exists()
    path, _ = graph_growth.vector_file(size, tmp_path, 1)
    rows = np.load(path)
    assert path == final and not partial.exists() and rows.shape == (size, synthetic.DIM)
    assert np.all(np.linalg.norm(rows.astype(np.float32), axis=1) > 0.99)  # every row written


def test_rescoring_reranks_the_exact_candidates_by_each_copy(capsys) -> None:
    from benchmarks import rescoring

    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((900, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    got = rescoring.rescoring_recall(vectors, queries=60, candidates=40, block=7)
    assert got["float32 (1,536 B: the exact order)"] == 1.0
    # the same figure for one copy, computed plainly: int8 with one scale per vector
    picked = np.sort(np.random.default_rng(7).choice(900, 60, replace=False))
    hits, gaps = [], []
    for q in picked:
        sims = vectors @ vectors[q]
        sims[q] = -np.inf
        near = np.argsort(-sims)[:40]
        gaps.append(sims[near[9]] - sims[near[10]])
        scale = np.abs(vectors[near]).max(axis=1, keepdims=True) / 127
        coarse = (np.round(vectors[near] / scale) * scale) @ vectors[q]
        hits.append(len(set(near[np.argsort(-coarse, kind="stable")[:10]]) & set(near[:10])) / 10)
    assert got["int8, scale per vector (384 B)"] == round(float(np.mean(hits)), 4)
    assert got["gap 10th-11th"] == round(float(np.median(gaps)), 6)
    assert all(0 < value <= 1 for value in got.values())

    rescoring.main(["--sizes", "2000", "--queries", "30", "--candidates", "64", "--processes", "1"])
    line = json.loads(capsys.readouterr().out)
    assert line["size"] == 2000 and line["candidates"] == 64
    assert line["float32 (1,536 B: the exact order)"] == 1.0


def test_density_reports_the_medians_an_exact_search_gives(capsys) -> None:
    from benchmarks import density

    rng = np.random.default_rng(2)
    vectors = rng.standard_normal((700, 24)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    got = density.neighbourhoods(vectors, queries=90, block=7)
    picked = np.sort(np.random.default_rng(5).choice(700, 90, replace=False))
    sims = vectors[picked] @ vectors.T
    ranked = np.array([np.sort(np.delete(row, q))[::-1] for row, q in zip(sims, picked, strict=True)])
    assert got["1st neighbour cosine"] == round(float(np.median(ranked[:, 0])), 4)
    assert got["10th neighbour cosine"] == round(float(np.median(ranked[:, 9])), 4)
    assert got["gap 10th-11th"] == round(float(np.median(ranked[:, 9] - ranked[:, 10])), 6)

    density.main(["--sizes", "2000", "--queries", "50", "--processes", "1"])
    line = json.loads(capsys.readouterr().out)
    assert line["size"] == 2000 and 0 < line["gap 10th-11th"] < line["10th neighbour cosine"]


def test_full_build_times_every_phase_of_one_build(capsys) -> None:
    from benchmarks import full_build
    from recommender.index.build import PHASES

    full_build.main(["--size", "1500"])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["size"] == line["articles"] == 1500 and line["kind"] == "flat"
    assert list(line["phases"]) == list(PHASES)  # every phase, in order, each timed
    assert all(phase["seconds"] >= 0 and phase["rss_mb_at_start"] > 0 for phase in line["phases"].values())
    assert line["peak_rss_mb"] >= max(phase["rss_mb_at_start"] for phase in line["phases"].values())
    # each phase's own peaks, all and anonymous (sampled: a phase shorter than a sample may read 0)
    assert all(0 <= phase["peak_anon_mb"] <= phase["peak_mb"] for phase in line["phases"].values())
    assert line["phases"]["calibrate"]["peak_anon_mb"] > 0
    assert 0 < line["peak_anon_with_helpers_mb"] <= line["peak_with_helpers_mb"]


@pytest.mark.slow  # three local Rays started in turn: `make test-slow`
def test_lists_ray_compares_every_path_on_the_same_lists(tmp_path: Path, capsys) -> None:
    pytest.importorskip("ray")
    from benchmarks import lists_ray

    lists_ray.main(
        ["--size", "3000", "--rows", "600", "--block", "200", "--rounds", "1", "--work", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert "[lists] every path stored the same lists" in out, out
    for path in ("in-process", "ray 2x1", "ray 1x2"):
        assert f"round 1 {path}:" in out


def test_refresh_folds_or_searches_every_list_and_measures_both(tmp_path: Path, capsys) -> None:
    from benchmarks import refresh

    refresh.main(["--size", "2000", "--fresh", "0.1", "--floor", "50", "--rounds", "1", "--probes", "100",
                  "--work", str(tmp_path)])  # fmt: skip
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [line["run"] for line in lines] == ["fold", "search every list"]
    assert all(line["added"] == 200 and line["kind"] == "flat" for line in lines)
    assert (
        lines[0]["recall_at_10"] == lines[1]["recall_at_10"] == 1.0
    )  # flat: exact lists, folded or searched
    assert "lists' recall@10: fold" in out and "search every list" in out


@pytest.mark.slow  # six builds of 25k articles in fresh processes
def test_resume_build_kills_a_build_and_the_next_one_keeps_what_it_saved(tmp_path: Path, capsys) -> None:
    from benchmarks import resume_build

    resume_build.main(
        ["--size", "25k", "--kill", "index:0.5", "--kill", "neighbours:0.5", "--save-seconds", "0",
         "--chunk", "2048", "--work", str(tmp_path)]
    )  # fmt: skip
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    baseline, graph, lists = lines
    assert baseline["run"] == "baseline" and baseline["kind"] == "hnsw" and "kept_graph" not in baseline
    kept = graph["finishing"]
    assert 12_500 <= kept["kept_graph"] < 25_000 and kept["kept_lists"] == 0, graph
    kept = lists["finishing"]
    assert kept["kept_graph"] == 25_000 and 12_500 <= kept["kept_lists"] < 25_000, lists
