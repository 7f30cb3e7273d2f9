"""Offline evaluation: judgments in, systems side by side, metrics out as report.json and report.html.

recommender eval --judgments seeds/judgments.csv --report eval/reports/seeds
"""

import importlib.util

from ..errors import MissingExtra
from .evaluate import PROXY, evaluate
from .judgments import GradedJudgments, ScoredPairs, proxy_judgments, read_judgments
from .runner import Options, evaluate_graded, evaluate_pairs, write_report
from .systems import SYSTEM_NAMES, Suggestion, System

_EXTRA_PACKAGES = ("ranx", "sklearn", "scipy")


def require_extra() -> None:
    """Raise MissingExtra unless the packages of the `eval` extra are installed (they load lazily)."""
    if any(importlib.util.find_spec(name) is None for name in _EXTRA_PACKAGES):
        raise MissingExtra("eval", "evaluation")


__all__ = [
    "PROXY",
    "SYSTEM_NAMES",
    "GradedJudgments",
    "Options",
    "ScoredPairs",
    "Suggestion",
    "System",
    "evaluate",
    "evaluate_graded",
    "evaluate_pairs",
    "proxy_judgments",
    "read_judgments",
    "require_extra",
    "write_report",
]
