# A thin front for the kfbootstrap CLI. Every target sets up its own virtual environment (.venv),
# so a fresh clone needs nothing but Python 3.10+ (and Go for the testbed).
#   make up            create the Kind cluster and install the platform (ARGS="--profile minimal");
#                      also make down / status / doctor; these install only what kfbootstrap runs on
#   make test          static checks (make lint), build/reuse the testbed and the Kind test ground, run every test
#   make lint          ruff, mypy, vulture, and the docs built with `mkdocs build --strict` (fast)
#   make unit          only the unit tests; make integration, make e2e: only those (building what they need)
#   make docs          build the docs into site/ (open site/index.html)
#   make bench         every benchmark's full run (minutes); make bench-quick: their CI check
# The targets that test, lint or build docs install the `test` and `docs` extras too.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# One stamp per install, named by pyproject.toml's checksum: a change of it reinstalls.
SUM       := $(shell cksum pyproject.toml | cut -d' ' -f1)
RUN_STAMP := $(VENV)/.installed-run-$(SUM)
DEV_STAMP := $(VENV)/.installed-dev-$(SUM)
ARGS   ?=
PYTEST_ARGS ?=

.PHONY: help venv up down status doctor lint docs test unit integration testbed kindground e2e bench bench-quick clean

help:
	@sed -n '/^[^#]/q; s/^# \{0,1\}//p' Makefile

# Running needs the package and its dependencies only.
$(RUN_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@rm -f $(VENV)/.installed-run-* && touch $@

# Testing, linting and the docs add their tools; that install covers running too.
$(DEV_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
	@rm -f $(VENV)/.installed-* && touch $@ $(RUN_STAMP)

venv: $(DEV_STAMP)

up: $(RUN_STAMP)
	$(BIN)/kfbootstrap up $(ARGS)

down: $(RUN_STAMP)
	$(BIN)/kfbootstrap down $(ARGS)

status: $(RUN_STAMP)
	$(BIN)/kfbootstrap status $(ARGS)

doctor: $(RUN_STAMP)
	$(BIN)/kfbootstrap doctor $(ARGS)

# The real control plane the integration tests run against, and SeaweedFS's weed (the real
# S3 server the object-store smoke check is tested against); cached outside the checkout
# by version, so this is a no-op after the first (slow) build.
testbed:
	bash tests/testbed/build.sh
	bash tests/testbed/build_seaweedfs.sh

# The Kind test ground (tests/kind): a running Docker engine, the pinned kind
# binary and an offline node image, all cached; a no-op once built.
kindground: testbed
	bash tests/kind/build.sh

# Fast static checks: lint and format-check the whole tree, types (mypy; pyproject.toml says
# which files, and the benchmarks, which call into the package, too), dead code, and the docs:
# built strictly (a broken link or anchor, a page missing from mkdocs.yml's nav fails) into a
# directory of its own outside the tree, so parallel runs do not share one.
# NO_MKDOCS_2_WARNING silences the theme's banner about its successor (docs/testing.md says more).
lint: $(DEV_STAMP)
	$(BIN)/ruff check kfbootstrap tests bench
	$(BIN)/ruff format --check kfbootstrap tests bench
	$(BIN)/mypy
	$(BIN)/mypy bench
	$(BIN)/vulture kfbootstrap tests/vulture_whitelist.py --min-confidence 60
	@site=$$(mktemp -d) && trap 'rm -rf "$$site"' EXIT && \
	  echo "$(BIN)/mkdocs build --strict --site-dir $$site" && \
	  NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir "$$site"

docs: $(DEV_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# --durations: the slowest tests at the end of the log, so a CI run shows where its time went.
test: $(DEV_STAMP) lint testbed kindground
	$(BIN)/python -m pytest --durations=30 $(PYTEST_ARGS)

e2e: $(DEV_STAMP) kindground
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

unit: $(DEV_STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: $(DEV_STAMP) testbed
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

# Benchmarks print ratios against the upstream way (docs/benchmarks.md). `bench` runs each in
# full (apply: minutes on three testbeds; image_cache: two Kind clusters); `bench-quick` runs the
# small --quick mode CI runs through tests/*/test_bench_quick.py. Every bench runs; any failure fails.
BENCHES := startup apply image_cache stop_start

bench: $(DEV_STAMP) testbed kindground
	@failed=; for b in $(BENCHES); do echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py || failed="$$failed $$b"; \
	done; test -z "$$failed" || { echo "failed:$$failed" >&2; exit 1; }

bench-quick: $(DEV_STAMP) testbed kindground
	@failed=; for b in $(BENCHES); do echo "== bench/$$b.py --quick"; $(BIN)/python bench/$$b.py --quick || failed="$$failed $$b"; \
	done; test -z "$$failed" || { echo "failed:$$failed" >&2; exit 1; }

clean:
	rm -rf $(VENV) .pytest_cache build site *.egg-info
