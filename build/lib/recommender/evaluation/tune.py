"""Two-fold cross-validation of ranking settings on graded judgments, so defaults trace to a command.

    python -m recommender.evaluation.tune --home H \\
        -j ../shared/data/bn_judgments_dev/bn_dev_judgments.csv -j eval/judgments/dev_deepening.csv \\
        --grid recency_weight=0,0.1,0.25 --grid half_life_days=3,7 --seed 0 --report eval/reports/tune.json

The judged sources are split in two folds by a seeded permutation. For each fold, the grid point with
the best mean metric on it is chosen and scored on the other fold; both folds are reported, and the
cross-validated figure is the mean over every source of the score it got from the settings tuned on
the other fold. Grid names are engine settings (`recommender settings`); each grid point is the
store's settings with those values replaced, run through the engine exactly as `recommender eval`
runs its ablations. Every function here is pure and seeded: same inputs, same numbers.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidSetting, RecommenderError
from . import metrics

if TYPE_CHECKING:
    from ..config import Settings
    from ..ranking import Catalog
    from ..store import Store
    from .judgments import GradedJudgments

Grid = list[dict[str, float]]
Scores = Mapping[str, float]  # source -> metric value


def two_folds(sources: Sequence[str], seed: int) -> tuple[list[str], list[str]]:
    """Sources (sorted first, so input order does not matter) split in two by a seeded permutation;
    fold A gets the smaller half when the count is odd."""
    ordered = sorted(sources)
    order = np.random.default_rng(seed).permutation(len(ordered))
    half = len(ordered) // 2
    return sorted(ordered[i] for i in order[:half]), sorted(ordered[i] for i in order[half:])


def parse_grid(items: Sequence[str]) -> dict[str, list[float]]:
    """["alpha=0.5,0.7", "recency_weight=0,0.1"] -> {"alpha": [0.5, 0.7], "recency_weight": [0.0, 0.1]}."""
    spec: dict[str, list[float]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise InvalidSetting(f"grid {item!r}: write NAME=V1,V2,... (e.g. recency_weight=0,0.1)")
        if name in spec:
            raise InvalidSetting(f"grid {item!r}: {name} given twice")
        try:
            spec[name] = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise InvalidSetting(f"grid {item!r}: values must be numbers") from None
    if not spec:
        raise InvalidSetting("give at least one --grid NAME=V1,V2,...")
    return spec


def grid(spec: Mapping[str, Sequence[float]]) -> Grid:
    """Every combination, in a fixed order (the first name varies slowest)."""
    names = list(spec)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(spec[n] for n in names))]


def label(point: Mapping[str, float]) -> str:
    return " ".join(f"{k}={v:g}" for k, v in point.items()) or "(as configured)"


def cross_validate(scores: Sequence[Scores], sources: Sequence[str], seed: int) -> dict[str, float]:
    """Two-fold cross-validation over precomputed per-source scores of each grid point.

    `scores[i][source]` is the metric of grid point i on that source. Returns, for the folds
    "A" and "B": the grid point chosen on the fold (`A.choice`, an index; ties go to the earlier
    point), its mean on the fold (`A.train`) and on the other fold (`A.test`); and `cv`, the mean
    over all sources of the score each got from the point tuned on the other fold."""
    if not scores:
        raise InvalidSetting("cross-validation needs at least one grid point")
    fold_a, fold_b = two_folds(sources, seed)
    if not fold_a or not fold_b:
        raise InvalidSetting(f"cross-validation needs at least 2 sources, got {len(sources)}")
    out: dict[str, float] = {"A.sources": float(len(fold_a)), "B.sources": float(len(fold_b))}
    held_out: list[float] = []
    for name, train, test in (("A", fold_a, fold_b), ("B", fold_b, fold_a)):
        means = [float(np.mean([s[x] for x in train])) for s in scores]
        best = int(np.argmax(means))  # first of the best on ties
        tested = [scores[best][x] for x in test]
        out[f"{name}.choice"] = float(best)
        out[f"{name}.train"] = means[best]
        out[f"{name}.test"] = float(np.mean(tested))
        held_out.extend(tested)
    out["cv"] = float(np.mean(held_out))
    return out


def fold_means(scores: Sequence[Scores], sources: Sequence[str], seed: int) -> list[dict[str, float]]:
    """Each grid point's mean on fold A, fold B and all sources."""
    fold_a, fold_b = two_folds(sources, seed)
    return [
        {
            "A": float(np.mean([s[x] for x in fold_a])),
            "B": float(np.mean([s[x] for x in fold_b])),
            "all": float(np.mean([s[x] for x in sources])),
        }
        for s in scores
    ]


# --- the engine on a store ---------------------------------------------------------------------
def variant_scores(
    store: Store,
    catalog: Catalog,
    judgments: GradedJudgments,
    points: Sequence[Mapping[str, float]],
    metric: str = "ndcg@5",
    judged_only: bool = False,
    as_of: str = "source",
) -> tuple[list[str], list[dict[str, float]]]:
    """The evaluable sources, and each settings variant's per-source metric (the engine replayed as
    of each source, as `recommender eval` does)."""
    from .runner import _replay, _visible_qrels
    from .systems import Corpus, EngineSystem

    settings = catalog.settings
    corpus = Corpus.load(store)
    sources = [corpus.articles[corpus.row[s]] for s in sorted(judgments.grades) if s in corpus.row]
    newest = corpus.newest()
    qrels, _ = _visible_qrels(judgments, sources, corpus, as_of, newest)
    evaluable = metrics.evaluable(qrels)
    if len(evaluable) < 2:
        raise RecommenderError("cross-validation needs at least 2 judged sources with a relevant candidate")
    depth = max(20, int(metric.split("@")[1]))
    out = []
    for point in points:
        system = EngineSystem(label(point), "tuning variant", catalog, _variant(settings, point))
        ranked, _, _ = _replay(system, sources, corpus, depth, as_of, newest)
        if judged_only:
            ranked = metrics.condensed(qrels, ranked)
        values = metrics.per_source(qrels, ranked, [metric])[metric]
        out.append(dict(zip(evaluable, map(float, values), strict=True)))
    return evaluable, out


def _variant(settings: Settings, point: Mapping[str, float]) -> Settings:
    known = {f.name for f in fields(settings)}
    unknown = sorted(set(point) - known)
    if unknown:
        raise InvalidSetting(f"unknown setting {unknown[0]!r} in the grid; known: {', '.join(sorted(known))}")
    return replace(settings, **point)  # type: ignore[arg-type]  # checked against SPECS on creation


def tune(
    home: Path | None,
    judgments: Sequence[str | Path],
    spec: Mapping[str, Sequence[float]],
    *,
    seed: int = 0,
    metric: str = "ndcg@5",
    judged_only: bool = False,
) -> dict[str, Any]:
    """Run the grid on a store and cross-validate it: the report `python -m ...tune` prints."""
    from ..api import Recommender
    from ..home import Home
    from .judgments import GradedJudgments, read_judgment_files

    read = read_judgment_files([Path(j) for j in judgments])
    if not isinstance(read, GradedJudgments):
        raise InvalidSetting("tuning needs graded links (source, candidate, grade), not scored pairs")
    points = [{}, *grid(spec)]  # the store's settings as they are, then the grid
    with Recommender(home) as rec:
        catalog = rec.catalog()
        with Home(rec.home).reading() as store:
            sources, scores = variant_scores(store, catalog, read, points, metric, judged_only)
    configured, tried = scores[0], scores[1:]
    cv = cross_validate(tried, sources, seed)
    means = fold_means(scores, sources, seed)
    return {
        "judgments": [str(j) for j in judgments],
        "metric": ("judged:" if judged_only else "") + metric,
        "seed": seed,
        "folds": dict(zip(("A", "B"), two_folds(sources, seed), strict=True)),
        "grid": [{"settings": p, **m} for p, m in zip(points, means, strict=True)],
        "as_configured": {
            "A": means[0]["A"],
            "B": means[0]["B"],
            "all": float(np.mean(list(configured.values()))),
        },
        "cv": cv,
        "chosen": {f: grid(spec)[int(cv[f"{f}.choice"])] for f in ("A", "B")},
    }


def render(report: dict[str, Any]) -> str:
    """The report as a markdown table and a few lines."""
    metric = report["metric"]
    lines = [f"| settings | {metric} fold A | fold B | all |", "|---|---|---|---|"]
    for row in report["grid"]:
        lines.append(f"| {label(row['settings'])} | {row['A']:.3f} | {row['B']:.3f} | {row['all']:.3f} |")
    cv = report["cv"]
    lines.append("")
    for fold, other in (("A", "B"), ("B", "A")):
        lines.append(
            f"tuned on {fold} ({cv[f'{fold}.sources']:.0f} sources): {label(report['chosen'][fold])}, "
            f"{metric} {cv[f'{fold}.train']:.3f} on {fold}, {cv[f'{fold}.test']:.3f} on {other}"
        )
    lines.append(
        f"cross-validated {metric}: {cv['cv']:.3f} (each source scored by settings tuned on the other fold)"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recommender.evaluation.tune", description=__doc__)
    parser.add_argument("--home", type=Path, default=None, help="store folder (default: as the CLI)")
    parser.add_argument(
        "-j", "--judgments", action="append", required=True, help="graded links; repeat to merge"
    )
    parser.add_argument("--grid", action="append", required=True, help="NAME=V1,V2,... (a setting); repeat")
    parser.add_argument("--seed", type=int, default=0, help="fold permutation seed (default 0)")
    parser.add_argument("--metric", default="ndcg@5", help="ndcg@K, precision@K, ... (default ndcg@5)")
    parser.add_argument("--judged-only", action="store_true", help="condensed lists: unjudged removed")
    parser.add_argument("--report", type=Path, default=None, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    try:
        report = tune(
            args.home,
            args.judgments,
            parse_grid(args.grid),
            seed=args.seed,
            metric=args.metric,
            judged_only=args.judged_only,
        )
    except RecommenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
