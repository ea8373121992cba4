# Two commands: `make demo` and `make test`. Both set everything up first
# (virtualenv, packages, WordNet) and a second run skips what is done.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NLTK_DATA := $(CURDIR)/.nltk_data
export NLTK_DATA
export JEEVES_HOME := $(CURDIR)
# task-side code must also run on EMR 7's Python
TASK_SIDE := jobs features

.PHONY: setup lint test demo clean

setup: $(VENV)/.installed $(NLTK_DATA)/.provisioned

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

$(NLTK_DATA)/.provisioned: scripts/provision_wordnet.py | $(VENV)/.installed
	$(BIN)/python scripts/provision_wordnet.py --target $(NLTK_DATA)
	touch $@

lint: setup
	$(BIN)/ruff check .
	scripts/check_py39.sh $(TASK_SIDE)

test: setup lint
	$(BIN)/python -m pytest

DEMO_CORPUS := .cache/demo/spamassassin

$(DEMO_CORPUS)/.fetched: scripts/fetch_demo_corpus.sh
	scripts/fetch_demo_corpus.sh $(DEMO_CORPUS)
	touch $@

demo: setup $(DEMO_CORPUS)/.fetched
	$(BIN)/jeeves demo --input $(DEMO_CORPUS)

clean:
	rm -rf $(VENV) $(NLTK_DATA) .pytest_cache .ruff_cache *.egg-info
