"""Break the code on purpose and check that the tests notice: `python -m tests.mutations` (`make mutate`).

Each mutation is an exact snippet of source, its replacement, and the tests that guard it. The runner
applies one mutation at a time to a fresh copy of the checkout (never in place: a killed run leaves
nothing broken behind), runs those tests there, and prints whether the tests caught it. A snippet
that no longer occurs exactly once is an error, not a skip: when the code changes, the list must
change with it (tests/test_mutations.py checks that on every `make test`).
Exit status: 0 when every mutation was caught, 1 otherwise.

    python -m tests.mutations                 # all of them
    python -m tests.mutations --only recency  # names containing "recency"
    python -m tests.mutations --list
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Not copied into the mutant checkout: environments, stores, caches, browser artifacts.
SKIP = {".git", ".venv", ".venv-core", "indexes", "test-artifacts", ".whl", ".devrun", "__pycache__"}
SKIP_SUFFIX = "_cache"  # .pytest_cache, .ruff_cache, .mypy_cache


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # relative to the repository root
    snippet: str  # must occur exactly once in the file
    replacement: str
    tests: tuple[str, ...]  # pytest arguments: files, node ids, -k expressions


MUTATIONS = [
    # --- the list -----------------------------------------------------------------------
    Mutation(
        "recency off",
        "recommender/ranking/scorer.py",
        '"recency": similarity_weight * relevance * recency_weight * recency,',
        '"recency": 0.0 * recency,',
        ("tests/test_ranking.py",),
    ),
    Mutation(
        "copy removal off",
        "recommender/ranking/selection.py",
        "        if copies.copies_source(row, float(scored.similarity[i])):",
        "        if False:",
        ("tests/test_ranking.py",),
    ),
    Mutation(
        "tune() reports 1.0 without tuning",
        "recommender/index/kinds.py",
        'if kind == "flat":\n        return {"recall_at_10": 1.0}',
        'if True:\n        return {"recall_at_10": 1.0}',
        ("tests/test_scale.py", "-k", "tuned_for_recall"),
    ),
    Mutation(
        "undated articles pass max_age",
        "recommender/ranking/params.py",
        "keep &= (self.as_of - published) <= self.max_age_days * 86400",
        "keep &= ~((self.as_of - published) > self.max_age_days * 86400)",
        ("tests/test_scale.py", "-k", "undated or fallback"),
    ),
    Mutation(
        "fallback order reversed",
        "recommender/ranking/catalog.py",
        "dated = dated[np.lexsort((catalog.ids[dated], -catalog.published[dated]))]",
        "dated = dated[np.lexsort((catalog.ids[dated], catalog.published[dated]))]",
        ("tests/test_scale.py", "-k", "fallback"),
    ),
    Mutation(
        "settings validation skipped",
        "recommender/config.py",
        "    spec = SPECS[key]\n    if value is None:",
        "    spec = SPECS[key]\n    return value\n    if value is None:",
        ("tests/test_settings.py",),
    ),
    Mutation(
        "past as_of gathers the wrong window",
        "recommender/ranking/catalog.py",
        "rows = rows[-gather_limit:]",
        "rows = rows[:gather_limit]",
        ("tests/test_scale.py", "-k", "older_window"),
    ),
    # --- settings --------------------------------------------------------------------------------
    Mutation(
        "explicit 0.0 read as unset",
        "recommender/config.py",
        "return calibrated if self.near_duplicate_threshold is None else self.near_duplicate_threshold",
        "return self.near_duplicate_threshold or calibrated",
        ("tests/test_settings.py", "-k", "zero"),
    ),
    Mutation(
        "cross-field check of text_fields skipped",
        "recommender/config.py",
        "if not all(names) or any(n not in TEXT_FIELDS for n in names) or len(set(names)) != len(names):",
        "if False:",
        ("tests/test_settings.py", "-k", "refused"),
    ),
    Mutation(
        "--reset forgets nothing",
        "recommender/store/database.py",
        'self.con.execute("DELETE FROM settings WHERE key = ?", [key])',
        "pass",
        ("tests/test_settings.py", "-k", "reset"),
    ),
    Mutation(
        "section values unchecked",
        "recommender/store/database.py",
        "        check_section_values(boost, half_life_days)\n",
        "",
        ("tests/test_settings.py", "-k", "section"),
    ),
    Mutation(
        "max_age NaN accepted",
        "recommender/ranking/params.py",
        "if age is not None and not (math.isfinite(age) and age > 0):",
        "if age is not None and age <= 0:",
        ("tests/test_settings.py", "-k", "max_age"),
    ),
    # --- ingest ----------------------------------------------------------------------------------
    Mutation(
        "bad bytes replaced instead of named",
        "recommender/ingest/readers.py",
        'text, undecodable = line.decode("utf-8", "surrogateescape"), True',
        'text, undecodable = line.decode("utf-8", "replace"), True',
        ("tests/test_bad_input.py", "-k", "bad_byte"),
    ),
    Mutation(
        "stray quotes accepted",
        "recommender/ingest/csvparse.py",
        "        if '\"' in value:\n            raise ValueError(",
        "        if False:\n            raise ValueError(",
        ("tests/test_bad_input.py", "-k", "stray_quote"),
    ),
    Mutation(
        "an unclosed quote swallows the rows after it",
        "recommender/ingest/csvparse.py",
        '(a stray quote?)",\n                )\n                used = 1',
        '(a stray quote?)",\n                )\n                used = used',
        ("tests/test_bad_input.py", "-k", "quote"),
    ),
    Mutation(
        "a list or object stored as text",
        "recommender/ingest/rows.py",
        '    if not isinstance(value, str):\n        raise _Bad(field, f"expected text, got {_kind(value)}")',
        "    if not isinstance(value, str):\n        return str(value)",
        ("tests/test_bad_input.py", "-k", "typed"),
    ),
    Mutation(
        "Parquet column types unchecked",
        "recommender/ingest/pipeline.py",
        "if base not in _ALLOWED.get(ours, _TEXT):",
        "if False:",
        ("tests/test_bad_input.py", "-k", "parquet"),
    ),
    Mutation(
        "no size cap",
        "recommender/ingest/rows.py",
        "    if len(raw) > cap:\n",
        "    if False:\n",
        ("tests/test_bad_input.py", "-k", "huge_body or cap"),
    ),
    Mutation(
        "hidden characters allowed in ids",
        "recommender/ingest/rows.py",
        '    if hidden is not None:\n        raise _Bad("id"',
        '    if False:\n        raise _Bad("id"',
        ("tests/test_bad_input.py", "-k", "hostile"),
    ),
    Mutation(
        "repeated ids across files both stored",
        "recommender/store/sql.py",
        "WHERE NOT EXISTS (SELECT 1 FROM ingest_seen p WHERE p.external_id = s.external_id)",
        "WHERE true",
        ("tests/test_bad_input.py", "-k", "duplicate"),
    ),
    Mutation(
        "a file committed in two transactions",
        "recommender/ingest/pipeline.py",
        "            if len(batch) >= BATCH:\n                staging.append(to_arrow(batch))\n",
        "            if len(batch) >= 500:  # each file stored in parts, each in its own transaction\n"
        "                staging.append(to_arrow(batch))\n"
        "                list(staging.repeats())\n"
        "                staging.commit(name)\n"
        "                staging.begin()\n",
        ("tests/test_bad_input.py", "-k", "killed"),
    ),
    Mutation(
        "--rejects folder not created",
        "recommender/ingest/report.py",
        "            path.parent.mkdir(parents=True, exist_ok=True)\n",
        "",
        ("tests/test_bad_input.py", "-k", "whole_corpus"),
    ),
    Mutation(
        "empty file not named",
        "recommender/ingest/readers.py",
        '            raise UnreadableInput(f"{self.path}: empty file")\n\n    def _open_csv',
        "            pass\n\n    def _open_csv",
        ("tests/test_bad_input.py", "-k", "empty or blank"),
    ),
    Mutation(
        "fast date path misreads the day",
        "recommender/ingest/dates.py",
        'int(match["y"]), month, int(match["d1"] or match["d2"])',
        'int(match["y"]), month, int(match["d2"] or match["d1"]) % 28 + 1',
        ("tests/test_properties.py", "tests/test_dates.py"),
    ),
    # --- output, homes, network ------------------------------------------------------------------
    Mutation(
        "titles printed as markup",
        "recommender/cli.py",
        "            plain(item.title),",
        "            item.title,",
        ("tests/test_output.py", "-k", "markup"),
    ),
    Mutation(
        "control characters printed raw",
        "recommender/display.py",
        "    return _UNSAFE.sub(_escape, text)",
        "    return text",
        ("tests/test_output.py",),
    ),
    Mutation(
        "NaN written into JSON",
        "recommender/display.py",
        "        return value if math.isfinite(value) else None",
        "        return value",
        ("tests/test_output.py", "-k", "json"),
    ),
    Mutation(
        "JSON recency parts unweighted",
        "recommender/ranking/scorer.py",
        '"recency": similarity_weight * relevance * recency_weight * recency,',
        '"recency": recency,',
        ("tests/test_output.py", "-k", "score_parts"),
    ),
    Mutation(
        "reading a missing home creates a store",
        "recommender/home.py",
        "        return self.db_path.exists() or index_root(self.path).is_dir()",
        "        return True",
        ("tests/test_output.py", "-k", "store"),
    ),
    Mutation(
        "no progress lines without a terminal",
        "recommender/cli.py",
        "        err.print(plain(progress_line(what, done, total, now - self.started)), soft_wrap=True)",
        "        pass",
        ("tests/test_output.py", "-k", "progress"),
    ),
    Mutation(
        "an empty sidebar says nothing",
        "recommender/cli.py",
        '        out.print(Text.assemble("No related articles for ", plain(source.title), ": ", why), '
        "soft_wrap=True)",
        "        pass",
        ("tests/test_output.py", "-k", "empty"),
    ),
    Mutation(
        "OpenVINO telemetry left importable",
        "recommender/offline.py",
        "        sys.modules.setdefault(name, None)  # type: ignore[arg-type]",
        "        pass",
        ("tests/test_offline.py", "-k", "switched_off"),
    ),
    Mutation(
        "one-line judgments file ends in a traceback",
        "recommender/evaluation/runner.py",
        "    if not evaluable:\n",
        "    if False:\n",
        ("tests/test_evaluation.py", "-k", "one_line or binary"),
    ),
    # --- issue 9: hybrid relevance, copies by text, recency that orders, full lists ---------------
    Mutation(
        "copies by cosine again",
        "recommender/ranking/selection.py",
        'self.by_text = params.copy_rule == "text" and catalog.overlaps is not None',
        "self.by_text = False",
        ("tests/test_sidebar_rules.py", "-k", "rewrite"),
    ),
    Mutation(
        "recency additive again",
        "recommender/config.py",
        'recency_mode: str = "multiplier"',
        'recency_mode: str = "additive"',
        ("tests/test_sidebar_rules.py", "-k", "fresh_weakly"),
    ),
    Mutation(
        "fill from dated section articles only",
        "recommender/config.py",
        'fill: str = "below_floor"',
        'fill: str = "section"',
        ("tests/test_sidebar_rules.py", "-k", "without_dates"),
    ),
    Mutation(
        "pins ignored",
        "recommender/ranking/selection.py",
        "for row, position in sorted(params.pins, key=lambda p: p[1]):",
        "for row, position in ():",
        ("tests/test_sidebar_rules.py", "-k", "pin"),
    ),
    Mutation(
        "blocks ignored",
        "recommender/ranking/params.py",
        "keep &= ~np.isin(rows, self.blocked_rows)",
        "keep &= True",
        ("tests/test_sidebar_rules.py", "-k", "blocks"),
    ),
    Mutation(
        "since ignored",
        "recommender/ranking/params.py",
        "keep &= published >= self.since",
        "keep &= True",
        ("tests/test_sidebar_rules.py", "-k", "since"),
    ),
    Mutation(
        "same_section_only ignored",
        "recommender/ranking/params.py",
        "only = int(catalog.sections[source_row])",
        "only = None",
        ("tests/test_sidebar_rules.py", "-k", "same_section_only"),
    ),
    Mutation(
        "tokenizer splits words at vowel signs",
        "recommender/index/tokenize.py",
        '_WORD = re.compile(rf"[^\\W_](?:[^\\W_]|[{_MARKS}])*")',
        '_WORD = re.compile(r"[^\\W_]+")',
        ("tests/test_tokenize.py", "-k", "vowel_signs"),
    ),
    Mutation(
        "lexical neighbours in another language",
        "recommender/index/lexical.py",
        "        lambda a, b: proposes[a:b] & (language[post_rows[a:b]] == code), len(proposes), scratch",
        "        lambda a, b: proposes[a:b], len(proposes), scratch",
        ("tests/test_lexical.py",),
    ),
    Mutation(
        "stored pair texts matched word for word, not up to whitespace",
        "recommender/evaluation/evaluate.py",
        "for t in wanted.get(text_key(stored), ())",
        "for t in wanted.get(stored, ())",
        ("tests/test_eval_pairs.py", "-k", "embedded_again"),
    ),
    Mutation(
        "the CLI drops --section",
        "recommender/cli.py",
        "            section=section,\n",
        "",
        ("tests/test_cli.py", "-k", "query_options"),
    ),
    Mutation(
        "the same text days later counts as a series item",
        "recommender/ranking/selection.py",
        "close |= containment >= VERBATIM_CONTAINMENT",
        "close |= False",
        ("tests/test_sidebar_rules.py", "-k", "days_later"),
    ),
    Mutation(
        "is_copy ignores the verbatim rule",
        "recommender/index/copies.py",
        "return shared >= VERBATIM_CONTAINMENT or (",
        "return False or (",
        ("tests/test_copies.py",),
    ),
    Mutation(
        "a failed batch fails every shard in it",
        "recommender/scale/ray_backfill.py",
        "        if len(groups) == 1:",
        "        if True:",
        ("tests/test_ray.py", "-k", "two_shards"),
    ),
    Mutation(
        "lexical neighbours bounded by the best run maximum, not the k-th",
        "recommender/index/lexical.py",
        "bound = _kth_largest(run_row, run, maxima, len(counts), k)",
        "bound = _kth_largest(run_row, run, maxima, len(counts), 1)",
        ("tests/test_lexical.py", "-k", "brute_force or top_entries"),
    ),
    Mutation(
        "incremental build leaves older lexical lists alone",
        "recommender/index/lexical.py",
        "        _merge(rows, scores, source[ok], cand[ok], value[ok].astype(np.float32))",
        "        pass",
        ("tests/test_lexical.py", "-k", "update"),
    ),
    # --- one writer, many readers (issue 8) ------------------------------------------------------
    Mutation(
        "a build goes live before it is complete",
        "recommender/index/folder.py",
        "    work.chmod(0o755)  # readable by serving processes of other users, as the files in it are\n",
        "    work.chmod(0o755)\n    (root / POINTER).write_text(work.name)\n",
        ("tests/test_kills.py", "-k", "build_killed"),
    ),
    Mutation(
        "a model switch drops the old vectors before the new build is live",
        "recommender/index/build.py",
        '        with home.writing("build: planning") as store:\n            # the ids of what',
        '        with home.writing("build: planning") as store:\n'
        "            store.delete_other_embeddings(fingerprint)\n            # the ids of what",
        ("tests/test_kills.py", "-k", "model_switch"),
    ),
    Mutation(
        "writes do not refresh the overlay",
        "recommender/home.py",
        "                if store.data_version() != before:",
        "                if False:",
        ("tests/test_processes.py", "-k", "readers_serve"),
    ),
    Mutation(
        "the write lock locks nothing",
        "recommender/store/lock.py",
        "            fcntl.flock(fd, mode | fcntl.LOCK_NB)",
        "            pass",
        ("tests/test_processes.py", "-k", "second_build or writer_waits"),
    ),
    Mutation(
        "a reader whose build vanished does not read CURRENT again",
        "recommender/index/folder.py",
        "LOAD_ATTEMPTS = 3",
        "LOAD_ATTEMPTS = 1",
        ("tests/test_index.py", "-k", "vanishes"),
    ),
    Mutation(
        "temp pointers of a killed switch stay",
        "recommender/index/folder.py",
        '        if child.is_file() and child.name.startswith(f".{POINTER}."):',
        "        if False:",
        ("tests/test_index.py", "-k", "cleaned"),
    ),
    Mutation(
        "a build with nothing to do writes a new build",
        "recommender/index/build.py",
        "    if previous is None or full or pending:\n        return False",
        "    if True:\n        return False",
        ("tests/test_processes.py", "-k", "nothing_to_do"),
    ),
    Mutation(
        "retired builds are removed at once",
        "recommender/index/folder.py",
        "        if retired.exists() and now - retired.stat().st_mtime < grace_seconds:",
        "        if False:",
        ("tests/test_index.py", "-k", "grace_period"),
    ),
    Mutation(
        "a migration loses the embeddings",
        "recommender/store/migrations.py",
        "            SELECT article_id, model_fingerprint, text_hash, vector, embedded_at FROM embeddings;",
        "            SELECT article_id, model_fingerprint, text_hash, vector, embedded_at FROM embeddings"
        " WHERE false;",
        ("tests/test_migrations.py",),
    ),
    # --- the HTTP service (issue 11) ------------------------------------------------------------
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
    # --- issue 11: the service's build process ---------------------------------------------------
    Mutation(
        "the build process leaves after every build",
        "recommender/serve/build_worker.py",
        "                    conn.sendall(answer)\n            idle_since = time.monotonic()",
        "                    conn.sendall(answer)\n            return 0",
        ("tests/test_serve_builder.py", "-k", "kept"),
    ),
    Mutation(
        "builds at the requests' CPU priority",
        "recommender/serve/builder.py",
        "stdin=subprocess.DEVNULL, preexec_fn=_lower_priority",
        "stdin=subprocess.DEVNULL, preexec_fn=None",
        ("tests/test_serve_builder.py", "-k", "kept"),
    ),
    Mutation(
        "a build process that died during a build is not replaced",
        "recommender/serve/builder.py",
        "        for attempt in range(2):  # a build process that died starting or building is replaced once",
        "        for attempt in range(1):",
        ("tests/test_serve_builder.py", "-k", "during_a_build"),
    ),
    Mutation(
        "the socket of a killed build process is left in the way",
        "recommender/serve/build_worker.py",
        "                    where.unlink(missing_ok=True)  # left by a build process that was killed",
        "                    pass",
        ("tests/test_serve_builder.py", "-k", "next_push_lands"),
    ),
    Mutation(
        "an idle build process never leaves",
        "recommender/serve/build_worker.py",
        "                if time.monotonic() - idle_since > idle_seconds or os.getppid() != parent:",
        "                if os.getppid() != parent:",
        ("tests/test_serve_builder.py", "-k", "idle"),
    ),
    Mutation(
        "the build process outlives the serving process that started it",
        "recommender/serve/build_worker.py",
        "                if time.monotonic() - idle_since > idle_seconds or os.getppid() != parent:",
        "                if time.monotonic() - idle_since > idle_seconds:",
        ("tests/test_serve_builder.py", "-k", "leaves_with"),
    ),
    Mutation(
        "the load harness warms the cache through one worker",
        "benchmarks/loadgen.py",
        "            if len(reps) >= workers:",
        "            if len(reps) >= 1:",
        ("tests/test_benchmarks_http.py", "-k", "warm_pass"),
    ),
    Mutation(
        "the load generator ignores the set rate",
        "benchmarks/locustfile.py",
        "    if RATE_PER_USER > 0:",
        "    if False:",
        ("tests/test_benchmarks_http.py", "-k", "set_rate"),
    ),
    Mutation(
        "the swap run counts builds that went live before the load",
        "benchmarks/serve_load.py",
        "    swaps = sorted((b, at) for b, at in builds.items() if began <= at <= ended)",
        "    swaps = sorted((b, at) for b, at in builds.items())",
        ("tests/test_benchmarks_http.py", "-k", "swap_run"),
    ),
    # --- issue 11: render fields, the service ---------------------------------------------------
    Mutation(
        "snippet cut between a virama and its conjunct consonant",
        "recommender/index/snippet.py",
        '    return not (unicodedata.combining(before) == 9 and unicodedata.category(after) == "Lo")',
        "    return True",
        ("tests/test_render_fields.py", "-k", "grapheme or boundaries"),
    ),
    Mutation(
        "any url scheme kept for images and links",
        "recommender/ingest/rows.py",
        '    if parts.scheme.lower() in ("http", "https") and parts.hostname:',
        "    if True:",
        ("tests/test_render_fields.py", "-k", "aliases"),
    ),
    Mutation(
        "render fields left out of the build's snapshot",
        "recommender/index/snapshot.py",
        "        render = [c for c in (*RENDER_COLUMNS, *LIST_COLUMNS) if c in schema.names]",
        "        render: list[str] = []",
        ("tests/test_render_fields.py", "-k", "carry"),
    ),
    Mutation(
        "url lookup without ingest's normalisation",
        "recommender/serve/reader.py",
        '        wanted = clean_url(url) or ""',
        "        wanted = url",
        ("tests/test_serve_api.py", "-k", "by_url"),
    ),
    Mutation(
        "editors' pins left out of the overlay",
        "recommender/home.py",
        "        pins=tuple(Pin(source, article, position) for source, article, position in store.pins()),",
        "        pins=(),",
        ("tests/test_editors.py", "-k", "reach_the_overlay"),
    ),
    Mutation(
        "write endpoints open to any token",
        "recommender/serve/auth.py",
        "        if not hmac.compare_digest(given, self.token):",
        "        if False:",
        ("tests/test_serve_writes.py", "-k", "401"),
    ),
    Mutation(
        "a pushed article waits for someone to build",
        "recommender/serve/writes.py",
        "            builder.request()",
        "            pass",
        ("tests/test_serve_writes.py", "-k", "push_then"),
    ),
    Mutation(
        "sidebar cache kept across a new overlay",
        "recommender/serve/cache.py",
        "            if version != self._version:  # a new build or overlay: nothing kept is valid any more",
        "            if self._version is None:",
        ("tests/test_serve_cache.py", "-k", "drops"),
    ),
    Mutation(
        "If-None-Match ignored",
        "recommender/serve/routes.py",
        '        if matches(request.headers.get("if-none-match"), found.etag):',
        "        if False:",
        ("tests/test_serve_cache.py", "-k", "etag"),
    ),
    Mutation(
        "a Ray shard that keeps failing is dropped silently",
        "recommender/scale/__init__.py",
        "        if outcome.failed:\n",
        "        if False:\n",
        ("tests/test_ray.py", "-k", "failing"),
    ),
    Mutation(
        "a block of the lists' search that fails on Ray leaves its lists empty",
        "recommender/scale/ray_lists.py",
        "        for block in failed:",
        "        for block in failed[:0]:",
        ("tests/test_ray.py", "-k", "keeps_failing_on_ray"),
    ),
    Mutation(
        "Ray goes on being sent every block of the lists though it fails them all",
        "recommender/scale/ray_lists.py",
        "if outcome.here >= outcome.workers and not outcome.searched",
        "if False and not outcome.searched",
        ("tests/test_ray.py", "-k", "not_sent"),
    ),
    Mutation(
        "graph_growth --resume starts a new graph instead of the saved one",
        "benchmarks/graph_growth.py",
        "        index = faiss.read_index(args.resume)\n",
        "        index = index\n",
        ("tests/test_benchmarks.py", "-k", "graph_growth"),
    ),
    Mutation(
        "graph_growth --resume forgets the seconds the saved graph took",
        "benchmarks/graph_growth.py",
        'held, adding_s = int(index.ntotal), float(done["adding_s"])',
        "held, adding_s = int(index.ntotal), 0.0",
        ("tests/test_benchmarks.py", "-k", "graph_growth"),
    ),
    Mutation(
        "a searcher that leaves rows unanswered leaves their lists empty",
        "recommender/index/neighbours.py",
        "    if searched != len(rows) or not done[rows].all():",
        "    if False:",
        ("tests/test_neighbours.py", "-k", "unanswered"),
    ),
    Mutation(
        "the lists Ray searched land on other articles",
        "recommender/scale/ray_lists.py",
        "                yield blocks[b], found",
        "                yield blocks[b], found[::-1]",
        ("tests/test_ray.py", "-k", "searches_the_neighbour_lists"),
    ),
    Mutation(
        "build --ray searches the neighbour lists locally",
        "recommender/api.py",
        "backfill, searcher = ray_engine(ray), RaySearcher(ray)",
        "backfill, searcher = ray_engine(ray), None",
        ("tests/test_ray.py", "-k", "searches_the_neighbour_lists or how_the_lists"),
    ),
    Mutation(
        "a backfill stores its vectors only at its end (nothing to resume from)",
        "recommender/scale/shards.py",
        "        if self.clock() - self._last >= self.every:",
        "        if False:",
        ("tests/test_ray.py", "-k", "killed"),
    ),
    Mutation(
        "Ray workers' vectors land on other articles",
        "recommender/scale/ray_backfill.py",
        "return _checked(self.embedder.embed(texts), len(texts)), None",
        "return _checked(self.embedder.embed(texts[::-1]), len(texts)), None",
        ("tests/test_ray.py", "-k", "stores_the_vectors"),
    ),
    Mutation(
        "the compressed kind serves its codes without re-scoring",
        "recommender/index/folder.py",
        "rescore = rescored(self.meta.kind, self.meta.params, k)\n        ids, sims = search(",
        "rescore = 0\n        ids, sims = search(",
        ("tests/test_vectors.py", "-k", "true_neighbours and (ivfpq or hnswsq)"),
    ),
    Mutation(
        "a build process killed before it listened is not replaced",
        "recommender/serve/builder.py",
        "if attempt == 0 and self._died_starting():",
        "if False:",
        ("tests/test_serve_builder.py", "-k", "before_it_listens"),
    ),
    Mutation(
        "an HNSW graph outgrown by its corpus is updated in place",
        "recommender/index/build.py",
        "if kind in GRAPH_KINDS and built_deep < ef_construction_for(len(current)):",
        "if False:",
        ("tests/test_scale.py", "-k", "outgrown"),
    ),
    Mutation(
        "every HNSW graph built at the shallow depth",
        "recommender/index/kinds.py",
        'params["efConstruction"] = ef_construction_for(count)',
        'params["efConstruction"] = HNSW_EF_CONSTRUCTION',
        ("tests/test_scale.py", "-k", "outgrown"),
    ),
    Mutation(
        "auto keeps float32 HNSW at every size (no compressed graph from 2M)",
        "recommender/index/kinds.py",
        'return "hnsw" if count < COMPRESSED_FROM else "hnswsq"',
        'return "hnsw"',
        ("tests/test_vectors.py", "-k", "thresholds"),
    ),
    Mutation(
        "the compressed graph keeps float32 vectors",
        "recommender/index/kinds.py",
        "np.dtype(COMPRESSED_DTYPE if kind in COMPRESSED_KINDS else np.float32)",
        'np.dtype(COMPRESSED_DTYPE if kind == "ivfpq" else np.float32)',
        ("tests/test_vectors.py", "-k", "true_neighbours and hnswsq"),
    ),
    Mutation(
        "the compressed graph re-scores only k candidates, not its search's efSearch",
        "recommender/index/kinds.py",
        'return max(k, min(depth, int(params.get("rescore", depth))))',
        "return k",
        ("tests/test_vectors.py", "-k", "true_neighbours and hnswsq"),
    ),
    Mutation(
        "graph growth reports the efConstruction it was told but builds the usual one",
        "benchmarks/graph_growth.py",
        'kinds.hnsw_graph(index).hnsw.efConstruction = params["efConstruction"] = args.ef_construction',
        'params["efConstruction"] = args.ef_construction',
        ("tests/test_benchmarks.py", "-k", "graph_growth_measures"),
    ),
    Mutation(
        "the graph search benchmark's truth is over the whole file, not the rows the graph holds",
        "benchmarks/graph_search.py",
        "    mapped = mapped[:held]\n",
        "\n",
        ("tests/test_benchmarks.py", "-k", "graph_growth_measures"),
    ),
    Mutation(
        "the compressed graph stores no neighbour lists",
        "recommender/index/neighbours.py",
        "    if len(index) < 2:\n",
        '    if index.meta.kind in ("hnswsq", "ivfpq") or len(index) < 2:\n',
        ("tests/test_neighbours.py", "-k", "compressed"),
    ),
    Mutation(
        "the neighbour lists are searched as shallow as a sidebar's search",
        "recommender/index/neighbours.py",
        "k, lists=True, threads=threads",
        "k, threads=threads",
        ("tests/test_neighbours.py", "-k", "compressed"),
    ),
    Mutation(
        "the neighbour lists' search reports no progress",
        "recommender/index/build.py",
        "lists = neighbours.build(written, carried, changed, self.progress, self.searcher, resume=resume)",
        "lists = neighbours.build(written, carried, changed, None, self.searcher, resume=resume)",
        ("tests/test_output.py", "-k", "progress_lines"),
    ),
    Mutation(
        "the progress bar carries the embedding's rate into the neighbour lists",
        "recommender/cli.py",
        "            if what != task.description:  # other work: its rate and time left start afresh",
        "            if False:",
        ("tests/test_output.py", "-k", "own_rate"),
    ),
    Mutation(
        "shingle sets keep a copy of their hashes in memory",
        "recommender/index/copies.py",
        "        self._file.write(hashes.tobytes())\n",
        "        self._file.write(hashes.tobytes())\n"
        "        self.__dict__.setdefault('_kept', []).append(hashes)\n",
        ("tests/test_copies.py", "-k", "leave_memory"),
    ),
    Mutation(
        "the lists' tuning stops at the serving depth",
        "recommender/index/kinds.py",
        "    for deeper in HNSWSQ_LISTS_LADDER:",
        "    for deeper in ():",
        ("tests/test_vectors.py", "-k", "lists_deeper"),
    ),
    Mutation(
        "the lists re-score as few candidates as a sidebar's search",
        "recommender/index/kinds.py",
        '"rescore": int(params["lists_rescore"])}',
        '"rescore": int(params["rescore"])}',
        ("tests/test_vectors.py", "-k", "lists_deeper"),
    ),
    Mutation(
        "graph growth reports the M it was told but builds the usual one",
        "recommender/index/kinds.py",
        'params["M"] = links or (HNSW_M if kind == "hnsw" else HNSWSQ_M)',
        'params["M"] = HNSW_M if kind == "hnsw" else HNSWSQ_M',
        ("tests/test_benchmarks.py", "-k", "graph_growth_measures"),
    ),
    Mutation(
        "the graph search benchmark counts each query as its own neighbour",
        "benchmarks/graph_search.py",
        "recall = kinds.recall_at(kinds.without_self(found[name], picked + 1, 10), truth)",
        "recall = kinds.recall_at(found[name][:, :10], truth)",
        ("tests/test_benchmarks.py", "-k", "graph_growth_measures"),
    ),
    Mutation(
        "the compressed graph ignores its tuned re-scoring depth and re-scores every candidate",
        "recommender/index/kinds.py",
        'return max(k, min(depth, int(params.get("rescore", depth))))',
        "return max(k, depth)",
        ("tests/test_vectors.py", "-k", "fewest_candidates"),
    ),
    Mutation(
        "tuning leaves the compressed graph re-scoring every candidate",
        "recommender/index/kinds.py",
        'return {"rescore": rescore}',
        'return {"rescore": depth}',
        ("tests/test_vectors.py", "-k", "fewest_candidates"),
    ),
    Mutation(
        "tuning re-scores the graph's worst candidates, not its best",
        "recommender/index/kinds.py",
        "found, _ = _rescore(candidates[:, :rescore], queries, 11, exact)",
        "found, _ = _rescore(candidates[:, -rescore:], queries, 11, exact)",
        ("tests/test_vectors.py", "-k", "fewest_candidates"),
    ),
    Mutation(
        "tuning re-scores fewer candidates than the recall needs",
        "recommender/index/kinds.py",
        "if recall_at(without_self(found, own, 10), truth) >= recall:",
        "if recall_at(without_self(found, own, 10), truth) >= recall - 0.05:",
        ("tests/test_vectors.py", "-k", "fewest_candidates"),
    ),
    Mutation(
        "re-scoring counts a candidate the graph holds twice twice",
        "recommender/index/kinds.py",
        "found, rows = exact(np.unique(row[row >= 0]))",
        "found, rows = exact(row[row >= 0])",
        ("tests/test_vectors.py", "-k", "rescoring_counts"),
    ),
    Mutation(
        "re-scoring keeps a candidate the build no longer holds (tuning's and serving's lookup)",
        "recommender/index/kinds.py",
        "held = rows >= 0",
        "held = rows >= -1",
        ("tests/test_vectors.py", "-k", "rescoring_counts"),
    ),
    Mutation(
        "re-scoring keeps a candidate the build no longer holds (an incremental compressed build)",
        "recommender/index/kinds.py",
        "held = rows >= 0",
        "held = rows >= -1",
        ("tests/test_scale.py", "-k", "incremental and hnswsq"),
    ),
    Mutation(
        "a compressed graph's removed and replaced vectors are not counted as stale",
        "recommender/index/build.py",
        "if kind in GRAPH_KINDS else 0)",
        'if kind == "hnsw" else 0)',
        ("tests/test_scale.py", "-k", "incremental and hnswsq"),
    ),
    Mutation(
        "a loaded HNSW or flat index is copied into each serving process",
        "recommender/index/kinds.py",
        'faiss.IO_FLAG_MMAP if kind in ("ivf", "ivfpq") else faiss.IO_FLAG_MMAP_IFC',
        "faiss.IO_FLAG_MMAP",
        ("tests/test_vectors.py", "-k", "maps_its_file"),
    ),
    Mutation(
        "a compressed graph of a handful of articles records no search depth",
        "recommender/index/kinds.py",
        'return {**_ladder(kind)[0], "recall_at_10": 1.0}',
        'return {"recall_at_10": 1.0}',
        ("tests/test_vectors.py", "-k", "handful"),
    ),
    Mutation(
        "IVF vectors added with their lists out of step",
        "recommender/index/kinds.py",
        "chunk_ids, chunk_lists = ids[start:stop], np.ascontiguousarray(lists[start:stop])",
        "chunk_ids, chunk_lists = ids[start:stop], np.ascontiguousarray(lists[start:stop][::-1])",
        ("tests/test_vectors.py", "-k", "plain_add"),
    ),
    Mutation(
        "recall counts the query itself as a hit",
        "recommender/index/kinds.py",
        "rest = np.delete(row, hits[:1]) if len(hits) else row",
        "rest = row",
        ("tests/test_vectors.py", "-k", "without_self"),
    ),
    Mutation(
        "a snapshot takes an article's vector twice",
        "recommender/index/vectors.py",
        "            if np.any(filled[at]):",
        "            if False:",
        ("tests/test_vectors.py", "-k", "does_not_add_up"),
    ),
    # --- issue 9: evaluation (judgments, cross-validation, scored pairs) ----------------------
    Mutation(
        "merged judgment files: a conflicting grade silently overwrites",
        "recommender/evaluation/judgments.py",
        "                elif previous != grade:\n                    conflicts.append(",
        "                elif previous != grade:\n                    merged[candidate] = grade\n"
        "                    continue\n                    conflicts.append(",
        ("tests/test_eval_judgments.py", "-k", "conflict"),
    ),
    Mutation(
        "merged judgment files: the second file is ignored",
        "recommender/evaluation/judgments.py",
        "    return merge_graded([r for r in read if isinstance(r, GradedJudgments)])",
        "    return read[0]",
        ("tests/test_eval_judgments.py", "-k", "merge"),
    ),
    Mutation(
        "unjudged top-k lists judged articles too",
        "recommender/evaluation/runner.py",
        "            source: [c for c in items[:n] if c not in judgments.grades.get(source, {})]",
        "            source: list(items[:n])",
        ("tests/test_eval_judgments.py", "-k", "repeated"),
    ),
    Mutation(
        "judging sheets: grades merged without checking them",
        "eval/judging/judging.py",
        "                if grade not in GRADES:",
        "                if False:",
        ("tests/test_eval_judging.py",),
    ),
    Mutation(
        "cross-validation reports the tuning fold's own score as held out",
        "recommender/evaluation/tune.py",
        "        tested = [scores[best][x] for x in test]",
        "        tested = [scores[best][x] for x in train]",
        ("tests/test_eval_tune.py", "-k", "each_fold"),
    ),
    Mutation(
        "cross-validation folds not seeded",
        "recommender/evaluation/tune.py",
        "    order = np.random.default_rng(seed).permutation(len(ordered))",
        "    order = np.arange(len(ordered))",
        ("tests/test_eval_tune.py", "-k", "folds"),
    ),
    Mutation(
        "scored pairs: engine column is the bare cosine despite the engine's relevance",
        "recommender/evaluation/runner.py",
        "        if relevance is None:\n            assert cosine is not None",
        "        if True:\n"
        "            cosine = cosine if cosine is not None else np.zeros(len(judgments.pairs))",
        ("tests/test_eval_pairs.py",),
    ),
    Mutation(
        "scored pairs: texts the store holds embedded again",
        "recommender/evaluation/runner.py",
        "        todo = [t for t in texts if t not in known]",
        "        todo = list(texts)",
        ("tests/test_eval_pairs.py", "-k", "not_embedded_again"),
    ),
    Mutation(
        "the API drops the section restriction",
        "recommender/serve/routes.py",
        "            self.section, self.since, self.until, self.fill,",
        "            None, self.since, self.until, self.fill,",
        ("tests/test_serve_api.py", "-k", "section_window"),
    ),
    Mutation(
        "a draft is ranked without its own vector",
        "recommender/serve/reader.py",
        "        return draft_sidebar(catalog, query or Query(), vector, text, language)",
        "        return draft_sidebar(catalog, query or Query(), vector * 0, text, language)",
        ("tests/test_serve_api.py", "-k", "draft"),
    ),
    Mutation(
        "stored lists leave out the articles searched since",
        "recommender/ranking/candidates.py",
        "    if len(fresh_rows):\n        rows = np.concatenate([rows, fresh_rows])",
        "    if False:\n        rows = np.concatenate([rows, fresh_rows])",
        ("tests/test_neighbours.py", "-k", "incremental"),
    ),
    Mutation(
        "a stored list holds the article itself",
        "recommender/index/neighbours.py",
        "        keep = (found >= 0) & (found != index.ids[part][:, None])",
        "        keep = found >= 0",
        ("tests/test_neighbours.py", "-k", "full_build"),
    ),
    Mutation(
        "a rewritten article keeps its old list",
        "recommender/index/neighbours.py",
        "    keep = (to_row >= 0) & ~np.isin(old_ids, changed)",
        "    keep = to_row >= 0",
        ("tests/test_neighbours.py", "-k", "incremental"),
    ),
    Mutation(
        "sidebars search though the build stored lists",
        "recommender/ranking/candidates.py",
        "    if source >= 0:\n        listed = catalog.stored_neighbours(source, k - 1)",
        "    if False:\n        listed = catalog.stored_neighbours(source, k - 1)",
        ("tests/test_neighbours.py", "-k", "need_no_search"),
    ),
    Mutation(
        "fresh articles are never folded into the lists",
        "recommender/index/neighbours.py",
        "fold=len(fresh) > refresh_limit(len(index)))",
        "fold=False)",
        ("tests/test_neighbours.py", "-k", "too_many"),
    ),
    Mutation(
        "the fresh ids a build carries grow with the archive without a cap",
        "recommender/index/neighbours.py",
        "min(REFRESH_CAP, int(REFRESH_SHARE * articles))",
        "int(REFRESH_SHARE * articles)",
        ("tests/test_neighbours.py", "-k", "cap"),
    ),
    Mutation(
        "an update scores every older article against every new one at once",
        "recommender/index/lexical.py",
        "        step = max(1, UPDATE_PAIRS // len(new))",
        "        step = len(target)",
        ("tests/test_lexical.py", "-k", "block_at_a_time"),
    ),
    Mutation(
        "an update's blocks leave older articles out",
        "recommender/index/lexical.py",
        "            part = target[start : start + step]",
        "            part = target[start : start + step - 1]",
        ("tests/test_lexical.py", "-k", "block_at_a_time"),
    ),
    Mutation(
        "a fold bounds a list by its fresh entries too",
        "recommender/index/neighbours.py",
        "        settled[settled] = ~is_fresh[entries[settled]]\n",
        "",
        ("tests/test_neighbours.py", "-k", "too_many or nothing_to_bound"),
    ),
    Mutation(
        "a fold leaves a list with nothing to bound it unsearched",
        "recommender/index/neighbours.py",
        "        _search(index, unbounded, lists)",
        "        _search(index, unbounded[:0], lists)",
        ("tests/test_neighbours.py", "-k", "nothing_to_bound"),
    ),
    Mutation(
        "a fold lists an article as its own neighbour",
        "recommender/index/neighbours.py",
        "        alike[is_fresh[part], positions(fresh_rows, part[is_fresh[part]])] = -np.inf  # itself\n",
        "",
        ("tests/test_neighbours.py", "-k", "too_many or nothing_to_bound"),
    ),
    Mutation(
        "a fold stores its lists worst first",
        "recommender/index/neighbours.py",
        "order = np.lexsort((ids, -scores, at))",
        "order = np.lexsort((ids, scores, at))",
        ("tests/test_neighbours.py", "-k", "too_many"),
    ),
    Mutation(
        "a fold keeps the fresh ids",
        "recommender/index/neighbours.py",
        "        fresh = np.zeros(0, np.int64)\n    lists.flush()",
        "    lists.flush()",
        ("tests/test_neighbours.py", "-k", "too_many"),
    ),
    Mutation(
        "a resumed fold starts from the lists a killed one left half folded",
        "recommender/index/neighbours.py",
        "        lists[to_row[part]] = old.ids[part]",
        "        lists[to_row[part]] = np.where(lists[to_row[part]] >= 0, lists[to_row[part]], old.ids[part])",  # noqa: E501
        ("tests/test_resume.py", "-k", "folds"),
    ),
    Mutation(
        "catalog strings read from the wrong offsets",
        "recommender/index/snapshot.py",
        '        return str(self.data[self.offsets[row] : self.offsets[row + 1]], "utf-8")',
        '        return str(self.data[self.offsets[row] : self.offsets[row + 1] - 1], "utf-8")',
        ("tests/test_render_fields.py",),
    ),
    Mutation(
        "list columns read as empty",
        "recommender/index/snapshot.py",
        "        if self.lists is None or (self.valid is not None and not self.valid[row]):",
        "        if True:",
        ("tests/test_render_fields.py",),
    ),
    Mutation(
        "a fill walk skips the articles before as_of",
        "recommender/ranking/selection.py",
        "        if catalog.published[rows[mid]] > as_of:  # NaN (undated) compares False: it is not after",
        "        if catalog.published[rows[mid]] >= as_of - 86400 * 365:",
        ("tests/test_sidebar_rules.py", "tests/test_ranking.py"),
    ),
    # --- a lexical phase that grows with the corpus, not its square (issue 12) -------------------
    Mutation(
        "bounded lexical lists keep only the proposed part of the score",
        "recommender/index/lexical.py",
        "        v = v + np.bincount(pair, got, minlength=len(r)).astype(np.float32)\n",
        "        v = v\n",
        ("tests/test_lexical.py", "-k", "bounded"),
    ),
    Mutation(
        "every posting proposes candidates at any corpus size",
        "recommender/index/lexical.py",
        "    if documents < EXACT_BELOW:\n        chosen.fill(True)\n",
        "    if True:\n        chosen.fill(True)\n",
        ("tests/test_lexical.py", "-k", "heaviest_postings"),
    ),
    Mutation(
        "a frequent term proposes every posting tied at its cap",
        "recommender/index/lexical.py",
        "tied = np.flatnonzero(weights == kth)[: RARE_DF - int(above.sum())]",
        "tied = np.flatnonzero(weights == kth)",
        ("tests/test_lexical.py", "-k", "heaviest_postings"),
    ),
    Mutation(
        "top entries: the run bound's superset kept, not the exact k-th value",
        "recommender/index/lexical.py",
        "    return entry[data[entry] >= _kth_largest(row, position, data[entry], len(counts), k)[row]]",
        "    return entry",
        ("tests/test_lexical.py", "-k", "top_entries"),
    ),
    Mutation(
        "lexical ties broken by arrival, not by the lower row",
        "recommender/index/lexical.py",
        'by_candidate = np.argsort((r.astype(np.int64) << 32) | c, kind="stable")',
        "by_candidate = np.arange(len(r))",
        ("tests/test_lexical.py", "-k", "best_orders"),
    ),
    # --- the lexical phase's memory: counted terms, blocks, flat shingle sets (issue 12) ---------
    Mutation(
        "a block's query terms written over the first block's documents",
        "recommender/index/lexical.py",
        "        out[first + doc[top], rank[top]] = term[top]",
        "        out[doc[top], rank[top]] = term[top]",
        ("tests/test_lexical.py", "-k", "block_of_documents"),
    ),
    Mutation(
        "a block's weights use the first block's lengths",
        "recommender/index/lexical.py",
        "        lengths = counts.lengths[first:stop][counts.documents(first, stop)]",
        "        lengths = counts.lengths[counts.documents(first, stop)]",
        ("tests/test_lexical.py", "-k", "block_of_documents"),
    ),
    Mutation(
        "joined counts keep each chunk's offsets unshifted",
        "recommender/index/lexical.py",
        "shifted = [p.offsets[1:] + base for p, base",
        "shifted = [p.offsets[1:] + 0 * base for p, base",
        ("tests/test_lexical.py", "-k", "counts_kept"),
    ),
    Mutation(
        "an update's postings keep the rows articles had before",
        "recommender/index/lexical.py",
        "(np.concatenate([moved[keep], new_rows[doc]]), ",
        "(np.concatenate([previous.postings_rows[keep], new_rows[doc]]), ",
        ("tests/test_lexical.py", "-k", "moves_rows"),
    ),
    Mutation(
        "the copy phase's shallower graph search runs at the tuned depth",
        "recommender/index/kinds.py",
        "_, candidates = index.search(queries, max(k, rescore), params=depth)",
        "_, candidates = index.search(queries, max(k, rescore), params=None)",
        ("tests/test_vectors.py", "-k", "every_approximate and hnswsq"),
    ),
    Mutation(
        "the copy phase searches a compressed graph at its tuned depth",
        "recommender/index/textdata.py",
        "found[part], sims[part] = index.search_many(queries, k, PROPOSE_DEPTH)",
        "found[part], sims[part] = index.search_many(queries, k)",
        ("tests/test_vectors.py", "-k", "copy_phase"),
    ),
    Mutation(
        "an empty term counts the kept entry at its offset",
        "recommender/index/lexical.py",
        "        per_term = np.where(np.diff(ptr) > 0, sums, 0)",
        "        per_term = sums",
        ("tests/test_lexical.py", "-k", "kept_offsets"),
    ),
    Mutation(
        "the compressed graph built no deeper than HNSW's from 300k",
        "recommender/index/kinds.py",
        "    if count >= DEEPER_GRAPH_FROM:\n",
        "    if False:\n",
        ("tests/test_vectors.py", "-k", "kind_thresholds"),
    ),
    Mutation(
        "every chunk of shingle sets read from the start of the file",
        "recommender/index/copies.py",
        "        self._start[rows] = self._written + np.cumsum(sizes) - sizes",
        "        self._start[rows] = np.cumsum(sizes) - sizes",
        ("tests/test_copies.py", "-k", "shingle_sets"),
    ),
    Mutation(
        "a corpus's theme table shifted by one word",
        "benchmarks/synthetic.py",
        "    return theme_vectors(np.arange(start, min(start + THEME_BLOCK, total)), g).astype(np.float32)",
        "    return theme_vectors(np.arange(start, min(start + THEME_BLOCK, total)) + 1, g)"
        ".astype(np.float32)",
        ("tests/test_benchmarks.py", "-k", "however_they_are_made"),
    ),
    Mutation(
        "every word of a theme read as its theme's first word",
        "benchmarks/synthetic.py",
        "out[at] = themes[indexes[at]] if themes is not None",
        "out[at] = themes[indexes[at] // THEME_WORDS * THEME_WORDS] if themes is not None",
        ("tests/test_benchmarks.py", "-k", "however_they_are_made"),
    ),
    Mutation(
        "graph growth's truth searched beyond what the graph holds",
        "benchmarks/graph_growth.py",
        "kinds.exact_top(mapped[:held], queries, 11)",
        "kinds.exact_top(mapped, queries, 11)",
        ("tests/test_benchmarks.py", "-k", "graph_growth"),
    ),
    Mutation(
        "graph growth ignores its deadline",
        "benchmarks/graph_growth.py",
        "            if args.deadline and rate and (target - held) / rate > left:",
        "            if False:",
        ("tests/test_benchmarks.py", "-k", "graph_growth"),
    ),
    Mutation(
        "the neighbour step never forks",
        "recommender/index/lexical.py",
        "    processes = min(forked.processes_for(sum(len(at) for at, _ in blocks)), len(blocks))",
        "    processes = 1",
        ("tests/test_lexical.py", "-k", "forked"),
    ),
    Mutation(
        "a forked block computed from another block's sources",
        "recommender/index/lexical.py",
        "    return _block_lists(_WORK, *block)",
        "    return _block_lists(_WORK, block[0], block[1][::-1])",
        ("tests/test_lexical.py", "-k", "forked"),
    ),
    Mutation(
        "density counts an article as its own nearest neighbour",
        "benchmarks/density.py",
        "        sims[np.arange(len(rows)), rows] = -np.inf  # not its own neighbour\n",
        "",
        ("tests/test_benchmarks.py", "-k", "density"),
    ),
    Mutation(
        "full_build leaves the last phase untimed",
        "benchmarks/full_build.py",
        "        report = rec.build(full=True, phase=begin)\n        end()\n",
        "        report = rec.build(full=True, phase=begin)\n",
        ("tests/test_benchmarks.py", "-k", "full_build"),
    ),
    Mutation(
        "only the first block of proposed pairs is measured",
        "recommender/index/copies.py",
        "    for start in range(0, len(pairs), PAIR_BLOCK):",
        "    for start in range(0, min(len(pairs), PAIR_BLOCK), PAIR_BLOCK):",
        ("tests/test_copies.py", "-k", "block_at_a_time"),
    ),
    Mutation(
        "texts never tokenized by forked helpers",
        "recommender/index/textdata.py",
        "    processes = forked.processes_for(len(rows))",
        "    processes = 1",
        ("tests/test_copies.py", "-k", "forked_helpers"),
    ),
    Mutation(
        "tokenized chunks taken back newest first",
        "recommender/index/textdata.py",
        "                done, result, done_raw = pending.popleft()",
        "                done, result, done_raw = pending.pop()",
        ("tests/test_copies.py", "-k", "forked_helpers"),
    ),
    Mutation(
        "forked list makers outlive a killed build",
        "recommender/index/forked.py",
        "        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG",
        "        ctypes.CDLL(None, use_errno=True)",
        ("tests/test_kills.py", "-k", "forked_processes"),
    ),
    # --- the copy phase a block of articles at a time, its shingles on disk (issue 12) ----------
    Mutation(
        "shingle hashes kept in memory as well",
        "recommender/index/copies.py",
        "        self._file.write(hashes.tobytes())",
        "        self._file.write(hashes.tobytes())\n"
        "        self._kept = [*getattr(self, '_kept', []), hashes]",
        ("tests/test_copies.py", "-k", "wait_on_disk"),
    ),
    Mutation(
        "released shingle sets stay mapped",
        "recommender/index/copies.py",
        '        """Unmap the file (once no array read from it is held any more)."""\n'
        "        self._mapped = np.zeros(0, np.uint32)",
        '        """Unmap the file (once no array read from it is held any more)."""',
        ("tests/test_copies.py", "-k", "wait_on_disk"),
    ),
    Mutation(
        "a pair proposed from both sides measured from both",
        "recommender/index/textdata.py",
        "        keep[back[twice]] = False",
        "        keep[back[twice]] = True",
        ("tests/test_copies.py", "-k", "all_at_once"),
    ),
    Mutation(
        "a pair proposed towards an earlier article left to it whether it proposes the pair or not",
        "recommender/index/textdata.py",
        "        keep[back[twice]] = False",
        "        keep[back] = False",
        ("tests/test_copies.py", "-k", "all_at_once"),
    ),
    Mutation(
        "an older article's whole lexical list proposed again",
        "recommender/index/textdata.py",
        "        keep[keep] = self.new[source[keep]] | self.new[partner[keep]]",
        "        keep[keep] = True",
        ("tests/test_copies.py", "-k", "all_at_once"),
    ),
    Mutation(
        "an older article's carried list taken as proposing dense pairs",
        "recommender/index/textdata.py",
        "            twice[at] |= in_list & clear & self.new[partner[at]]",
        "            twice[at] |= in_list & clear",
        ("tests/test_copies.py", "-k", "all_at_once"),
    ),
    Mutation(
        "a later block's entries of a row written over the earlier ones",
        "recommender/index/lexical.py",
        "        free[rows] += counts",
        "        free[rows] += 0 * counts",
        ("tests/test_lexical.py", "-k", "row_major"),
    ),
    Mutation(
        "a row's entries of one block all written to one place",
        "recommender/index/lexical.py",
        "        place = free[row] + np.arange(len(row)) - first",
        "        place = free[row]",
        ("tests/test_lexical.py", "-k", "row_major"),
    ),
    Mutation(
        "a build's snippets made from every row at once",
        "recommender/store/database.py",
        "        rows = self.con.sql(sql.SNAPSHOT_ARTICLES, params=params).to_arrow_reader(SNAPSHOT_BATCH)",
        "        rows = self.con.sql(sql.SNAPSHOT_ARTICLES, params=params).to_arrow_table().to_reader()",
        ("tests/test_render_fields.py", "-k", "batch_of_rows"),
    ),
    Mutation(
        "a build's snapshot rows left in the order the store gives them",
        "recommender/index/snapshot.py",
        '        order = np.argsort(ids, kind="stable")',
        "        order = np.arange(len(ids))",
        ("tests/test_render_fields.py", "-k", "batch_of_rows"),
    ),
    Mutation(
        "the catalog put in order by a take over all its batches at once",
        "recommender/index/snapshot.py",
        "                    out.write_batch(_taken(batches, order[start : start + CATALOG_BLOCK]))",
        "                    out.write_table("
        "pa.Table.from_batches(batches).take(order[start : start + CATALOG_BLOCK]))",
        ("tests/test_catalog_files.py", "-k", "never_all"),
    ),
    Mutation(
        "the catalog's scratch file read into memory",
        "recommender/index/snapshot.py",
        '        with pa.memory_map(str(unsorted), "r") as source:',
        "        with pa.OSFile(str(unsorted)) as source:",
        ("tests/test_catalog_files.py", "-k", "never_all"),
    ),
    Mutation(
        "the catalog's scratch file left in the build",
        "recommender/index/snapshot.py",
        "        unsorted.unlink()",
        "        pass",
        ("tests/test_catalog_files.py",),
    ),
    Mutation(
        "catalog strings of every row read from the first batch",
        "recommender/index/snapshot.py",
        "        batch = bisect_right(self._starts, row) - 1",
        "        batch = 0",
        ("tests/test_catalog_files.py", "-k", "any_order"),
    ),
    Mutation(
        "a block's rows taken from the right batches in the wrong order",
        "recommender/index/snapshot.py",
        "    return joined.take(pa.array(np.argsort(np.concatenate(places))))",
        "    return joined",
        ("tests/test_catalog_files.py", "-k", "any_order"),
    ),
    Mutation(
        "section and language codes in the order first seen",
        "recommender/index/snapshot.py",
        "            remap[self._code_of[name]] = code",
        "            remap[self._code_of[name]] = self._code_of[name]",
        ("tests/test_catalog_files.py", "-k", "any_order"),
    ),
    Mutation(
        "id hashes left in the order the rows came",
        "recommender/index/snapshot.py",
        "        hashes = np.concatenate([np.zeros(0, np.uint64), *self._hashes])[order]",
        "        hashes = np.concatenate([np.zeros(0, np.uint64), *self._hashes])",
        ("tests/test_catalog_files.py", "-k", "any_order"),
    ),
    Mutation(
        "a build written with a catalog of other articles",
        "recommender/index/folder.py",
        "    if not np.array_equal(catalog.ids, ids):",
        "    if False:",
        ("tests/test_index.py", "-k", "other_articles"),
    ),
    Mutation(
        "scratch arrays made in the process's memory",
        "recommender/index/scratch.py",
        "        if self.folder is None or size == 0:",
        "        if True:",
        ("tests/test_scratch.py", "tests/test_lexical.py", "-k", "scratch"),
    ),
    Mutation(
        "the lexical phase's arrays made in memory though the build has a folder",
        "recommender/index/textdata.py",
        "    scratch = Scratch(work)  # the lexical arrays",
        "    scratch = Scratch(None)  # the lexical arrays",
        ("tests/test_build.py", "-k", "read_mapped"),
    ),
    Mutation(
        "an incremental build's neighbour step in memory",
        "recommender/index/lexical.py",
        "languages, new_rows, scratch\n",
        "languages, new_rows\n",
        ("tests/test_build.py", "-k", "read_mapped"),
    ),
    Mutation(
        "postings of a block placed without the earlier blocks' entries",
        "recommender/index/lexical.py",
        "        free[held] += count",
        "        free[held] += 0 * count",
        ("tests/test_lexical.py", "-k", "block_at_a_time"),
    ),
    Mutation(
        "document frequencies of the last block only",
        "recommender/index/lexical.py",
        "        df += np.bincount(",
        "        df = 0 + np.bincount(",
        ("tests/test_lexical.py", "-k", "block_at_a_time"),
    ),
    Mutation(
        "counts of a later chunk point at the first chunk's entries",
        "recommender/index/lexical.py",
        "        self._offsets.append(part.offsets[1:] + len(self._terms))",
        "        self._offsets.append(part.offsets[1:])",
        ("tests/test_lexical.py", "-k", "chunk_at_a_time"),
    ),
    Mutation(
        "the rescoring copy made of the proposing postings",
        "recommender/index/lexical.py",
        "    rest = _entries_where(lambda a, b: ~proposes[a:b], len(proposes), scratch)",
        "    rest = _entries_where(lambda a, b: proposes[a:b], len(proposes), scratch)",
        ("tests/test_lexical.py",),
    ),
    Mutation(
        "kept postings of every block copied to the start",
        "recommender/index/lexical.py",
        "        at += len(part)",
        "        at += 0",
        ("tests/test_lexical.py",),
    ),
    Mutation(
        "the term ranges of proposing filled from the first range",
        "recommender/index/lexical.py",
        "        chosen[ptr[first] : ptr[stop]] = np.repeat(rare[first:stop], df[first:stop])",
        "        chosen[ptr[first] : ptr[stop]] = np.repeat(rare[:stop - first], df[:stop - first])",
        ("tests/test_lexical.py",),
    ),
    Mutation(
        "an incremental build's carried lists dropped",
        "recommender/index/neighbours.py",
        "        lists[to_row[part]] = old.ids[part]",
        "        pass",
        ("tests/test_neighbours.py", "-k", "block_at_a_time"),
    ),
    Mutation(
        "every block of carried lists taken from the first block's rows",
        "recommender/index/neighbours.py",
        "        part = np.flatnonzero(keep[start : start + SEARCH_CHUNK * 16]) + start",
        "        part = np.flatnonzero(keep[start : start + SEARCH_CHUNK * 16])",
        ("tests/test_neighbours.py", "-k", "block_at_a_time"),
    ),
    Mutation(
        "every chunk of sources' work counted from the first chunk",
        "recommender/index/lexical.py",
        "        terms = query[sources[first : first + BLOCK_SOURCES]]",
        "        terms = query[sources[:BLOCK_SOURCES]][: len(sources) - first]",
        ("tests/test_lexical.py", "-k", "cut_by_their"),
    ),
    Mutation(
        "Arrow's cached blocks kept once the catalog is written",
        "recommender/index/snapshot.py",
        "        pa.default_memory_pool().release_unused()  # what Arrow's allocator kept of the blocks",
        "        pass",
        ("tests/test_catalog_files.py", "-k", "never_all"),
    ),
    Mutation(
        "the build's vector stream joined to the articles again",
        "recommender/store/sql.py",
        'STORED_EMBEDDINGS = "SELECT article_id, vector FROM embeddings WHERE model_fingerprint',
        'STORED_EMBEDDINGS = "SELECT article_id, vector FROM embeddings JOIN articles ON id = article_id '
        "WHERE model_fingerprint",
        ("tests/test_build.py", "-k", "passed_over"),
    ),
    Mutation(
        "a vector of an article outside the snapshot refused",
        "recommender/index/vectors.py",
        "                batch, at = batch.filter(pa.array(known)), at[known]",
        '                raise RecommenderError("the store changed while the snapshot was read")',
        ("tests/test_vectors.py", "tests/test_build.py", "-k", "passed_over"),
    ),
    Mutation(
        "the catalog writer keeps a view of each batch's ids",
        "recommender/index/snapshot.py",
        '        self._ids.append(np.array(batch.column("id").to_numpy(zero_copy_only=False), np.int64))',
        '        self._ids.append(np.asarray(batch.column("id").to_numpy(zero_copy_only=False), np.int64))',
        ("tests/test_catalog_files.py", "-k", "keeps_nothing"),
    ),
    Mutation(
        "the catalog writer keeps a view of each batch's dates",
        "recommender/index/snapshot.py",
        "        self._published.append(np.array(published, np.float64))",
        "        self._published.append(np.asarray(published, np.float64))",
        ("tests/test_catalog_files.py", "-k", "keeps_nothing"),
    ),
    Mutation(
        "the lexical phase told one language for every article",
        "recommender/index/build.py",
        "                _reader(home), snap.ids, catalog.languages, fields, carried, changed,",
        "                _reader(home), snap.ids, 0 * catalog.languages, fields, carried, changed,",
        ("tests/test_build.py", "tests/test_lexical.py"),
    ),
    Mutation(
        "the copies phase writes the lexical files again over their mapping",
        "recommender/index/textdata.py",
        "    if phase.lexical is not None and not phase.written:",
        "    if phase.lexical is not None:",
        ("tests/test_build.py", "-k", "read_mapped"),
    ),
    Mutation(
        "the lexical data kept in memory for the whole build",
        "recommender/index/textdata.py",
        "    if work is not None and phase.lexical is not None:",
        "    if False:",
        ("tests/test_build.py", "-k", "read_mapped"),
    ),
    Mutation(
        "a local build reads the texts to embed from each window's start to the end",
        "recommender/index/build.py",
        "        window = ids[start : start + EMBED_WINDOW]",
        "        window = ids[start:]",
        ("tests/test_build.py", "-k", "window_at_a_time"),
    ),
    Mutation(
        "a window's texts embedded in id order, not by length",
        "recommender/index/build.py",
        "        rows = sorted(zip(*columns, strict=True), key=lambda row: len(row[1]))",
        "        rows = sorted(zip(*columns, strict=True), key=lambda row: row[0])",
        ("tests/test_build.py", "-k", "window_at_a_time"),
    ),
    Mutation(
        "a window with an article removed since the plan leaves the progress short",
        "recommender/index/build.py",
        "        if progress and len(rows) < len(window):",
        "        if False:",
        ("tests/test_build.py", "-k", "window_at_a_time"),
    ),
    Mutation(
        "a build reports the planned articles as embedded, removed ones too",
        "recommender/index/build.py",
        "        (backfilled.embedded if backfilled else 0) + embedded,",
        "        (backfilled.embedded if backfilled else 0) + len(pending),",
        ("tests/test_build.py", "-k", "window_at_a_time"),
    ),
    Mutation(
        "the plan's scan of every text leaves DuckDB's cache uncapped",
        "recommender/store/database.py",
        "        self._cap_cache()  # a scan of every article's text\n",
        "",
        ("tests/test_build.py", "-k", "cap_duckdbs_cache"),
    ),
    Mutation(
        "counting the articles to embed leaves DuckDB's cache uncapped",
        "recommender/store/database.py",
        "        self._cap_cache()\n        row = _first(",
        "        row = _first(",
        ("tests/test_build.py", "-k", "cap_duckdbs_cache"),
    ),
    Mutation(
        "the re-scoring benchmark ranks every copy by the exact similarities",
        "benchmarks/rescoring.py",
        '            scores = np.einsum("qkd,qd->qk", decode(held), query)',
        "            scores = exact",
        ("tests/test_benchmarks.py", "-k", "rescoring"),
    ),
    Mutation(
        "the re-scoring benchmark counts each query as its own neighbour",
        "benchmarks/rescoring.py",
        "        ranked = kinds.without_self(top, rows_of, min(candidates, n - 1))",
        "        ranked = top[:, : min(candidates, n - 1)]",
        ("tests/test_benchmarks.py", "-k", "rescoring"),
    ),
    Mutation(
        "a killed vector generation leaves the corpus file under its final name",
        "benchmarks/graph_growth.py",
        '        partial = path.with_name(path.name + ".partial")',
        "        partial = path",
        ("tests/test_benchmarks.py", "-k", "killed_vector"),
    ),
    Mutation(
        "a benchmark stage's anonymous peak never kept",
        "benchmarks/lexical_phase.py",
        "                self.stages[self._stage] = (max(before[0], pss), max(before[1], anon))",
        "                self.stages[self._stage] = (max(before[0], pss), 0.0)",
        ("tests/test_benchmarks.py", "-k", "full_build"),
    ),
    Mutation(
        "graph growth saves a fresh, empty graph instead of the one it measured",
        "benchmarks/graph_growth.py",
        '        faiss.write_index(index, args.save + ".partial")',
        '        faiss.write_index(kinds.empty_index(kind, size, vectors)[0], args.save + ".partial")',
        ("tests/test_benchmarks.py", "-k", "graph_growth"),
    ),
    # --- issue 12: a killed full build is finished by the next one --------------------------------
    Mutation(
        "a killed build's folder is cleaned away before the next build can finish it",
        "recommender/index/build.py",
        "clean(home.path, grace_seconds, keep=killed.path if killed else None)",
        "clean(home.path, grace_seconds)",
        ("tests/test_resume.py", "-k", "during_its_lists_search"),
    ),
    Mutation(
        "a resumed lists' search searches every row again",
        "recommender/index/neighbours.py",
        "redo = carry.redo if saved is None else carry.redo[~saved[carry.redo]]",
        "redo = carry.redo",
        ("tests/test_resume.py", "-k", "only_the_rows"),
    ),
    Mutation(
        "the lists' search never saves its progress",
        "recommender/index/neighbours.py",
        "        if last or time.monotonic() - self.last >= CHECKPOINT_SECONDS:",
        "        if False:",
        ("tests/test_resume.py", "-k", "during_its_lists_search"),
    ),
    Mutation(
        "a killed build is finished though the store changed since",
        "recommender/index/resume.py",
        "same = meta.model_fingerprint == plan.fingerprint and meta.articles_version == articles_version",
        "same = meta.model_fingerprint == plan.fingerprint",
        ("tests/test_resume.py", "-k", "store_has_changed"),
    ),
    Mutation(
        "a killed build's graph is filled again from the start",
        "recommender/index/kinds.py",
        "    saved = filling.resumed(folder, ids, vectors.dimension) if folder is not None else None",
        "    saved = None",
        ("tests/test_resume.py", "-k", "graph_is_filled"),
    ),
    Mutation(
        "a graph being filled is never saved",
        "recommender/index/folder.py",
        "        faiss_index, params = build_faiss(ids, vectors, meta.kind, folder=work)",
        "        faiss_index, params = build_faiss(ids, vectors, meta.kind)",
        ("tests/test_resume.py", "-k", "graph_is_filled"),
    ),
    Mutation(
        "a saved graph is named for the articles it had held a step earlier",
        "recommender/index/filling.py",
        "            save(index, folder, stop)",
        "            save(index, folder, start)",
        ("tests/test_resume.py", "-k", "graph_is_filled"),
    ),
    Mutation(
        "a killed update is finished without the live build it updated",
        "recommender/index/build.py",
        '        if killed.note.get("previous") is not None:  # an update of the live build',
        "        if False:",
        ("tests/test_resume.py", "-k", "update_killed"),
    ),
    Mutation(
        "build --full finishes a killed update instead of building anew",
        "recommender/index/resume.py",
        'if note.get("previous") is not None and (full or not written or note["previous"] != live):',
        'if note.get("previous") is not None and (not written or note["previous"] != live):',
        ("tests/test_resume.py", "-k", "not_finished_by_a_full"),
    ),
    Mutation(
        "a saved graph of other articles is gone on from",
        "recommender/index/filling.py",
        "        if whole and np.array_equal(faiss.vector_to_array(index.id_map), ids[:rows]):",
        "        if whole:",
        ("tests/test_resume.py", "-k", "first_articles"),
    ),
    Mutation(
        "a killed build's folder is finished without the files it needs",
        "recommender/index/resume.py",
        "        if not _whole(folder, note, written):",
        "        if False:",
        ("tests/test_resume.py", "-k", "missing_a_file"),
    ),
    Mutation(
        "the CLI says the graph's articles where it means the lists kept",
        "recommender/cli.py",
        'f"finished the build a killed one had begun, keeping {graph}{kept.lists} of {of} "',
        'f"finished the build a killed one had begun, keeping {graph}{kept.graph} of {of} "',
        ("tests/test_resume.py", "-k", "cli_says"),
    ),
    Mutation(
        "a killed build is finished under other settings",
        "recommender/index/resume.py",
        "        if {k: note.get(k) for k in asdict(plan)} != asdict(plan):",
        "        if False:",
        ("tests/test_resume.py", "-k", "other_settings"),
    ),
]
SLOW = [
    Mutation(
        "third-party chatter shown while loading the model",
        "recommender/embedding/transformer.py",
        "                with quiet_output(backends.log_file(self._fast_folder)):  # optimum's load chatter\n"
        "                    self._model = backends.load(self._fast_folder)",
        "                self._model = backends.load(self._fast_folder)",
        ("tests/test_offline.py", "-k", "own_lines"),
    ),
]


def check(mutation: Mutation) -> str:
    """The file's text; raises when the snippet does not occur exactly once."""
    text = (ROOT / mutation.path).read_text(encoding="utf-8")
    count = text.count(mutation.snippet)
    if count != 1:
        raise SystemExit(
            f"mutation {mutation.name!r}: its snippet occurs {count} times in {mutation.path} "
            "(expected once): update tests/mutations.py to the code as it is now"
        )
    return text


def run(mutation: Mutation) -> tuple[bool, float]:
    """Apply to a copy of the checkout, run the guarding tests there. Returns (caught, seconds)."""
    original = check(mutation)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(
            ROOT, copy, ignore=lambda _d, names: [n for n in names if n in SKIP or n.endswith(SKIP_SUFFIX)]
        )
        (copy / mutation.path).write_text(original.replace(mutation.snippet, mutation.replacement), "utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-m", "", "-p", "no:cacheprovider", *mutation.tests],
            cwd=copy,
            env={**os.environ, "PYTHONPATH": str(copy)},
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode == 5:
        raise SystemExit(f"mutation {mutation.name!r}: no test ran for {' '.join(mutation.tests)}")
    return done.returncode != 0, time.monotonic() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutations", description=__doc__)
    parser.add_argument("--only", default="", help="run the mutations whose name contains this")
    parser.add_argument("--slow", action="store_true", help="also those that need the real model build")
    parser.add_argument("--list", action="store_true", help="list the mutations and check their snippets")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS + (SLOW if args.slow else []) if args.only in m.name]
    for mutation in chosen:
        check(mutation)
    if args.list:
        for mutation in chosen:
            print(f"{mutation.name:50} {mutation.path}")
        return 0
    survived = []
    for mutation in chosen:
        caught, seconds = run(mutation)
        print(f"{'caught  ' if caught else 'SURVIVED'}  {mutation.name:50} {seconds:6.1f}s", flush=True)
        if not caught:
            survived.append(mutation.name)
    print(f"{len(chosen) - len(survived)} of {len(chosen)} mutations caught")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
