"""`build --ray`: the embedding of a build on a local 2-CPU Ray (Ray Data, an actor pool), checked
against the local path article by article; a killed backfill resumes; a failing shard is reported by
id. The neighbour lists' search on Ray (tasks of blocks of rows) stores the lists a local search
finds; a block that keeps failing there is searched locally and reported. Ray starts once for the
module (it costs seconds); the kill test runs its own in subprocesses. Everything here skips where
Ray is not installed, except the message that says how to get it."""

from __future__ import annotations

import functools
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from recommender import Recommender
from recommender.cli import app
from recommender.embedding import HashingEmbedder
from recommender.errors import BackfillFailed
from recommender.index import neighbours

from . import ray_support
from .conftest import ROOT, SEEDS, read_store, use_model, write_jsonl
from .test_scale import synthetic_rows

ARTICLES = 100


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray of 2 CPUs for the module; the test embedders travel to it by value."""
    ray = pytest.importorskip("ray")
    from recommender.scale.ray_backfill import import_ray

    import_ray()  # Ray's quiet settings, no usage reporting
    ray.cloudpickle.register_pickle_by_value(ray_support)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def options(**kw):
    from recommender.scale import RayOptions

    return RayOptions(**{"workers": 1, "shard_size": 30, "batch_size": 16, "write_back_seconds": 0, **kw})


def stored(home: Path, fingerprint: str) -> tuple[np.ndarray, np.ndarray]:
    with read_store(home) as store:
        return store.embeddings(fingerprint)


def new_home(path: Path, rows: list[dict], embedder=None) -> Recommender:
    use_model(path, "hashing:256")
    rec = Recommender(path, embedder=embedder or HashingEmbedder(256))
    rec.ingest([write_jsonl(path.parent / f"{path.name}.jsonl", rows)])
    return rec


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, np.ndarray]:
    """The vectors a local build stores for the test corpus: what every Ray build must match."""
    home = tmp_path_factory.mktemp("local") / "store"
    new_home(home, synthetic_rows(ARTICLES)).build()
    return stored(home, HashingEmbedder(256).fingerprint())


def assert_same_vectors(found: tuple[np.ndarray, np.ndarray], local: tuple[np.ndarray, np.ndarray]) -> None:
    ids, vectors = found
    assert np.array_equal(ids, local[0]), "a Ray build stored vectors for other articles"
    cosine = np.einsum("ij,ij->i", vectors, local[1])
    worst = int(cosine.argmin())
    assert cosine[worst] >= 0.999, f"article {ids[worst]}: cosine {cosine[worst]:.4f} to the local vector"


def test_ray_build_stores_the_vectors_a_local_build_stores(ray_session, tmp_path: Path, local) -> None:
    rec = new_home(tmp_path / "store", synthetic_rows(ARTICLES))
    seen: list[tuple[int, int]] = []
    report = rec.build(engine="ray", ray=options(), progress=lambda done, total: seen.append((done, total)))
    done = report.backfill
    assert done is not None and done.embedded == ARTICLES and done.stored == ARTICLES
    assert done.shards == 4 and done.workers == 1  # 30 + 30 + 30 + 10 articles
    assert report.embedded == ARTICLES and report.indexed == ARTICLES
    assert seen and seen[-1] == (ARTICLES, ARTICLES)  # progress counts up to every article
    assert_same_vectors(stored(rec.home, HashingEmbedder(256).fingerprint()), local)
    assert rec.related("a0"), "the build after the backfill serves sidebars"
    assert not (rec.home / "backfill").exists(), "a finished backfill leaves no shards behind"


def test_a_shard_that_keeps_failing_is_reported_by_id(ray_session, tmp_path: Path) -> None:
    rows = synthetic_rows(ARTICLES)
    rows[47]["body"] += " " + ray_support.POISON  # row 47 is in the second shard of 30 (ids 31-60)
    rec = new_home(tmp_path / "store", rows, ray_support.FailingEmbedder(256))
    with pytest.raises(BackfillFailed) as caught:
        rec.build(engine="ray", ray=options(tries=2, passes=2))
    assert caught.value.shards == ["00001"]
    message = str(caught.value)
    assert "1 of 4 shards failed" in message and "shard 00001 (30 articles, ids 31-60)" in message
    assert "RuntimeError: cannot embed this batch" in message
    ids, _ = stored(rec.home, HashingEmbedder(256).fingerprint())
    assert len(ids) == ARTICLES - 30 and not np.isin(np.arange(31, 61), ids).any()  # the rest is stored


def run_backfill(home: Path, shard_size: int) -> subprocess.Popen:
    """`build --ray` with a slow embedder in its own process group (its Ray dies with it)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ray_support", str(home), str(shard_size)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


@pytest.mark.slow  # a SIGKILL test: `make test-slow` on main
def test_a_killed_backfill_resumes_at_the_shards_not_yet_stored(tmp_path: Path, local) -> None:
    pytest.importorskip("ray")
    home = tmp_path / "store"
    new_home(home, synthetic_rows(ARTICLES))
    inbox = home / "backfill" / HashingEmbedder(256).fingerprint() / "in"
    first = run_backfill(home, 10)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and first.poll() is None:
            left = list(inbox.glob("*.parquet")) if (inbox.parent / "plan.json").exists() else None
            if left is not None and len(left) <= 7:  # at least 3 of 10 shards stored
                break
            time.sleep(0.05)
        assert first.poll() is None, f"the backfill ended before it was killed:\n{first.communicate()[0]}"
        os.killpg(first.pid, signal.SIGKILL)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    ids, _ = stored(home, HashingEmbedder(256).fingerprint())
    assert 30 <= len(ids) < ARTICLES, f"{len(ids)} vectors stored when the backfill was killed"

    second = run_backfill(home, 10)
    output = second.communicate(timeout=240)[0]
    assert second.returncode == 0, output
    embedded = int(output.split("ray embedded ")[1].split()[0])
    assert embedded <= ARTICLES - len(ids), f"the resumed run embedded again what was stored:\n{output}"
    assert "resumed" in output and "resumed 0 " not in output, output
    assert_same_vectors(stored(home, HashingEmbedder(256).fingerprint()), local)


def test_without_ray_build_ray_says_how_to_get_it(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "store"
    new_home(home, synthetic_rows(10))
    real = importlib.util.find_spec
    hidden = lambda name, *a: None if name == "ray" else real(name, *a)  # noqa: E731
    monkeypatch.setattr(importlib.util, "find_spec", hidden)
    result = CliRunner().invoke(app, ["build", "--ray", "--home", str(home)])
    assert result.exit_code == 1
    assert "pip install 'recommender[ray]'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.model
def test_ray_build_with_the_bundled_model_matches_the_local_build(ray_session, tmp_path: Path) -> None:
    import json

    rows = [json.loads(line) for line in SEEDS.read_text(encoding="utf-8").splitlines()[:6]]
    write_jsonl(tmp_path / "seeds.jsonl", rows)
    homes = {}
    for engine in ("local", "ray"):
        rec = Recommender(tmp_path / engine)
        rec.ingest([tmp_path / "seeds.jsonl"])
        report = rec.build(engine=engine, ray=options() if engine == "ray" else None)
        assert report.embedded == len(rows)
        homes[engine] = (rec.home, rec.index().meta.model_fingerprint)
    assert homes["local"][1] == homes["ray"][1]
    assert_same_vectors(stored(*homes["ray"]), stored(*homes["local"]))


def test_a_shards_dir_holds_only_a_backfill_folder_of_ours(tmp_path: Path) -> None:
    from recommender.scale.shards import Work

    shared = tmp_path / "nfs"
    (shared / "someone-elses").mkdir(parents=True)
    (shared / "backfill" / "old-model").mkdir(parents=True)
    work = Work.of(tmp_path / "home", "fp", shared)
    assert work.folder == shared / "backfill" / "fp"
    assert Work.of(tmp_path / "home", "fp").folder == tmp_path / "home" / "backfill" / "fp"
    work.forget_others()  # another model's shards go; nothing else in the shared folder is touched
    assert (shared / "someone-elses").is_dir() and not (shared / "backfill" / "old-model").exists()


def test_a_batch_holding_two_shards_fails_only_the_shard_with_the_bad_article() -> None:
    """Ray Data may put rows of several shards in one batch: the worker then tries each shard's
    rows on their own (no Ray needed to check that)."""
    import pyarrow as pa

    from recommender.scale.ray_backfill import EmbedBatches, recipe_for

    embedder = ray_support.FailingEmbedder(64)
    worker = EmbedBatches(recipe_for(embedder), embedder.fingerprint(), threads=0, tries=2)
    texts = ["river flood", "cricket final", f"budget {ray_support.POISON}", "budget vote"]
    batch = pa.table(
        {
            "article_id": pa.array([1, 2, 3, 4], pa.int64()),
            "shard": pa.array([1, 1, 2, 2], pa.int64()),
            "text_hash": pa.array(["a", "b", "c", "d"]),
            "text": pa.array(texts),
        }
    )
    out = worker(batch)
    errors = out.column("error").to_pylist()
    assert errors[:2] == [None, None] and errors[2] and errors[3]
    vectors = out.column("vector").to_pylist()
    assert vectors[2] is None and vectors[3] is None
    assert np.allclose(vectors[0], embedder.embed(["river flood"])[0], atol=1e-6)


def lists_options(**kw):
    """Every list searched on Ray (however few), in blocks of 30 rows."""
    return options(**{"lists_local_below": 0, "lists_block": 30, **kw})


def searched_here(index) -> np.ndarray:
    """The index's neighbour lists as this process searches them (index.neighbours.searched)."""
    width = min(neighbours.LIST, len(index) - 1)
    lists = np.full((len(index), width), -1, np.int64)
    neighbours._search(index, np.arange(len(index)), lists)
    return lists


def search_on_ray(rec: Recommender, options, block_search):
    """The live build's lists searched again by a RaySearcher: (the lists, what Ray did, the lists
    the build stored)."""
    from recommender.scale import RaySearcher

    index = rec.index()
    searcher = RaySearcher(options, block_search)
    lists = np.full((len(index), neighbours.LIST), -1, np.int64)
    neighbours._search(index, np.arange(len(index)), lists, searcher=searcher)
    return lists, searcher.outcome, neighbours.Neighbours.load(index.path).ids


def test_ray_build_searches_the_neighbour_lists_a_local_search_finds(ray_session, tmp_path: Path) -> None:
    rec = new_home(tmp_path / "store", synthetic_rows(ARTICLES))
    rec.set_setting("index_type", "hnswsq")  # the compressed graph: the kind whose lists cost most
    phases: list[str] = []
    seen: list[tuple[str, int, int]] = []
    report = rec.build(
        engine="ray",
        ray=lists_options(),
        phase=phases.append,
        progress=lambda done, total: seen.append((phases[-1], done, total)),
    )
    outcome = report.lists_search
    assert outcome is not None and (outcome.searched, outcome.blocks, outcome.workers) == (ARTICLES, 4, 1)
    assert outcome.here == 0 and outcome.why is None
    assert [s for s in seen if s[0] == "neighbours"][-1] == ("neighbours", ARTICLES, ARTICLES)
    index = rec.index()
    assert index.meta.kind == "hnswsq" and "lists_efSearch" in index.meta.params
    stored = neighbours.Neighbours.load(index.path).ids
    assert stored.shape == (ARTICLES, neighbours.LIST) and (stored >= 0).all()
    assert np.array_equal(stored, searched_here(index)), "Ray's lists differ from a local search's"
    assert rec.related("a0"), "the build serves sidebars from the lists Ray searched"


def test_a_block_that_keeps_failing_on_ray_is_searched_here_and_reported(ray_session, tmp_path: Path) -> None:
    rec = new_home(tmp_path / "store", synthetic_rows(ARTICLES))
    rec.set_setting("index_type", "hnswsq")
    rec.build()
    options = lists_options(tries=2, workers=2)
    lists, outcome, stored = search_on_ray(rec, options, ray_support.failing_block_search)
    assert outcome is not None and outcome.here == 1 and outcome.searched == ARTICLES - 30
    assert outcome.workers == 2 and outcome.blocks == 4
    assert outcome.why == "RuntimeError: cannot search this block"
    assert np.array_equal(lists, stored), "a list was lost or differs"


def test_when_ray_fails_the_first_blocks_the_rest_are_not_sent_and_searched_here(
    ray_session, tmp_path: Path
) -> None:
    rec = new_home(tmp_path / "store", synthetic_rows(ARTICLES))
    rec.build()
    options = lists_options(tries=1, lists_block=10)
    lists, outcome, stored = search_on_ray(rec, options, ray_support.unreadable_block_search)
    assert outcome is not None and outcome.gave_up and outcome.workers == 1
    assert (outcome.blocks, outcome.here, outcome.searched) == (10, 10, 0)
    assert outcome.why is not None and outcome.why.startswith("FileNotFoundError: ")
    assert np.array_equal(lists, stored)


def test_build_ray_says_how_the_lists_were_searched(ray_session, tmp_path: Path, monkeypatch) -> None:
    import recommender.scale
    from recommender.scale import RayOptions

    home = tmp_path / "store"
    new_home(home, synthetic_rows(ARTICLES))
    small = functools.partial(RayOptions, shard_size=30, batch_size=16, write_back_seconds=0)
    monkeypatch.setattr(
        recommender.scale, "RayOptions", functools.partial(small, lists_local_below=0, lists_block=30)
    )
    result = CliRunner().invoke(app, ["build", "--ray", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert (
        f"neighbour lists of {ARTICLES} article(s) searched on Ray in 4 block(s), 1 worker(s)"
        in result.output
    )
    monkeypatch.setattr(recommender.scale, "RayOptions", small)  # 100 rows: searched here, nothing said
    result = CliRunner().invoke(app, ["build", "--ray", "--full", "--home", str(home)])
    assert result.exit_code == 0 and "searched on Ray" not in result.output, result.output
