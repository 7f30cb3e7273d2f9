"""Shared by the service tests: a small synthetic Bengali store, and a real server on loopback.

The articles are written for these tests (no text from ../shared): three stories in Bengali and
one in English, on the hashing embedder, so that stores build in well under a second.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from recommender import Recommender

ROOT = Path(__file__).resolve().parent.parent
URL_ID = "https://news.example/national/metro?id=4&x=a b"
XSS_TITLE = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> বিষ'

_STORIES = {
    # (section, words every article of the story shares, titles)
    "intl": (
        "international",
        "পুতিন কাজাখস্তান সফর আস্তানা তোকায়েভ চুক্তি গ্যাস পাইপলাইন রাশিয়া",
        [
            "দুই দিনের রাষ্ট্রীয় সফরে আস্তানায় পৌঁছালেন রুশ প্রেসিডেন্ট পুতিন",
            "আস্তানায় পুতিন ও তোকায়েভের বৈঠক, গ্যাস পাইপলাইন নিয়ে নতুন চুক্তি",
            "কাজাখস্তানের সঙ্গে জ্বালানি সহযোগিতা বাড়াতে চায় রাশিয়া",
            "পুতিনের সফর ঘিরে আস্তানায় কড়া নিরাপত্তা, বন্ধ কয়েকটি সড়ক",
            "রাশিয়া-কাজাখস্তান বাণিজ্য ছাড়াল নতুন উচ্চতা, জানালেন দুই নেতা",
            "সফর শেষে মস্কো ফিরলেন পুতিন, সই হলো বারোটি সমঝোতা স্মারক",
            "মধ্য এশিয়ায় প্রভাব ধরে রাখতে তৎপর মস্কো, বলছেন বিশ্লেষকেরা",
        ],
    ),
    "metro": (
        "national",
        "মেট্রোরেল ঢাকা যাত্রী স্টেশন উত্তরা মতিঝিল ভাড়া",
        [
            "মেট্রোরেলের নতুন স্টেশন চালু, সকাল থেকেই যাত্রীদের ভিড়",
            "মেট্রোরেলের ভাড়া কমানোর দাবি যাত্রীদের",
            "উত্তরা থেকে মতিঝিল এখন চল্লিশ মিনিটে",
        ],
    ),
    "cricket": (
        "sports",
        "ক্রিকেট সিরিজ মিরপুর উইকেট ব্যাটিং বোলিং",
        [
            "মিরপুরে সিরিজের প্রথম ম্যাচে জয় বাংলাদেশের",
            "উইকেট নিয়ে প্রশ্ন, মিরপুরে ব্যাটিং ধস",
        ],
    ),
}


def corpus() -> list[dict]:
    """The test articles: intl-1..7, metro-1..3, cricket-1..2, en-1, URL_ID, and `xss-1` (hostile)."""
    rows: list[dict] = []
    for key, (section, words, titles) in _STORIES.items():
        for i, title in enumerate(titles, 1):
            rows.append(
                {
                    "id": f"{key}-{i}",
                    "url": f"https://news.example/{section}/{key}-{i}",
                    "title": title,
                    "body": f"{title}। {words} {words} খবর {i}",
                    "section": section,
                    "language": "bn",
                    "published_at": f"2025-11-{10 + i:02d}T09:00:00+06:00",
                }
            )
    rows.append(
        {
            "id": "xss-1",
            "url": "javascript:alert(1)",
            "title": XSS_TITLE,
            "body": f"{_STORIES['cricket'][1]} {_STORIES['cricket'][1]} বিশ্লেষণ",
            "section": "sports",
            "language": "bn",
            "published_at": "2025-11-12T10:00:00+06:00",
        }
    )
    rows.append(  # ids may be urls: slashes, a query string
        {
            "id": URL_ID,
            "url": URL_ID,
            "title": "মেট্রোরেলে যাত্রী বাড়ছে, নতুন কোচ আসছে",
            "body": f"{_STORIES['metro'][1]} {_STORIES['metro'][1]} কোচ",
            "section": "national",
            "language": "bn",
            "published_at": "2025-11-13T08:00:00+06:00",
        }
    )
    rows.append(
        {
            "id": "en-1",
            "url": "https://news.example/world/en-1",
            "title": "Putin arrives in Astana for a two-day state visit",
            "body": "putin kazakhstan astana tokayev gas pipeline agreements russia visit",
            "section": "international",
            "language": "en",
            "published_at": "2025-11-11T09:00:00+06:00",
        }
    )
    return rows


def build_store(home: Path, rows: Sequence[dict] | None = None) -> Path:
    """Ingest the corpus and build it on the hashing embedder; returns `home`."""
    home.mkdir(parents=True, exist_ok=True)
    source = home.parent / f"{home.name}-articles.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in (rows or corpus())), "utf-8")
    with Recommender(home) as rec:
        report = rec.ingest([source])
        assert not report.rejected, report.rejected
        rec.build(model="hashing:256")
    return home


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 10.0) -> tuple[int, dict | str, dict[str, str]]:
    """GET on loopback: (status, JSON or text body, headers), errors included."""
    request = urllib.request.Request(url)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            status, raw, headers = resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        status, raw, headers = exc.code, exc.read(), dict(exc.headers)
    text = raw.decode("utf-8")
    is_json = headers.get("content-type", "").startswith("application/json")
    return status, (json.loads(text) if is_json else text), headers


@contextmanager
def running(
    argv: Sequence[str], port: int, env: dict[str, str] | None = None, log_lines: Sequence[str] = ()
) -> Iterator[str]:
    """A server subprocess (own process group) until it answers /healthz and its log shows every
    one of `log_lines` (e.g. that each worker started); yields its base url."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    with tempfile.TemporaryFile() as log:  # a file, not a pipe nobody reads: a full pipe blocks
        proc = subprocess.Popen(
            list(argv), env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        base = f"http://127.0.0.1:{port}"

        def output() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")

        try:
            deadline = time.monotonic() + 60
            while not (_answers(base) and all(line in output() for line in log_lines)):
                if proc.poll() is not None:
                    raise AssertionError(f"server exited with {proc.returncode}:\n{output()[-3000:]}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"server not ready within 60 s:\n{output()[-3000:]}")
                time.sleep(0.1)
            yield base
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answers (503 without an index is still an answer)
    except OSError:
        return False


def serve_argv(home: Path, port: int, *extra: str) -> list[str]:
    """`recommender serve` as a user runs it (the console script's entry point, this checkout)."""
    entry = "from recommender.cli import main; main()"
    return [sys.executable, "-c", entry, "serve", "--home", str(home), "--port", str(port), *extra]
