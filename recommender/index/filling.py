"""A graph index filled a chunk at a time and saved as it goes, so that a killed build goes on from it.

After the embedding and the neighbour lists' search, filling the graph is a large build's longest
step (the 5M compressed graph: 2 hours on 2 cores). While a full build fills one, it saves the graph
as it stands at most every SAVE_SECONDS into its `.building-*` folder, as `graph-<rows>.faiss`:
written under another name and renamed when whole, the number being how many articles it holds
(the first ones in id order: they are added in that order). The build that finishes a killed one
(index/build.py) reads the latest, checks it holds exactly those articles, and adds the rest.
A save writes the graph so far and waits for the disk: 142 MB in 0.2-0.5 s for 300k articles of
the compressed graph at efConstruction 400 (2-core box, a scratch measure; the fill itself took
438 s), so about 4.7 GB in 6 to 16 s at 10M, against SAVE_SECONDS between saves.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .vectors import CHUNK_ROWS, Vectors

ADD_ROWS = CHUNK_ROWS  # vectors added to the graph at a time
SAVE_SECONDS = 600.0  # the graph is saved at most this often while it is filled
PREFIX, SUFFIX = "graph-", ".faiss"


def fill(index: Any, ids: np.ndarray, vectors: Vectors, held: int = 0, folder: Path | None = None) -> None:
    """Add rows `held:` of `vectors` (with their `ids`) to `index` in order, ADD_ROWS at a time;
    with `folder`, save the index there as it goes (see the module's docstring)."""
    last = time.monotonic()
    for start in range(held, len(ids), ADD_ROWS):
        stop = min(start + ADD_ROWS, len(ids))
        index.add_with_ids(np.ascontiguousarray(vectors.read(start, stop), np.float32), ids[start:stop])
        if folder is not None and stop < len(ids) and time.monotonic() - last >= SAVE_SECONDS:
            save(index, folder, stop)
            last = time.monotonic()


def save(index: Any, folder: Path, rows: int) -> None:
    """Write the graph holding the first `rows` articles, then remove the earlier saves."""
    import faiss

    partial = folder / f".{PREFIX}{rows}{SUFFIX}.partial"
    faiss.write_index(index, str(partial))
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, folder / f"{PREFIX}{rows}{SUFFIX}")
    for rows_before, path in _saves(folder):
        if rows_before != rows:
            path.unlink(missing_ok=True)


def held(folder: Path) -> int:
    """How many articles the latest saved graph in `folder` holds (0: none saved)."""
    saves = _saves(folder)
    return saves[-1][0] if saves else 0


def resumed(folder: Path, ids: np.ndarray, dimension: int) -> tuple[Any, int] | None:
    """(the latest saved graph, the articles it holds), if it holds exactly the first of `ids`;
    else None (and the saves are removed: the fill starts again)."""
    import faiss

    saves = _saves(folder)
    if not saves:
        return None
    rows, path = saves[-1]
    try:
        index: Any = faiss.read_index(str(path))
        whole = index.d == dimension and index.ntotal == rows
        if whole and np.array_equal(faiss.vector_to_array(index.id_map), ids[:rows]):
            return index, rows
    except (RuntimeError, AttributeError):  # unreadable, or not a graph with its ids
        pass
    discard(folder)
    return None


def discard(folder: Path) -> None:
    """Remove the saved graphs (the build's own index file is written)."""
    for _, path in _saves(folder):
        path.unlink(missing_ok=True)


def _saves(folder: Path) -> list[tuple[int, Path]]:
    """(rows, path) of each saved graph in `folder`, fewest rows first."""
    found = []
    for path in folder.glob(f"{PREFIX}*{SUFFIX}"):
        count = path.name[len(PREFIX) : -len(SUFFIX)]
        if count.isdigit():
            found.append((int(count), path))
    return sorted(found)
