# Liaison — the two commands are `make run` and `make test`; the rest are helpers.

# The first Python >= 3.11 on PATH.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint typecheck i18n i18n-extract i18n-update i18n-compile i18n-check nlu-evaluate bench stop clean

run: $(RUN_STAMP)
	$(BIN)/liaison run --demo

test: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/liaison i18n check
	$(BIN)/pytest -m "not browser"
	# Playwright's sync API runs its own event loop: browser tests get a pytest run of their own.
	$(BIN)/pytest -m browser

$(VENV)/bin/python:
	@test -n "$(PYTHON)" || { echo "Liaison needs Python 3.11 or newer (python3.11, python3.12…) on PATH."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -U pip wheel

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e .
	@touch $@

$(DEV_STAMP): pyproject.toml $(RUN_STAMP)
	$(PIP) install -e '.[dev]'
	@touch $@

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

# Catalogs: extract the French source words, merge them into every language, compile .mo files.
i18n: i18n-extract i18n-update
i18n-extract: $(RUN_STAMP)
	$(BIN)/liaison i18n extract
i18n-update: $(RUN_STAMP)
	$(BIN)/liaison i18n update
i18n-compile: $(RUN_STAMP)
	$(BIN)/liaison i18n compile
i18n-check: $(RUN_STAMP)
	$(BIN)/liaison i18n check

nlu-evaluate: $(RUN_STAMP)
	$(BIN)/liaison nlu evaluate bot/data/tests/

bench: $(DEV_STAMP)
	$(BIN)/python bench/nlu_bench.py
	$(BIN)/python bench/webhook_bench.py

stop: $(RUN_STAMP)
	$(BIN)/liaison db stop

clean:
	-$(BIN)/liaison db stop
	rm -rf var/models
