"""Shared fixtures: small synthetic stores on the hashing embedder (fast, no model)."""

from __future__ import annotations

import json
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


def read_store(home: Path):
    """The store of a home opened read-only (a context manager), for checks of what was written."""
    return Home(home).reading()


@pytest.fixture
def rec(home: Path):
    """A Recommender on the deterministic hashing embedder."""
    use_model(home, "hashing:256")
    r = Recommender(home, embedder=HashingEmbedder(256))
    yield r
    r.close()
