"""One writer, many readers, checked with real processes: readers that serve while another process
ingests, builds and removes; two builds at once; a writer waiting for the lock; a read-only home."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from recommender import Recommender
from recommender.index.folder import index_root

from .conftest import ROOT, article, use_model, write_jsonl

CLI = [sys.executable, "-c", "from recommender.cli import main; main()"]
STORY = "Flood waters rise along the Jamuna embankment; villages evacuated, rescue boats sent by the army"


def story_rows(n: int, prefix: str = "s", day: int = 1) -> list[dict]:
    """n articles on one story, then unrelated filler, all dated."""
    rows = [
        article(f"{prefix}{i}", f"Jamuna flood report {i}", f"{STORY}. Report number {i} from the district.",
                section="national", language="en", published_at=f"2025-11-{day:02d}T{i % 24:02d}:00:00+00:00")
        for i in range(n)
    ]  # fmt: skip
    rows += [
        article(f"f{i}", f"Cricket note {i}", f"Bangladesh cricket team practice session {i} at Mirpur "
                f"stadium ahead of the series; topic {i % 17} word{i}", section="sports", language="en",
                published_at=f"2025-10-{1 + i % 28:02d}T10:00:00+00:00")
        for i in range(n * 10)
    ]  # fmt: skip
    return rows


def make_home(tmp_path: Path, n: int = 25, dim: int = 64) -> Path:
    home = tmp_path / "home"
    use_model(home, f"hashing:{dim}")
    rec = Recommender(home)
    rec.ingest([write_jsonl(tmp_path / "base.jsonl", story_rows(n))])
    rec.build()
    return home


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=_env())


def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
    )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_readers_serve_while_another_process_ingests_builds_and_removes(tmp_path: Path) -> None:
    home = make_home(tmp_path, n=6)
    before = Recommender(home).related("s0", n=8)
    removed = before[0].id
    logs = [tmp_path / f"reader{i}.jsonl" for i in range(2)]
    readers = [
        spawn(sys.executable, "-m", "tests.procs", "reader", str(home), "s0", str(log), "120") for log in logs
    ]
    while not all(log.exists() and log.stat().st_size for log in logs):  # both readers warm
        time.sleep(0.1)

    follow = article(
        "follow", "Jamuna flood: embankment breach, army boats sent", f"{STORY}. The embankment breached.",
        section="national", language="en", published_at="2025-11-02T08:00:00+00:00",
    )  # fmt: skip
    new_file = write_jsonl(tmp_path / "new.jsonl", [follow])
    steps = {}
    for name, args in (
        ("ingest", ("ingest", str(new_file))),
        ("build", ("build",)),
        ("remove", ("remove", removed)),
    ):
        done = run(*CLI, *args, "--home", str(home))
        assert done.returncode == 0, done.stderr
        steps[name] = time.time()
        time.sleep(1.5)
    for log in logs:
        Path(f"{log}.stop").touch()
    for proc in readers:
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err

    live = (index_root(home) / "CURRENT").read_text().strip()
    for log in logs:
        lines = read_log(log)
        assert len(lines) > 100
        assert [line for line in lines if "error" in line] == []  # zero reader errors
        after_build = [line for line in lines if line["t"] > steps["build"] + 1.0]
        assert after_build and all(line["build"] == live for line in after_build)
        assert all("follow" in line["ids"] for line in after_build if line["t"] < steps["remove"])
        after_remove = [line for line in lines if line["t"] > steps["remove"] + 1.0]
        assert after_remove and all(removed not in line["ids"] for line in after_remove)
        assert any(removed in line["ids"] for line in lines if line["t"] < steps["remove"])


def test_a_second_build_says_who_holds_the_lock_and_neither_corrupts_the_other(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    Recommender(home).ingest([write_jsonl(tmp_path / "more.jsonl", story_rows(25, prefix="m", day=3))])
    first = spawn(sys.executable, "-m", "tests.procs", "build", str(home), "64", "1.0")
    assert first.stdout is not None
    assert first.stdout.readline().startswith("phase plan")
    second = run(*CLI, "build", "--home", str(home))
    assert second.returncode == 1
    assert f"build in progress: build (pid {first.pid}" in second.stderr
    waiting = spawn(*CLI, "build", "--wait", "--home", str(home))
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    out2, err2 = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err2
    assert "nothing to do" in out2  # the first build did it all; the second found nothing left
    rec = Recommender(home)
    assert len(rec.index()) == rec.stats().articles == 300 and rec.related("m0", n=3)


def test_a_writer_waits_for_the_lock_and_names_its_holder_and_a_killed_holder_frees_it(
    tmp_path: Path,
) -> None:
    home = make_home(tmp_path)
    holder = spawn(sys.executable, "-m", "tests.procs", "hold", str(home), "3")
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    started = time.monotonic()
    done = run(*CLI, "settings", "recency_weight", "0.5", "--home", str(home))
    assert done.returncode == 0 and time.monotonic() - started > 1.5
    assert f"waiting to write to the store: held by test: holding the lock (pid {holder.pid}" in done.stderr
    holder.wait(timeout=10)

    holder = spawn(sys.executable, "-m", "tests.procs", "hold", str(home), "60")
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    started = time.monotonic()
    done = run(*CLI, "settings", "recency_weight", "0.25", "--home", str(home))
    assert done.returncode == 0 and time.monotonic() - started < 10 and "waiting" not in done.stderr


def test_a_reader_keeps_serving_when_its_build_is_removed_under_it(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    reader = Recommender(home)
    before = [r.id for r in reader.related("s0")]
    old = reader.index().path
    shutil.rmtree(old)  # as the cleanup of another process would, once the grace period is over
    assert [r.id for r in reader.related("s0")] == before  # its pages are still mapped


def test_a_build_with_nothing_to_do_changes_nothing(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    root = index_root(home)
    listing = sorted(p.name for p in root.iterdir())
    pointer = (root / "CURRENT").stat().st_mtime_ns
    report = Recommender(home).build()
    assert report.nothing_to_do and report.embedded == 0
    assert sorted(p.name for p in root.iterdir()) == listing
    assert (root / "CURRENT").stat().st_mtime_ns == pointer


READ_ONLY_SCRIPT = """
set -e
mount --bind "$1" "$1"
mount -o remount,bind,ro "$1"
touch "$1/probe" 2>/dev/null && { echo "still writable"; exit 3; }
shift
exec "$@"
"""


def _can_mount_read_only() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_read_only(), reason="needs unshare with mount namespaces")
def test_a_read_only_home_serves(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    expected = [r.id for r in Recommender(home).related("s0")]
    code = (
        "import sys, json; from recommender import Recommender; "
        "print(json.dumps([r.id for r in Recommender(sys.argv[1]).related('s0')]))"
    )
    wrap = ["unshare", "-rm", "sh", "-c", READ_ONLY_SCRIPT, "sh", str(home)]
    done = run(*wrap, sys.executable, "-c", code, str(home))
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == expected
    for args in (("related", "s0", "--json"), ("stats",), ("settings",), ("sections", "list")):
        done = run(*wrap, *CLI, *args, "--home", str(home))
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert (
        json.loads(run(*wrap, *CLI, "related", "s0", "--json", "--home", str(home)).stdout)[0]["id"]
        == expected[0]
    )
    done = run(*wrap, *CLI, "remove", "s1", "--home", str(home))
    assert done.returncode == 1 and "Traceback" not in done.stderr


def test_serving_needs_no_store_file_at_all(tmp_path: Path) -> None:
    """What a reader needs is in the build folder: a copy of `index/` alone serves."""
    home = make_home(tmp_path)
    expected = [r.id for r in Recommender(home).related("s0")]
    copy = tmp_path / "copy"
    shutil.copytree(index_root(home), index_root(copy))
    assert [r.id for r in Recommender(copy).related("s0")] == expected
    assert np.array_equal(Recommender(copy).index().ids, Recommender(home).index().ids)
