"""Shared fixtures: small synthetic stores on the hashing embedder (fast, no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recommender import Recommender
from recommender.embedding import HashingEmbedder

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


@pytest.fixture
def rec(home: Path):
    """A Recommender on the deterministic hashing embedder."""
    r = Recommender(home, embedder=HashingEmbedder(256))
    r.store.set_setting("model", "hashing:256")
    yield r
    r.close()
