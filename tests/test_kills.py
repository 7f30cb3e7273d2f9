"""Crash safety, checked by killing real processes with SIGKILL at many moments: a build, a model
switch and an ingest. After each kill the previous build serves, and the next run ends exactly where
an uninterrupted one would have."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from recommender import Recommender
from recommender.index.build import PHASES
from recommender.index.folder import BUILDING_PREFIX, current_name, index_root

from .conftest import read_store, write_jsonl
from .test_processes import CLI, make_home, run, spawn, story_rows

TRIALS = 20
KILLABLE = PHASES[1:]  # embed, snapshot, calibrate, index, switch, clean


def changed_home(tmp_path: Path) -> Path:
    """A built home with work waiting: new articles, rewritten ones and removals."""
    home = make_home(tmp_path, n=10)
    rec = Recommender(home)
    fresh = story_rows(30, prefix="n", day=5)[:30]
    rewritten = [dict(r, body=r["body"] + " Updated with the final count.") for r in story_rows(10)[3:6]]
    rec.ingest([write_jsonl(tmp_path / "changes.jsonl", fresh + rewritten)])
    rec.remove(["s7", "f3"])
    return home


def live_state(home: Path) -> tuple[str | None, np.ndarray, np.ndarray, list[str]]:
    rec = Recommender(home)
    index = rec.index()
    return current_name(home), np.array(index.ids), np.array(index.vectors), [r.id for r in rec.related("s0")]


def kill_during(args: list[str], phase: str, delay: float) -> str:
    """Run a build program, SIGKILL it `delay` seconds after it announces `phase`; return the last
    phase it announced (or 'done' when it finished first)."""
    proc = spawn(*args)
    assert proc.stdout is not None
    last = "start"
    for line in proc.stdout:
        word, name = line.split()[:2]
        last = name if word == "phase" else "done"
        if word == "phase" and name == phase:
            time.sleep(delay)
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return last


@pytest.mark.slow
def test_a_build_killed_at_any_moment_leaves_the_previous_build_serving_and_the_next_one_whole(
    tmp_path: Path,
) -> None:
    template = changed_home(tmp_path / "template")
    old_name, _, _, old_sidebar = live_state(template)
    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    assert run(*CLI, "build", "--home", str(reference)).returncode == 0
    _, ref_ids, ref_vectors, ref_sidebar = live_state(reference)
    assert ref_sidebar != old_sidebar  # the build changes what readers see

    rng = random.Random(20260101)
    for trial in range(TRIALS):
        home = tmp_path / f"trial{trial}"
        shutil.copytree(template, home)
        phase = KILLABLE[trial % len(KILLABLE)]
        delay = rng.uniform(0.0, 0.25 if phase == "embed" else 0.02)
        args = [sys.executable, "-m", "tests.procs", "build", str(home), "64", "0.1"]
        last = kill_during(args, phase, delay)

        name, ids, vectors, sidebar = live_state(home)  # a reader in this process, after the kill
        if name == old_name:
            assert sidebar == old_sidebar, (trial, phase, last)
        else:  # killed after the switch: the new build is live, and complete
            assert np.array_equal(ids, ref_ids) and np.allclose(vectors, ref_vectors), (trial, phase)
            assert sidebar == ref_sidebar, (trial, phase, last)

        Recommender(home).build()  # the next build, uninterrupted
        _, ids, vectors, sidebar = live_state(home)
        assert np.array_equal(ids, ref_ids), (trial, phase)
        assert np.allclose(vectors, ref_vectors, atol=1e-6), (trial, phase)
        assert sidebar == ref_sidebar, (trial, phase)
        leftovers = [
            p.name for p in index_root(home).iterdir() if p.name.startswith((BUILDING_PREFIX, ".CURRENT"))
        ]
        assert leftovers == [], (trial, phase)
        shutil.rmtree(home)


@pytest.mark.slow
def test_a_model_switch_killed_midway_keeps_the_old_model_serving(tmp_path: Path) -> None:
    template = make_home(tmp_path / "template", n=10)
    old_name, old_ids, _, old_sidebar = live_state(template)
    rng = random.Random(7)
    for trial, phase in enumerate(("embed", "snapshot", "calibrate", "index", "switch", "embed")):
        home = tmp_path / f"trial{trial}"
        shutil.copytree(template, home)
        args = [sys.executable, "-m", "tests.procs", "build", str(home), "32", "0.1", "hashing:32"]
        kill_during(args, phase, rng.uniform(0.0, 0.2 if phase == "embed" else 0.02))
        name, _, vectors, sidebar = live_state(home)
        with read_store(home) as store:
            model = store.settings().model
            old_rows = store.embeddings(_fingerprint(template))[0]
        if name == old_name:  # the old model still serves, whole
            assert vectors.shape[1] == 64 and sidebar == old_sidebar, (trial, phase)
            assert np.array_equal(old_rows, old_ids), (trial, phase)  # its vectors were kept
        else:
            assert vectors.shape[1] == 32 and model == "hashing:32", (trial, phase)
        assert model in ("hashing:64", "hashing:32")
        rec = Recommender(home)
        rec.build(model="hashing:32")  # the switch, run again to the end
        assert rec.index().meta.dimension == 32 and rec.settings().model == "hashing:32"
        with read_store(home) as store:
            assert len(store.embeddings(_fingerprint(template))[0]) == 0  # dropped once the new one is live
        shutil.rmtree(home)


def _fingerprint(home: Path) -> str:
    meta = Recommender(home).index().meta
    return meta.model_fingerprint


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1])
def test_an_ingest_killed_at_any_moment_stores_all_of_a_file_or_nothing(tmp_path: Path, seed: int) -> None:
    home = make_home(tmp_path, n=5)
    before = Recommender(home).stats().articles
    rows = [
        {"id": f"big-{i}", "title": f"Big file article {i}", "body": f"Body of article {i}. " * 40,
         "section": "national", "language": "en", "published_at": "2025-11-20T10:00:00+00:00"}
        for i in range(10_000)
    ]  # fmt: skip
    big = write_jsonl(tmp_path / "big.jsonl", rows)
    started = time.monotonic()
    assert run(*CLI, "ingest", str(big), "--home", str(home / ".." / "timing")).returncode == 0
    full = time.monotonic() - started
    rng = random.Random(seed)
    outcomes = set()
    for _ in range(5):
        trial = tmp_path / "trial"
        shutil.copytree(home, trial)
        proc = subprocess.Popen([*CLI, "ingest", str(big), "--home", str(trial)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(rng.uniform(0.3, full))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        count = Recommender(trial).stats().articles
        assert count in (before, before + len(rows)), count
        outcomes.add(count)
        shutil.rmtree(trial)
    assert before in outcomes  # at least one kill landed mid-ingest


_FORKING_BUILD = """
import fcntl, os, sys, time
from pathlib import Path
from recommender.index import forked, lexical
from tests.test_lexical import _story_corpus

lock = open(sys.argv[1], "a")
fcntl.flock(lock, fcntl.LOCK_EX)  # as the build holds build.lock
lexical.BLOCK_SOURCES = 50
forked.processes_for = lambda items: 2
made = lexical._block_lists

def slowly(*args):
    Path(sys.argv[2], str(os.getpid())).touch()  # this helper is at work
    time.sleep(5)  # a long block
    return made(*args)

lexical._block_lists = slowly
docs, languages, terms = _story_corpus()
lexical.build(lexical.Counts.of(docs), [f"w{i}" for i in range(terms)], languages)
"""


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_build_killed_while_forked_processes_make_its_lists_leaves_its_locks_free(tmp_path: Path) -> None:
    """The neighbour step's forked processes hold the build's lock files too (flock): SIGKILL the
    build while they work, and they die with it, not when their block is done, so the lock is free
    at once, as after any kill."""
    import fcntl

    lock, working = tmp_path / "build.lock", tmp_path / "working"
    working.mkdir()
    root = Path(__file__).resolve().parent.parent
    build = subprocess.Popen([sys.executable, "-c", _FORKING_BUILD, str(lock), str(working)], cwd=root)
    try:
        deadline = time.monotonic() + 60
        while len(list(working.iterdir())) < 2 and build.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # until both helpers are inside a block (an idle one ends with the build)
        makers = [int(p.name) for p in working.iterdir()]
        assert len(makers) == 2 and build.poll() is None, "the list makers never started"
        assert set(makers) <= set(_children(build.pid))
        build.send_signal(signal.SIGKILL)
        build.wait()
        deadline = time.monotonic() + 2  # well inside the block each of them is making
        while any(_running(pid) for pid in makers) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not any(_running(pid) for pid in makers), "a list maker outlived the killed build"
        with open(lock, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if anyone still holds it
    finally:
        build.kill()
