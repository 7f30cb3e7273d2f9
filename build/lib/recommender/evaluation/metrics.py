"""Ranking metrics through ranx (tested against trec_eval) and paired significance between systems.

Runs are plain ranked lists, `{source: [candidate, ...]}`; qrels are `{source: {candidate: grade}}`.
Every function is pure and returns plain floats, so results are reproducible and easy to test.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

CODE_WIDTH = 10
Ranked = Mapping[str, Sequence[str]]  # source -> candidates, best first
Qrels = Mapping[str, Mapping[str, int]]


def metric_names(ks: Sequence[int]) -> list[str]:
    """nDCG, precision and recall at every k, then MRR and MAP at the deepest k."""
    deepest = max(ks)
    names = [f"{m}@{k}" for m in ("ndcg", "precision", "recall") for k in sorted(ks)]
    return [*names, f"mrr@{deepest}", f"map@{deepest}"]


def evaluable(qrels: Qrels) -> list[str]:
    """Sources with at least one relevant candidate: the others cannot score and are left out."""
    return sorted(s for s, judged in qrels.items() if any(g > 0 for g in judged.values()))


def per_source(qrels: Qrels, ranked: Ranked, metrics: Sequence[str]) -> dict[str, np.ndarray]:
    """Each metric for each evaluable source (in `evaluable` order)."""
    from ranx import evaluate

    sources = evaluable(qrels)
    codes = _codebook(qrels, [ranked])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's type-safety chatter
        scores = evaluate(
            _qrels(qrels, sources, codes),
            _run(ranked, sources, "run", codes),
            list(metrics),
            return_mean=False,
        )
    if len(metrics) == 1:
        scores = {metrics[0]: scores}
    return {m: np.asarray(scores[m], dtype=np.float64) for m in metrics}


def means(scores: Mapping[str, np.ndarray]) -> dict[str, float]:
    return {m: float(np.mean(v)) if len(v) else float("nan") for m, v in scores.items()}


def significance(
    qrels: Qrels, runs: Mapping[str, Ranked], metrics: Sequence[str], test: str = "student", seed: int = 0
) -> dict[str, dict[str, dict[str, float]]]:
    """p-values of a paired test (student t-test, or fisher randomization) for every pair of
    systems on every metric: {metric: {system_a: {system_b: p}}}."""
    from ranx import compare

    if len(runs) < 2:
        return {}
    sources = evaluable(qrels)
    codes = _codebook(qrels, list(runs.values()))
    ranx_runs = [_run(r, sources, name, codes) for name, r in runs.items()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba chatter; scipy on identical systems
        report = compare(
            _qrels(qrels, sources, codes), ranx_runs, list(metrics), stat_test=test, random_seed=seed
        ).to_dict()
    out: dict[str, dict[str, dict[str, float]]] = {m: {} for m in metrics}
    for name in runs:
        for other, by_metric in report[name]["comparisons"].items():
            for metric, p in by_metric.items():
                out[metric].setdefault(name, {})[other] = float(p)
    return out


def condensed(qrels: Qrels, ranked: Ranked) -> dict[str, list[str]]:
    """The judged-only view: each list with its unjudged candidates removed (Sakai's condensed
    lists), so that a system is neither rewarded nor punished for what nobody judged."""
    return {s: [c for c in items if c in qrels.get(s, {})] for s, items in ranked.items()}


def judged_share(qrels: Qrels, ranked: Ranked, k: int) -> float:
    """Share of the top-k suggestions that carry a judgment (how far the judged pools reach)."""
    shown = [(s, c) for s, items in ranked.items() if s in qrels for c in list(items)[:k]]
    if not shown:
        return float("nan")
    return sum(c in qrels[s] for s, c in shown) / len(shown)


def _codebook(qrels: Qrels, runs: Sequence[Ranked]) -> dict[str, str]:
    """Article ids as fixed-width codes: ranx compiles its numba kernels for the width of the
    longest id, so raw URLs would mean a fresh compile (tens of seconds) for nearly every run."""
    ids = {c for judged in qrels.values() for c in judged}
    ids.update(c for run in runs for items in run.values() for c in items)
    return {article: f"{n:0{CODE_WIDTH}d}" for n, article in enumerate(sorted(ids))}


def _qrels(qrels: Qrels, sources: list[str], codes: Mapping[str, str]):  # type: ignore[no-untyped-def]
    from ranx import Qrels as RanxQrels

    return RanxQrels({s: {codes[c]: int(g) for c, g in qrels[s].items()} for s in sources})


def _run(ranked: Ranked, sources: list[str], name: str, codes: Mapping[str, str]):  # type: ignore[no-untyped-def]
    """A ranx Run whose scores keep the system's own order (ranx sorts by score)."""
    from ranx import Run

    data: dict[str, dict[str, float]] = {}
    for source in sources:
        items = list(dict.fromkeys(ranked.get(source, ())))
        data[source] = {codes[c]: float(len(items) - rank) for rank, c in enumerate(items)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Run(data, name=name)
