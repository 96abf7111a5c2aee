# Sealchain: `make demo` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOME_DIR ?= .sealchain

.PHONY: demo test test-fast lint typecheck bench clean install messages

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/sealchain demo --home $(HOME_DIR)

# Lint, type-check, then the whole suite. PostgreSQL tests run when a server is reachable:
# scripts/postgres.sh local starts the local cluster when it is installed (never installs it)
# and prints its URL, so a newcomer's `make test` runs the PostgreSQL half too; replica-local
# does the same for its streaming replica on port 5433 (the standby-read tests).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	SEALCHAIN_TEST_PG_URL="$${SEALCHAIN_TEST_PG_URL:-$$(scripts/postgres.sh local 2>/dev/null)}" \
	SEALCHAIN_TEST_PG_REPLICA_URL="$${SEALCHAIN_TEST_PG_REPLICA_URL:-$$(scripts/postgres.sh replica-local 2>/dev/null)}" \
		$(BIN)/pytest -n 2 --dist loadfile -q

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow and not postgres"

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# Extract the text of pages, page scripts and public problems into the .po catalogs (new
# messages are added untranslated; `make test` fails until each has its Chinese).
messages: $(STAMP)
	$(BIN)/python -m ledger.api.pages.catalogs update

bench: $(STAMP)
	$(BIN)/sealchain bench core

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
