"""Embedders and a runner for the Ray tests (tests/test_ray.py): sent to Ray workers by value.

`python -m tests.ray_support HOME SHARD_SIZE` runs `build --ray` on a slow hashing embedder in its
own process, so that a test can SIGKILL it in the middle of a backfill.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import numpy as np

from recommender.embedding import HashingEmbedder

POISON = "poisonedword"  # an article whose text holds it cannot be embedded by FailingEmbedder


class SlowEmbedder(HashingEmbedder):
    """The hashing embedder, `delay` seconds a call: a backfill long enough to be killed midway."""

    def __init__(self, dimension: int = 256, delay: float = 0.4) -> None:
        super().__init__(dimension)
        self.delay = delay

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        time.sleep(self.delay)
        return super().embed(texts)


class FailingEmbedder(HashingEmbedder):
    """The hashing embedder, except that it raises on any text holding POISON (every try)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if any(POISON in t for t in texts):
            raise RuntimeError("cannot embed this batch")
        return super().embed(texts)


def failing_block_search(folder: str, rows: np.ndarray, k: int, threads: int) -> np.ndarray:
    """A Ray task of the lists' search (scale.ray_lists.search_block), except that the block holding
    row 0 raises (every try)."""
    from recommender.scale.ray_lists import search_block

    if 0 in rows:
        raise RuntimeError("cannot search this block")
    return search_block(folder, rows, k, threads)


def unreadable_block_search(folder: str, rows: np.ndarray, k: int, threads: int) -> np.ndarray:
    """A Ray task of the lists' search on a node that cannot read the build folder: every block fails."""
    raise FileNotFoundError(f"{folder}: no such directory on this node")


def main(argv: list[str]) -> int:
    from recommender import Recommender
    from recommender.scale import RayOptions

    home, shard_size = argv[0], int(argv[1])
    rec = Recommender(home, embedder=SlowEmbedder(256))
    options = RayOptions(workers=1, shard_size=shard_size, batch_size=shard_size, write_back_seconds=0)
    report = rec.build(engine="ray", ray=options)
    done = report.backfill
    assert done is not None
    print(f"ray embedded {done.embedded} resumed {done.resumed} stored {done.stored}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
