"""Embedding speed and accuracy on real Bengali articles: torch fp32 against the fast backends.

Every path runs in its own process (so its peak RSS is its own), in interleaved rounds (so load
drift on a shared machine hits every path alike); speedups are against the torch fp32 run of the
same round, and cosines against the torch fp32 vectors.
`python -m benchmarks.embedding [--quick]`, or through `python -m benchmarks --only embedding`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "bangla_news" / "articles.jsonl.gz"
# (label, backend, OpenVINO config override or "", max_seq_length or 0 for the default, baseline)
PATHS = [
    ("torch fp32", "torch", "", 0, "torch fp32"),
    ("openvino-int8", "openvino-int8", "", 0, "torch fp32"),
]
EXTRA_PATHS = [  # the full run also tries other thread settings, and 512 tokens
    ("openvino-int8, 1 thread", "openvino-int8", '{"INFERENCE_NUM_THREADS": 1}', 0, "torch fp32"),
    (
        "openvino-int8, throughput hint",
        "openvino-int8",
        '{"PERFORMANCE_HINT": "THROUGHPUT"}',
        0,
        "torch fp32",
    ),
    ("torch fp32, 512 tokens", "torch", "", 512, "torch fp32, 512 tokens"),
    ("openvino-int8, 512 tokens", "openvino-int8", "", 512, "torch fp32, 512 tokens"),
]


def load_articles(n: int, path: Path = DATA) -> list[str]:
    """`n` Bengali articles spread evenly over the crawl, as the engine embeds them (title, body)."""
    texts = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            body = row.get("body") or row.get("text") or ""
            if row.get("language") == "bangla" and body.strip():
                texts.append(f"{row.get('title') or ''}\n{body}")
    step = max(1, len(texts) // n)
    return texts[::step][:n]


def run(quick: bool) -> list[dict]:
    """Rows of articles/s, speedup, peak RSS and cosine to fp32 per path (empty if no data)."""
    if not DATA.exists():
        print(f"[embedding] skipped: {DATA} is absent")
        return []
    from recommender.config import Settings
    from recommender.embedding import make_embedder

    n, rounds = (24, 1) if quick else (120, 3)
    paths = PATHS if quick else PATHS + EXTRA_PATHS
    texts = load_articles(n + 8)
    warmup, texts = texts[:8], texts[8:]
    with tempfile.TemporaryDirectory(prefix="bench-embedding-") as tmp:
        work = Path(tmp)
        (work / "texts.json").write_text(json.dumps({"warmup": warmup, "texts": texts}), encoding="utf-8")
        for backend in sorted({p[1] for p in paths} - {"torch"}):  # build the fast model outside the timing
            make_embedder(Settings(backend=backend)).fingerprint()  # cheap (no import) once cached
        speed: dict[str, list[float]] = {p[0]: [] for p in paths}
        ratio: dict[str, list[float]] = {p[0]: [] for p in paths}
        rss: dict[str, float] = {}
        vectors: dict[str, np.ndarray] = {}
        for r in range(rounds):
            for label, backend, config, seq, baseline in paths:
                seconds, peak = _worker_process(work, backend, config, seq, out=f"{r}-{label}")
                speed[label].append(len(texts) / seconds)
                ratio[label].append(speed[label][-1] / speed[baseline][-1])  # baselines run first
                rss[label] = max(rss.get(label, 0.0), peak)
                vectors.setdefault(label, np.load(work / f"{r}-{label}.npy"))
                print(f"[embedding] round {r + 1}: {label}: {speed[label][-1]:.2f} art/s", flush=True)
    rows: list[dict] = []
    for label, *_, baseline in paths:
        cos = np.sum(vectors[label] * vectors[baseline], axis=1)
        rows.append(
            {
                "bench": "embedding",
                "path": label,
                "figure": "articles/s",
                "value": statistics.median(speed[label]),
                "unit": "art/s",
                "baseline": f"{baseline}, same round",
                "baseline_value": statistics.median(speed[baseline]),
                "note": f"x{statistics.median(ratio[label]):.2f} "
                f"(range {min(ratio[label]):.2f}-{max(ratio[label]):.2f}), {len(texts)} articles, "
                f"{rounds} rounds; peak RSS {rss[label]:.0f} MB; cosine to {baseline} mean {cos.mean():.4f} "
                f"p1 {np.percentile(cos, 1):.4f} p5 {np.percentile(cos, 5):.4f} min {cos.min():.4f}",
                "speedup": round(statistics.median(ratio[label]), 3),
                "peak_rss_mb": round(rss[label]),
                "cos_mean": round(float(cos.mean()), 5),
                "cos_p1": round(float(np.percentile(cos, 1)), 5),
                "cos_p5": round(float(np.percentile(cos, 5)), 5),
                "cos_min": round(float(cos.min()), 5),
            }
        )
    return rows


def _worker_process(work: Path, backend: str, config: str, seq: int, out: str) -> tuple[float, float]:
    """Run one path in a child process: (seconds to embed the texts, the child's peak RSS in MB)."""
    cmd = [sys.executable, "-m", "benchmarks.embedding", "--worker", backend, "--work", str(work)]
    cmd += ["--ov-config", config, "--seq", str(seq), "--out", out]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    stdout = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (RUSAGE_CHILDREN, per child)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"embedding worker {backend} failed with status {proc.returncode}")
    seconds = json.loads(stdout.strip().splitlines()[-1])["seconds"]
    return seconds, usage.ru_maxrss / 1024  # kilobytes on Linux


def _worker(args: argparse.Namespace) -> None:
    """Inside the child: embed the texts once after a warm-up and print the seconds it took."""
    from recommender.config import Settings
    from recommender.embedding import backends, make_embedder

    if args.ov_config:
        backends.OV_CONFIG.clear()
        backends.OV_CONFIG.update({k: str(v) for k, v in json.loads(args.ov_config).items()})
    settings = Settings(backend=args.worker)
    embedder = make_embedder(replace(settings, max_seq_length=args.seq) if args.seq else settings)
    data = json.loads((Path(args.work) / "texts.json").read_text(encoding="utf-8"))
    embedder.embed(data["warmup"])  # first batches compile kernels for their shapes
    started = time.perf_counter()
    vectors = embedder.embed(data["texts"])
    seconds = time.perf_counter() - started
    np.save(Path(args.work) / f"{args.out}.npy", vectors)
    print(json.dumps({"seconds": seconds}))


def main(argv: Sequence[str] | None = None) -> None:
    """Print the table; with --worker, be one measured child process."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="24 articles, 1 round: well under a minute")
    p.add_argument("--worker", default="", help=argparse.SUPPRESS)
    p.add_argument("--work", default="", help=argparse.SUPPRESS)
    p.add_argument("--ov-config", default="", help=argparse.SUPPRESS)
    p.add_argument("--seq", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--out", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        _worker(args)
        return
    rows = run(args.quick)
    print("Measured on a shared 2-core machine: other work may have run at the same time.")
    header = "| path | art/s | x baseline | peak RSS MB | cos mean | p1 | p5 | min |"
    print(header + "\n|" + "---|" * header.count(" | ") + "---|")
    for r in rows:
        print(
            f"| {r['path']} | {r['value']:.2f} | {r['speedup']:.2f} | {r['peak_rss_mb']} | "
            f"{r['cos_mean']:.4f} | {r['cos_p1']:.4f} | {r['cos_p5']:.4f} | {r['cos_min']:.4f} |"
        )


if __name__ == "__main__":
    main()
