"""Long articles: which input gives the best relevance per second on the judged Bengali dev set?

Strategies: plain truncation at 512 tokens; title + lead (the first 128 or 256 tokens); and
windows of 512 tokens over the whole text, averaged then normalized (2 or 3 windows). Only the
judged articles (sources and candidates) are embedded, with the default (fast) backend; each
source's judged pool is ranked by cosine and scored with nDCG@5 by ranx (grade D counts as 0),
with a paired t-test against truncation. `python -m benchmarks.long_articles [--quick]`.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "bangla_news" / "articles.jsonl.gz"
JUDGMENTS = ROOT.parent / "shared" / "data" / "bn_judgments_dev" / "bn_dev_judgments.csv"
# name -> (max_seq_length, windows)
STRATEGIES = {
    "truncate 512": (512, 1),
    "lead 128": (128, 1),
    "lead 256": (256, 1),
    "windows 2x512": (512, 2),
    "windows 3x512": (512, 3),
}
BASELINE = "truncate 512"


def load(quick: bool) -> tuple[list[tuple[str, str, int]], dict[str, str]]:
    """The judged pairs (source, candidate, grade with D as 0) and the text of every judged article."""
    with JUDGMENTS.open(encoding="utf-8") as fh:
        pairs = [
            (r["source_id"], r["candidate_id"], 0 if r["grade"] == "D" else int(r["grade"]))
            for r in csv.DictReader(fh)
        ]
    if quick:  # the first 5 sources and their pools
        keep = list(dict.fromkeys(s for s, _, _ in pairs))[:5]
        pairs = [p for p in pairs if p[0] in keep]
    wanted = {s for s, _, _ in pairs} | {c for _, c, _ in pairs}
    texts: dict[str, str] = {}
    with gzip.open(DATA, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            url = row.get("url")
            if url in wanted and row.get("language") == "bangla":
                text = f"{row.get('title') or ''}\n{row.get('body') or row.get('text') or ''}"
                if len(text) > len(texts.get(url, "")):  # re-crawls: the longest body, as the judges saw
                    texts[url] = text
    return [p for p in pairs if p[0] in texts and p[1] in texts], texts


def windows(tokenizer, text: str, size: int, count: int) -> list[str]:
    """Up to `count` consecutive slices of `text` of `size` tokens each, cut at token boundaries."""
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    offsets = encoded["offset_mapping"]
    out = []
    for start in range(0, min(len(offsets), size * count), size):
        chunk = offsets[start : start + size]
        out.append(text[chunk[0][0] : chunk[-1][1]])
    return out or [text]


def embed(embedder, texts: list[str], max_seq_length: int, count: int) -> tuple[np.ndarray, float]:
    """Vectors of `texts` under one strategy, and the seconds it took (tokenizing windows included)."""
    model = embedder.load()
    model.max_seq_length = max_seq_length
    started = time.perf_counter()
    if count == 1:
        vectors = embedder.embed(texts)
    else:
        prefix = model.tokenizer(embedder.prefix, add_special_tokens=False)["input_ids"]
        budget = max_seq_length - 2 - len(prefix)  # room left beside <s>, </s> and the prefix
        pieces = [windows(model.tokenizer, t, budget, count) for t in texts]
        flat = embedder.embed([p for ps in pieces for p in ps])
        owner = np.repeat(np.arange(len(texts)), [len(ps) for ps in pieces])
        vectors = np.zeros((len(texts), flat.shape[1]), np.float32)
        np.add.at(vectors, owner, flat)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, time.perf_counter() - started


def run(quick: bool) -> list[dict]:
    """nDCG@5 and articles/s per strategy, with the p-value of the difference to truncation."""
    if not (DATA.exists() and JUDGMENTS.exists()):
        print(f"[long_articles] skipped: {DATA} or {JUDGMENTS} is absent")
        return []
    from ranx import Qrels, Run, compare

    from recommender.config import Settings
    from recommender.embedding import make_embedder

    pairs, texts = load(quick)
    urls = sorted(texts)
    code = {u: f"a{i:05d}" for i, u in enumerate(urls)}  # fixed width: ranx compiles per id width
    qrels: dict[str, dict[str, int]] = {}
    for s, c, g in pairs:
        qrels.setdefault(code[s], {})[code[c]] = g
    embedder = make_embedder(Settings())
    backend = embedder.resolved_backend()  # type: ignore[attr-defined]
    embedder.embed([texts[u] for u in urls[:16]])  # warm-up: kernels are compiled per input shape
    runs, speed = [], {}
    for name, (length, count) in STRATEGIES.items():
        vectors, seconds = embed(embedder, [texts[u] for u in urls], length, count)
        speed[name] = len(urls) / seconds
        row = {u: i for i, u in enumerate(urls)}
        scores: dict[str, dict[str, float]] = {}
        for s, c, _ in pairs:
            scores.setdefault(code[s], {})[code[c]] = float(vectors[row[s]] @ vectors[row[c]])
        runs.append(Run(scores, name=name))
        print(f"[long_articles] {name}: {speed[name]:.1f} art/s", flush=True)
    report = compare(Qrels(qrels), runs, metrics=["ndcg@5"], stat_test="student", max_p=0.05)
    table = report.to_dict()
    base = table[BASELINE]["scores"]["ndcg@5"]
    rows = []
    for name in STRATEGIES:
        score = table[name]["scores"]["ndcg@5"]
        p = table[BASELINE]["comparisons"].get(name, {}).get("ndcg@5") if name != BASELINE else None
        rows.append(
            {
                "bench": "long_articles",
                "path": name,
                "figure": "nDCG@5",
                "value": score,
                "unit": "",
                "baseline": BASELINE,
                "baseline_value": base,
                "note": f"{speed[name]:.1f} art/s ({backend}), {len(qrels)} sources, {len(urls)} articles"
                + (f", p={p:.3f} vs {BASELINE}" if p is not None else ""),
                "articles_per_s": round(speed[name], 2),
                "p_vs_truncate": None if p is None else round(p, 4),
            }
        )
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Print nDCG@5, articles/s and the p-value against truncation per strategy."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="5 sources and their pools")
    rows = run(p.parse_args(argv).quick)
    print("Measured on a shared 2-core machine: other work may have run at the same time.")
    print("| strategy | nDCG@5 | art/s | p vs truncate 512 |\n|---|---|---|---|")
    for r in rows:
        pv = "" if r["p_vs_truncate"] is None else f"{r['p_vs_truncate']:.3f}"
        print(f"| {r['path']} | {r['value']:.4f} | {r['articles_per_s']:.1f} | {pv} |")


if __name__ == "__main__":
    main()
