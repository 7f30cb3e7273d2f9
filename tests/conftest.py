"""Shared fixtures: small synthetic stores on the hashing embedder (fast, no model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from recommender import Recommender
from recommender.embedding import HashingEmbedder
from recommender.home import Home

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds" / "articles.jsonl"
SHARED = ROOT.parent / "shared"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def article(ident: str, title: str, body: str, **extra) -> dict:
    row = {"id": ident, "title": title, "body": body, "url": f"https://example.test/{ident}"}
    row.update(extra)
    return row


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "store"


def use_model(home: Path, model: str) -> None:
    """Set a store's model the way a fresh test store needs it (users switch with `build --model`)."""
    with Home(home).writing("test setup") as store:
        store.set_setting("model", model)


def rss_mb(kind: str) -> float:
    """This process's resident memory of one kind (RssAnon, RssFile) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(kind + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(kind)


def read_store(home: Path):
    """The store of a home opened read-only (a context manager), for checks of what was written."""
    return Home(home).reading()


def stored_article(rec: Recommender, external_id: str):
    """An article as the store holds it now (before any build; `rec.article` reads the live build)."""
    with read_store(rec.home) as store:
        return store.article(external_id)


@pytest.fixture
def rec(home: Path):
    """A Recommender on the deterministic hashing embedder."""
    use_model(home, "hashing:256")
    r = Recommender(home, embedder=HashingEmbedder(256))
    yield r
    r.close()


@dataclass(frozen=True)
class DemoBuild:
    """The demo store as `make demo` makes it (seeds/, real bundled model), and what building it did."""

    home: Path
    fake_user_home: Path  # $HOME of the build: telemetry would write ~/intel here
    output: str  # stdout and stderr of `ingest` and `build`
    network: list[str]  # every connection attempt or DNS lookup (each one failed)


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> DemoBuild:
    """Built once per session through the CLI, in subprocesses that may not touch the network.

    The model cache is the usual one ($RECOMMENDER_CACHE, else ~/.cache/recommender): on a fresh
    machine (CI) this is the first run, which converts and quantizes the model; elsewhere it is
    warm. RECOMMENDER_TEST_COLD_CACHE=1 forces a fresh cache to check the first run anywhere.
    """
    root = tmp_path_factory.mktemp("demo")
    user_home = root / "user"
    user_home.mkdir()
    cache = os.environ.get("RECOMMENDER_CACHE") or str(Path.home() / ".cache" / "recommender")
    if os.environ.get("RECOMMENDER_TEST_COLD_CACHE") == "1":
        cache = str(root / "cold-cache")
    log = root / "network.log"
    env = {
        **os.environ,
        "HOME": str(user_home),
        "RECOMMENDER_CACHE": cache,
        "NETGUARD_LOG": str(log),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    for key in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "CI"):
        env.pop(key, None)  # what the engine does by itself is under test, not what CI sets
    home = root / "indexes" / "demo"
    output = ""
    for args in (["ingest", str(SEEDS)], ["build"]):
        done = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "netguard.py"), *args, "--home", str(home)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        output += done.stdout + done.stderr
        assert done.returncode == 0, output
    network = log.read_text().splitlines() if log.exists() else []
    return DemoBuild(home, user_home, output, network)
