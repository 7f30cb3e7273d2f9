"""A full build killed from its index phase on (while its graph is filled, during the neighbour
lists' search, the copies or the switch) is finished by the next build: it fills the graph on from
the one the killed build saved, searches only the lists that one had not saved, and goes live with
what an uninterrupted build writes. Checked by SIGKILL at many moments of real build processes
(tests/procs.py `lists`)."""

from __future__ import annotations

import random
import shutil
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from recommender import Recommender
from recommender.index import neighbours
from recommender.index.folder import RESUME, current_build, index_root

from .conftest import write_jsonl
from .test_processes import CLI, make_home, run, spawn, story_rows

CHUNK = 16  # rows a step: under FAISS's BLAS threshold, so a row's search does not depend on its step
DELAY = 0.05  # seconds a step: the search of ~700 rows takes ~2 s, long enough to kill inside
SKIPPED = ("meta.json", "overlay.json")  # the build's time and the settings' snapshot differ by design


def waiting_home(tmp_path: Path) -> Path:
    """A built home with new articles ingested: the next build has something to change."""
    home = make_home(tmp_path, n=20)
    fresh = story_rows(40, prefix="n", day=6)[:40]
    Recommender(home).ingest([write_jsonl(tmp_path / "fresh.jsonl", fresh)])
    return home


def lists_build(home: Path, full: bool, fold: bool = False) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tests.procs",
        "lists",
        str(home),
        str(CHUNK),
        str(DELAY),
        "1" if full else "0",
        "1" if fold else "0",
    ]


def finish(home: Path, full: bool = False, fold: bool = False) -> tuple[str, int, str]:
    """Run a build to its end in its own process: (live folder's name, articles, lists it kept of
    a killed build's, "None" when it finished none)."""
    name, indexed, _, lists = finish_graph(home, full, fold)
    return name, indexed, lists


def finish_graph(home: Path, full: bool = False, fold: bool = False) -> tuple[str, int, str, str]:
    """As `finish`, with the articles the killed build's graph held before the lists; checks that
    a graph's filling began from those."""
    proc = spawn(*lists_build(home, full, fold))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    _, name, indexed, graph, lists = out.splitlines()[-1].split()
    fills = [line.split()[1] for line in out.splitlines() if line.startswith("fill ")]
    assert fills in ([], [graph if graph != "None" else "0"]), (fills, graph)
    return name, int(indexed), graph, lists


def kill_build(
    home: Path, phase: str, steps: int, pause: float, full: bool = True, fold: bool = False
) -> int:
    """Run a full build and SIGKILL it `pause` seconds after it saved `steps` steps of its work in
    `phase` (index: the graph, neighbours: the lists) or, in another phase, after it announces it;
    return the rows of that work it had reported saved. `full`: a full build, else an update;
    `fold`: an update that folds its fresh ids into the lists (counted after the search)."""
    proc = spawn(*lists_build(home, full, fold))
    assert proc.stdout is not None
    current, saved, seen = "start", 0, 0
    steps_of = {"index": "graph", "neighbours": "searched"}
    for line in proc.stdout:
        word, *rest = line.split()
        if word == "phase":
            current = rest[0]
        elif current == phase and word == steps_of.get(phase):
            saved, seen = int(rest[0]), seen + 1
        if current == phase and (phase not in steps_of or seen > steps):
            time.sleep(pause)
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return saved


def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and p.name not in SKIPPED}


def _kill_and_finish(tmp_path: Path, trials: int, seed: int, full: bool = True, fold: bool = False) -> None:
    template = waiting_home(tmp_path / "template")
    old = current_build(template)
    assert old is not None
    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    ref_name, ref_count, resumed = finish(reference, full, fold)
    assert resumed == "None"
    expected = folder_files(index_root(reference) / ref_name)
    assert "neighbour_ids.npy" in expected and not any(
        n.startswith(("neighbour_done", RESUME)) for n in expected
    )
    # an update searches the lists of its 40 new articles (and folds the other lists)
    steps = ref_count // CHUNK if full or fold else 2

    if fold:  # the reference folded every fresh id into the lists
        assert len(np.load(index_root(reference) / ref_name / "neighbour_fresh.npy")) == 0
    folding = []  # rows counted at kills after the search of the 40 new articles' lists: in the fold
    rng = random.Random(seed)
    moments = [("neighbours", rng.randrange(steps), rng.uniform(0, DELAY)) for _ in range(trials)]
    moments += [("neighbours", 0, 0.0), ("copies", 0, rng.uniform(0, 0.05)), ("switch", 0, 0.0)]
    for trial, (phase, step, pause) in enumerate(moments):
        home = tmp_path / f"trial{trial}"
        shutil.copytree(template, home)
        saved = kill_build(home, phase, step, pause, full, fold)
        folding += [saved] if fold and saved > 40 else []
        if current_build(home) != index_root(home) / old.name:  # killed after the switch: nothing to resume
            continue
        second = rng.random() < 0.3 and phase == "neighbours"
        if second:  # killed again while it finishes the first one
            saved = max(saved, kill_build(home, "neighbours", 1, rng.uniform(0, DELAY), full, fold))
        name, count, resumed = finish(home, fold=fold)
        assert count == ref_count, (trial, phase)
        assert resumed != "None", (trial, phase, "the killed build was not resumed")
        if phase == "neighbours" and fold:  # the lists searched were saved, the fold is done again
            assert saved <= int(resumed) <= count, (trial, saved, resumed)
        elif phase == "neighbours":
            assert saved <= int(resumed) < count, (trial, saved, resumed)  # the rest searched now
        else:
            assert int(resumed) == count, (trial, phase)  # the search was whole
        assert folder_files(index_root(home) / name) == expected, (trial, phase, step, pause, second)
        leftovers = [p.name for p in index_root(home).iterdir() if p.is_dir() and p.name != name]
        assert leftovers == [], (trial, leftovers)
        shutil.rmtree(home)
    assert folding or not fold, "no kill landed in the fold"


def test_a_full_build_killed_during_its_lists_search_is_finished_by_the_next_one(tmp_path: Path) -> None:
    _kill_and_finish(tmp_path, trials=3, seed=5)


def test_an_update_killed_once_its_folder_is_written_is_finished_by_the_next_build(tmp_path: Path) -> None:
    """An update of the live build (its index updated in place, lists carried over, only the new
    articles' searched) is finished too, while the build it updates is still live."""
    _kill_and_finish(tmp_path, trials=2, seed=8, full=False)


def test_an_update_killed_while_it_folds_its_fresh_ids_into_the_lists_is_finished_by_the_next_build(
    tmp_path: Path,
) -> None:
    """An update with more fresh ids than it carries folds them into every carried list after
    its search; killed during the search or the fold, the next build ends with what an
    uninterrupted one writes."""
    _kill_and_finish(tmp_path, trials=3, seed=11, full=False, fold=True)


@pytest.mark.slow
def test_a_full_build_killed_at_many_moments_after_its_folder_is_written_is_finished_whole(
    tmp_path: Path,
) -> None:
    _kill_and_finish(tmp_path, trials=14, seed=2026)


def test_the_cli_says_it_finished_a_killed_build(tmp_path: Path) -> None:
    home = waiting_home(tmp_path)
    saved = kill_build(home, "neighbours", 5, 0.0)
    result = run(*CLI, "build", "--home", str(home))
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stdout.split())
    count = Recommender(home).stats().articles
    resumed = int(said.split("finished the build a killed one had begun, keeping ")[1].split()[0])
    assert saved <= resumed < count
    assert f"keeping {resumed} of {count} neighbour lists it had saved" in said


@pytest.mark.parametrize("change", ["ingest", "remove"])
def test_a_killed_build_is_not_finished_once_the_store_has_changed(tmp_path: Path, change: str) -> None:
    """An article ingested or removed after the kill makes the killed build's folder stale: the
    next build removes it and builds afresh."""
    home = waiting_home(tmp_path)
    kill_build(home, "neighbours", 3, 0.0)
    killed = [p for p in index_root(home).iterdir() if (p / RESUME).exists()]
    assert len(killed) == 1
    rec = Recommender(home)
    if change == "ingest":
        rec.ingest([write_jsonl(tmp_path / "late.jsonl", story_rows(1, prefix="late", day=7)[:1])])
    else:
        rec.remove(["n3"])  # nothing to embed: only the store's version tells
    name, count, resumed = finish(home)
    assert resumed == "None" and not killed[0].exists() and name != killed[0].name
    catalog = Recommender(home).catalog()
    held = {catalog.external_id(row) for row in range(len(catalog))}
    assert count == len(held) == rec.stats().articles
    assert ("late0" in held) if change == "ingest" else ("n3" not in held)


def test_a_killed_build_is_not_finished_under_other_settings(tmp_path: Path) -> None:
    """The lexical index switched off after the kill: the folder has lexical files the settings no
    longer want, so it is not finished."""
    home = waiting_home(tmp_path)
    kill_build(home, "neighbours", 3, 0.0)
    Recommender(home).set_setting("lexical_index", "false")
    _, _, resumed = finish(home)
    assert resumed == "None"
    assert Recommender(home).index().meta.lexical is None


def test_a_full_build_killed_while_its_graph_is_filled_goes_on_from_the_graph_it_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compressed graph, saved after every CHUNK articles here: the next build adds only the
    articles the saved graph lacks, and the build it makes live holds every article once, with
    the lists a search of that graph gives."""
    import faiss

    template = waiting_home(tmp_path / "template")
    Recommender(template).set_setting("index_type", "hnswsq")
    articles = Recommender(template).stats().articles
    rng = random.Random(12)
    moments = [(0, 0.0), (rng.randrange(2, articles // CHUNK - 2), rng.uniform(0, DELAY))]
    monkeypatch.setattr(neighbours, "SEARCH_CHUNK", CHUNK)
    for trial, (step, pause) in enumerate(moments):
        home = tmp_path / f"trial{trial}"
        shutil.copytree(template, home)
        saved = kill_build(home, "index", step, pause)
        name, count, graph, lists = finish_graph(home)
        assert count == articles and saved <= int(graph) < count and int(lists) == 0, (trial, saved, graph)
        index = Recommender(home).index()
        assert index.meta.kind == "hnswsq" and index.path.name == name
        held = faiss.vector_to_array(index._index.id_map)
        assert np.array_equal(held, index.ids), trial  # every article once: none added twice, none lost
        expected = np.full((count, neighbours.LIST), -1, np.int64)
        neighbours._search(index, np.arange(count), expected)
        assert np.array_equal(np.load(index.path / neighbours.FILES[0]), expected), trial
        assert not list(index.path.glob("graph-*")) and not (index.path / RESUME).exists()
        assert [p.name for p in index_root(home).iterdir() if p.is_dir()] == [name]
        shutil.rmtree(home)


def test_a_resumed_search_searches_only_the_rows_not_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In one process: the rows marked saved keep their lists and are not asked of the searcher."""
    home = make_home(tmp_path, n=10)
    index = Recommender(home).index()
    path = index.path / neighbours.FILES[0]
    whole = np.load(path).copy()
    saved = np.zeros(len(index), bool)
    saved[::3] = True
    planted = whole.copy()
    planted[saved] = -7  # a saved row's list is kept as it was saved, not searched again
    np.save(path, planted)
    np.save(index.path / neighbours.DONE_FILE, np.packbits(saved))
    (index.path / neighbours.FILES[1]).unlink()
    asked: list[np.ndarray] = []

    def searcher(ix, rows, k):
        asked.append(rows)
        return neighbours.searched(ix, rows, k)

    assert neighbours.saved_count(index.path, len(index)) == saved.sum()
    lists = neighbours.build(index, None, np.zeros(0, np.int64), searcher=searcher, resume=True)
    assert lists is not None
    assert np.array_equal(np.concatenate(asked), np.flatnonzero(~saved))
    assert (lists.ids[saved] == -7).all() and np.array_equal(lists.ids[~saved], whole[~saved])
    assert not (index.path / neighbours.DONE_FILE).exists()
    assert neighbours.saved_count(index.path, len(index)) == len(index)


def test_a_killed_update_is_not_finished_by_a_full_build(tmp_path: Path) -> None:
    """`build --full` asks for a new index, not the update a killed build had made."""
    home = waiting_home(tmp_path)
    kill_build(home, "neighbours", 0, 0.0, full=False)
    assert [p for p in index_root(home).iterdir() if (p / RESUME).exists()]
    _, _, resumed = finish(home, full=True)
    assert resumed == "None"


def test_a_saved_graph_is_gone_on_from_only_when_it_holds_the_first_articles(tmp_path: Path) -> None:
    """The saved graph must hold exactly the first `rows` ids of the build, in order; one of
    another build's articles (or cut short) is dropped, and the fill starts again."""
    from recommender.index import filling, kinds
    from recommender.index.vectors import ArrayVectors

    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(600, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(10, 610, dtype=np.int64)
    index, _ = kinds.empty_index("hnsw", len(ids), ArrayVectors(vectors))
    filling.fill(index, ids[:256], ArrayVectors(vectors[:256]))
    filling.save(index, tmp_path, 256)
    assert filling.held(tmp_path) == 256
    back = filling.resumed(tmp_path, ids, 16)
    assert back is not None and back[1] == 256 and back[0].ntotal == 256
    assert filling.resumed(tmp_path, ids + 1, 16) is None  # other articles: dropped
    assert filling.held(tmp_path) == 0 and not list(tmp_path.glob("graph-*"))
    filling.save(index, tmp_path, 300)  # named for more than it holds
    assert filling.resumed(tmp_path, ids, 16) is None
    filling.fill(index, ids, ArrayVectors(vectors), held=256)  # the rest, after the saved ones
    assert np.array_equal(faiss_ids(index), ids)


def faiss_ids(index) -> np.ndarray:
    import faiss

    return faiss.vector_to_array(index.id_map)


@pytest.mark.parametrize("lost", ["resume_changed.npy", "ids.npy"])
def test_a_killed_build_missing_a_file_it_needs_is_built_afresh(tmp_path: Path, lost: str) -> None:
    """A killed build's folder without a file finishing it reads (the ids an update re-embedded,
    the ids of a folder killed while its graph was filled) is cleaned away like any leftover, and
    the next build makes its own: no traceback."""
    home = waiting_home(tmp_path)
    if lost == "ids.npy":
        Recommender(home).set_setting("index_type", "hnswsq")
        kill_build(home, "index", 1, 0.0)
    else:
        kill_build(home, "neighbours", 0, 0.0, full=False)
    killed = [p for p in index_root(home).iterdir() if (p / RESUME).exists()]
    assert len(killed) == 1 and (killed[0] / lost).exists()
    (killed[0] / lost).unlink()
    name, count, resumed = finish(home)
    assert resumed == "None" and not killed[0].exists()
    assert count == Recommender(home).stats().articles and Recommender(home).index().path.name == name
