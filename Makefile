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

.PHONY: run test lint typecheck i18n i18n-extract i18n-update i18n-compile i18n-check nlu-evaluate bench stop clean \
	rasa rasa-install rasa-python

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

# The optional Rasa engine (README, "Rasa engine"). Rasa Open Source 3.6 runs on CPython 3.10
# only, in its own virtualenv; its exact versions (rasa==3.6.21 too) are pinned in
# bot/rasa-constraints.txt.
# The interpreter: RASA_PYTHON, else python3.10 on PATH, else pyenv's newest 3.10.
RASA_VENV := .venv-rasa
RASA_STAMP := $(RASA_VENV)/.installed
RASA_CONSTRAINTS := bot/rasa-constraints.txt
RASA_PIP := $(RASA_VENV)/bin/python -m pip --disable-pip-version-check -q
define FIND_RASA_PYTHON
is310() { [ "$$("$$1" -c 'import sys; print(sys.version_info[:2] == (3, 10))' 2>/dev/null)" = True ]; }; \
py=; \
if [ -n "$${RASA_PYTHON:-}" ]; then \
	is310 "$$RASA_PYTHON" || { echo "RASA_PYTHON=$$RASA_PYTHON is not a working CPython 3.10." >&2; exit 1; }; \
	py="$$RASA_PYTHON"; \
elif is310 python3.10; then \
	py=python3.10; \
else \
	root="$${PYENV_ROOT:-$$(pyenv root 2>/dev/null || echo "$$HOME/.pyenv")}"; \
	for candidate in $$(ls -d "$$root"/versions/3.10.* 2>/dev/null | sort -V -r); do \
		if is310 "$$candidate/bin/python3.10"; then py="$$candidate/bin/python3.10"; break; fi; \
	done; \
fi; \
if [ -z "$$py" ]; then \
	echo "The Rasa engine needs CPython 3.10 (Rasa Open Source 3.6 supports 3.8-3.10), and none" >&2; \
	echo "was found: not RASA_PYTHON, not a working python3.10 on PATH, not under pyenv" >&2; \
	echo "($${PYENV_ROOT:-~/.pyenv}/versions/3.10.*). Install one (e.g. \`pyenv install 3.10\`)" >&2; \
	echo "or run: make rasa RASA_PYTHON=/path/to/python3.10" >&2; \
	exit 1; \
fi
endef

rasa-python:
	@$(FIND_RASA_PYTHON); echo "$$py"

$(RASA_STAMP): $(RASA_CONSTRAINTS)
	@$(FIND_RASA_PYTHON); \
	if ! $(RASA_VENV)/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then \
		echo "Rasa virtualenv $(RASA_VENV) from $$py"; rm -rf $(RASA_VENV); "$$py" -m venv $(RASA_VENV) \
		&& $(RASA_PIP) install -U pip "setuptools==70.3.0" wheel; \
	fi
	$(RASA_PIP) install -c $(RASA_CONSTRAINTS) rasa
	@touch $@

# Install only (what CI does before `make test`: the tests train the model themselves).
rasa-install: $(RASA_STAMP)

# Install, check bot/ with `rasa data validate`, train var/rasa/models (cached by data and
# config); then `.venv/bin/liaison rasa serve` and `engine: rasa` in config.yml.
rasa: $(RASA_STAMP) $(RUN_STAMP)
	$(BIN)/liaison rasa validate
	$(BIN)/liaison rasa train

stop: $(RUN_STAMP)
	$(BIN)/liaison db stop

clean:
	-$(BIN)/liaison db stop
	rm -rf var/models
