# The tutorial's commands. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs
# Parameters the notebooks read (docs/local-stack.md): the data source (the workshop's files by
# default) and, for generated data, its size; ROWS alone means generated data of that size.
DATA ?=
ROWS ?=
# Notebook 06's table of your own: a CSV file to load (a relative path is made absolute, since the
# notebook runs in notebooks/), the column to predict, the id column and the table's name; each
# is quoted for the shell, so a column name may hold spaces.
OWN_CSV ?=
OWN_LABEL ?=
OWN_ID ?=
OWN_TABLE ?=
OWN_CSV_PATH := $(if $(filter /% ~%,$(OWN_CSV)),$(OWN_CSV),$(abspath $(OWN_CSV)))
TUTORIAL_ENV := $(if $(DATA),TUTORIAL_DATA=$(DATA),$(if $(ROWS),TUTORIAL_DATA=generated)) $(if $(ROWS),TUTORIAL_ROWS=$(ROWS)) \
  $(if $(OWN_CSV),TUTORIAL_OWN_CSV='$(OWN_CSV_PATH)') $(if $(OWN_LABEL),TUTORIAL_OWN_LABEL='$(OWN_LABEL)') \
  $(if $(OWN_ID),TUTORIAL_OWN_ID='$(OWN_ID)') $(if $(OWN_TABLE),TUTORIAL_OWN_TABLE='$(OWN_TABLE)')
# JupyterLab options for make lab, e.g. LAB_ARGS="--port 8890 --no-browser". JupyterLab refuses to
# start as root (containers, CI images, many cloud desktops) unless told --allow-root.
LAB_ARGS ?=
LAB_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
# make test runs the suite's groups on this many pytest-xdist workers (docs/testing.md); 0 runs
# it in one process.
TEST_WORKERS ?= 4
TEST_PARALLEL := $(if $(filter 0,$(TEST_WORKERS)),-p no:xdist,-n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder)

.PHONY: help install tutorial test test-fast test-stack test-series test-docker test-examples lab notebooks bench lint format lock local-up local-down local-status local-reset picture render times real-account clean

help:
	@echo "make tutorial   run every notebook on the embedded local stack (DATA=..., ROWS=...,"
	@echo "                OWN_CSV=file.csv OWN_LABEL=column [OWN_ID=column] [OWN_TABLE=name])"
	@echo "make test       run every test, every tier, on parallel workers (docs/testing.md)"
	@echo "make test-fast  the tests that need no local stack (the edit-test loop, under a minute)"
	@echo "make test-stack | test-series | test-docker | test-examples   one tier of make test (docs/testing.md)"
	@echo "make lab        open JupyterLab on the notebooks with the local stack running (LAB_ARGS=...)"
	@echo "make real-account  run every notebook on your AWS and Snowflake accounts (costs money)"
	@echo "make notebooks  re-execute the committed notebooks and save their outputs"
	@echo "make local-up | local-status | local-down | local-reset   manage the local stack"
	@echo "make bench      the benchmarks (fetch and train, walk-through, two hosts, scoring, a wide table)"
	@echo "make lint       ruff check and ruff format --check"
	@echo "make picture    redraw images/architecture.png (needs Graphviz)"
	@echo "make render     render the notebooks and pages to HTML (and PNG) under build/render/"
	@echo "make times      write the times and costs of docs/times.toml into the README, notebooks and docs"

$(STAMP): pyproject.toml setup.py constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

tutorial: $(STAMP)
	$(if $(and $(OWN_CSV),$(if $(OWN_LABEL),,missing)),$(error OWN_CSV=$(OWN_CSV) needs OWN_LABEL=<the column to predict>))
	$(TUTORIAL_ENV) $(BIN)/python -m snowpark_local.series run

# The series on real accounts, then always the clean-up notebook; YES=--yes skips the question.
real-account: $(STAMP)
	$(BIN)/python -m snowpark_local.series real $(YES)

notebooks: $(STAMP)
	$(BIN)/python -m snowpark_local.series save

# Every test, every tier, on parallel workers.
test: $(STAMP)
	$(BIN)/python -m pytest $(TEST_PARALLEL)

# The tiers of make test (docs/testing.md): together they select every test once.
# unit: no local stack, Docker or network.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -p no:xdist -m "unit and not stack" tests

# stack: the package and the stack's services against a local stack, no notebook series.
test-stack: $(STAMP)
	$(BIN)/python -m pytest $(TEST_PARALLEL) -m "(not unit or stack) and not series and not docker and not snowpark_examples" tests

# examples: Snowpark's own docstring examples on the local Snowflake (docs/local-snowflake.md).
test-examples: $(STAMP)
	$(BIN)/python -m pytest -p no:xdist -m "snowpark_examples and not unit" tests

# series: the notebooks under nbval and each other configuration of the series, Docker aside.
test-series: $(STAMP)
	$(BIN)/python -m pytest $(TEST_PARALLEL) -m "series and not docker"

# docker: the real images, on a Docker engine (a private one when none answers).
test-docker: $(STAMP)
	$(BIN)/python -m pytest -p no:xdist -m docker tests

lab: $(STAMP)
	$(BIN)/snowpark-local up
	$(TUTORIAL_ENV) $(BIN)/snowpark-local exec -- $(BIN)/jupyter lab notebooks $(LAB_ROOT) $(LAB_ARGS); \
	  status=$$?; $(BIN)/snowpark-local down; exit $$status

local-up: $(STAMP)
	$(BIN)/snowpark-local up

local-down: $(STAMP)
	$(BIN)/snowpark-local down

local-status: $(STAMP)
	$(BIN)/snowpark-local status

local-reset: $(STAMP)
	$(BIN)/snowpark-local reset

# Benchmarks (not tests): each prints a table and, last, a line of ratios. About 13 minutes.
bench: $(STAMP)
	$(BIN)/python bench/fetch_and_train.py
	$(BIN)/python bench/walkthrough.py
	$(BIN)/python bench/two_hosts.py
	$(BIN)/python bench/scoring.py
	$(BIN)/python bench/wide_table.py

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[docs]'
	@touch $(DOCS_STAMP)

picture: $(DOCS_STAMP)
	@command -v dot >/dev/null || { echo "make picture needs Graphviz's dot: apt-get install graphviz, brew install graphviz or conda install graphviz"; exit 1; }
	$(BIN)/python images/architecture.py

render: $(DOCS_STAMP)
	$(BIN)/python docs/render.py build/render

# The one source of the series' times and costs, written into every place that quotes them.
times: $(STAMP)
	$(BIN)/python docs/times.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet -e '.[dev,docs]'
	{ head -n 2 constraints.txt; .venv-lock/bin/python -m pip freeze --exclude-editable \
	  | grep -v '^sagemaker-snowpark'; } > constraints.new && mv constraints.new constraints.txt
	rm -rf .venv-lock

clean:
	-$(BIN)/snowpark-local down
	rm -rf build .local
