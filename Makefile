# A thin front for the kfbootstrap CLI. Every target sets up its own virtual
# environment, so a fresh clone needs nothing but Python 3.10+ (and Go for the testbed).
#   make up            create the Kind cluster and install the platform (ARGS="--profile minimal")
#   make down          delete it
#   make test          static checks (make lint), build/reuse the testbed and the Kind test ground, run every test
#   make e2e           build/reuse the Kind test ground, run only the e2e tests on it
#   make bench         every benchmark's full run (minutes); make bench-quick: their CI check
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
ARGS   ?=
PYTEST_ARGS ?=

.PHONY: help venv up down status doctor lint test unit integration testbed kindground e2e bench bench-quick clean

help:
	@sed -n '1,7p' Makefile | sed 's/^# \{0,1\}//'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

up: $(STAMP)
	$(BIN)/kfbootstrap up $(ARGS)

down: $(STAMP)
	$(BIN)/kfbootstrap down $(ARGS)

status: $(STAMP)
	$(BIN)/kfbootstrap status $(ARGS)

doctor: $(STAMP)
	$(BIN)/kfbootstrap doctor $(ARGS)

# The real control plane the integration tests run against; cached outside the
# checkout by version, so this is a no-op after the first (slow) build.
testbed:
	bash tests/testbed/build.sh

# The Kind test ground (tests/kind): a running Docker engine, the pinned kind
# binary and an offline node image, all cached; a no-op once built.
kindground: testbed
	bash tests/kind/build.sh

# Fast static checks: lint and format-check the whole tree, types (mypy; pyproject.toml says
# which files, and the benchmarks, which call into the package, too), dead code.
lint: $(STAMP)
	$(BIN)/ruff check kfbootstrap tests bench
	$(BIN)/ruff format --check kfbootstrap tests bench
	$(BIN)/mypy
	$(BIN)/mypy bench
	$(BIN)/vulture kfbootstrap tests/vulture_whitelist.py --min-confidence 60

test: $(STAMP) lint testbed kindground
	$(BIN)/python -m pytest $(PYTEST_ARGS)

e2e: $(STAMP) kindground
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: $(STAMP) testbed
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

# Benchmarks print ratios against the upstream way (README, 'Benchmarks'). `bench` runs each in
# full (apply: minutes on three testbeds; image_cache: two Kind clusters); `bench-quick` runs the
# small --quick mode CI runs through tests/*/test_bench_quick.py. Every bench runs; any failure fails.
BENCHES := startup apply image_cache

bench: $(STAMP) testbed kindground
	@failed=; for b in $(BENCHES); do echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py || failed="$$failed $$b"; \
	done; test -z "$$failed" || { echo "failed:$$failed" >&2; exit 1; }

bench-quick: $(STAMP) testbed kindground
	@failed=; for b in $(BENCHES); do echo "== bench/$$b.py --quick"; $(BIN)/python bench/$$b.py --quick || failed="$$failed $$b"; \
	done; test -z "$$failed" || { echo "failed:$$failed" >&2; exit 1; }

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
