# One-command dev loop. `make demo` and `make test` are the README's quick start.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_HOME ?= indexes/demo
DEMO_ARTICLE ?= bn-int-001

.PHONY: install demo eval test test-slow test-core check lint typecheck clean bench bench-quick mutate

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU build of torch first, pinned: unpinned, pip would resolve a multi-GB CUDA build.
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/recommender ingest seeds/articles.jsonl --home $(DEMO_HOME)
	$(VENV)/bin/recommender build --home $(DEMO_HOME)
	$(VENV)/bin/recommender related $(DEMO_ARTICLE) --home $(DEMO_HOME)
	@echo
	@echo "The demo store is $(DEMO_HOME). The recommender command is installed in $(VENV):"
	@echo "  source $(VENV)/bin/activate"
	@echo "  recommender related $(DEMO_ARTICLE) --home $(DEMO_HOME) --json"
	@echo "  recommender --help"
	@echo "(or run $(VENV)/bin/recommender without activating)"

# The demo store, then the seeds' hand judgments, every system: report in eval/reports/seeds/
eval: demo
	$(VENV)/bin/recommender eval --judgments seeds/judgments.csv --report eval/reports/seeds --home $(DEMO_HOME)

# Speed figures of issue 3 beside their baselines (never part of `make test`). The full run takes
# about 10 minutes on cached stores (generating the 1M store the first time adds about 17) and
# writes its table into README.md; bench-quick (2k and 10k) only prints. See README "Speed".
bench: $(STAMP)
	$(PY) -m benchmarks --markdown README.md

bench-quick: $(STAMP)
	$(PY) -m benchmarks --quick

# The everyday suite: everything except the marked slow tests (pyproject: addopts).
test: $(STAMP)
	$(PY) -m pytest -q

# The real model's tests (conversion, int8, offline build, README examples) and the SIGKILL series.
test-slow: $(STAMP)
	$(PY) -m pytest -q -m "model or slow"

# The lean install: a venv with the core alone (no extras) serves a home built by the full one.
CORE_VENV ?= .venv-core
test-core: $(STAMP)
	rm -rf $(CORE_VENV) /tmp/recommender-core-home && python3 -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install --quiet .
	$(PY) tests/core_install.py make-home /tmp/recommender-core-home
	$(CORE_VENV)/bin/python tests/core_install.py check /tmp/recommender-core-home
# Break the code on purpose, one listed mutation at a time, and show which ones the tests catch.
mutate: $(STAMP)
	$(PY) -m tests.mutations

lint: $(STAMP)
	$(VENV)/bin/ruff check recommender tests
	$(VENV)/bin/ruff format --check recommender tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy recommender

check: lint typecheck test test-slow

clean:
	rm -rf $(VENV) $(CORE_VENV) indexes/*/ .pytest_cache .ruff_cache .mypy_cache
