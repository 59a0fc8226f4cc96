# The README's commands. Each sets up .venv itself when needed (scripts/setup_venv.sh).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: venv test lint

venv:
	@bash scripts/setup_venv.sh

lint: venv
	$(PY) -m ruff check evo_mt cli tests

test: lint
	$(PY) -m pytest -q
