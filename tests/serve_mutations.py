"""Mutations the service's tests must catch: `python -m tests.serve_mutations [NAME ...]`.

Each mutation breaks one guarantee in a copy of the checkout (never in place), runs the tests that
guard it, and is reported "caught" when they fail, "MISSED" when they pass. Not part of the suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {
    ".git",
    ".venv",
    "indexes",
    "test-artifacts",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    "__pycache__",
}


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    before: str
    after: str
    tests: tuple[str, ...]


MUTATIONS = [
    Mutation(
        "any url scheme passes",
        "recommender/serve/items.py",
        "return text if text.lower().startswith(SAFE_SCHEMES) else None",
        "return text",
        ("tests/test_serve_api.py",),
    ),
    Mutation(
        "preview does not escape",
        "recommender/serve/pages.py",
        "return html.escape(str(value), quote=True)",
        "return str(value)",
        ("tests/test_serve_api.py::test_preview_escapes_everything_and_allows_no_script",),
    ),
    Mutation(
        "widget inserts API text as HTML",
        "recommender/serve/static/widget.js",
        "if (text != null) node.textContent = String(text);",
        "if (text != null) node.innerHTML = String(text);",
        ("tests/test_widget_browser.py::test_hostile_title_from_the_api_stays_text",),
    ),
    Mutation(
        "widget trusts any url",
        "recommender/serve/static/widget.js",
        'if (typeof value !== "string" || !/^\\s*https?:\\/\\//i.test(value)) return null;',
        'if (typeof value !== "string") return null; return value;',
        ("tests/test_widget_browser.py::test_forged_api_answer_cannot_inject",),
    ),
    Mutation(
        "widget passes any language tag to Intl",
        "recommender/serve/static/widget.js",
        '? value : "";\n  }',
        '|| true ? value : "";\n  }',
        ("tests/test_widget_browser.py::test_forged_api_answer_cannot_inject",),
    ),
    Mutation(
        "unknown article is a server error",
        "recommender/serve/errors.py",
        '(ArticleNotFound, 404, "article_not_found"',
        '(ArticleNotFound, 500, "article_not_found"',
        (
            "tests/test_serve_api.py::test_unknown_article_is_404_without_server_paths",
            "tests/test_serve_fuzz.py",
        ),
    ),
    Mutation(
        "library errors are not handled",
        "recommender/serve/app.py",
        "    app.add_exception_handler(RecommenderError, library_error)\n",
        "",
        ("tests/test_serve_fuzz.py",),
    ),
    Mutation(
        "n has no upper bound",
        "recommender/serve/routes.py",
        "Query(ge=1, le=MAX_N,",
        "Query(ge=1,",
        ("tests/test_serve_api.py::test_bad_parameters_are_422_naming_the_field",),
    ),
    Mutation(
        "body limit not enforced",
        "recommender/serve/middleware.py",
        "if int(declared) > self.max_bytes:",
        "if int(declared) > self.max_bytes * 1000:",
        ("tests/test_serve_api.py::test_oversized_body_is_413",),
    ),
    Mutation(
        "a new build is never swapped in",
        "recommender/serve/reader.py",
        "                self._live, self._view = live, view",
        "                pass",
        ("tests/test_serve_process.py::test_a_new_build_reaches_every_worker_without_a_failed_request",),
    ),
    Mutation(
        "the service keeps the store open",
        "recommender/serve/reader.py",
        "    catalog = live.get()\n",
        "    catalog = live.get()\n    from ..store import Store\n"
        "    globals().setdefault('KEPT', []).append(Store.open(live.home, read_only=True))\n",
        ("tests/test_serve_process.py::test_the_service_leaves_the_store_open_to_writers",),
    ),
    Mutation(
        "searches from a serving thread use every core",
        "recommender/index/folder.py",
        '        if not getattr(_search_threads, "set", False):',
        "        if False:",
        ("tests/test_serve_api.py::test_searches_use_one_openmp_thread_in_any_serving_thread",),
    ),
    Mutation(
        "a removal waits for the next build",
        "recommender/serve/reader.py",
        "            if catalog is not current.catalog and catalog.index is current.catalog.index:",
        "            if False:",
        ("tests/test_serve_process.py::test_a_removal_reaches_the_service_without_a_build",),
    ),
    Mutation(
        "every request before the first build opens the store",
        "recommender/serve/reader.py",
        "if failed_stamp == stamp and time.monotonic() - when < RETRY_SECONDS:",
        "if False:",
        ("tests/test_serve_api.py::test_before_the_first_build_requests_do_not_keep_opening_the_store",),
    ),
    Mutation(
        "workers' metrics are not summed",
        "recommender/serve/metrics.py",
        "self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))",
        "self.multiprocess = False",
        ("tests/test_serve_process.py::test_two_workers_answer_and_their_metrics_add_up",),
    ),
]


def run(mutation: Mutation) -> bool:
    """True when the tests caught the mutation (failed)."""
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(ROOT, copy, ignore=lambda _d, names: [n for n in names if n in SKIP])
        target = copy / mutation.path
        text = target.read_text(encoding="utf-8")
        if mutation.before not in text:
            raise SystemExit(
                f"{mutation.name}: the code to mutate is gone from {mutation.path}; update the list"
            )
        target.write_text(text.replace(mutation.before, mutation.after, 1), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(copy)}
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *mutation.tests],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return result.returncode != 0


def main(names: list[str]) -> None:
    chosen = [m for m in MUTATIONS if not names or m.name in names]
    missed = 0
    for mutation in chosen:
        caught = run(mutation)
        missed += not caught
        print(f"{'caught' if caught else 'MISSED'}  {mutation.name}", flush=True)
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
