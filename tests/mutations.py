"""Break the code on purpose and check that the tests notice: `python -m tests.mutations` (`make mutate`).

Each mutation is an exact snippet of source, its replacement, and the tests that guard it. The runner
applies one mutation at a time, runs those tests, restores the file, and prints whether the tests
caught it. A snippet that no longer occurs exactly once is an error, not a skip: when the code
changes, the list must change with it (tests/test_mutations.py checks that on every `make test`).
Exit status: 0 when every mutation was caught, 1 otherwise.

    python -m tests.mutations                 # all of them
    python -m tests.mutations --only recency  # names containing "recency"
    python -m tests.mutations --list
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
        'if kind == "flat" or len(vectors) <= 10:',
        "if True:",
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
        '        with home.writing("build: planning") as store:\n            pending = store.pending(',
        '        with home.writing("build: planning") as store:\n'
        "            store.delete_other_embeddings(fingerprint)\n            pending = store.pending(",
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
    # --- evaluation (issue 9): merged judgments, unjudged lists --------------------------------
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
        "a migration loses the embeddings",
        "recommender/store/migrations.py",
        "            SELECT article_id, model_fingerprint, text_hash, vector, embedded_at FROM embeddings;",
        "            SELECT article_id, model_fingerprint, text_hash, vector, embedded_at FROM embeddings"
        " WHERE false;",
        ("tests/test_migrations.py",),
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
        "keep = (c != src[r]) & (languages[c] == languages[src[r]]) & (v > 0)",
        "keep = (c != src[r]) & (v > 0)",
        ("tests/test_lexical.py",),
    ),
    Mutation(
        "incremental build leaves older lexical lists alone",
        "recommender/index/lexical.py",
        "        _merge(rows, scores, source[ok], cand[ok], value[ok].astype(np.float32))",
        "        pass",
        ("tests/test_lexical.py", "-k", "update"),
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
    """Apply, run the guarding tests, restore. Returns (caught, seconds)."""
    path = ROOT / mutation.path
    original = check(mutation)
    started = time.monotonic()
    try:
        path.write_text(original.replace(mutation.snippet, mutation.replacement), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *mutation.tests],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        path.write_text(original, encoding="utf-8")
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
