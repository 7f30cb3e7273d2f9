"""Archives at scale (issue 12), one command for every figure:

    python -m benchmarks.scale_bench [--memory-sizes 100k,1M] [--sizes 1M,2M,5M] [--budget 360]
                                     [--baseline REV] [--rounds 2] [--ray-articles 1000] [--parts ...]

- geometry: the synthetic vectors' cosine spread, neighbour cosines, relative contrast, intrinsic
  dimensionality and spectrum beside the real crawl's (--real-home, when it is on the machine).
- memory: peak RSS of a full index build (store -> index, the vectors already embedded) on the
  synthetic store, this checkout ("after") against the engine at git revision REV ("before": its
  `recommender/` taken with `git archive`), each build in a fresh process, in interleaved rounds.
- index: for each size, synthetic vectors (as hard as the crawl; generated in chunks once, then kept
  in the bench cache) written into a build folder, the index of the kind a build chooses at that
  size built from them (peak RSS and seconds of the build alone), then a fresh serving process
  loads the build and measures one-thread search p50/p99 (the ANN step of related(), re-scoring
  included), recall@10 against exact search with each query's own article left out, and its
  resident memory. Sizes stop once --budget seconds have gone (the slope to 10M is printed from
  the sizes done).
- ray: the same articles embedded by a local build and by `build --ray` on a local Ray (1 worker
  of 2 threads, and 2 workers of 1 thread), in interleaved rounds: articles/s and the overhead.
  Real Bengali articles and the bundled model where both are on the machine, else the synthetic
  corpus and embedder (say which with --ray-model).

Dependencies: numpy, faiss, duckdb, pyarrow (and ray for the ray part); no model unless asked.
Run as `python -m benchmarks.scale_bench child MODE ...` it is one of the measured processes.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .report import Row, mb, print_table, rss_bytes
from .synthetic import iter_sizes

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "7cb2c1a"  # main just before issue 12's streaming build: the "before" of the memory figures
PARTS = ("geometry", "memory", "index", "ray")
REAL_HOME = Path("/work/stores/crawl")  # a home built from the real crawl with multilingual-e5-small
REAL_ARTICLES = ROOT.parent / "shared" / "data" / "bangla_news" / "articles.jsonl.gz"


# --- measured processes -----------------------------------------------------------------------------
def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    """Start VmHWM again from the current size (Linux: `5` to clear_refs), so that what a child did
    before (generating data) does not count in the peak of what it measures next."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def child_build(home: Path) -> dict[str, Any]:
    """One full build of a synthetic store (nothing to embed): the engine on PYTHONPATH decides."""
    import recommender
    from recommender import Recommender

    from .synthetic import SyntheticEmbedder

    started = time.perf_counter()
    with Recommender(home, embedder=SyntheticEmbedder()) as rec:
        report = rec.build(full=True)
        kind = rec.index().meta.kind
    assert report.embedded == 0, "the synthetic store's vectors should all be there"
    return {
        "seconds": time.perf_counter() - started,
        "kind": kind,
        "engine": str(Path(recommender.__file__).parent),
        "peak_rss": _status("VmHWM"),
    }


def _cached_vectors(size: int) -> Iterator[np.ndarray]:
    """The synthetic corpus's vectors of this size in chunks, generated once (by every core: 2M took
    49 s on 16) and kept as float32 in the bench cache for the next run."""
    from recommender.index.vectors import VectorFile, VectorWriter

    from .synthetic import DIM, VERSION, cache_root, vector_chunks

    cached = cache_root() / f"vectors-{size}-v{VERSION}.npy"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.part")
        writer = VectorWriter(partial, size, DIM)
        try:
            for chunk in vector_chunks(size, processes=os.cpu_count() or 1):
                writer.write(chunk)
            writer.close()
        except BaseException:
            writer.abort()
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, cached)
    for _, chunk in VectorFile.open(cached).chunks():
        yield chunk


def child_index(root: Path, size: int, kind: str, lists: str = "all", queries: int = 0) -> dict[str, Any]:
    """Write `size` synthetic vectors (generated once, see _cached_vectors) into a build folder
    chunk by chunk, then build its index and its neighbour lists: `lists` "all" (as a full build
    does), "none", or "probes": only the lists of the `queries` articles the serving process will
    probe (`probe_rows`), searched as a build searches them, the rest left empty (the time of all
    of them is projected from these)."""
    import pyarrow as pa

    from recommender.index.folder import new_work_folder, write_build
    from recommender.index.kinds import choose_kind, vector_dtype
    from recommender.index.meta import Calibration, IndexMeta
    from recommender.index.vectors import VECTORS_FILE, VectorWriter

    from .synthetic import DIM, MODEL_NAME

    kind = choose_kind(size, kind)
    started = time.perf_counter()
    work = new_work_folder(root)
    writer = VectorWriter(work / VECTORS_FILE, size, DIM, vector_dtype(kind))
    for chunk in _cached_vectors(size):
        writer.write(chunk)
    vectors = writer.close()
    generate_seconds = time.perf_counter() - started
    ids = np.arange(1, size + 1, dtype=np.int64)
    columns = pa.table(
        {
            "id": pa.array(ids),
            "external_id": pa.array(np.char.add("s", ids.astype(str))),
            "url": pa.nulls(size, pa.string()),
            "title": pa.nulls(size, pa.string()),
            "section": pa.nulls(size, pa.string()),
            "language": pa.array(["en"] * size),
            "published": pa.nulls(size, pa.float64()),
        }
    )
    meta = IndexMeta(
        MODEL_NAME, "bench", DIM, size, "", "bench", Calibration(0.0, 1.0, 1.0, "bench"), kind=kind
    )
    _reset_peak()
    base = _status("VmRSS")
    started = time.perf_counter()
    folder = write_build(root, ids, vectors, meta, columns, work=work)
    seconds = time.perf_counter() - started
    params = json.loads((folder / "meta.json").read_text())["params"]
    lists_seconds = lists_cpu = None
    searched = size if lists == "all" else len(probe_rows(size, queries)) if lists == "probes" else 0
    if searched:
        cpu, started = time.process_time(), time.perf_counter()
        _neighbour_lists(folder, probe_rows(size, queries) if lists == "probes" else None)
        lists_seconds, lists_cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "lists_seconds": lists_seconds,
        "lists_cpu_seconds": lists_cpu,
        "lists_searched": searched,
        "folder": str(folder),
        "kind": kind,
        "params": params,
        "generate_seconds": generate_seconds,
        "seconds": seconds,
        "peak_rss": _status("VmHWM"),
        "rss_before": base,
        "disk": sum(f.stat().st_size for f in folder.iterdir()),
        "faiss_bytes": (folder / "vectors.faiss").stat().st_size,
    }


def probe_rows(size: int, queries: int) -> np.ndarray:
    """The rows of the articles the serving process probes, ascending."""
    return np.sort(np.random.default_rng(1).choice(size, min(queries, size), replace=False))


def _neighbour_lists(folder: Path, rows: np.ndarray | None) -> None:
    """The build's neighbour lists as a full build makes them (rows None), or only these rows'
    lists, searched as a build searches them (the others -1: a sidebar of theirs would search)."""
    from recommender.index import neighbours
    from recommender.index.folder import load_folder

    index = load_folder(folder)
    if rows is None:
        neighbours.build(index, None, np.zeros(0, np.int64))
        return
    width = min(neighbours.LIST, len(index) - 1)
    path = folder / neighbours.FILES[0]
    lists = np.lib.format.open_memmap(path, mode="w+", dtype=np.int64, shape=(len(index), width))
    lists.fill(-1)
    neighbours._search(index, rows, lists)
    lists.flush()
    del lists
    np.save(folder / neighbours.FILES[1], np.zeros(0, np.int64))


def child_serve(folder: Path, queries: int) -> dict[str, Any]:
    """Load a build as a serving process does, then time one-thread searches and measure recall."""
    from recommender.index import exact_top, recall_at
    from recommender.index.folder import load_folder
    from recommender.index.kinds import without_self
    from recommender.index.vectors import VECTORS_FILE, VectorFile

    start_rss = _status("VmRSS")
    index = load_folder(folder)
    loaded_rss = _status("VmRSS")
    n = len(index.ids)
    rows = probe_rows(n, queries)
    file = VectorFile.open(folder / VECTORS_FILE)
    probes = file.take(rows)
    for v in probes[:20]:  # warm-up
        index.search(v, 11)
    times = []
    found = np.full((len(rows), 11), -1, np.int64)
    for q, v in enumerate(probes):
        t0 = time.perf_counter()
        ids, _ = index.search(v, 11)
        times.append(time.perf_counter() - t0)
        found[q, : len(ids)] = ids[:11]
    listed = _listed_step(folder, index, rows, probes)
    serving_rss, serving_anon = _status("VmRSS"), _status("RssAnon")
    sample = min(200, len(rows))  # exact search over every vector for these: the truth
    own = index.ids[rows[:sample]]
    truth = without_self(index.ids[exact_top(file, probes[:sample], 11)], own, 10)
    recall = recall_at(without_self(found[:sample], own, 10), truth)
    if listed is not None:
        listed["lists_recall"] = recall_at(without_self(listed.pop("found")[:sample], own, 10), truth)
    ms = np.array(times) * 1000
    return {
        **(listed or {}),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "recall": float(recall),
        "rss_start": start_rss,
        "rss_loaded": loaded_rss,
        "rss_serving": serving_rss,
        "rss_anon": serving_anon,
    }


def _listed_step(folder: Path, index: Any, rows: np.ndarray, probes: np.ndarray) -> dict[str, Any] | None:
    """Where the build stored neighbour lists: the same articles' nearest as related() finds them
    (ranking.candidates.nearest: the stored list read and scored, no search), timed one by one
    after the searches above (their pages already read), and what they found."""
    from recommender.config import Settings
    from recommender.index.neighbours import Neighbours
    from recommender.index.overlay import read_overlay
    from recommender.ranking.candidates import nearest
    from recommender.ranking.catalog import Catalog

    if not Neighbours.present(folder):
        return None
    catalog = Catalog.open(index, read_overlay(folder))
    k = 5 * Settings().overfetch + 10  # a sidebar of 5
    times = []
    found = np.full((len(rows), 11), -1, np.int64)
    for q, (row, vector) in enumerate(zip(rows, probes, strict=True)):
        t0 = time.perf_counter()
        near, _ = nearest(catalog, vector, k, int(row))
        times.append(time.perf_counter() - t0)
        hits = catalog.ids[near[near >= 0][:11]]
        found[q, : len(hits)] = hits
    ms = np.array(times) * 1000
    return {
        "lists_p50_ms": float(np.percentile(ms, 50)),
        "lists_p99_ms": float(np.percentile(ms, 99)),
        "found": found,
    }


def child_ray(home: Path, engine: str, workers: int, threads: int, model: str) -> dict[str, Any]:
    """Embed the home's articles (all pending) locally or on a local Ray; seconds of the embedding."""
    from recommender import Recommender
    from recommender.scale import RayOptions

    embedder = None
    if model == "synthetic":
        from .synthetic import SyntheticEmbedder

        embedder = SyntheticEmbedder()
    started = time.perf_counter()
    with Recommender(home, embedder=embedder) as rec:
        options = RayOptions(workers=workers, threads=threads, shard_size=250) if engine == "ray" else None
        report = rec.build(engine=engine, ray=options)
    out: dict[str, Any] = {"seconds": time.perf_counter() - started, "embedded": report.embedded}
    if report.backfill is not None:
        done: Any = report.backfill
        out["embed_seconds"] = done.ray_seconds
        out["startup_seconds"] = done.first_batch_seconds or 0.0
    else:
        out["embed_seconds"] = report.embed_seconds
        out["startup_seconds"] = 0.0
    return out


def run_child(
    args: list[str], pythonpath: str | None = None, module: str = "benchmarks.scale_bench"
) -> dict[str, Any]:
    """One measured process (`python -m MODULE child ARGS...`): the JSON its last line prints."""
    env = dict(os.environ)
    env["PYTHONPATH"] = pythonpath or str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", module, "child", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- the parts ----------------------------------------------------------------------------------------
def baseline_engine(rev: str, into: Path) -> Path:
    """`recommender/` as it was at `rev` (git archive), in a folder of its own."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "recommender"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def memory(sizes: list[int], rev: str, rounds: int, work: Path) -> list[Row]:
    from .synthetic import ensure_store

    before = baseline_engine(rev, work / f"engine-{rev}")
    rows = []
    for size in sizes:
        home = ensure_store(size, separate=True).home
        peaks: dict[str, list[float]] = {"before": [], "after": []}
        secs: dict[str, list[float]] = {"before": [], "after": []}
        for r in range(rounds):
            order = ("before", "after") if r % 2 == 0 else ("after", "before")
            for which in order:
                path = f"{before}{os.pathsep}{ROOT}" if which == "before" else str(ROOT)
                result = run_child(["build", str(home)], path)
                peaks[which].append(mb(result["peak_rss"]))
                secs[which].append(result["seconds"])
                print(
                    f"[scale] {size:,} {which}: peak {mb(result['peak_rss']):,.0f} MB, "
                    f"{result['seconds']:.1f} s ({result['kind']}; engine {result['engine']})",
                    flush=True,
                )
        label = f"{size:,}"
        rows.append(
            Row(
                "scale",
                label,
                "build peak RSS",
                statistics.median(peaks["after"]),
                "MB",
                f"before ({rev})",
                statistics.median(peaks["before"]),
                f"range {min(peaks['after']):,.0f}-{max(peaks['after']):,.0f} vs "
                f"{min(peaks['before']):,.0f}-{max(peaks['before']):,.0f} MB, "
                f"{rounds} rounds",
            )
        )
        rows.append(
            Row(
                "scale",
                label,
                "build seconds",
                statistics.median(secs["after"]),
                "s",
                f"before ({rev})",
                statistics.median(secs["before"]),
                "store -> index, nothing to embed",
            )
        )
    return rows


def index(
    sizes: list[int], kind: str, queries: int, budget: float, work: Path, lists: str = "all"
) -> list[Row]:
    rows: list[Row] = []
    started = time.monotonic()
    done: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
    for size in sizes:
        if done and time.monotonic() - started > budget:
            print(f"[scale] {size:,}: left out (budget of {budget:.0f} s spent)", flush=True)
            continue
        root = work / f"index-{size}"
        shutil.rmtree(root, ignore_errors=True)
        built = run_child(["index", str(root), str(size), kind, lists, str(queries)])
        served = run_child(["serve", built["folder"], str(queries)])
        done.append((size, built, served))
        label = f"{size:,}"
        params = ", ".join(f"{k}={v}" for k, v in built["params"].items())
        print(
            f"[scale] {size:,} {built['kind']}: build {built['seconds']:.1f} s, peak "
            f"{mb(built['peak_rss']):,.0f} MB; p50 {served['p50_ms']:.2f} ms "
            f"p99 {served['p99_ms']:.2f} ms; recall@10 {served['recall']:.3f}; "
            f"serving RSS {mb(served['rss_serving']):,.0f} MB",
            flush=True,
        )
        if built["lists_seconds"] is not None:
            print(
                f"[scale] {size:,} lists: {built['lists_seconds']:.1f} s "
                f"({built['lists_cpu_seconds']:.0f} s CPU); "
                f"read p50 {served['lists_p50_ms']:.2f} ms p99 {served['lists_p99_ms']:.2f} ms; "
                f"recall@10 {served['lists_recall']:.3f}",
                flush=True,
            )
        rows += [
            Row(
                "scale",
                label,
                "index build",
                built["seconds"],
                "s",
                note=f"{built['kind']}: {params}; "
                f"vectors generated or read from the cache in {built['generate_seconds']:.0f} s "
                "(not counted)",
            ),
            Row(
                "scale",
                label,
                "index build peak RSS",
                mb(built["peak_rss"]),
                "MB",
                note=f"process at start {mb(built['rss_before']):,.0f} MB",
            ),
            Row("scale", label, "search p50 (one thread)", served["p50_ms"], "ms"),
            Row("scale", label, "search p99 (one thread)", served["p99_ms"], "ms"),
            Row("scale", label, "recall@10 vs exact (query left out)", served["recall"], ""),
            *_lists_rows(size, built, served),
            Row(
                "scale",
                label,
                "serving RSS",
                mb(served["rss_serving"]),
                "MB",
                note=f"anonymous {mb(served['rss_anon']):,.0f} MB (the rest: mapped files); "
                f"build folder {mb(built['disk']):,.0f} MB on disk",
            ),
        ]
    if len(done) >= 2:
        (s0, b0, v0), (s1, b1, v1) = done[0], done[-1]
        per = 1_000_000 / (s1 - s0)
        for figure, a, b, unit in (
            ("index build per 1M (slope)", b0["seconds"], b1["seconds"], "s"),
            ("build peak RSS per 1M (slope)", mb(b0["peak_rss"]), mb(b1["peak_rss"]), "MB"),
            ("serving RSS per 1M (slope)", mb(v0["rss_serving"]), mb(v1["rss_serving"]), "MB"),
        ):
            slope = (b - a) * per
            at_10m = b + slope * (10_000_000 - s1) / 1_000_000
            rows.append(
                Row(
                    "scale",
                    f"{s0:,}-{s1:,}",
                    figure,
                    slope,
                    unit,
                    note=f"at 10M by the slope: {at_10m:,.0f} {unit}",
                )
            )
    return rows


def _lists_rows(size: int, built: dict[str, Any], served: dict[str, Any]) -> list[Row]:
    """The neighbour lists' rows of one size, where the build made them."""
    if built["lists_seconds"] is None:
        return []
    label, params, searched = f"{size:,}", built["params"], built["lists_searched"]
    depth = params.get("lists_efSearch", params.get("efSearch", params.get("nprobe", "")))
    how = f"{built['lists_cpu_seconds']:.0f} s of CPU; searched at depth {depth}"
    if searched < size:
        how = (
            f"projected from {searched:,} articles' lists ({built['lists_seconds']:.1f} s, "
            f"{built['lists_cpu_seconds']:.0f} s of CPU); searched at depth {depth}"
        )
    return [
        Row(
            "scale",
            label,
            "neighbour lists, every article searched",
            built["lists_seconds"] * size / searched,
            "s",
            note=how,
        ),
        Row(
            "scale",
            label,
            "nearest from the stored list p50 (related()'s step)",
            served["lists_p50_ms"],
            "ms",
        ),
        Row("scale", label, "nearest from the stored list p99", served["lists_p99_ms"], "ms"),
        Row("scale", label, "recall@10 of the stored lists (query left out)", served["lists_recall"], ""),
    ]


def _ray_rows(n: int, model: str, work: Path) -> Path:
    """A home holding `n` articles to embed: real ones with the bundled model, else synthetic."""
    from recommender import Recommender

    home = work / f"ray-{model}-{n}"
    shutil.rmtree(home, ignore_errors=True)
    rows = []
    if model == "bundled":
        with gzip.open(REAL_ARTICLES, "rt", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                if row.get("language") == "bangla" and (row.get("body") or "").strip():
                    rows.append({"id": f"r{len(rows)}", "title": row.get("title") or "", "body": row["body"]})
                if len(rows) >= n:
                    break
    else:
        from .synthetic import corpus_chunks

        for chunk in corpus_chunks(n):
            texts = zip(chunk.ids, chunk.titles, chunk.bodies, strict=True)
            rows += [{"id": i, "title": t, "body": b} for i, t, b in texts]
    source = work / f"ray-{model}-{n}.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    from recommender.home import Home

    if model == "synthetic":
        from .synthetic import MODEL_NAME

        with Home(home).writing("benchmark") as store:
            store.set_setting("model", MODEL_NAME)
    with Recommender(home) as rec:
        rec.ingest([source])
    return home


def ray(n: int, model: str, rounds: int, work: Path) -> list[Row]:
    if model == "auto":
        cached = Path(os.environ.get("RECOMMENDER_CACHE", Path.home() / ".cache" / "recommender")) / "models"
        model = "bundled" if REAL_ARTICLES.exists() and cached.exists() else "synthetic"
    base = _ray_rows(n, model, work)
    runs = {"local": ("local", 1, 2), "ray 1x2": ("ray", 1, 2), "ray 2x1": ("ray", 2, 1)}
    seconds: dict[str, list[float]] = {k: [] for k in runs}
    startup: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(rounds):
        names = list(runs) if r % 2 == 0 else list(reversed(runs))
        for name in names:
            engine, workers, threads = runs[name]
            home = work / "ray-run"
            shutil.rmtree(home, ignore_errors=True)
            shutil.copytree(base, home)
            result = run_child(["ray", str(home), engine, str(workers), str(threads), model])
            assert result["embedded"] == n, result
            seconds[name].append(result["embed_seconds"])
            startup[name].append(result["startup_seconds"])
            print(
                f"[scale] {name}: {n / result['embed_seconds']:.1f} articles/s "
                f"(start-up {result['startup_seconds']:.1f} s)",
                flush=True,
            )
    local = statistics.median(seconds["local"])
    rows = [
        Row(
            "scale",
            f"{n:,} {model}",
            "local embedding",
            n / local,
            "articles/s",
            note=f"range {n / max(seconds['local']):.1f}-{n / min(seconds['local']):.1f}",
        )
    ]
    for name in ("ray 1x2", "ray 2x1"):
        s = statistics.median(seconds[name])
        rows.append(
            Row(
                "scale",
                f"{n:,} {model}",
                f"{name} (workers x threads)",
                n / s,
                "articles/s",
                "local embedding",
                n / local,
                f"{100 * (s / local - 1):+.0f}% time vs local; start-up "
                f"{statistics.median(startup[name]):.1f} s included "
                f"({n / max(s - statistics.median(startup[name]), 1e-9):.1f} articles/s after it)",
            )
        )
    return rows


def geometry(real_home: Path) -> list[Row]:
    """The synthetic vectors beside the real crawl's (its live build's vectors), same count."""
    from .synthetic import geometry as measure
    from .synthetic import vectors

    pointer = real_home / "index" / "CURRENT"
    if not pointer.exists():
        print(f"[scale] geometry: no build in {real_home} (--real-home): synthetic only", flush=True)
        real = None
    else:
        real = np.load(real_home / "index" / pointer.read_text().strip() / "vectors.npy").astype(np.float32)
    n = len(real) if real is not None else 5000
    synthetic = measure(vectors(n))
    crawl = measure(real) if real is not None else {}
    return [
        Row("geometry", f"{n:,}", name, value, "", "real crawl (e5-small)" if crawl else "", crawl.get(name))
        for name, value in synthetic.items()
    ]


# --- entry point ------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scale_bench", description=__doc__.split("\n")[0])
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    p.add_argument("--memory-sizes", default="100k,1M")
    p.add_argument("--sizes", default="1M,2M,5M")
    p.add_argument("--kind", default="auto", help="index kind for the index part (auto: as a build chooses)")
    p.add_argument("--budget", type=float, default=360.0, help="seconds after which no new size starts")
    p.add_argument(
        "--lists",
        default="all",
        choices=("all", "probes", "none"),
        help="index part: neighbour lists of every article, of the probed ones only (the rest "
        "projected: they search every article), or none",
    )
    p.add_argument("--baseline", default=BASELINE, help="git revision of the 'before' engine")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--queries", type=int, default=2000)
    p.add_argument("--ray-articles", type=int, default=1000)
    p.add_argument("--ray-model", default="auto", choices=("auto", "bundled", "synthetic"))
    p.add_argument("--real-home", type=Path, default=REAL_HOME, help="home of the real crawl (geometry)")
    p.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["child"]:
        mode, rest = argv[1], argv[2:]
        if mode == "build":
            result = child_build(Path(rest[0]))
        elif mode == "index":
            result = child_index(Path(rest[0]), int(rest[1]), rest[2], rest[3], int(rest[4]))
        elif mode == "serve":
            result = child_serve(Path(rest[0]), int(rest[1]))
        else:
            result = child_ray(Path(rest[0]), rest[1], int(rest[2]), int(rest[3]), rest[4])
        print(json.dumps(result))
        return 0
    args = parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    work = args.work or Path(tempfile.mkdtemp(prefix="scale-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"[scale] machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; scratch {work}; "
        f"this process {mb(rss_bytes()):.0f} MB",
        flush=True,
    )
    try:
        if "geometry" in parts:
            print_table("synthetic vectors beside the real crawl's", geometry(args.real_home))
        if "memory" in parts:
            print_table(
                "build peak memory, before/after",
                memory(list(iter_sizes(args.memory_sizes)), args.baseline, args.rounds, work),
            )
        if "index" in parts:
            print_table(
                "index at scale",
                index(
                    list(iter_sizes(args.sizes)),
                    args.kind,
                    args.queries,
                    args.budget,
                    work,
                    args.lists,
                ),
            )
        if "ray" in parts:
            print_table(
                "embedding on Ray vs in-process", ray(args.ray_articles, args.ray_model, args.rounds, work)
            )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
