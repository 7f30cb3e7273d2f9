"""Offline evaluation: judgments in, systems side by side, metrics out as report.json and report.html.

recommender eval --judgments seeds/judgments.csv --report eval/reports/seeds
"""

from .evaluate import PROXY, evaluate
from .judgments import GradedJudgments, ScoredPairs, proxy_judgments, read_judgments
from .runner import Options, evaluate_graded, evaluate_pairs, write_report
from .systems import SYSTEM_NAMES, Suggestion, System

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
    "write_report",
]
