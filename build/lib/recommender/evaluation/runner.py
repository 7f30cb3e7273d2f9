"""Run every system over the judged articles, "as of" each article's own time, and assemble the
report (a plain dict, written as report.json and rendered as report.html)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..embedding import Embedder
from ..errors import InvalidSetting, RecommenderError
from ..index import VectorIndex
from ..ranking import Catalog
from ..store import Article, Store
from . import metrics
from .beyond import Shown, beyond_accuracy
from .judgments import GradedJudgments, ScoredPairs
from .lexical import tfidf_matrix
from .systems import Corpus, System, make_systems

Progress = Callable[[str, int, int], None]  # (what, done, total)
AS_OF_MODES = ("source", "latest")

METRIC_TEXT = {
    "ndcg": ("nDCG@{k}", "graded gain of the top {k}, discounted by rank, against the ideal order"),
    "precision": ("P@{k}", "share of the top {k} judged relevant (grade 1 or more)"),
    "recall": ("R@{k}", "share of the judged-relevant articles found in the top {k}"),
    "mrr": ("MRR@{k}", "1 / rank of the first relevant article"),
    "map": ("MAP@{k}", "mean average precision"),
}
BEYOND_TEXT: dict[str, tuple[str, bool | None, str]] = {
    "coverage": ("coverage", True, "share of the catalog suggested at least once"),
    "same_section": ("same section", None, "share of suggestions in the source's section"),
    "same_language": ("same language", None, "share of suggestions in the source's language"),
    "near_duplicates": ("near-copies", False, "share of suggestions that copy the source or an item above"),
    "judged_duplicates_shown": ("D shown", False, "share of lists showing a judged near-duplicate (D)"),
    "diversity": ("diversity", True, "mean pairwise cosine distance inside a list"),
    "median_age_gap_days": ("age gap (d)", None, "median days between the article and a suggestion"),
    "fallback": ("fallback", False, "share of suggestions filled in by the newest-in-section fallback"),
    "filled": ("filled", True, "share of the sidebar's slots filled"),
    "latency_p50_ms": ("p50 ms", False, "median time for one sidebar"),
    "latency_p95_ms": ("p95 ms", False, "95th percentile time for one sidebar"),
}


@dataclass(frozen=True)
class Options:
    """How an evaluation runs; recorded in the report."""

    systems: tuple[str, ...]
    ks: tuple[int, ...] = (5, 10)
    depth: int = 20  # suggestions asked of each system (deeper than k for the judged-only view)
    seed: int = 0
    as_of: str = "source"  # "source": each article's own time; "latest": the newest article's
    test: str = "student"  # paired test: student (t-test) or fisher (randomization)
    alpha: float = 0.05
    examples: int = 6

    def checked(self) -> Options:
        if not self.ks or min(self.ks) < 1:
            raise InvalidSetting(f"k must be positive whole numbers, got {self.ks}")
        if self.as_of not in AS_OF_MODES:
            raise InvalidSetting(f"as-of must be one of {', '.join(AS_OF_MODES)}, got {self.as_of!r}")
        if self.test not in ("student", "fisher"):
            raise InvalidSetting(f"significance test must be student or fisher, got {self.test!r}")
        return self


def evaluate_graded(
    store: Store,
    catalog: Catalog,
    judgments: GradedJudgments,
    options: Options,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Replay every judged source through every system and score the lists."""
    options = options.checked()
    index = catalog.index
    corpus = Corpus.load(store)
    sources = [corpus.articles[corpus.row[s]] for s in sorted(judgments.grades) if s in corpus.row]
    if not sources:
        raise RecommenderError("none of the judged articles is in this store: ingest them first")
    newest = corpus.newest()
    qrels, hidden = _visible_qrels(judgments, sources, corpus, options.as_of, newest)
    evaluable = metrics.evaluable(qrels)
    if not evaluable:
        later = (
            f"; {hidden} judged pairs were published after their source (try --as-of latest)"
            if hidden
            else ""
        )
        raise RecommenderError(
            f"{judgments.path or 'the judgments'}: no judged article has a relevant candidate "
            f"(grade 1 or more) in this store{later}"
        )
    systems = make_systems(list(options.systems), catalog, corpus, options.seed)
    depth = max(options.depth, *options.ks)

    ranked: dict[str, dict[str, list[str]]] = {}
    shown: dict[str, list[Shown]] = {}
    latencies: dict[str, list[float]] = {}
    for number, system in enumerate(systems):
        if progress:
            progress(system.name, number, len(systems))
        ranked[system.name], shown[system.name], latencies[system.name] = _replay(
            system, sources, corpus, depth, options.as_of, newest
        )

    names = metrics.metric_names(options.ks)
    per_source = {name: metrics.per_source(qrels, run, names) for name, run in ranked.items()}
    table: dict[str, dict[str, float | None]] = {
        name: dict(metrics.means(s)) for name, s in per_source.items()
    }
    info = _accuracy_info(names, "accuracy", "")
    if judgments.kind == "graded":
        judged_names = [m for m in names if m.startswith(("ndcg", "precision"))]
        for name, run in ranked.items():
            condensed = metrics.per_source(qrels, metrics.condensed(qrels, run), judged_names)
            table[name].update({f"judged:{m}": v for m, v in metrics.means(condensed).items()})
            table[name][f"judged@{min(options.ks)}"] = metrics.judged_share(qrels, run, min(options.ks))
        info.update(_accuracy_info(judged_names, "judged-only", "judged: "))
        info[f"judged@{min(options.ks)}"] = {
            "label": f"judged@{min(options.ks)}",
            "group": "judged-only",
            "higher_is_better": None,
            "description": "share of the top suggestions that carry a judgment (the rest are unknown)",
        }

    vectors = _vectors(index, corpus)
    # the copy threshold the engine applies: the setting when one is given, else the calibrated one
    threshold = store.settings().duplicate_threshold(index.meta.calibration.near_duplicate_threshold)
    duplicates = {
        corpus.row[s]: {corpus.row[c] for c in judgments.duplicates(s) if c in corpus.row} for s in qrels
    }
    n = min(options.ks)
    for name in ranked:
        table[name].update(
            beyond_accuracy(
                shown[name],
                n=n,
                sections=list(corpus.sections),
                languages=list(corpus.languages),
                published=corpus.published,
                vectors=vectors,
                threshold=threshold,
                latencies_ms=latencies[name],
                duplicates=duplicates if judgments.kind == "graded" else None,
            )
        )
    for key, (label, higher, text) in BEYOND_TEXT.items():
        if any(key in row for row in table.values()):
            info[key] = {"label": label, "group": "beyond", "higher_is_better": higher, "description": text}

    main = f"ndcg@{n}"
    return {
        "title": "Related-story evaluation: "
        + (" + ".join(map(str, judgments.files)) or str(judgments.path or "proxy judgments")),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "engine_version": __version__,
        "judgments": {
            "kind": judgments.kind,
            "path": str(judgments.path) if judgments.path else None,
            "sha256": judgments.sha256,
            "evidence": judgments.evidence,
            "counts": judgments.counts(),
            "files": [str(f) for f in judgments.files],
            "sources_with_duplicates": sum(bool(d) for d in duplicates.values()),
        },
        "config": _config(store, index, corpus, options, depth, n),
        "systems": [{"name": s.name, "description": s.description} for s in systems],
        "metric_info": info,
        "metrics": {name: {k: _clean(v) for k, v in row.items()} for name, row in table.items()},
        "significance": metrics.significance(qrels, ranked, names, options.test, options.seed),
        "breakdown": _breakdown(per_source, evaluable, corpus, main),
        "breakdown_metric": main,
        "age_gaps": {name: _gaps(shown[name], corpus, n) for name in ranked},
        "examples": _examples(ranked, shown, table, judgments, corpus, evaluable, options, main),
        "unjudged": _unjudged(ranked, judgments, n) if judgments.kind == "graded" else {},
        "notes": _notes(judgments, corpus, qrels, evaluable, hidden),
    }


PAIR_SYSTEMS = ("engine", "dense", "lexical")
# The engine's relevance of two texts: (text_a, text_b, same_language, their two vectors) -> score;
# the vectors are the ones the dense column uses, so no text is embedded twice.
Relevance = Callable[[str, str, bool, np.ndarray], float]


def evaluate_pairs(
    judgments: ScoredPairs,
    embedder: Embedder,
    systems: Sequence[str] = PAIR_SYSTEMS,
    progress: Progress | None = None,
    batch: int = 64,
    relevance: Relevance | None = None,
    known: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Correlation of each system's similarity with the human scores, per language pair.

    engine: the engine's own relevance of the two texts (`relevance`, e.g. dense + lexical fused,
    dense only across languages); without one, the embedding cosine. dense: the embedding cosine.
    lexical: TF-IDF cosine fitted on the file's own texts. `known`: vectors of texts the store has
    already embedded with this model (used as they are; the rest are embedded here)."""
    unknown = set(systems) - set(PAIR_SYSTEMS)
    if unknown:
        raise InvalidSetting(
            f"scored pairs can compare {', '.join(PAIR_SYSTEMS)} only, not {sorted(unknown)}"
        )
    texts = list(dict.fromkeys(t for p in judgments.pairs for t in (p.text1, p.text2)))
    position = {t: i for i, t in enumerate(texts)}
    left = np.array([position[p.text1] for p in judgments.pairs])
    right = np.array([position[p.text2] for p in judgments.pairs])
    similarity: dict[str, np.ndarray] = {}
    cosine: np.ndarray | None = None
    vectors = np.zeros((0, 0), np.float32)
    if "dense" in systems or "engine" in systems:
        known = known or {}
        todo = [t for t in texts if t not in known]
        chunks = []
        for start in range(0, len(todo), batch):
            if progress:
                progress("embedding", start, len(todo))
            chunks.append(embedder.embed(todo[start : start + batch]))
        fresh = dict(zip(todo, np.vstack(chunks), strict=True)) if chunks else {}
        vectors = np.vstack([known[t] if t in known else fresh[t] for t in texts]).astype(np.float32)
        cosine = np.einsum("ij,ij->i", vectors[left], vectors[right])
    if "engine" in systems:
        if relevance is None:
            assert cosine is not None
            similarity["engine"] = cosine
        else:
            scores = []
            for number, pair in enumerate(judgments.pairs):
                if progress and number % batch == 0:
                    progress("engine relevance", number, len(judgments.pairs))
                two = vectors[[left[number], right[number]]]
                scores.append(relevance(pair.text1, pair.text2, pair.lang1 == pair.lang2, two))
            similarity["engine"] = np.array(scores, dtype=np.float64)
    if "dense" in systems:
        assert cosine is not None
        similarity["dense"] = cosine
    if "lexical" in systems:
        matrix = tfidf_matrix(texts)
        similarity["lexical"] = np.asarray(matrix[left].multiply(matrix[right]).sum(axis=1)).ravel()
    target = judgments.target()
    groups = _pair_groups(judgments)
    correlations = {
        name: {g: _correlate(sims[idx], target[idx]) for g, idx in groups.items()}
        for name, sims in similarity.items()
    }
    descriptions = {
        "engine": (
            "the engine's relevance of the two texts (dense and lexical fused as sidebars rank; "
            "dense only across languages)"
            if relevance is not None
            else f"cosine of the engine's embeddings ({embedder.name}); this engine has no text relevance"
        ),
        "dense": f"cosine of the engine's embeddings ({embedder.name}), nothing else",
        "lexical": "TF-IDF cosine (scikit-learn), fitted on the file's own texts",
    }
    return {
        "title": f"Text-pair similarity evaluation: {judgments.path}",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "engine_version": __version__,
        "judgments": {
            "kind": "pairs",
            "path": str(judgments.path) if judgments.path else None,
            "sha256": judgments.sha256,
            "evidence": (
                f"human similarity ratings ({judgments.score_column}; "
                f"{judgments.similar_at} end = same story), compared by correlation"
            ),
            "counts": judgments.counts(),
        },
        "config": {"model": embedder.name, "texts": len(texts), "similar_at": judgments.similar_at},
        "systems": [{"name": s, "description": descriptions[s]} for s in similarity],
        "metric_info": {
            m: {"label": m.title(), "group": "correlation", "higher_is_better": True, "description": d}
            for m, d in (
                ("pearson", "linear correlation, all pairs"),
                ("spearman", "rank correlation, all pairs"),
            )
        },
        "metrics": {
            name: {m: c["all"][m] for m in ("pearson", "spearman")} for name, c in correlations.items()
        },
        "significance": {},
        "breakdown": {},
        "breakdown_metric": "pearson",
        "age_gaps": {},
        "examples": [],
        "correlations": correlations,
        "notes": [
            "Scores are turned so that higher means more similar before correlating; "
            "a positive correlation is good.",
            "The engine reads the first 512 tokens of each text.",
            *([_skipped_note(judgments.skipped)] if judgments.skipped else []),
        ],
    }


def write_report(report: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """Write report.json and the self-contained report.html; return their paths."""
    from .html import render_html

    folder.mkdir(parents=True, exist_ok=True)
    json_path, html_path = folder / "report.json", folder / "report.html"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    html_path.write_text(render_html(report), encoding="utf-8")
    return json_path, html_path


# --- helpers ---------------------------------------------------------------------------------
def _as_of(source: Article, mode: str, newest: datetime | None) -> datetime | None:
    """The replay time: the source's own publication time, else the newest article's."""
    return source.published_at if mode == "source" and source.published_at else newest


def _visible_qrels(
    judgments: GradedJudgments, sources: list[Article], corpus: Corpus, mode: str, newest: datetime | None
) -> tuple[dict[str, dict[str, int]], int]:
    """Judgments of each source minus candidates published after its replay time: nobody could
    have suggested those then. Returns the qrels and how many judged pairs were hidden."""
    all_qrels = judgments.qrels()
    qrels: dict[str, dict[str, int]] = {}
    hidden = 0
    for source in sources:
        as_of = _as_of(source, mode, newest)
        limit = as_of.timestamp() if as_of else np.inf
        judged = all_qrels[source.external_id]
        qrels[source.external_id] = {
            c: g
            for c, g in judged.items()
            if c not in corpus.row or not corpus.published[corpus.row[c]] > limit
        }
        hidden += len(judged) - len(qrels[source.external_id])
    return qrels, hidden


def _replay(
    system: System, sources: list[Article], corpus: Corpus, depth: int, mode: str, newest: datetime | None
) -> tuple[dict[str, list[str]], list[Shown], list[float]]:
    ranked: dict[str, list[str]] = {}
    shown: list[Shown] = []
    latencies: list[float] = []
    for source in sources:
        as_of = _as_of(source, mode, newest)
        started = time.perf_counter()
        suggestions = system.recommend(source, depth, as_of)
        latencies.append((time.perf_counter() - started) * 1000)
        ranked[source.external_id] = [s.id for s in suggestions]
        rows = [corpus.row[s.id] for s in suggestions]
        shown.append(Shown(corpus.row[source.external_id], rows, [s.fallback for s in suggestions]))
    return ranked, shown, latencies


def _unjudged(ranked: dict[str, dict[str, list[str]]], judgments: GradedJudgments, n: int) -> dict[str, Any]:
    """Per system, the top-n suggestions nobody judged, by source: what to judge next to deepen
    the pools (eval/judging/ turns them into blind sheets). Counts every judged pair, including
    those hidden by the replay time."""
    out: dict[str, Any] = {}
    for name, lists in ranked.items():
        missing = {
            source: [c for c in items[:n] if c not in judgments.grades.get(source, {})]
            for source, items in lists.items()
        }
        missing = {s: items for s, items in missing.items() if items}
        out[name] = {"count": sum(map(len, missing.values())), "by_source": missing}
    return out


def _accuracy_info(names: list[str], group: str, prefix: str) -> dict[str, dict[str, Any]]:
    out = {}
    for name in names:
        kind, k = name.split("@")
        label, text = METRIC_TEXT[kind]
        key = f"judged:{name}" if group == "judged-only" else name
        out[key] = {
            "label": prefix + label.format(k=k),
            "group": group,
            "higher_is_better": True,
            "description": text.format(k=k) + (", unjudged suggestions removed" if prefix else ""),
        }
    return out


def _vectors(index: VectorIndex, corpus: Corpus) -> np.ndarray:
    """Index vectors in corpus order; zeros for articles not in the index."""
    out = np.zeros((len(corpus), index.meta.dimension), np.float32)
    rows = index.rows(np.array([a.id for a in corpus.articles], np.int64))
    out[rows >= 0] = index.vectors[rows[rows >= 0]]
    return out


def _breakdown(
    per_source: dict[str, dict[str, np.ndarray]], evaluable: list[str], corpus: Corpus, metric: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for facet in ("section", "language"):
        groups: dict[str, list[int]] = {}
        for position, source in enumerate(evaluable):
            article = corpus.articles[corpus.row[source]]
            groups.setdefault(getattr(article, facet) or "(none)", []).append(position)
        out[facet] = {
            group: {
                "n": len(positions),
                "metrics": {
                    name: {metric: float(np.mean(scores[metric][positions]))}
                    for name, scores in per_source.items()
                },
            }
            for group, positions in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        }
    return out


def _gaps(shown: list[Shown], corpus: Corpus, n: int) -> list[float]:
    from .beyond import age_gaps_days

    return [
        round(g, 3) for g in age_gaps_days([Shown(s.source, s.items[:n]) for s in shown], corpus.published)
    ]


def _examples(
    ranked: dict[str, dict[str, list[str]]],
    shown: dict[str, list[Shown]],
    table: dict[str, dict[str, float | None]],
    judgments: GradedJudgments,
    corpus: Corpus,
    evaluable: list[str],
    options: Options,
    main: str,
) -> list[dict[str, Any]]:
    """A few sources with the best system's list beside the lexical baseline's (and the engine's)."""
    best = max(ranked, key=lambda name: table[name].get(main) or 0.0)
    shown_systems = list(dict.fromkeys(s for s in (best, "engine", "lexical") if s in ranked))
    picked = random.Random(options.seed).sample(evaluable, min(options.examples, len(evaluable)))
    n = min(options.ks)
    out = []
    for source_id in sorted(picked):
        source = corpus.articles[corpus.row[source_id]]
        lists = {}
        for name in shown_systems:
            flags = next(s for s in shown[name] if s.source == corpus.row[source_id]).fallback
            lists[name] = [
                {
                    **_describe(corpus.articles[corpus.row[item_id]]),
                    "grade": judgments.grades[source_id].get(item_id),
                    "score": None,
                    "fallback": flags[rank],
                }
                for rank, item_id in enumerate(ranked[name][source_id][:n])
            ]
        out.append({**_describe(source), "language": source.language, "lists": lists})
    return out


def _describe(article: Article) -> dict[str, Any]:
    return {
        "id": article.external_id,
        "title": article.title,
        "section": article.section,
        "published_at": article.published_at.isoformat() if article.published_at else None,
    }


def _config(
    store: Store, index: VectorIndex, corpus: Corpus, options: Options, depth: int, n: int
) -> dict[str, Any]:
    settings = store.settings()
    return {
        "home": str(store.path.parent),
        "model": index.meta.model,
        "articles": len(corpus),
        "indexed": len(index),
        "k": list(options.ks),
        "sidebar length (beyond-accuracy metrics)": n,
        "depth asked of each system": depth,
        "as of": (
            "each article's publication time (undated: the newest article's)"
            if options.as_of == "source"
            else "the newest article's time, for every source"
        ),
        "seed": options.seed,
        "significance test": f"paired {options.test}",
        "alpha": options.alpha,
        "near-duplicate threshold": round(
            settings.duplicate_threshold(index.meta.calibration.near_duplicate_threshold), 4
        ),
        "settings": {
            k: getattr(settings, k)
            for k in (
                "similarity_weight",
                "recency_weight",
                "section_boost",
                "section_weight",
                "half_life_days",
                "min_relevance",
                "cross_language",
            )
        },
    }


def _notes(
    judgments: GradedJudgments, corpus: Corpus, qrels: dict[str, Any], evaluable: list[str], hidden: int
) -> list[str]:
    notes = []
    if hidden:
        notes.append(
            f"{hidden} judged pairs name a candidate published after the replay time; they are left "
            "out, since no system could have suggested them then."
        )
    missing = [s for s in judgments.grades if s not in corpus.row]
    if missing:
        notes.append(f"{len(missing)} judged articles are not in the store and were skipped.")
    absent = {c for j in qrels.values() for c in j if c not in corpus.row}
    if absent:
        notes.append(f"{len(absent)} judged candidates are not in the store, so no system can suggest them.")
    if len(evaluable) < len(qrels):
        notes.append(
            f"{len(qrels) - len(evaluable)} sources have no relevant candidate and are left out of "
            "the accuracy metrics."
        )
    notes.append(
        "Unjudged suggestions count as not relevant in the accuracy metrics; the judged-only "
        "columns remove them instead."
        if judgments.kind == "graded"
        else "Proxy relevance: every article of the source's section is relevant."
    )
    notes.append(
        "Near-duplicates graded D count as 0 (never a good suggestion) and are tallied in 'D shown'."
    )
    return notes


def _skipped_note(skipped: list[str]) -> str:
    """'N rows left out: 3 × no score (rows 4, 9, 12), ...' with at most 5 rows named per reason."""
    by_reason: dict[str, list[str]] = {}
    for entry in skipped:
        row, _, reason = entry.partition(": ")
        by_reason.setdefault(reason, []).append(row.removeprefix("row "))
    parts = [
        f"{len(rows)} × {reason} (rows {', '.join(rows[:5])}{', ...' if len(rows) > 5 else ''})"
        for reason, rows in sorted(by_reason.items(), key=lambda kv: -len(kv[1]))
    ]
    return f"{len(skipped)} rows left out: " + "; ".join(parts)


def _pair_groups(judgments: ScoredPairs) -> dict[str, np.ndarray]:
    groups: dict[str, list[int]] = {}
    for i, pair in enumerate(judgments.pairs):
        groups.setdefault(pair.group, []).append(i)
        if pair.lang1 != pair.lang2:
            groups.setdefault("cross-lingual", []).append(i)
    ordered = {g: np.array(v) for g, v in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))}
    return {**ordered, "all": np.arange(len(judgments.pairs))}


def _correlate(x: np.ndarray, y: np.ndarray) -> dict[str, float | int | None]:
    from scipy.stats import pearsonr, spearmanr

    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return {"n": len(x), "pearson": None, "spearman": None}
    return {
        "n": len(x),
        "pearson": round(float(pearsonr(x, y)[0]), 4),
        "spearman": round(float(spearmanr(x, y)[0]), 4),
    }


def _clean(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return round(float(value), 4)
