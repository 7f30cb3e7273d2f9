"""The home's build process (serve/builder.py, serve/build_worker.py), with real processes: one
for every worker of the service, kept between pushes; a killed one is replaced and the push still
lands (killed between builds or during one); an idle one leaves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from recommender.home import Home
from recommender.serve.build_worker import socket_path
from recommender.serve.builder import NICENESS, Builder

from .serve_support import ROOT, build_store, free_port, running, serve_argv
from .test_serve_writes import NEW_STORY, TOKEN, request, sidebar_ids, wait_until


def build_processes(home: Path) -> list[int]:
    """Pids of the live build processes of `home` (from /proc: they are the server's grandchildren)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"recommender.serve.build_worker" in argv and str(home).encode() in argv and state != "Z":
            found.append(int(entry))
    return found


# A second pushed story on another topic (two pushes of one text would be copies of each other,
# and copies are kept out of sidebars).
METRO_STORY = {
    **NEW_STORY,
    "title": "মেট্রোরেলে নতুন কোচ, উত্তরা থেকে মতিঝিল আরও দ্রুত",
    "body": "মেট্রোরেল ঢাকা যাত্রী স্টেশন উত্তরা মতিঝিল ভাড়া নতুন কোচ। "
    "মেট্রোরেল ঢাকা যাত্রী স্টেশন উত্তরা মতিঝিল ভাড়া যাত্রীদের সুবিধা",
    "url": "https://news.example/national/metro-new",
    "section": "national",
}
CRICKET_STORY = {
    **NEW_STORY,
    "title": "মিরপুরে দ্বিতীয় ম্যাচেও জয়, সিরিজ বাংলাদেশের",
    "body": "ক্রিকেট সিরিজ মিরপুর উইকেট ব্যাটিং বোলিং দ্বিতীয় ম্যাচ। ক্রিকেট সিরিজ মিরপুর উইকেট ব্যাটিং বোলিং সিরিজ জয়",
    "url": "https://news.example/sports/cricket-new",
    "section": "sports",
}


def push(base: str, article_id: str, story: dict) -> None:
    status, body = request(base, "PUT", f"/v1/articles/{article_id}", story)
    assert status == 202 and body["outcome"] == "added", body


def test_one_build_process_serves_every_worker_and_is_kept_between_pushes(tmp_path: Path) -> None:
    home = build_store(tmp_path / "store")
    port = free_port()
    env = {"RECOMMENDER_API_TOKEN": TOKEN}
    with running(serve_argv(home, port, "--workers", "2"), port, env=env) as base:
        assert build_processes(home) == []  # none before the first push
        push(base, "intl-new", NEW_STORY)
        wait_until(lambda: "intl-new" in sidebar_ids(base, "intl-1"))
        [pid] = build_processes(home)
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICENESS)
        # each push reaches either worker (a new connection each): the same build process builds
        for article_id, story, source in [
            ("metro-new", METRO_STORY, "metro-1"),
            ("cricket-new", CRICKET_STORY, "cricket-1"),
        ]:
            push(base, article_id, story)
            wait_until(lambda a=article_id, s=source: a in sidebar_ids(base, s))
            assert build_processes(home) == [pid]
    assert not [p for p in home.rglob("*") if p.is_socket()]  # a copy of the home copies no socket


def test_a_killed_build_process_is_replaced_and_the_next_push_lands(tmp_path: Path) -> None:
    home = build_store(tmp_path / "store")
    port = free_port()
    with running(serve_argv(home, port), port, env={"RECOMMENDER_API_TOKEN": TOKEN}) as base:
        push(base, "intl-new", NEW_STORY)
        wait_until(lambda: "intl-new" in sidebar_ids(base, "intl-1"))
        [pid] = build_processes(home)
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: build_processes(home) == [], 10)
        push(base, "metro-new", METRO_STORY)
        wait_until(lambda: "metro-new" in sidebar_ids(base, "metro-1"))
        [replacement] = build_processes(home)
        assert replacement != pid


def test_a_build_process_killed_during_a_build_is_replaced_and_the_build_done(tmp_path: Path) -> None:
    home = build_store(tmp_path / "store")
    builder = Builder(home, settle_seconds=0.0)
    try:
        with Home(home).building("the test"):  # the build process waits for this lock in its build
            builder.request()
            wait_until(lambda: builder.worker_pid is not None, 10)
            first = builder.worker_pid
            assert first is not None
            wait_until(lambda: socket_path(home).exists(), 30)  # listening (imports take a while)
            time.sleep(1.0)  # asked, and waiting inside the build
            assert builder.builds == 0
            os.kill(first, signal.SIGKILL)
            wait_until(lambda: builder.worker_pid not in (None, first), 10)  # asked again at once
        wait_until(lambda: builder.builds == 1, 30)
        assert builder.last_error is None
    finally:
        builder.close()


def test_a_build_process_killed_before_it_listens_is_replaced_and_the_build_done(tmp_path: Path) -> None:
    home = build_store(tmp_path / "store")
    builder = Builder(home, settle_seconds=0.0)
    try:
        with Home(home).building("the test"):
            builder.request()
            wait_until(lambda: builder.worker_pid is not None, 10)
            first = builder.worker_pid
            assert first is not None and not socket_path(home).exists()  # still importing
            os.kill(first, signal.SIGKILL)
            wait_until(lambda: builder.worker_pid not in (None, first), 10)
        wait_until(lambda: builder.builds == 1, 60)
        assert builder.last_error is None
    finally:
        builder.close()


def test_an_idle_build_process_leaves_and_the_next_request_starts_another(tmp_path: Path) -> None:
    home = build_store(tmp_path / "store")
    builder = Builder(home, settle_seconds=0.0, idle_seconds=1.0)
    try:
        builder.request()
        wait_until(lambda: builder.builds == 1, 30)
        first = builder.worker_pid
        assert first is not None and builder.last_error is None
        wait_until(lambda: builder.worker_pid is None, 10)  # gone, giving its memory back
        builder.request()
        wait_until(lambda: builder.builds == 2, 30)
        assert builder.last_error is None and builder.worker_pid not in (None, first)
    finally:
        builder.close(wait=10)


LEAVING = """
import sys, time
from pathlib import Path
from recommender.serve.builder import Builder
builder = Builder(Path(sys.argv[1]), settle_seconds=0.0)
builder.request()
while builder.builds == 0:
    time.sleep(0.05)
print(builder.worker_pid, flush=True)
"""


def test_the_build_process_leaves_with_the_serving_process_that_started_it(tmp_path: Path) -> None:
    home = build_store(tmp_path / "store")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", LEAVING, str(home)], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    pid = int(done.stdout.strip())
    wait_until(lambda: pid not in build_processes(home), 10)  # not 5 minutes later, when idle
