# Two commands on a fresh machine with Python 3.11:  make run  ·  make test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
export TOKENIZERS_PARALLELISM := false

.PHONY: run test check lint types pytest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[api,worker,local]"
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[api,worker,torch,local,dev]"
	touch $@ $(RUN_STAMP)

## run: install, start Redis (private if none is reachable), a worker and the API on :8000
run: $(RUN_STAMP)
	$(BIN)/python -m scripts.devstack

## test: lint, types and the whole test suite (integration tests start real processes)
test: check pytest

check: lint types

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
