"""Index build time and peak memory per 100k articles (store → index; vectors already embedded).

Each build runs in its own process so that its peak RSS is its own: the child's VmHWM (os.wait4's
ru_maxrss is only the fallback: Linux counts the parent's size at fork in it). The baseline is a
plain exact FAISS index (IndexFlatIP) over the same stored vectors.
Run as `python -m benchmarks.build_bench build|flat HOME` it is that child.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .report import Row, mb, peak_rss_bytes, rss_bytes
from .synthetic import DIM


def run_child(mode: str, home: Path) -> dict[str, Any]:
    """Run one build in a fresh process; its JSON result plus its peak RSS from os.wait4."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.build_bench", mode, str(home)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"build child ({mode} {home}) exited with {proc.returncode}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    # The child's own VmHWM is exact; ru_maxrss would also count this (parent) process's size at fork.
    result.setdefault("peak_rss", usage.ru_maxrss * 1024)
    return result


def run(home: Path, size: int, label: str) -> list[Row]:
    """Engine build (forced full) and the flat baseline on the store in `home`."""
    engine = run_child("build", home)
    flat = run_child("flat", home)
    per = 100_000 / size
    bench = "build"
    return [
        Row(
            bench,
            label,
            "index build, s per 100k",
            engine["seconds"] * per,
            "s",
            "exact flat FAISS, s per 100k",
            flat["seconds"] * per,
            f"{engine['kind']}; whole build {engine['seconds']:.1f} s for {size:,} "
            "(store → index, no embedding)",
        ),
        Row(
            bench,
            label,
            "build peak RSS",
            mb(engine["peak_rss"]),
            "MB",
            "exact flat FAISS peak RSS",
            mb(flat["peak_rss"]),
            f"process at start {mb(engine['rss_start']):.0f} MB; "
            f"raw float32 vectors {mb(size * DIM * 4):.0f} MB",
        ),
    ]


def memory_slope(rows: list[Row]) -> list[Row]:
    """Peak RSS per 100k articles as the slope between the smallest and largest size built."""
    peaks = {r.size: r for r in rows if r.figure == "build peak RSS"}
    sizes = sorted((_articles(label), row) for label, row in peaks.items())
    if len(sizes) < 2 or sizes[0][0] == sizes[-1][0]:
        return []
    (n0, r0), (n1, r1) = sizes[0], sizes[-1]
    per = 100_000 / (n1 - n0)
    engine = ((r1.value or 0) - (r0.value or 0)) * per
    flat = ((r1.baseline_value or 0) - (r0.baseline_value or 0)) * per
    return [
        Row(
            "build",
            f"{r0.size}→{r1.size}",
            "build peak RSS per 100k",
            engine,
            "MB",
            "exact flat FAISS per 100k",
            flat,
            f"slope of peak RSS between {r0.size} and {r1.size}; "
            f"raw vectors: {mb(100_000 * DIM * 4):.0f} MB per 100k",
        )
    ]


def _articles(label: str) -> int:
    factor = {"k": 1_000, "M": 1_000_000}.get(label[-1:], 1)
    return int(float(label.rstrip("kM").replace(",", "")) * factor)


def _child_build(home: Path) -> dict[str, Any]:
    from recommender import Recommender

    from .synthetic import SyntheticEmbedder

    start_rss = rss_bytes()
    started = time.perf_counter()
    with Recommender(home, embedder=SyntheticEmbedder()) as rec:
        build = rec.build
        forced = "full" in inspect.signature(build).parameters
        report = build(full=True) if forced else build()
        seconds = time.perf_counter() - started
        kind = getattr(report, "kind", None) or getattr(rec.index().meta, "kind", "flat")
    return {"seconds": seconds, "kind": str(kind), "embedded": report.embedded, "rss_start": start_rss}


def _child_flat(home: Path) -> dict[str, Any]:
    import faiss
    import numpy as np

    from recommender.home import Home
    from recommender.index import read_meta

    start_rss = rss_bytes()
    started = time.perf_counter()
    meta = read_meta(home)
    assert meta is not None, f"no index in {home}"
    with Home(home).reading() as store:
        ids, vectors = store.embeddings(meta.model_fingerprint)
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    index.add_with_ids(np.ascontiguousarray(vectors, np.float32), np.ascontiguousarray(ids, np.int64))
    with tempfile.TemporaryDirectory() as tmp:
        faiss.write_index(index, str(Path(tmp) / "vectors.faiss"))
    return {"seconds": time.perf_counter() - started, "kind": "flat", "embedded": 0, "rss_start": start_rss}


def main(argv: list[str]) -> int:
    mode, home = argv[0], Path(argv[1])
    result = _child_build(home) if mode == "build" else _child_flat(home)
    if peak_rss_bytes():
        result["peak_rss"] = peak_rss_bytes()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
