"""related() warm latency with every boost and filter on, against a numpy brute-force scan and the
lexical more-like-this baseline on the same data and queries; recall@10 of the engine's candidate search."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from recommender import Recommender
from recommender.embedding import Embedder

from .report import Row, mb, peak_rss_bytes, rss_bytes

N = 5  # sidebar length
ROUNDS = (
    3  # interleaved rounds of the timed queries (the figures pool them; the notes give each round's range)
)
MAX_AGE_DAYS = 365.0
AS_OF_AFTER_DAYS = 30.0  # each sidebar is asked for as of a month after its source was published
WARMUP = 20


@dataclass
class Corpus:
    """What the baselines need, read from the store: one row per indexed article, ascending id."""

    ids: np.ndarray  # int64 internal ids
    external_ids: list[str]
    texts: list[str]
    vectors: np.ndarray  # float32, unit rows
    published: np.ndarray  # float64 epoch seconds, NaN = undated
    section_codes: np.ndarray  # int32, -1 = none
    section_names: list[str]
    language_codes: np.ndarray  # int32, -1 = none


def load_corpus(rec: Recommender) -> Corpus:
    """Every indexed article with its text, vector and ranking fields: Store.catalog, and the index's
    own vectors where it exposes them (else Store.embeddings)."""
    from recommender.home import Home

    with Home(rec.home).reading() as store:
        articles, texts = store.catalog()
    index = rec.index()
    vec_ids, vectors = index.ids, index.vectors  # the build's exact vectors (memory-mapped): no copy
    by_id = {a.id: k for k, a in enumerate(articles)}
    known = np.array([int(i) in by_id for i in vec_ids], bool)
    if not known.all():  # vectors of articles removed since the build
        vec_ids, vectors = vec_ids[known], vectors[known]
    keep = [by_id[int(i)] for i in vec_ids]
    articles = [articles[k] for k in keep]
    sections = sorted({a.section for a in articles if a.section})
    languages = sorted({a.language for a in articles if a.language})
    section_index = {s: k for k, s in enumerate(sections)}
    language_index = {s: k for k, s in enumerate(languages)}
    return Corpus(
        ids=np.asarray(vec_ids, np.int64),
        external_ids=[a.external_id for a in articles],
        texts=[texts[k] for k in keep],
        vectors=vectors if vectors.dtype == np.float32 else vectors.astype(np.float32),
        published=np.array(
            [a.published_at.timestamp() if a.published_at else np.nan for a in articles], np.float64
        ),
        section_codes=np.array([section_index.get(a.section or "", -1) for a in articles], np.int32),
        section_names=sections,
        language_codes=np.array([language_index.get(a.language or "", -1) for a in articles], np.int32),
    )


@dataclass(frozen=True)
class Query:
    row: int
    external_id: str
    as_of: datetime
    exclude: tuple[str, ...]


def pick_queries(corpus: Corpus, count: int, exclude: str, seed: int = 0) -> list[Query]:
    """`count` random dated sources outside the excluded section, each asked as of a month later."""
    excluded_code = corpus.section_names.index(exclude) if exclude in corpus.section_names else -2
    eligible = np.flatnonzero((corpus.section_codes != excluded_code) & ~np.isnan(corpus.published))
    rng = np.random.default_rng(seed)
    rows = rng.choice(eligible, size=min(count, len(eligible)), replace=False)
    newest = float(np.nanmax(corpus.published))
    out = []
    for r in rows:
        as_of = min(corpus.published[r] + AS_OF_AFTER_DAYS * 86400, newest + 60)
        out.append(Query(int(r), corpus.external_ids[r], datetime.fromtimestamp(as_of, UTC), (exclude,)))
    return out


class BruteForce:
    """The engine's own stages with no candidate search: every visible article of the catalog scored
    by the engine's scorer (ranking.score) and selected by its selection (copies, floor), so the
    benchmark times and checks the real code, not a copy of its formula."""

    def __init__(self, rec: Recommender, corpus: Corpus) -> None:
        self.catalog = rec.catalog()
        self.every = np.arange(len(self.catalog))

    def related(self, q: Query, n: int = N) -> list[str]:
        from recommender.ranking import Query as Ask
        from recommender.ranking import RankingParams, score
        from recommender.ranking.candidates import LexicalNeighbours
        from recommender.ranking.selection import Copies, select

        catalog = self.catalog
        source = catalog.row(q.external_id)
        ask = Ask(n, q.as_of, None, MAX_AGE_DAYS, q.exclude)
        params = RankingParams.build(catalog, source, ask)
        rows = self.every[params.visibility.mask(catalog, self.every)]
        vector = catalog.vectors_of(np.array([source]))[0]
        lexical = LexicalNeighbours.of(catalog, params)
        scored = score(catalog, params, rows, catalog.index.vectors[rows] @ vector, lexical.lookup(rows))
        chosen = select(scored, params, Copies(catalog, params, vector))
        return [catalog.external_id(int(scored.rows[i])) for i in chosen.picked]


class Lexical:
    """TF-IDF more-like-this: one sparse vector times the inverted index per query, top-n."""

    def __init__(self, texts: Sequence[str]) -> None:
        from recommender.evaluation.lexical import tfidf_matrix

        started = time.perf_counter()
        self.matrix = tfidf_matrix(texts)
        self.postings = self.matrix.T.tocsr()  # term -> articles, as a search engine keeps it
        self.fit_seconds = time.perf_counter() - started

    def related(self, row: int, n: int = N) -> np.ndarray:
        scores = (self.matrix[row] @ self.postings).tocoo()
        cols, vals = scores.col, scores.data
        vals = np.where(cols == row, -np.inf, vals)
        if len(vals) <= n:
            return cols[np.argsort(-vals)]
        top = np.argpartition(-vals, n)[:n]
        return cols[top[np.argsort(-vals[top])]]


def _percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {
        "p50": float(np.percentile(a, 50)),
        "p95": float(np.percentile(a, 95)),
        "p99": float(np.percentile(a, 99)),
    }


def _timed(fn: Any, items: Sequence[Any]) -> list[float]:
    out = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - started) * 1000.0)
    return out


def recall_at_10(rec: Recommender, corpus: Corpus, queries: Sequence[Query]) -> float:
    """Mean overlap of the index's top 10 with exact top 10 (nothing excluded), source vectors as queries."""
    index = rec.index()
    hits = []
    for q in queries:
        v = corpus.vectors[q.row]
        found, _ = index.search(v, 10)
        exact = corpus.ids[np.argpartition(-(corpus.vectors @ v), 10)[:10]]
        hits.append(len(set(found.tolist()) & set(exact.tolist())) / 10.0)
    return float(np.mean(hits))


def index_description(rec: Recommender) -> str:
    """The index kind and its parameters as far as meta.json records them."""
    meta = rec.index().meta
    kind = getattr(meta, "kind", None) or "flat (no kind recorded)"
    params = getattr(meta, "params", None)
    extra = ", ".join(f"{k}={v}" for k, v in params.items()) if isinstance(params, dict) else ""
    return f"{kind} ({extra})" if extra else str(kind)


def run(
    home: Path,
    label: str,
    embedder: Embedder | None,
    queries: int,
    exclude: str,
    target: dict[str, float] | None = None,
    log: Any = print,
) -> list[Row]:
    """Every latency figure for the store in `home`, with its baselines; `target` marks pass/fail."""
    started = time.perf_counter()
    rec = Recommender(home, embedder=embedder)
    rec.index()
    load_seconds = time.perf_counter() - started
    try:
        corpus = load_corpus(rec)
        picked = pick_queries(corpus, queries + WARMUP, exclude)
        warm, timed = picked[:WARMUP], picked[WARMUP:]

        def engine(q: Query, preset: str = "default") -> Any:
            return rec.related(
                q.external_id, N, as_of=q.as_of, max_age_days=MAX_AGE_DAYS, exclude_sections=q.exclude,
                preset=preset,
            )  # fmt: skip

        def legacy(q: Query) -> Any:
            return engine(q, "legacy")

        def searched(q: Query) -> Any:
            """The engine with its build's neighbour lists put aside: every sidebar searches FAISS."""
            catalog = rec.catalog()
            lists, catalog.neighbours = catalog.neighbours, None
            try:
                return engine(q)
            finally:
                catalog.neighbours = lists

        _timed(engine, warm)
        _timed(legacy, warm)
        _timed(searched, warm)
        rounds = _interleaved([engine, legacy, searched], timed, ROUNDS)
        engine_ms, legacy_ms, searched_ms = ([ms for r in rounds for ms in r[i]] for i in range(3))
        overlap = []
        brute = BruteForce(rec, corpus)
        for q in timed[:100]:
            mine = {r.id for r in engine(q) if not r.fallback}
            theirs = set(brute.related(q))
            if theirs:
                overlap.append(len(mine & theirs) / len(theirs))
        _timed(brute.related, warm)
        brute_ms = _timed(brute.related, timed)
        lexical = Lexical(corpus.texts)
        _timed(lexical.related, [q.row for q in warm])
        lexical_ms = _timed(lexical.related, [q.row for q in timed])
        recall = recall_at_10(rec, corpus, timed)
        kind = index_description(rec)
        lexical_mb, lexical_meta = _lexical_files(rec)
        count = len(corpus.ids)
        dim = corpus.vectors.shape[1]
    finally:
        rec.close()
    memory = engine_memory(home, embedder is not None, warm)  # after close: DuckDB locks the file
    e, b, x = _percentiles(engine_ms), _percentiles(brute_ms), _percentiles(lexical_ms)
    old, plain = _percentiles(legacy_ms), _percentiles(searched_ms)
    ranges = {p: _round_range(rounds, p) for p in ("p50", "p95", "p99")}
    bench = "latency"
    note_q = f"{len(timed)} queries, n={N}, as_of=source+30d, max_age={MAX_AGE_DAYS:g}d, minus '{exclude}'"
    rows: list[Row] = []
    for p in ("p50", "p95", "p99"):
        verdict = ""
        if target and p in target:
            verdict = f"target ≤ {target[p]:g} ms: {'met' if e[p] <= target[p] else 'NOT MET'}"
        rows.append(Row(bench, label, f"related() {p}", e[p], "ms", f"numpy brute force {p}", b[p], verdict))
        rows.append(Row(bench, label, f"related() {p}", e[p], "ms", f"lexical TF-IDF MLT {p}", x[p], ""))
        engine_range, legacy_range, searched_range = ranges[p]
        rows.append(
            Row(
                bench, label, f"related() {p}", e[p], "ms", f"legacy preset {p}", old[p],
                f"interleaved, same queries, {ROUNDS} rounds: engine {engine_range}, legacy {legacy_range}",
            )
        )  # fmt: skip
        rows.append(
            Row(
                bench, label, f"related() {p}", e[p], "ms", f"no stored lists (FAISS search) {p}", plain[p],
                f"interleaved, same queries, {ROUNDS} rounds: {searched_range}",
            )
        )  # fmt: skip
    rows.append(Row(bench, label, "queries", float(len(timed)), "", "", None, note_q))
    rows.append(
        Row(
            bench,
            label,
            "sidebar overlap with brute force",
            float(np.mean(overlap)) if overlap else float("nan"),
            "",
            "brute force (same formula)",
            1.0,
            "share of the brute-force top-5 the engine shows (non-fallback)",
        )
    )
    verdict = ""
    if target and "recall" in target:
        verdict = f"target ≥ {target['recall']:g}: {'met' if recall >= target['recall'] else 'NOT MET'}"
    rows.append(Row(bench, label, "candidate recall@10", recall, "", "exact numpy top-10", 1.0, verdict))
    rows.append(Row(bench, label, "index kind", None, kind, "", None, ""))
    rows.append(
        Row(
            bench,
            label,
            "engine RSS, loaded + warm",
            mb(memory["after"]),
            "MB",
            "raw float32 vectors",
            mb(count * dim * 4),
            f"own process: {mb(memory['before']):.0f} MB before opening the store, "
            f"peak {mb(memory['peak']):.0f} MB; index load {load_seconds:.2f} s",
        )
    )
    rows.append(Row(bench, label, "lexical TF-IDF fit", lexical.fit_seconds, "s", "", None, "baseline setup"))
    rows.append(
        Row(bench, label, "lexical index + overlaps on disk", lexical_mb, "MB", "", None, lexical_meta)
    )
    return rows


def _interleaved(fns: Sequence[Any], items: Sequence[Any], rounds: int) -> list[list[list[float]]]:
    """Warm milliseconds of several functions on the same items, per round and function, the one
    that runs first turning with each item."""
    out = []
    for _ in range(rounds):
        ms: list[list[float]] = [[] for _ in fns]
        for k, item in enumerate(items):
            for j in range(len(fns)):
                i = (j + k) % len(fns)
                started = time.perf_counter()
                fns[i](item)
                ms[i].append((time.perf_counter() - started) * 1000.0)
        out.append(ms)
    return out


def _round_range(rounds: list[list[list[float]]], p: str) -> tuple[str, ...]:
    """Per function, the lowest and highest of its per-round percentile `p`."""
    spans = []
    for i in range(len(rounds[0])):
        values = [_percentiles(r[i])[p] for r in rounds]
        spans.append(f"{min(values):.2f}-{max(values):.2f}")
    return tuple(spans)


def _lexical_files(rec: Recommender) -> tuple[float, str]:
    """Size of the build's lexical index and text overlaps, and what meta.json says of them."""
    from recommender.index import copies, lexical

    folder = rec.index().path
    size = sum(
        (folder / name).stat().st_size for name in (*lexical.FILES, *copies.FILES) if (folder / name).exists()
    )
    meta = rec.index().meta.lexical
    note = (
        f"{meta.documents} documents, {meta.neighbours} neighbours each; "
        f"lexical build phase {meta.seconds:.1f} s"
        if meta
        else "no lexical index"
    )
    return mb(size), note


def engine_memory(home: Path, synthetic: bool, queries: Sequence[Query]) -> dict[str, int]:
    """RSS of a fresh process that opens the store and answers `queries`: the engine's own memory."""
    payload = json.dumps([[q.external_id, q.as_of.isoformat(), list(q.exclude)] for q in queries])
    kind = "synthetic" if synthetic else "model"
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.latency", str(home), kind],
        input=payload.encode(),
        stdout=subprocess.PIPE,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout
    result: dict[str, int] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def _memory_child(home: Path, synthetic: bool) -> dict[str, int]:
    from .synthetic import SyntheticEmbedder

    queries = json.loads(sys.stdin.read())
    before = rss_bytes()
    with Recommender(home, embedder=SyntheticEmbedder() if synthetic else None) as rec:
        for external_id, as_of, exclude in queries:
            when = datetime.fromisoformat(as_of)
            rec.related(external_id, N, as_of=when, max_age_days=MAX_AGE_DAYS, exclude_sections=exclude)
        return {"before": before, "after": rss_bytes(), "peak": peak_rss_bytes()}


if __name__ == "__main__":
    print(json.dumps(_memory_child(Path(sys.argv[1]), sys.argv[2] == "synthetic")))
