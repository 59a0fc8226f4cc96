# The README's commands. Each sets up .venv itself when needed (scripts/setup_venv.sh).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: venv test lint demo

venv:
	@bash scripts/setup_venv.sh

lint: venv
	$(PY) -m ruff check evo_mt cli tests
	$(VENV)/bin/lint-imports --no-logo --no-cache

test: lint
	@bash scripts/setup_browser.sh
	$(PY) -m pytest -q

# The main job: the toy recipe from nothing to printed translations.
demo: venv
	$(VENV)/bin/evo-mt train toy
	$(VENV)/bin/evo-mt average runs/toy
	$(VENV)/bin/evo-mt score runs/toy
	@echo "five test sentences:"; head -n 5 runs/toy/raw/test.en
	@echo "their translations:"; head -n 5 runs/toy/raw/test.en | $(VENV)/bin/evo-mt translate runs/toy
