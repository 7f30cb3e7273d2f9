"""The markdown tables of eval/README.md, from the report.json files `recommender eval` writes.

    python eval/tables.py R/report.json [--engine engine] [--vs lexical,similarity-only]

Graded reports: every system side by side (nDCG@5, nDCG@10, P@5, judged-only nDCG@5, judged@5,
unjudged top-5 slots, judged duplicates shown, slots filled) and the paired p-values of the engine
against the named systems on nDCG@5 and nDCG@10. Scored-pair reports: Pearson and Spearman per
system, overall and per language pair. Nothing is computed here that the report does not hold.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _f(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def graded(report: dict[str, Any], engine: str, versus: list[str]) -> str:
    metrics = report["metrics"]
    k = report["config"]["sidebar length (beyond-accuracy metrics)"]
    with_d = report["judgments"].get("sources_with_duplicates")
    head = (
        f"| system | nDCG@{k} | nDCG@10 | P@{k} | judged nDCG@{k} | judged@{k} | unjudged top-{k} | "
        f"D shown{f' (of {with_d})' if with_d is not None else ''} | filled |"
    )
    lines = [head, "|" + "---|" * 9]
    best = max(metrics, key=lambda name: metrics[name].get(f"ndcg@{k}") or 0.0)
    for name, row in metrics.items():
        unjudged = report.get("unjudged", {}).get(name, {}).get("count")
        shown = row.get("judged_duplicates_shown")
        d_shown = "–" if shown is None else (f"{round(shown * with_d)}" if with_d else _f(shown, 2))
        ndcg = _f(row.get(f"ndcg@{k}"))
        lines.append(
            f"| {name} | {f'**{ndcg}**' if name == best else ndcg} | {_f(row.get('ndcg@10'))} | "
            f"{_f(row.get(f'precision@{k}'))} | {_f(row.get(f'judged:ndcg@{k}'))} | "
            f"{_f(row.get(f'judged@{k}'), 2)} | {'–' if unjudged is None else unjudged} | {d_shown} | "
            f"{_f(row.get('filled'), 2)} |"
        )
    present = [v for v in versus if v in metrics and v != engine]
    if engine in metrics and present:
        test = report["config"]["significance test"].removeprefix("paired ")
        lines += ["", f"Paired {test} test, {engine} vs each (difference, p-value):", ""]
        lines += ["| metric | " + " | ".join(present) + " |", "|---|" + "---|" * len(present)]
        for metric in (f"ndcg@{k}", "ndcg@10", f"precision@{k}"):
            by = report["significance"].get(metric, {}).get(engine, {})
            cells = []
            for other in present:
                p = by.get(other)
                diff = (metrics[engine].get(metric) or 0.0) - (metrics[other].get(metric) or 0.0)
                cells.append("–" if p is None else f"{diff:+.3f}, p = {p:.3g}")
            lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pairs(report: dict[str, Any]) -> str:
    correlations = report["correlations"]
    systems = list(correlations)
    groups = list(next(iter(correlations.values())))
    lines = [
        "| pairs | n | " + " | ".join(f"{s} r / ρ" for s in systems) + " |",
        "|---|---|" + "---|" * len(systems),
    ]
    for group in ["all", *(g for g in groups if g != "all")]:
        n = correlations[systems[0]][group]["n"]
        cells = [
            f"{_f(correlations[s][group]['pearson'])} / {_f(correlations[s][group]['spearman'])}"
            for s in systems
        ]
        lines.append(f"| {group} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eval/tables.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", type=Path, nargs="+")
    parser.add_argument("--engine", default="engine", help="system whose p-values are shown (default engine)")
    parser.add_argument("--vs", default="lexical,similarity-only,legacy", help="systems it is tested against")
    args = parser.parse_args(argv)
    for path in args.reports:
        report = json.loads(path.read_text(encoding="utf-8"))
        kind = report["judgments"]["kind"]
        print(f"<!-- {path}: {report['judgments'].get('counts')} -->")
        print(pairs(report) if kind == "pairs" else graded(report, args.engine, args.vs.split(",")))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
