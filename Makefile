# The tutorial's commands. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Parameters the notebooks read (see README): the data source and, for generated data, its size.
DATA ?=
ROWS ?=
TUTORIAL_ENV := $(if $(DATA),TUTORIAL_DATA=$(DATA)) $(if $(ROWS),TUTORIAL_ROWS=$(ROWS))

.PHONY: help install tutorial test lab notebooks bench lint format lock local-up local-down local-status local-reset clean

help:
	@echo "make tutorial   run every notebook on the embedded local stack (DATA=..., ROWS=...)"
	@echo "make test       run the whole test suite (notebooks under nbval, unit tests)"
	@echo "make lab        open JupyterLab on the notebooks with the local stack running"
	@echo "make notebooks  re-execute the committed notebooks and save their outputs"
	@echo "make local-up | local-status | local-down | local-reset   manage the local stack"
	@echo "make bench      the benchmarks (fetch and train, walk-through, two hosts, scoring)"
	@echo "make lint       ruff check and ruff format --check"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

tutorial: $(STAMP)
	$(TUTORIAL_ENV) $(BIN)/python -m sagemaker_snowpark.tutorial run

notebooks: $(STAMP)
	$(BIN)/python -m sagemaker_snowpark.tutorial save

test: $(STAMP)
	$(BIN)/python -m pytest

lab: $(STAMP)
	$(BIN)/snowpark-local up
	$(TUTORIAL_ENV) $(BIN)/snowpark-local exec -- $(BIN)/jupyter lab notebooks; \
	  status=$$?; $(BIN)/snowpark-local down; exit $$status

local-up: $(STAMP)
	$(BIN)/snowpark-local up

local-down: $(STAMP)
	$(BIN)/snowpark-local down

local-status: $(STAMP)
	$(BIN)/snowpark-local status

local-reset: $(STAMP)
	$(BIN)/snowpark-local reset

# Benchmarks (not tests): each prints a table and, last, a line of ratios. About 10 minutes.
bench: $(STAMP)
	$(BIN)/python bench/fetch_and_train.py
	$(BIN)/python bench/walkthrough.py
	$(BIN)/python bench/two_hosts.py
	$(BIN)/python bench/scoring.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet -e '.[dev]'
	{ head -n 2 constraints.txt; .venv-lock/bin/python -m pip freeze --exclude-editable \
	  | grep -v '^sagemaker-snowpark'; } > constraints.new && mv constraints.new constraints.txt
	rm -rf .venv-lock

clean:
	-$(BIN)/snowpark-local down
	rm -rf build .local
