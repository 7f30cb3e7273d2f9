"""Programs the multi-process tests run as real, separate processes: `python -m tests.procs CMD ...`.

reader HOME ARTICLE LOG SECONDS   ask for ARTICLE's sidebar in a loop; one JSON line per answer
build HOME DIM DELAY [MODEL]      build with a slow hashing embedder, printing each phase
lists HOME CHUNK DELAY FULL [FOLD]
                                  build (a full one if FULL is 1) whose graph is filled and whose
                                  neighbour lists are searched CHUNK rows a step, DELAY seconds
                                  each, saved after every step; prints each phase, `graph N` as the
                                  graph holding N articles is saved, `fill N` as a fill begins
                                  with N articles held, `searched N` as lists are; FOLD 1: more
                                  than 3 fresh ids are folded into the lists, CHUNK lists a step,
                                  DELAY seconds each (`searched N` counts them after the search)
hold HOME SECONDS                 hold the home's write lock, then let go
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from recommender import Recommender
from recommender.embedding import HashingEmbedder
from recommender.errors import RecommenderError
from recommender.home import Home
from recommender.index.build import build


class SlowHashing(HashingEmbedder):
    """The hashing embedder, slowed down so that a kill can land inside the embedding phase."""

    def __init__(self, dimension: int, delay: float) -> None:
        super().__init__(dimension)
        self.delay = delay

    def embed(self, texts):
        time.sleep(self.delay)
        return super().embed(texts)


def reader(home: str, article: str, log: str, seconds: str) -> None:
    rec = Recommender(Path(home))
    deadline = time.monotonic() + float(seconds)
    stop = Path(log + ".stop")
    with open(log, "w", encoding="utf-8") as out:
        while time.monotonic() < deadline and not stop.exists():
            line: dict = {"t": time.time()}
            try:
                items = rec.related(article, n=8)
                line["build"] = rec.catalog().index.path.name
                line["ids"] = [item.id for item in items]
            except RecommenderError as exc:
                line["error"] = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # anything else is a failure the test must see, not a crash
                line["error"] = f"{type(exc).__name__}: {exc}"
            out.write(json.dumps(line) + "\n")
            out.flush()
            time.sleep(0.01)


def slow_build(home: str, dimension: str, delay: str, model: str | None = None) -> None:
    embedder = SlowHashing(int(dimension), float(delay))

    def phase(name: str) -> None:
        print(f"phase {name} {time.time()}", flush=True)

    report = build(Home(Path(home)), embedder, model=model, phase=phase, grace_seconds=0)
    print(f"done {report.index_path.name} {report.indexed}", flush=True)


def lists_build(home: str, chunk: str, delay: str, full: str, fold: str = "0") -> None:
    from recommender.index import filling, neighbours

    neighbours.SEARCH_CHUNK, neighbours.CHECKPOINT_SECONDS = int(chunk), 0.0
    if fold == "1":
        neighbours.REFRESH_FLOOR, neighbours.REFRESH_SHARE, neighbours.FOLD_ROWS = 3, 0.0, int(chunk)
    filling.ADD_ROWS, filling.SAVE_SECONDS = int(chunk), 0.0
    search, save = neighbours.searched, filling.save

    def saving(index, folder, rows):
        save(index, folder, rows)
        print(f"graph {rows}", flush=True)
        time.sleep(float(delay))

    filling.save = saving
    fill = filling.fill

    def filled(index, ids, vectors, held=0, folder=None):
        print(f"fill {held}", flush=True)  # the articles the graph held when the filling began
        fill(index, ids, vectors, held, folder)

    filling.fill = filled

    def slowly(*args, **kwargs):
        for step in search(*args, **kwargs):
            time.sleep(float(delay))
            yield step

    neighbours.searched = slowly

    def progress(done: int, total: int) -> None:
        print(f"searched {done} {total}", flush=True)
        if fold == "1":
            time.sleep(float(delay))  # a step of the fold (or of the search, already slowed)

    def phase(name: str) -> None:
        print(f"phase {name} {time.time()}", flush=True)

    report = build(Home(Path(home)), progress=progress, phase=phase, full=full == "1", grace_seconds=0)
    kept = report.resumed
    resumed = f"{kept.graph} {kept.lists}" if kept else "None None"
    print(f"done {report.index_path.name} {report.indexed} {resumed}", flush=True)


def hold(home: str, seconds: str) -> None:
    with Home(Path(home)).writing("test: holding the lock"):
        print("holding", flush=True)
        time.sleep(float(seconds))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"reader": reader, "build": slow_build, "lists": lists_build, "hold": hold}[command](*args)
